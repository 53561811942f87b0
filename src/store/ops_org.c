/* SPDX-License-Identifier: MIT */
/* Store operations on the org tree (units with a materialized path). */
#include "store/db.h"
#include "store/internal.h"
#include "store/org.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ORG_DEPTH_MAX 32
#define ORG_NAME_MAX 100 /* characters */
#define SUBTREE_MAX 1000000

static const char *const kind_names[] = {
    [WP_ORG_HQ] = "hq",
    [WP_ORG_REGION] = "region",
    [WP_ORG_STORE] = "store",
    [WP_ORG_TEAM] = "team",
};

const char *wp_org_kind_name(enum wp_org_kind k)
{
    if ((int)k < WP_ORG_HQ || (int)k > WP_ORG_TEAM)
        return NULL;
    return kind_names[k];
}

int wp_org_kind_parse(enum wp_org_kind *out, const char *s)
{
    for (int k = WP_ORG_HQ; s && k <= WP_ORG_TEAM; k++) {
        if (strcmp(s, kind_names[k]) == 0) {
            *out = (enum wp_org_kind)k;
            return 0;
        }
    }
    return wp_error_set(WP_EINVAL, "kind must be hq, region, store or team");
}

/* The columns every reader of a unit selects, in read_unit()'s order. */
#define UNIT_COLUMNS "id, parent_id, name, kind, path"

static int read_unit(struct wp_stmt *s, wp_org_unit *out)
{
    wp_org_unit u;
    int err;
    memset(&u, 0, sizeof u);
    if ((err = wp_db_col_copy(s, 0, u.id, sizeof u.id)) < 0 ||
        (!wp_db_col_isnull(s, 1) &&
         (err = wp_db_col_copy(s, 1, u.parent_id, sizeof u.parent_id)) < 0) ||
        (err = wp_db_col_copy(s, 2, u.name, sizeof u.name)) < 0 ||
        (err = wp_db_col_copy(s, 4, u.path, sizeof u.path)) < 0)
        return err;
    const char *kind = wp_db_col_text(s, 3);
    if (wp_org_kind_parse(&u.kind, kind) < 0)
        return wp_error_set(WP_EIO, "store: org unit '%s' has an unknown kind", u.id);
    *out = u;
    return 0;
}

