/* SPDX-License-Identifier: MIT */
/* Store operations on media records, lexicons and the tenant policy (its version is the ETag
 * of GET /api/v1/device/policy). */
#include "store/cluster.h"
#include "store/db.h"
#include "store/policy.h"
#include "store/store.h"
#include "store/usage.h"
#include "util/clock.h"
#include "util/error.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_sha(const char *h)
{
    size_t n = h ? strlen(h) : 0;
    int ok = n == 64;
    for (size_t i = 0; ok && i < n; i++)
        ok = (h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f');
    return ok ? 0 : wp_error_set(WP_EINVAL, "media hash must be 64 lowercase hex digits");
}

int wp_store_media_add(wp_store *st, int *created, const char *tenant_id, const char *device_id,
                       const char sha256[65], int64_t size)
{
    return wp_store_media_add_named(st, created, tenant_id, device_id, sha256, size, NULL);
}

int wp_store_media_set_name(wp_store *st, const char *tenant_id, const char sha256[65],
                            const char name[65])
{
    char path[80];
    int err;
    if ((err = check_sha(sha256)) < 0 || (err = check_sha(name)) < 0)
        return err;
    snprintf(path, sizeof path, "%.2s/%.2s/%s", name, name + 2, name);
    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    err = wp_db_run(st, "UPDATE media SET path = ? WHERE tenant_id = ? AND sha256 = ?", "ttt",
                    path, tenant_id, sha256);
    return wp_store__op_end(st, err);
}

int wp_store_media_each_row(wp_store *st,
                            int (*cb)(void *ctx, const char *tenant_id, const char *sha256,
                                      int64_t size),
                            void *ctx)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT tenant_id, sha256, size FROM media"
                             " ORDER BY sha256, tenant_id")) < 0)
        return err;
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        const char *t = wp_db_col_text(s, 0), *sha = wp_db_col_text(s, 1);
        if (t && sha && (err = cb(ctx, t, sha, wp_db_col_int64(s, 2))) < 0)
            break;
    }
    wp_db_done(s);
    return err < 0 ? err : 0;
}

int wp_store_media_each_keyed(wp_store *st,
                              int (*cb)(void *ctx, const char *tenant_id, const char *name,
                                        const char *sha256, int64_t size),
                              void *ctx)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT tenant_id, path, sha256, size FROM media"
                             " ORDER BY path, tenant_id")) < 0)
        return err;
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        const char *t = wp_db_col_text(s, 0), *path = wp_db_col_text(s, 1),
                   *sha = wp_db_col_text(s, 2);
        /* ab/cd/<64 hex>, a name that is not the file's sha256: a keyed, encrypted file */
        if (t && path && sha && strlen(path) == 70 && check_sha(path + 6) == 0 &&
            strcmp(path + 6, sha) != 0 &&
            (err = cb(ctx, t, path + 6, sha, wp_db_col_int64(s, 3))) < 0)
            break;
    }
    wp_db_done(s);
    return err < 0 ? err : 0;
}

