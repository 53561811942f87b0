/* SPDX-License-Identifier: MIT */
/* Store operations on employees and their login accounts. */
#include "store/db.h"
#include "store/internal.h"
#include "store/people.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EMPLOYEE_NAME_MAX 100 /* characters */
#define USERNAME_MAX 64       /* bytes: wp_employee.username */
#define PASSWORD_HASH_MAX 512 /* bytes; an argon2id string is about 100 */
#define WECOM_USERID_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-@."

static const char *const role_names[] = {
    [WP_ROLE_ADMIN] = "admin",
    [WP_ROLE_MANAGER] = "manager",
    [WP_ROLE_AUDITOR] = "auditor",
    [WP_ROLE_SALES] = "sales",
};

const char *wp_role_name(enum wp_role r)
{
    if ((int)r < WP_ROLE_ADMIN || (int)r > WP_ROLE_SALES)
        return NULL;
    return role_names[r];
}

int wp_role_parse(enum wp_role *out, const char *s)
{
    for (int r = WP_ROLE_ADMIN; s && r <= WP_ROLE_SALES; r++) {
        if (strcmp(s, role_names[r]) == 0) {
            *out = (enum wp_role)r;
            return 0;
        }
    }
    return wp_error_set(WP_EINVAL, "role must be admin, manager, auditor or sales");
}

/* Usernames are what people type at the login prompt: printable, no spaces, at most 64
 * bytes of UTF-8 (so any script works, but a username always fits wp_employee). */
static int check_username(const char *s)
{
    int err;
    if ((err = wp_store__check_name("username", s, USERNAME_MAX)) < 0)
        return err;
    if (strlen(s) > USERNAME_MAX)
        return wp_error_set(WP_EINVAL, "username is longer than %d bytes", USERNAME_MAX);
    if (strpbrk(s, " "))
        return wp_error_set(WP_EINVAL, "username contains a space");
    return 0;
}

#define EMPLOYEE_COLUMNS                                                                           \
    "id, tenant_id, org_unit_id, name, username, role, active, created_us, wecom_userid"

static int read_employee(struct wp_stmt *s, wp_employee *out)
{
    wp_employee e;
    int err;
    memset(&e, 0, sizeof e);
    if ((err = wp_db_col_copy(s, 0, e.id, sizeof e.id)) < 0 ||
        (err = wp_db_col_copy(s, 1, e.tenant_id, sizeof e.tenant_id)) < 0 ||
        (err = wp_db_col_copy(s, 2, e.org_unit_id, sizeof e.org_unit_id)) < 0 ||
        (err = wp_db_col_copy(s, 3, e.name, sizeof e.name)) < 0 ||
        (err = wp_db_col_copy(s, 4, e.username, sizeof e.username)) < 0)
        return err;
    if (wp_role_parse(&e.role, wp_db_col_text(s, 5)) < 0)
        return wp_error_set(WP_EIO, "store: employee '%s' has an unknown role", e.id);
    e.active = wp_db_col_int64(s, 6) != 0;
    e.created_us = wp_db_col_int64(s, 7);
    if ((err = wp_db_col_copy_opt(s, 8, e.wecom_userid, sizeof e.wecom_userid)) < 0)
        return err;
    *out = e;
    return 0;
}

