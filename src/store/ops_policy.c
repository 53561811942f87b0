/* SPDX-License-Identifier: MIT */
/* Store operations on media records, lexicons and the tenant policy (its version is the ETag
 * of GET /api/v1/device/policy). */
#include "store/db.h"
#include "store/policy.h"
#include "store/store.h"
#include "store/usage.h"
#include "util/clock.h"
#include "util/error.h"

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
    struct wp_stmt *s = NULL;
    char path[80];
    int64_t now = wp_time_now_us();
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("device", device_id)) < 0 || (err = check_sha(sha256)) < 0)
        return err;
    if (size < 0)
        return wp_error_set(WP_EINVAL, "media size is negative");
    snprintf(path, sizeof path, "%.2s/%.2s/%s", sha256, sha256 + 2, sha256);
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
                             "SELECT version, lexicon_version, money_alert_fen, updated_us"
                             " FROM tenant_policy WHERE tenant_id = ?")) < 0)
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

/* Move the policy version under the row's lock; *next gets the new version. WP_ENOTFOUND when
 * the tenant has no policy yet. */
static int bump(wp_store *st, int64_t *next, const char *tenant_id, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_db_prepare(st, &s,
                             "UPDATE tenant_policy SET version = version + 1, updated_us = ?"
                             " WHERE tenant_id = ? RETURNING version")) < 0)
        return err;
    wp_db_bind_int64(s, 1, now_us);
    wp_db_bind_text(s, 2, tenant_id);
    if ((err = wp_db_step(s)) == WP_DB_ROW)
        *next = wp_db_col_int64(s, 0);
    else if (err == WP_DB_DONE)
        err = wp_error_set(WP_ENOTFOUND, "tenant '%s' has no policy", tenant_id);
    wp_db_done(s);
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