int wp_store_media_add_named(wp_store *st, int *created, const char *tenant_id,
                             const char *device_id, const char sha256[65], int64_t size,
                             const char *name)
{
    struct wp_stmt *s = NULL;
    char path[80];
    int64_t now = wp_time_now_us();
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("device", device_id)) < 0 || (err = check_sha(sha256)) < 0 ||
        (name && (err = check_sha(name)) < 0))
        return err;
    if (size < 0)
        return wp_error_set(WP_EINVAL, "media size is negative");
    if (!name)
        name = sha256;
    snprintf(path, sizeof path, "%.2s/%.2s/%s", name, name + 2, name);
    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "INSERT INTO media (tenant_id, sha256, size, path, created_us)"
                             " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING sha256")) <
        0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, sha256);
    wp_db_bind_int64(s, 3, size);
    wp_db_bind_text(s, 4, path);
    wp_db_bind_int64(s, 5, now);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    int new_file = err == WP_DB_ROW;
    wp_db_done(s);
    s = NULL;
    if (!new_file && name != sha256 && /* had it plain: the encrypted copy is its file now */
        (err = wp_db_run(st, "UPDATE media SET path = ? WHERE tenant_id = ? AND sha256 = ?",
                         "ttt", path, tenant_id, sha256)) < 0)
        goto out;
    if (new_file) { /* new to the tenant: its bytes count, or it is not kept */
        int64_t add[WP_USAGE_KINDS] = {0};
        wp_usage_refusal r;
        add[WP_USAGE_MEDIA] = size;
        if ((err = wp_store__usage_add(st, tenant_id, add, &r)) < 0)
            goto out;
    }
    /* and this device uploaded it: 201 unless it had before, whatever others hold */
    if ((err = wp_db_prepare(st, &s,
                             "INSERT INTO media_uploads (tenant_id, sha256, device_id, created_us)"
                             " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING sha256")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, sha256);
    wp_db_bind_text(s, 3, device_id);
    wp_db_bind_int64(s, 4, now);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    *created = err == WP_DB_ROW;
    err = 0;
out:
    wp_db_done(s);
    return wp_store__op_end(st, err);
}

int wp_store_media_get(wp_store *st, int64_t *size, const char *tenant_id, const char sha256[65])
{
    struct wp_stmt *s = NULL;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if (check_sha(sha256) < 0)
        return wp_error_set(WP_ENOTFOUND, "media not found");
    if ((err = wp_db_prepare(st, &s, "SELECT size FROM media WHERE tenant_id = ? AND sha256 = ?")) <
        0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, sha256);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    if (err == WP_DB_DONE) {
        err = wp_error_set(WP_ENOTFOUND, "media not found");
        goto out;
    }
    *size = wp_db_col_int64(s, 0);
    err = 0;
out:
    wp_db_done(s);
    return err;
}

int wp_store_policy_get(wp_store *st, wp_policy_row *out, const char *tenant_id)
{
    struct wp_stmt *s = NULL;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT version, lexicon_version, money_alert_fen, updated_us,"
                             " locations_off_duty FROM tenant_policy WHERE tenant_id = ?")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    if (err == WP_DB_DONE) {
        err = wp_error_set(WP_ENOTFOUND, "tenant '%s' has no policy", tenant_id);
        goto out;
    }
    out->version = wp_db_col_int64(s, 0);
    out->lexicon_version = wp_db_col_int64(s, 1);
    out->money_alert_fen = wp_db_col_int64(s, 2);
    out->updated_us = wp_db_col_int64(s, 3);
    out->locations_keep = wp_db_col_text(s, 4) && !strcmp(wp_db_col_text(s, 4), "keep");
    err = 0;
out:
    wp_db_done(s);
    return err;
}

/* Text columns are bound as C strings. */
static int nul_terminated(char **out, const char *text, size_t len)
{
    if (memchr(text, '\0', len))
        return wp_error_set(WP_EINVAL, "lexicon contains a nul byte");
    char *c = malloc(len + 1);
    if (!c)
        return wp_error_set(WP_ENOMEM, "out of memory");
    memcpy(c, text, len);
    c[len] = '\0';
    *out = c;
    return 0;
}

static int insert_lexicon(wp_store *st, const char *tenant_id, int64_t version, const char *text,
                          int64_t now_us, int if_missing)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_db_prepare(st, &s,
                             if_missing ? "INSERT INTO lexicons (tenant_id, version, text,"
                                          " created_us) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"
                                        : "INSERT INTO lexicons (tenant_id, version, text,"
                                          " created_us) VALUES (?, ?, ?, ?)")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_int64(s, 2, version);
    wp_db_bind_text(s, 3, text);
    wp_db_bind_int64(s, 4, now_us);
    err = wp_db_step(s);
    wp_db_done(s);
    return err < 0 ? err : 0;
}