int wp_store_employee_create(wp_store *st, wp_employee *out, const char *tenant_id,
                             const char *org_unit_id, const char *name, const char *username,
                             enum wp_role role, const char *password_hash)
{
    struct wp_stmt *s = NULL;
    wp_employee e;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("org unit", org_unit_id)) < 0 ||
        (err = wp_store__check_name("employee name", name, EMPLOYEE_NAME_MAX)) < 0 ||
        (err = check_username(username)) < 0)
        return err;
    if (!wp_role_name(role))
        return wp_error_set(WP_EINVAL, "role must be admin, manager, auditor or sales");
    if (password_hash && (!*password_hash || strlen(password_hash) > PASSWORD_HASH_MAX))
        return wp_error_set(WP_EINVAL, "password hash is empty or too long");

    memset(&e, 0, sizeof e);
    wp_id_new(e.id);
    memcpy(e.tenant_id, tenant_id, sizeof e.tenant_id);
    memcpy(e.org_unit_id, org_unit_id, sizeof e.org_unit_id);
    snprintf(e.name, sizeof e.name, "%s", name);
    snprintf(e.username, sizeof e.username, "%s", username);
    e.role = role;
    e.active = 1;
    e.created_us = wp_time_now_us();

    if ((err = wp_store__op_begin(st, 0)) < 0)
        return err;
    /* The foreign key (tenant_id, org_unit_id) is the check that the unit is in the tenant. */
    if ((err = wp_db_prepare(st, &s,
                             "INSERT INTO employees (tenant_id, id, org_unit_id, name, username,"
                             " role, password_hash, active, created_us)"
                             " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")) < 0)
        goto out;
    wp_db_bind_text(s, 1, e.tenant_id);
    wp_db_bind_text(s, 2, e.id);
    wp_db_bind_text(s, 3, e.org_unit_id);
    wp_db_bind_text(s, 4, e.name);
    wp_db_bind_text(s, 5, e.username);
    wp_db_bind_text(s, 6, wp_role_name(role));
    wp_db_bind_text_or_null(s, 7, password_hash);
    wp_db_bind_int64(s, 8, e.active);
    wp_db_bind_int64(s, 9, e.created_us);
    err = wp_db_step(s);
    if (err == WP_EEXISTS)
        err = wp_error_set(WP_EEXISTS, "username '%s' is taken", username);
    else if (err == WP_ENOTFOUND)
        err = wp_error_set(WP_ENOTFOUND, "org unit '%s' not found", org_unit_id);
    if (err < 0)
        goto out;
    err = 0;
out:
    wp_db_done(s);
    if ((err = wp_store__op_end(st, err)) == 0)
        *out = e;
    return err;
}

int wp_store_employee_get(wp_store *st, wp_employee *out, const char *tenant_id, const char *id)
{
    struct wp_stmt *s = NULL;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("employee", id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT " EMPLOYEE_COLUMNS " FROM employees"
                             " WHERE tenant_id = ? AND id = ?")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, id);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    if (err == WP_DB_DONE) {
        err = wp_error_set(WP_ENOTFOUND, "employee '%s' not found", id);
        goto out;
    }
    err = read_employee(s, out);
out:
    wp_db_done(s);
    return err;
}

/* An employee without a password hash has no login: WP_ENOTFOUND, as for an unknown name, so
 * the caller cannot tell the two apart. Inactive accounts are returned (active = 0): the
 * caller decides. */
int wp_store_employee_find_login(wp_store *st, wp_employee *out, char **out_hash,
                                 const char *tenant_id, const char *username)
{
    struct wp_stmt *s = NULL;
    wp_employee e;
    char *hash = NULL;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if (!username || !*username)
        return wp_error_set(WP_EINVAL, "username is empty");
    if ((err = wp_db_prepare(st, &s,
                             "SELECT " EMPLOYEE_COLUMNS ", password_hash FROM employees"
                             " WHERE tenant_id = ? AND username = ?")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, username);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    if (err == WP_DB_DONE || wp_db_col_isnull(s, 9)) {
        err = wp_error_set(WP_ENOTFOUND, "no login for this username");
        goto out;
    }
    if ((err = read_employee(s, &e)) < 0)
        goto out;
    if (out_hash && !(hash = strdup(wp_db_col_text(s, 9)))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    *out = e;
    if (out_hash)
        *out_hash = hash;
    err = 0;
out:
    wp_db_done(s);
    return err;
}

int wp_store_employee_count_admins(wp_store *st, int64_t *out, const char *tenant_id)
{
    struct wp_stmt *s = NULL;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT count(*) FROM employees WHERE tenant_id = ?"
                             " AND role = 'admin' AND active = 1")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    *out = err == WP_DB_ROW ? wp_db_col_int64(s, 0) : 0;
    err = 0;
out:
    wp_db_done(s);
    return err;
}

/* Writers of the tenant's admins queue up here, so that "is another admin left?" is answered
 * after any concurrent change committed (PostgreSQL's READ COMMITTED would otherwise let two
 * admins demote each other at once; SQLite's BEGIN IMMEDIATE serializes anyway). */
static int lock_tenant(wp_store *st, const char *tenant_id)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_db_prepare(st, &s, "UPDATE tenants SET name = name WHERE id = ?")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    if ((err = wp_db_step(s)) > 0)
        err = 0;
out:
    wp_db_done(s);
    return err;
}