/* The unit, with its depth when depth is non-NULL. */
static int get_unit(wp_store *st, wp_org_unit *out, int *depth, const char *tenant_id,
                    const char *id, const char *what)
{
    struct wp_stmt *s = NULL;
    int err;

    if ((err = wp_db_prepare(st, &s,
                             "SELECT " UNIT_COLUMNS ", depth FROM org_units"
                             " WHERE tenant_id = ? AND id = ?")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, id);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    if (err == WP_DB_DONE) {
        err = wp_error_set(WP_ENOTFOUND, "%s '%s' not found", what, id);
        goto out;
    }
    if ((err = read_unit(s, out)) < 0)
        goto out;
    if (depth)
        *depth = (int)wp_db_col_int64(s, 5);
out:
    wp_db_done(s);
    return err;
}

int wp_store_org_unit_create(wp_store *st, wp_org_unit *out, const char *tenant_id,
                             const char *parent_id, const char *name, enum wp_org_kind kind)
{
    struct wp_stmt *s = NULL;
    wp_org_unit u, parent;
    int depth = 0, err;

    if (parent_id && !*parent_id)
        parent_id = NULL;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (parent_id && (err = wp_store__check_id("parent org unit", parent_id)) < 0) ||
        (err = wp_store__check_name("org unit name", name, ORG_NAME_MAX)) < 0)
        return err;
    if (!wp_org_kind_name(kind))
        return wp_error_set(WP_EINVAL, "kind must be hq, region, store or team");

    memset(&u, 0, sizeof u);
    wp_id_new(u.id);
    snprintf(u.name, sizeof u.name, "%s", name);
    u.kind = kind;
    if ((err = wp_store__op_begin(st, parent_id != NULL)) < 0)
        return err;
    if (parent_id) {
        if ((err = get_unit(st, &parent, &depth, tenant_id, parent_id, "parent org unit")) < 0)
            goto out;
        if (depth >= ORG_DEPTH_MAX) {
            err = wp_error_set(WP_ELIMIT, "org tree is deeper than %d levels", ORG_DEPTH_MAX);
            goto out;
        }
        memcpy(u.parent_id, parent.id, sizeof u.parent_id);
        /* 32 levels of "<id>/" after the leading "/" always fit */
        size_t plen = strlen(parent.path);
        if (plen + WP_ID_LEN + 2 > sizeof u.path) {
            err = wp_error_set(WP_EIO, "store: org unit '%s' has a damaged path", parent.id);
            goto out;
        }
        memcpy(u.path, parent.path, plen);
        memcpy(u.path + plen, u.id, WP_ID_LEN);
        memcpy(u.path + plen + WP_ID_LEN, "/", 2);
    } else {
        snprintf(u.path, sizeof u.path, "/%s/", u.id);
    }
    if ((err = wp_db_prepare(st, &s,
                             "INSERT INTO org_units (tenant_id, id, parent_id, name, kind, path,"
                             " depth, created_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, u.id);
    wp_db_bind_text_or_null(s, 3, parent_id ? u.parent_id : NULL);
    wp_db_bind_text(s, 4, u.name);
    wp_db_bind_text(s, 5, wp_org_kind_name(kind));
    wp_db_bind_text(s, 6, u.path);
    wp_db_bind_int64(s, 7, depth + 1);
    wp_db_bind_int64(s, 8, wp_time_now_us());
    if ((err = wp_db_step(s)) == WP_ENOTFOUND) /* the tenant (a parent was found above) */
        err = wp_error_set(WP_ENOTFOUND, "tenant '%s' not found", tenant_id);
    if (err < 0)
        goto out;
    err = 0;
out:
    wp_db_done(s);
    if ((err = wp_store__op_end(st, err)) == 0)
        *out = u;
    return err;
}

int wp_store_org_unit_get(wp_store *st, wp_org_unit *out, const char *tenant_id, const char *id)
{
    int err;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("org unit", id)) < 0)
        return err;
    return get_unit(st, out, NULL, tenant_id, id, "org unit");
}

/* Paths are "/" and lowercase hex, and the path column compares bytes ("C" collation on
 * PostgreSQL, BINARY on SQLite): the subtree of path P is the range [P, P with its final '/'
 * raised to '0'). Unlike `LIKE ? || '%'`, a range on bound values uses the (tenant_id, path)
 * index on both backends and in PostgreSQL's generic plans. */
int wp_store_org_unit_subtree(wp_store *st, char (**out_ids)[WP_ID_LEN + 1], size_t *out_n,
                              const char *tenant_id, const char *id)
{
    struct wp_stmt *s = NULL;
    char(*ids)[WP_ID_LEN + 1] = NULL;
    size_t n = 0, cap = 0;
    wp_org_unit top;
    char end[sizeof top.path];
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("org unit", id)) < 0)
        return err;
    if ((err = get_unit(st, &top, NULL, tenant_id, id, "org unit")) < 0)
        return err;
    size_t len = strlen(top.path);
    memcpy(end, top.path, len + 1);
    end[len - 1] = '/' + 1;

    if ((err = wp_db_prepare(st, &s,
                             "SELECT id FROM org_units WHERE tenant_id = ? AND path >= ?"
                             " AND path < ? ORDER BY path")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, top.path);
    wp_db_bind_text(s, 3, end);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if (n == cap) {
            if (cap >= SUBTREE_MAX) {
                err = wp_error_set(WP_ELIMIT, "org subtree has more than %d units", SUBTREE_MAX);
                goto out;
            }
            size_t ncap = cap ? cap * 2 : 16;
            void *p = realloc(ids, ncap * sizeof *ids);
            if (!p) {
                err = wp_error_set(WP_ENOMEM, "out of memory");
                goto out;
            }
            ids = p;
            cap = ncap;
        }
        if ((err = wp_db_col_copy(s, 0, ids[n], sizeof ids[n])) < 0)
            goto out;
        n++;
    }
    if (err < 0)
        goto out;
    *out_ids = ids;
    *out_n = n;
    ids = NULL;
    err = 0;
out:
    wp_db_done(s);
    free(ids);
    return err;
}

int wp_store_org_unit_top(wp_store *st, wp_org_unit *out, const char *tenant_id)
{
    struct wp_stmt *s = NULL;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT " UNIT_COLUMNS " FROM org_units WHERE tenant_id = ?"
                             " AND parent_id IS NULL ORDER BY created_us, id LIMIT 1")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    if (err == WP_DB_DONE) {
        err = wp_error_set(WP_ENOTFOUND, "tenant '%s' has no top org unit", tenant_id);
        goto out;
    }
    err = read_unit(s, out);
out:
    wp_db_done(s);
    return err;
}

int wp_store_org_unit_rename(wp_store *st, wp_org_unit *out, const char *tenant_id, const char *id,
                             const char *name)
{
    struct wp_stmt *s = NULL;
    wp_org_unit u;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("org unit", id)) < 0 ||
        (err = wp_store__check_name("org unit name", name, ORG_NAME_MAX)) < 0)
        return err;
    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "UPDATE org_units SET name = ? WHERE tenant_id = ? AND id = ?")) < 0)
        goto out;
    wp_db_bind_text(s, 1, name);
    wp_db_bind_text(s, 2, tenant_id);
    wp_db_bind_text(s, 3, id);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    wp_db_done(s);
    s = NULL;
    err = get_unit(st, &u, NULL, tenant_id, id, "org unit");