int wp_store_policy_init(wp_store *st, const char *tenant_id, const char *lexicon, size_t len)
{
    struct wp_stmt *s = NULL;
    char *text = NULL;
    int64_t now = wp_time_now_us();
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = nul_terminated(&text, lexicon, len)) < 0)
        return err;
    if ((err = wp_store__op_begin(st, 1)) < 0)
        goto out;
    if ((err = insert_lexicon(st, tenant_id, 1, text, now, 1)) < 0)
        goto end;
    if ((err = wp_db_prepare(st, &s,
                             "INSERT INTO tenant_policy (tenant_id, version, lexicon_version,"
                             " money_alert_fen, updated_us) VALUES (?, 1, 1, ?, ?)"
                             " ON CONFLICT DO NOTHING")) < 0)
        goto end;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_int64(s, 2, WP_MONEY_ALERT_DEFAULT_FEN);
    wp_db_bind_int64(s, 3, now);
    if ((err = wp_db_step(s)) == WP_ENOTFOUND)
        err = wp_error_set(WP_ENOTFOUND, "tenant '%s' not found", tenant_id);
    if (err > 0)
        err = 0;
end:
    wp_db_done(s);
    err = wp_store__op_end(st, err);
out:
    free(text);
    return err;
}

/* Move the policy version under the row's lock; *next gets the new version, above every
 * version given in the tenant, its units' lexicons' included (migration 0017). WP_ENOTFOUND
 * when the tenant has no policy yet. */
static int bump(wp_store *st, int64_t *next, const char *tenant_id, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_db_prepare(st, &s,
                             "UPDATE tenant_policy SET version = CASE WHEN unit_version > version"
                             " THEN unit_version ELSE version END + 1, updated_us = ?"
                             " WHERE tenant_id = ? RETURNING version")) < 0)
        return err;
    wp_db_bind_int64(s, 1, now_us);
    wp_db_bind_text(s, 2, tenant_id);
    if ((err = wp_db_step(s)) == WP_DB_ROW)
        *next = wp_db_col_int64(s, 0);
    else if (err == WP_DB_DONE)
        err = wp_error_set(WP_ENOTFOUND, "tenant '%s' has no policy", tenant_id);
    wp_db_done(s);
    if (err == WP_DB_ROW) /* the other nodes drop their copies at the commit */
        err = wp_store__notify(st, tenant_id, WP_CLUSTER_POLICY);
    return err < 0 ? err : 0;
}

int wp_store_lexicon_put(wp_store *st, int64_t *version, const char *tenant_id, const char *text,
                         size_t len)
{
    struct wp_stmt *s = NULL;
    char *copy = NULL;
    int64_t now = wp_time_now_us(), v = 0;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = nul_terminated(&copy, text, len)) < 0)
        return err;
    if ((err = wp_store__op_begin(st, 1)) < 0)
        goto out;
    if ((err = bump(st, &v, tenant_id, now)) == WP_ENOTFOUND) {
        /* a tenant's first lexicon: the policy starts at version 1 with it */
        v = 1;
        if ((err = insert_lexicon(st, tenant_id, 1, copy, now, 0)) < 0 ||
            (err = wp_db_prepare(st, &s,
                                 "INSERT INTO tenant_policy (tenant_id, version, lexicon_version,"
                                 " money_alert_fen, updated_us) VALUES (?, 1, 1, ?, ?)")) < 0)
            goto end;
        wp_db_bind_text(s, 1, tenant_id);
        wp_db_bind_int64(s, 2, WP_MONEY_ALERT_DEFAULT_FEN);
        wp_db_bind_int64(s, 3, now);
        if ((err = wp_db_step(s)) > 0)
            err = 0;
        goto end;
    }
    if (err < 0 || (err = insert_lexicon(st, tenant_id, v, copy, now, 0)) < 0)
        goto end;
    if ((err = wp_db_prepare(
             st, &s, "UPDATE tenant_policy SET lexicon_version = ? WHERE tenant_id = ?")) < 0)
        goto end;
    wp_db_bind_int64(s, 1, v);
    wp_db_bind_text(s, 2, tenant_id);
    if ((err = wp_db_step(s)) > 0)
        err = 0;
end:
    wp_db_done(s);
    if ((err = wp_store__op_end(st, err)) == 0)
        *version = v;