static int is_active_admin(const wp_employee *e)
{
    return e->active && e->role == WP_ROLE_ADMIN;
}

int wp_store_employee_update(wp_store *st, wp_employee *out, const char *tenant_id, const char *id,
                             const wp_employee_change *c)
{
    struct wp_stmt *s = NULL;
    wp_employee before, after;
    int64_t admins = 0;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("employee", id)) < 0 ||
        (c->name &&
         (err = wp_store__check_name("employee name", c->name, EMPLOYEE_NAME_MAX)) < 0) ||
        (c->org_unit_id && (err = wp_store__check_id("org unit", c->org_unit_id)) < 0))
        return err;
    if (c->role && !wp_role_name((enum wp_role)c->role))
        return wp_error_set(WP_EINVAL, "role must be admin, manager, auditor or sales");
    if (c->active < -1 || c->active > 1)
        return wp_error_set(WP_EINVAL, "active must be true or false");
    if (c->wecom_userid && *c->wecom_userid &&
        (strlen(c->wecom_userid) > WP_WECOM_USERID_MAX ||
         strspn(c->wecom_userid, WECOM_USERID_CHARS) != strlen(c->wecom_userid)))
        return wp_error_set(WP_EINVAL, "wecom_userid must be 1-%d of a-z A-Z 0-9 _ - @ .",
                            WP_WECOM_USERID_MAX);

    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    if ((err = lock_tenant(st, tenant_id)) < 0 ||
        (err = wp_store_employee_get(st, &before, tenant_id, id)) < 0)
        goto out;
    if ((err = wp_db_prepare(st, &s,
                             "UPDATE employees SET name = COALESCE(?, name),"
                             " org_unit_id = COALESCE(?, org_unit_id), role = COALESCE(?, role),"
                             " active = COALESCE(CAST(? AS INTEGER), active),"
                             " wecom_userid = CASE WHEN CAST(? AS TEXT) IS NULL THEN wecom_userid"
                             " WHEN ? = '' THEN NULL ELSE ? END"
                             " WHERE tenant_id = ? AND id = ?")) < 0)
        goto out;
    wp_db_bind_text_or_null(s, 1, c->name);
    wp_db_bind_text_or_null(s, 2, c->org_unit_id);
    wp_db_bind_text_or_null(s, 3, c->role ? wp_role_name((enum wp_role)c->role) : NULL);
    if (c->active >= 0)
        wp_db_bind_int64(s, 4, c->active);
    else
        wp_db_bind_null(s, 4);
    for (int k = 5; k <= 7; k++)
        wp_db_bind_text_or_null(s, k, c->wecom_userid);
    wp_db_bind_text(s, 8, tenant_id);
    wp_db_bind_text(s, 9, id);
    if ((err = wp_db_step(s)) == WP_ENOTFOUND)
        err = wp_error_set(WP_ENOTFOUND, "org unit '%s' not found", c->org_unit_id);
    else if (err == WP_EEXISTS)
        err = wp_error_set(WP_EEXISTS, "wecom_userid '%s' belongs to another employee",
                           c->wecom_userid);
    if (err < 0)
        goto out;
    wp_db_done(s);
    s = NULL;
    if ((err = wp_store_employee_get(st, &after, tenant_id, id)) < 0)
        goto out;
    if (is_active_admin(&before) && !is_active_admin(&after)) {
        if ((err = wp_store_employee_count_admins(st, &admins, tenant_id)) < 0)
            goto out;
        if (admins == 0) {
            err =
                wp_error_set(WP_EBUSY, "employee '%s' is the last active admin of the tenant", id);
            goto out;
        }
    }
    err = 0;