out:
    wp_db_done(s);
    if ((err = wp_store__op_end(st, err)) == 0)
        *out = u;
    return err;
}

/* The deepest level in the subtree [lo, hi). */
static int subtree_max_depth(wp_store *st, int *out, const char *tenant_id, const char *lo,
                             const char *hi)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT max(depth) FROM org_units WHERE tenant_id = ? AND path >= ?"
                             " AND path < ?")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, lo);
    wp_db_bind_text(s, 3, hi);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    *out = err == WP_DB_ROW && !wp_db_col_isnull(s, 0) ? (int)wp_db_col_int64(s, 0) : 0;
    err = 0;
out:
    wp_db_done(s);
    return err;
}

/* A subtree moves by rewriting the prefix of every path in it: the unit's old path becomes
 * <parent path><id>/. No path of the new range exists before the move (the unit is not under
 * the new parent yet, and ids are unique), so the unique (tenant_id, path) index is never hit
 * half-way through the statement, on either backend. */
int wp_store_org_unit_move(wp_store *st, wp_org_unit *out, const char *tenant_id, const char *id,
                           const char *new_parent_id)
{
    struct wp_stmt *s = NULL;
    wp_org_unit u, parent;
    char lo[sizeof u.path], hi[sizeof u.path], new_path[sizeof u.path];
    int depth = 0, parent_depth = 0, max_depth = 0, err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("org unit", id)) < 0 ||
        (err = wp_store__check_id("parent org unit", new_parent_id)) < 0)
        return err;
    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    if ((err = get_unit(st, &u, &depth, tenant_id, id, "org unit")) < 0 ||
        (err = get_unit(st, &parent, &parent_depth, tenant_id, new_parent_id, "parent org unit")) <
            0)
        goto out;
    if (strcmp(u.parent_id, parent.id) == 0)
        goto out; /* already there */
    if (strncmp(parent.path, u.path, strlen(u.path)) == 0) {
        err = wp_error_set(WP_EINVAL, "org unit '%s' cannot move under itself or a unit below it",
                           id);
        goto out;
    }
    if ((err = wp_scope__range(lo, hi, u.path)) < 0 ||
        (err = subtree_max_depth(st, &max_depth, tenant_id, lo, hi)) < 0)
        goto out;
    int shift = parent_depth + 1 - depth;
    if (max_depth + shift > ORG_DEPTH_MAX) {
        err = wp_error_set(WP_ELIMIT, "org tree would be deeper than %d levels", ORG_DEPTH_MAX);
        goto out;
    }
    size_t plen = strlen(parent.path);
    if (plen + WP_ID_LEN + 2 > sizeof new_path) {
        err = wp_error_set(WP_EIO, "store: org unit '%s' has a damaged path", parent.id);
        goto out;
    }
    memcpy(new_path, parent.path, plen);
    memcpy(new_path + plen, u.id, WP_ID_LEN);
    memcpy(new_path + plen + WP_ID_LEN, "/", 2);

    if ((err = wp_db_prepare(
             st, &s,
             "UPDATE org_units SET path = CAST(? AS TEXT) ||"
             " substr(path, CAST(? AS INTEGER)), depth = depth +"
             " CAST(? AS INTEGER) WHERE tenant_id = ? AND path >= ? AND path < ?")) < 0)
        goto out;
    wp_db_bind_text(s, 1, new_path);
    wp_db_bind_int64(s, 2, (int64_t)strlen(u.path) + 1);
    wp_db_bind_int64(s, 3, shift);
    wp_db_bind_text(s, 4, tenant_id);
    wp_db_bind_text(s, 5, lo);
    wp_db_bind_text(s, 6, hi);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    wp_db_done(s);
    s = NULL;
    if ((err = wp_db_prepare(
             st, &s, "UPDATE org_units SET parent_id = ? WHERE tenant_id = ? AND id = ?")) < 0)
        goto out;
    wp_db_bind_text(s, 1, parent.id);
    wp_db_bind_text(s, 2, tenant_id);
    wp_db_bind_text(s, 3, id);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    err = 0;
    memcpy(u.parent_id, parent.id, sizeof u.parent_id);
    memcpy(u.path, new_path, sizeof u.path);
out:
    wp_db_done(s);
    if ((err = wp_store__op_end(st, err)) == 0)
        *out = u;
    return err;
}

/* How many rows of a one-column count query. */
static int count_of(wp_store *st, int64_t *out, const char *sql, const char *tenant_id,
                    const char *id)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_db_prepare(st, &s, sql)) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, id);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    *out = err == WP_DB_ROW ? wp_db_col_int64(s, 0) : 0;
    err = 0;