out:
    free(copy);
    return err;
}

int wp_store_lexicon_get(wp_store *st, int64_t *version, char **text, size_t *len,
                         const char *tenant_id)
{
    struct wp_stmt *s = NULL;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT l.version, l.text FROM tenant_policy p JOIN lexicons l"
                             " ON l.tenant_id = p.tenant_id AND l.version = p.lexicon_version"
                             " WHERE p.tenant_id = ?")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    if (err == WP_DB_DONE) {
        err = wp_error_set(WP_ENOTFOUND, "tenant '%s' has no lexicon", tenant_id);
        goto out;
    }
    const char *t = wp_db_col_text(s, 1);
    char *copy = strdup(t ? t : "");
    if (!copy) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    *version = wp_db_col_int64(s, 0);
    *len = strlen(copy);
    *text = copy;
    err = 0;
out:
    wp_db_done(s);
    return err;
}

int wp_store_policy_set_money_alert(wp_store *st, int64_t *version, const char *tenant_id,
                                    int64_t fen)
{
    struct wp_stmt *s = NULL;
    int64_t v = 0;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if (fen < 0)
        return wp_error_set(WP_EINVAL, "money_alert_fen must be 0 or more");
    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    if ((err = bump(st, &v, tenant_id, wp_time_now_us())) < 0)
        goto out;
    if ((err = wp_db_prepare(
             st, &s, "UPDATE tenant_policy SET money_alert_fen = ? WHERE tenant_id = ?")) < 0)
        goto out;
    wp_db_bind_int64(s, 1, fen);
    wp_db_bind_text(s, 2, tenant_id);
    if ((err = wp_db_step(s)) > 0)
        err = 0;
out:
    wp_db_done(s);
    if ((err = wp_store__op_end(st, err)) == 0)
        *version = v;
    return err;
}

int wp_store_policy_set_locations_off_duty(wp_store *st, int64_t *version,
                                           const char *tenant_id, int keep)
{
    struct wp_stmt *s = NULL;
    int64_t v = 0;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    if ((err = bump(st, &v, tenant_id, wp_time_now_us())) < 0)
        goto out;
    if ((err = wp_db_prepare(
             st, &s, "UPDATE tenant_policy SET locations_off_duty = ? WHERE tenant_id = ?")) < 0)
        goto out;
    wp_db_bind_text(s, 1, keep ? "keep" : "drop");
    wp_db_bind_text(s, 2, tenant_id);
    if ((err = wp_db_step(s)) > 0)
        err = 0;
out:
    wp_db_done(s);
    if ((err = wp_store__op_end(st, err)) == 0)
        *version = v;
    return err;
}

int wp_store_policy_touch(wp_store *st, int64_t *version, const char *tenant_id)
{
    int64_t v = 0;
    int err;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if ((err = bump(st, &v, tenant_id, wp_time_now_us())) == WP_ENOTFOUND) {
        /* no policy yet: the first one made will hold whatever changed */
        wp_error_clear();
        err = 0;
    }
    if (err == 0 && version)
        *version = v;
    return err;
}

/* --- lexicons of org units (migration 0017) ---------------------------------------------- */

/* The start of the chain: the unit of an employee, or a unit. */
#define CHAIN_FROM_EMPLOYEE                                                                        \
    "SELECT u.id, u.parent_id, u.depth FROM employees e JOIN org_units u"                          \
    " ON u.tenant_id = e.tenant_id AND u.id = e.org_unit_id WHERE e.tenant_id = ? AND e.id = ?"
#define CHAIN_FROM_UNIT                                                                            \
    "SELECT u.id, u.parent_id, u.depth FROM org_units u WHERE u.tenant_id = ? AND u.id = ?"

/* The policy row and the lexicons on the path, in one statement: the units above the start
 * (at most 32 by primary key), each joined to its lexicon if it has one. */
