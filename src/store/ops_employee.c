/* SPDX-License-Identifier: MIT */
/* Store operations on employees and their login accounts. */
#include "store/db.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EMPLOYEE_NAME_MAX 100 /* characters */
#define USERNAME_MAX 64       /* bytes: wp_employee.username */
#define PASSWORD_HASH_MAX 512 /* bytes; an argon2id string is about 100 */

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

#define EMPLOYEE_COLUMNS "id, tenant_id, org_unit_id, name, username, role, active, created_us"

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
    if (err == WP_DB_DONE || wp_db_col_isnull(s, 8)) {
        err = wp_error_set(WP_ENOTFOUND, "no login for this username");
        goto out;
    }
    if ((err = read_employee(s, &e)) < 0)
        goto out;
    if (out_hash && !(hash = strdup(wp_db_col_text(s, 8)))) {
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