out:
    wp_db_done(s);
    if ((err = wp_store__op_end(st, err)) == 0)
        *out = after;
    return err;
}

int wp_store_employee_set_password(wp_store *st, const char *tenant_id, const char *id,
                                   const char *password_hash)
{
    struct wp_stmt *s = NULL;
    wp_employee e;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("employee", id)) < 0)
        return err;
    if (!password_hash || !*password_hash || strlen(password_hash) > PASSWORD_HASH_MAX)
        return wp_error_set(WP_EINVAL, "password hash is empty or too long");
    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    if ((err = wp_store_employee_get(st, &e, tenant_id, id)) < 0)
        goto out;
    if ((err = wp_db_prepare(st, &s,
                             "UPDATE employees SET password_hash = ? WHERE tenant_id = ?"
                             " AND id = ?")) < 0)
        goto out;
    wp_db_bind_text(s, 1, password_hash);
    wp_db_bind_text(s, 2, tenant_id);
    wp_db_bind_text(s, 3, id);
    if ((err = wp_db_step(s)) > 0)
        err = 0;
out:
    wp_db_done(s);
    return wp_store__op_end(st, err);
}

#define Q_MAX 256 /* bytes of a search in names */

/* "%q%" for LIKE with '!' as the escape character, ASCII lowercased. */
static int like_pattern(wp_buf *b, const char *q)
{
    int err = wp_buf_addc(b, '%');
    for (const char *p = q; *p && err == 0; p++) {
        char c = *p >= 'A' && *p <= 'Z' ? (char)(*p + 32) : *p;
        if (c == '%' || c == '_' || c == '!')
            err = wp_buf_addc(b, '!');
        if (err == 0)
            err = wp_buf_addc(b, c);
    }
    if (err == 0)
        err = wp_buf_addc(b, '%');
    return err;
}

/* One statement for every filter: an absent filter is a NULL that switches its condition off.
 * A tenant has thousands of employees, not millions, so the plan this costs does not matter. */
