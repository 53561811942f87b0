/* SPDX-License-Identifier: MIT */
/* Store operations on the org tree (units with a materialized path). */
#include "store/db.h"
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