out:
    wp_db_done(s);
    return err;
}

int wp_store_org_unit_delete(wp_store *st, const char *tenant_id, const char *id)
{
    struct wp_stmt *s = NULL;
    wp_org_unit u;
    int64_t children = 0, people = 0;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("org unit", id)) < 0)
        return err;
    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    if ((err = get_unit(st, &u, NULL, tenant_id, id, "org unit")) < 0 ||
        (err = count_of(st, &children,
                        "SELECT count(*) FROM org_units WHERE tenant_id = ? AND parent_id = ?",
                        tenant_id, id)) < 0 ||
        (err = count_of(st, &people,
                        "SELECT count(*) FROM employees WHERE tenant_id = ? AND org_unit_id = ?",
                        tenant_id, id)) < 0)
        goto out;
    if (children || people) {
        err = wp_error_set(WP_EBUSY, "org unit '%s' still has %lld child units and %lld employees",
                           id, (long long)children, (long long)people);
        goto out;
    }
    if ((err = wp_db_prepare(st, &s, "DELETE FROM org_units WHERE tenant_id = ? AND id = ?")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, id);
    /* a row that came to refer to the unit since the counts (or one of another table) */
    if ((err = wp_db_step(s)) == WP_ENOTFOUND)
        err = wp_error_set(WP_EBUSY, "org unit '%s' is in use", id);
    if (err < 0)
        goto out;
    err = 0;
out:
    wp_db_done(s);
    return wp_store__op_end(st, err);
}

/* Units in path order (a parent before its children); the cursor is the id of the last unit
 * of the page, whose path is looked up again, so it stays valid while the tree changes. */
int wp_store_org_units_list(wp_store *st, wp_org_unit_page *out, const wp_org_unit_filter *f)
{
    struct wp_stmt *s = NULL;
    wp_org_unit_page p;
    wp_org_unit after;
    struct wp_scope_bind sc;
    unsigned limit;
    size_t cap = 0;
    int err;

    memset(&p, 0, sizeof p);
    if ((err = wp_store__check_id("tenant", f->tenant_id)) < 0 ||
        (err = wp_page__limit(&limit, f->limit)) < 0 ||
        (err = wp_scope__check(&sc, f->tenant_id, f->scope)) < 0)
        goto out;
    if (f->cursor && *f->cursor) {
        if (wp_store__check_id("cursor", f->cursor) < 0 ||
            get_unit(st, &after, NULL, f->tenant_id, f->cursor, "cursor") < 0) {
            err = wp_error_set(WP_EINVAL, "invalid cursor");
            goto out;
        }
    }
    if ((err = wp_db_prepare(st, &s,
                             "SELECT " UNIT_COLUMNS " FROM org_units WHERE tenant_id = ?"
                             " AND (CAST(? AS TEXT) IS NULL OR (path >= ? AND path < ?))"
                             " AND (CAST(? AS TEXT) IS NULL OR id IN (SELECT se.org_unit_id"
                             " FROM employees se WHERE se.tenant_id = org_units.tenant_id"
                             " AND se.id = ?))"
                             " AND (CAST(? AS TEXT) IS NULL OR path > ?)"
                             " ORDER BY path LIMIT ?")) < 0)
        goto out;
    const char *scope = sc.org_path ? sc.lo : NULL;
    const char *cur = f->cursor && *f->cursor ? after.path : NULL;
    wp_db_bind_text(s, 1, f->tenant_id);
    wp_db_bind_text_or_null(s, 2, scope);
    wp_db_bind_text_or_null(s, 3, scope);
    wp_db_bind_text_or_null(s, 4, scope ? sc.hi : NULL);
    wp_db_bind_text_or_null(s, 5, sc.employee_id);
    wp_db_bind_text_or_null(s, 6, sc.employee_id);
    wp_db_bind_text_or_null(s, 7, cur);
    wp_db_bind_text_or_null(s, 8, cur);
    wp_db_bind_int64(s, 9, (int64_t)limit + 1);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if (p.n == limit) {
            memcpy(p.next_cursor, p.items[p.n - 1].id, sizeof p.next_cursor);
            break;
        }
        if ((err = wp_array__grow((void **)&p.items, &cap, p.n, sizeof *p.items)) < 0 ||
            (err = read_unit(s, &p.items[p.n])) < 0)
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
    return err;
}

void wp_org_unit_page_release(wp_org_unit_page *p)
{
    if (!p)
        return;
    free(p->items);
    memset(p, 0, sizeof *p);
}

int wp_org_unit_depth(const wp_org_unit *u)
{
    return (int)(strlen(u->path) / (WP_ID_LEN + 1));
}