#define CHAIN_SQL(start)                                                                           \
    "WITH RECURSIVE anc (id, parent_id, depth) AS (" start " UNION ALL"                           \
    " SELECT o.id, o.parent_id, o.depth FROM anc JOIN org_units o"                                 \
    " ON o.tenant_id = ? AND o.id = anc.parent_id)"                                                \
    " SELECT p.version, p.lexicon_version, p.money_alert_fen, p.updated_us,"                      \
    " h.org_unit_id, h.version, h.entries, p.locations_off_duty FROM tenant_policy p"                                    \
    " LEFT JOIN (anc a JOIN unit_lexicons h ON h.tenant_id = ? AND h.org_unit_id = a.id)"         \
    " ON 1 = 1 WHERE p.tenant_id = ? ORDER BY a.depth"

int wp_store_policy_chain(wp_store *st, wp_policy_chain *out, const char *tenant_id,
                          const char *employee_id, const char *org_unit_id)
{
    struct wp_stmt *s = NULL;
    const char *start = employee_id ? employee_id : org_unit_id;
    int err;

    assert(!employee_id != !org_unit_id);
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id(employee_id ? "employee" : "org unit", start)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             employee_id ? CHAIN_SQL(CHAIN_FROM_EMPLOYEE)
                                         : CHAIN_SQL(CHAIN_FROM_UNIT))) < 0)
        return err;
    for (int i = 1; i <= 5; i++)
        wp_db_bind_text(s, i, i == 2 ? start : tenant_id);
    memset(out, 0, sizeof *out);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if (!out->found) {
            out->found = 1;
            out->row.version = wp_db_col_int64(s, 0);
            out->row.lexicon_version = wp_db_col_int64(s, 1);
            out->row.money_alert_fen = wp_db_col_int64(s, 2);
            out->row.updated_us = wp_db_col_int64(s, 3);
            out->row.locations_keep =
                wp_db_col_text(s, 7) && !strcmp(wp_db_col_text(s, 7), "keep");
            out->version = out->row.version;
            out->lexicon_version = out->row.lexicon_version;
        }
        if (wp_db_col_isnull(s, 4) || out->n == WP_POLICY_CHAIN_MAX)
            continue;
        wp_policy_link *l = &out->links[out->n++];
        if ((err = wp_db_col_copy(s, 4, l->org_unit_id, sizeof l->org_unit_id)) < 0)
            goto out;
        l->version = wp_db_col_int64(s, 5);
        l->entries = wp_db_col_int64(s, 6);
        if (l->version > out->version)
            out->version = l->version;
        if (l->entries > 0 && l->version > out->lexicon_version)
            out->lexicon_version = l->version;
    }
    if (err < 0)
        goto out;
    err = out->found ? 0 : wp_error_set(WP_ENOTFOUND, "tenant '%s' has no policy", tenant_id);
out:
    wp_db_done(s);
    return err;
}

int wp_store_unit_lexicon_get(wp_store *st, int64_t *version, char **text, size_t *len,
                              const char *tenant_id, const char *org_unit_id)
{
    struct wp_stmt *s = NULL;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("org unit", org_unit_id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT version, text FROM unit_lexicons"
                             " WHERE tenant_id = ? AND org_unit_id = ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, org_unit_id);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    if (err == WP_DB_DONE) {
        err = wp_error_set(WP_ENOTFOUND, "org unit '%s' has no lexicon", org_unit_id);
        goto out;
    }
    const char *t = wp_db_col_text(s, 1);
    char *copy = strdup(t ? t : "");
    if (!copy) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    *version = wp_db_col_int64(s, 0);
    *len = strlen(copy);
    *text = copy;
    err = 0;
out:
    wp_db_done(s);
    return err;
}