int wp_store_employees_list(wp_store *st, wp_employee_page *out, const wp_employee_filter *f)
{
    struct wp_stmt *s = NULL;
    wp_employee_page p;
    wp_buf like;
    struct wp_scope_bind sc;
    char cid[WP_ID_LEN + 1], flo[1024], fhi[1024];
    int64_t ct = 0;
    int has = 0, err;
    unsigned limit;
    size_t cap = 0;

    memset(&p, 0, sizeof p);
    wp_buf_init(&like, 2 * Q_MAX + 3);
    if ((err = wp_store__check_id("tenant", f->tenant_id)) < 0 ||
        (err = wp_page__limit(&limit, f->limit)) < 0 ||
        (err = wp_cursor__parse(&has, &ct, cid, f->cursor)) < 0 ||
        (err = wp_scope__check(&sc, f->tenant_id, f->scope)) < 0 ||
        (f->org_path && (err = wp_scope__range(flo, fhi, f->org_path)) < 0))
        goto out;
    if (f->role && !wp_role_name((enum wp_role)f->role)) {
        err = wp_error_set(WP_EINVAL, "role must be admin, manager, auditor or sales");
        goto out;
    }
    if (f->active < WP_ACTIVE_ANY || f->active > WP_ACTIVE_NOT) {
        err = wp_error_set(WP_EINVAL, "active must be true or false");
        goto out;
    }
    if (f->q && *f->q) {
        if (strlen(f->q) > Q_MAX) {
            err = wp_error_set(WP_EINVAL, "query is longer than %d bytes", Q_MAX);
            goto out;
        }
        if ((err = like_pattern(&like, f->q)) < 0)
            goto out;
    }
    if ((err = wp_db_prepare(
             st, &s,
             "SELECT e.id, e.tenant_id, e.org_unit_id, e.name, e.username, e.role, e.active,"
             " e.created_us, e.wecom_userid FROM employees e JOIN org_units o ON o.tenant_id = e.tenant_id"
             " AND o.id = e.org_unit_id WHERE e.tenant_id = ?"
             " AND (CAST(? AS TEXT) IS NULL OR (o.path >= ? AND o.path < ?))"
             " AND (CAST(? AS TEXT) IS NULL OR e.id = ?)"
             " AND (CAST(? AS TEXT) IS NULL OR (o.path >= ? AND o.path < ?))"
             " AND (CAST(? AS TEXT) IS NULL OR e.role = ?)"
             " AND (CAST(? AS INTEGER) IS NULL OR e.active = ?)"
             " AND (CAST(? AS TEXT) IS NULL OR lower(e.name) LIKE ? ESCAPE '!'"
             " OR lower(e.username) LIKE ? ESCAPE '!')"
             " AND (CAST(? AS BIGINT) IS NULL OR e.created_us < ?"
             " OR (e.created_us = ? AND e.id < ?))"
             " ORDER BY e.created_us DESC, e.id DESC LIMIT ?")) < 0)
        goto out;
    int i = 1;
    const char *scope = sc.org_path ? sc.lo : NULL, *org = f->org_path ? flo : NULL;
    const char *role = f->role ? wp_role_name((enum wp_role)f->role) : NULL;
    const char *q = like.len ? like.buf : NULL;
    wp_db_bind_text(s, i++, f->tenant_id);
    wp_db_bind_text_or_null(s, i++, scope);
    wp_db_bind_text_or_null(s, i++, scope);
    wp_db_bind_text_or_null(s, i++, scope ? sc.hi : NULL);
    wp_db_bind_text_or_null(s, i++, sc.employee_id);
    wp_db_bind_text_or_null(s, i++, sc.employee_id);
    wp_db_bind_text_or_null(s, i++, org);
    wp_db_bind_text_or_null(s, i++, org);
    wp_db_bind_text_or_null(s, i++, org ? fhi : NULL);
    wp_db_bind_text_or_null(s, i++, role);
    wp_db_bind_text_or_null(s, i++, role);
    for (int k = 0; k < 2; k++) {
        if (f->active == WP_ACTIVE_ANY)
            wp_db_bind_null(s, i++);
        else
            wp_db_bind_int64(s, i++, f->active == WP_ACTIVE_ONLY);
    }
    wp_db_bind_text_or_null(s, i++, q);
    wp_db_bind_text_or_null(s, i++, q);
    wp_db_bind_text_or_null(s, i++, q);
    for (int k = 0; k < 3; k++) {
        if (has)
            wp_db_bind_int64(s, i++, ct);
        else
            wp_db_bind_null(s, i++);
    }
    wp_db_bind_text_or_null(s, i++, has ? cid : NULL);
    wp_db_bind_int64(s, i++, (int64_t)limit + 1);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if (p.n == limit) {
            wp_cursor__make(p.next_cursor, p.items[p.n - 1].created_us, p.items[p.n - 1].id);
            break;
        }
        if ((err = wp_array__grow((void **)&p.items, &cap, p.n, sizeof *p.items)) < 0 ||
            (err = read_employee(s, &p.items[p.n])) < 0)
            goto out;
        p.n++;
    }
    if (err < 0)
        goto out;
    *out = p;
    p.items = NULL;
    err = 0;
out:
    wp_db_done(s);
    free(p.items);
    wp_buf_release(&like);
    return err;
}

void wp_employee_page_release(wp_employee_page *p)
{
    if (!p)
        return;
    free(p->items);
    memset(p, 0, sizeof *p);
}