int wp_store_unit_lexicon_put(wp_store *st, int64_t *version, const char *tenant_id,
                              const char *org_unit_id, const char *text, size_t len,
                              int64_t entries)
{
    struct wp_stmt *s = NULL;
    char *copy = NULL;
    int64_t now = wp_time_now_us(), v = 0;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("org unit", org_unit_id)) < 0 ||
        (err = nul_terminated(&copy, text, len)) < 0)
        return err;
    if (entries < 0) {
        free(copy);
        return wp_error_set(WP_EINVAL, "a lexicon has 0 entries or more");
    }
    if ((err = wp_store__op_begin(st, 1)) < 0)
        goto out;
    if ((err = wp_store__unit_exists(st, tenant_id, org_unit_id)) < 0)
        goto end;
    /* the next version of the tenant's one counter, under the policy row's lock */
    if ((err = wp_db_prepare(st, &s,
                             "UPDATE tenant_policy SET unit_version = CASE WHEN version >"
                             " unit_version THEN version ELSE unit_version END + 1"
                             " WHERE tenant_id = ? RETURNING unit_version")) < 0)
        goto end;
    wp_db_bind_text(s, 1, tenant_id);
    if ((err = wp_db_step(s)) == WP_DB_ROW)
        v = wp_db_col_int64(s, 0);
    else if (err == WP_DB_DONE)
        err = wp_error_set(WP_ENOTFOUND, "tenant '%s' has no policy", tenant_id);
    wp_db_done(s);
    s = NULL;
    if (err < 0)
        goto end;
    if ((err = wp_db_run(st,
                         "INSERT INTO unit_lexicons (tenant_id, org_unit_id, version, text,"
                         " entries, updated_us) VALUES (?, ?, ?, ?, ?, ?)"
                         " ON CONFLICT (tenant_id, org_unit_id) DO UPDATE SET"
                         " version = excluded.version, text = excluded.text,"
                         " entries = excluded.entries, updated_us = excluded.updated_us",
                         "ttitii", tenant_id, org_unit_id, v, copy, entries, now)) < 0)
        goto end;
    err = wp_store__notify(st, tenant_id, WP_CLUSTER_LEXICON);
end:
    if ((err = wp_store__op_end(st, err)) == 0)
        *version = v;
out:
    free(copy);
    return err;
}

int wp_store_unit_lexicons_list(wp_store *st, wp_unit_lexicon_info **out, size_t *n,
                                const char *tenant_id)
{
    struct wp_stmt *s = NULL;
    wp_unit_lexicon_info *v = NULL;
    size_t cnt = 0, cap = 0;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT l.org_unit_id, l.version, l.entries, l.updated_us, u.path"
                             " FROM unit_lexicons l JOIN org_units u ON u.tenant_id = l.tenant_id"
                             " AND u.id = l.org_unit_id WHERE l.tenant_id = ? ORDER BY u.path")) <
        0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if (cnt == cap) {
            size_t c = cap ? cap * 2 : 16;
            wp_unit_lexicon_info *t = realloc(v, c * sizeof *t);
            if (!t) {
                err = wp_error_set(WP_ENOMEM, "out of memory");
                goto out;
            }
            v = t;
            cap = c;
        }
        wp_unit_lexicon_info *x = &v[cnt];
        if ((err = wp_db_col_copy(s, 0, x->org_unit_id, sizeof x->org_unit_id)) < 0)
            goto out;
        x->version = wp_db_col_int64(s, 1);
        x->entries = wp_db_col_int64(s, 2);
        x->updated_us = wp_db_col_int64(s, 3);
        if ((err = wp_db_col_copy(s, 4, x->path, sizeof x->path)) < 0)
            goto out;
        cnt++;
    }
out:
    wp_db_done(s);
    if (err < 0) {
        free(v);
        return err;
    }
    *out = v;
    *n = cnt;
    return 0;
}

int wp_store_media_each(wp_store *st,
                        int (*cb)(void *ctx, const char *name, const char *sha256, int64_t size),
                        void *ctx)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT path, sha256, max(size) FROM media"
                             " GROUP BY path, sha256 ORDER BY path")) < 0)
        return err;
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        const char *path = wp_db_col_text(s, 0), *sha = wp_db_col_text(s, 1);
        /* ab/cd/<64 hex> */
        if (path && sha && strlen(path) == 70 && check_sha(path + 6) == 0 &&
            (err = cb(ctx, path + 6, sha, wp_db_col_int64(s, 2))) < 0)
            break;
    }
    wp_db_done(s);
    return err < 0 ? err : 0;
}
