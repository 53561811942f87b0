/* SPDX-License-Identifier: MIT */
/* The WeCom chat archive's store side (wecom_archive.h): settings, keys, state, held records,
 * and the operation that stores a pull with its cursor. */
#include "store/db.h"
#include "store/devices.h"
#include "store/events.h"
#include "store/internal.h"
#include "store/people.h"
#include "store/store.h"
#include "store/usage.h"
#include "store/wecom_archive.h"
#include "util/error.h"
#include "util/id.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The kinds tried again when retry_gen moves: what a key or an employee's UserID may open. */
#define RETRYABLE "('unknown_employee', 'no_key', 'bad_key', 'decrypt')"

static const char *or_null(const char *s)
{
    return s && *s ? s : NULL;
}

/* --- settings ------------------------------------------------------------------------------- */

#define SETTINGS_COLUMNS                                                                           \
    "corp_id, api_base, callback_token, encoding_aes_key, contact_secret, archive_secret,"         \
    " sdk_path, proxy, proxy_password, archive_enabled, pull_limit, pull_interval_s,"              \
    " backoff_max_s, timeout_s, version, updated_us"

int wp_store_wecom_settings_get(wp_store *st, wp_wecom_settings_row *out, const char *tenant_id)
{
    struct wp_stmt *s = NULL;
    wp_wecom_settings_row r;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT " SETTINGS_COLUMNS " FROM wecom_config WHERE tenant_id = ?")) <
        0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    if ((err = wp_db_step(s)) == WP_DB_DONE)
        err = wp_error_set(WP_ENOTFOUND, "the tenant has no wecom settings");
    if (err < 0)
        goto out;
    memset(&r, 0, sizeof r);
    if ((err = wp_db_col_copy(s, 0, r.corp_id, sizeof r.corp_id)) < 0 ||
        (err = wp_db_col_copy_opt(s, 1, r.api_base, sizeof r.api_base)) < 0 ||
        (err = wp_db_col_copy_opt(s, 2, r.callback_token, sizeof r.callback_token)) < 0 ||
        (err = wp_db_col_copy_opt(s, 3, r.encoding_aes_key, sizeof r.encoding_aes_key)) < 0 ||
        (err = wp_db_col_copy_opt(s, 4, r.contact_secret, sizeof r.contact_secret)) < 0 ||
        (err = wp_db_col_copy_opt(s, 5, r.archive_secret, sizeof r.archive_secret)) < 0 ||
        (err = wp_db_col_copy_opt(s, 6, r.sdk_path, sizeof r.sdk_path)) < 0 ||
        (err = wp_db_col_copy_opt(s, 7, r.proxy, sizeof r.proxy)) < 0 ||
        (err = wp_db_col_copy_opt(s, 8, r.proxy_password, sizeof r.proxy_password)) < 0)
        goto out;
    r.archive_enabled = wp_db_col_int64(s, 9) != 0;
    r.pull_limit = (int)wp_db_col_int64(s, 10);
    r.pull_interval_s = (int)wp_db_col_int64(s, 11);
    r.backoff_max_s = (int)wp_db_col_int64(s, 12);
    r.timeout_s = (int)wp_db_col_int64(s, 13);
    r.version = wp_db_col_int64(s, 14);
    r.updated_us = wp_db_col_int64(s, 15);
    *out = r;
    err = 0;
out:
    wp_db_done(s);
    return err;
}

int wp_store_wecom_settings_put(wp_store *st, int64_t *version, const char *tenant_id,
                                const wp_wecom_settings_row *in, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if (!in->corp_id[0])
        return wp_error_set(WP_EINVAL, "corp_id is empty");
    if (in->pull_limit < 1 || in->pull_limit > 1000)
        return wp_error_set(WP_EINVAL, "pull_limit must be 1-1000");
    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    if ((err = wp_db_prepare(
             st, &s,
             "INSERT INTO wecom_config (tenant_id, " SETTINGS_COLUMNS ") VALUES (?, ?, ?, ?, ?,"
             " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?) ON CONFLICT (tenant_id) DO UPDATE SET"
             " corp_id = excluded.corp_id, api_base = excluded.api_base,"
             " callback_token = excluded.callback_token,"
             " encoding_aes_key = excluded.encoding_aes_key,"
             " contact_secret = excluded.contact_secret,"
             " archive_secret = excluded.archive_secret, sdk_path = excluded.sdk_path,"
             " proxy = excluded.proxy, proxy_password = excluded.proxy_password,"
             " archive_enabled = excluded.archive_enabled, pull_limit = excluded.pull_limit,"
             " pull_interval_s = excluded.pull_interval_s,"
             " backoff_max_s = excluded.backoff_max_s, timeout_s = excluded.timeout_s,"
             " version = wecom_config.version + 1, updated_us = excluded.updated_us"
             " RETURNING version")) < 0)
        goto out;
    int i = 1;
    wp_db_bind_text(s, i++, tenant_id);
    wp_db_bind_text(s, i++, in->corp_id);
    wp_db_bind_text_or_null(s, i++, or_null(in->api_base));
    wp_db_bind_text_or_null(s, i++, or_null(in->callback_token));
    wp_db_bind_text_or_null(s, i++, or_null(in->encoding_aes_key));
    wp_db_bind_text_or_null(s, i++, or_null(in->contact_secret));
    wp_db_bind_text_or_null(s, i++, or_null(in->archive_secret));
    wp_db_bind_text_or_null(s, i++, or_null(in->sdk_path));
    wp_db_bind_text_or_null(s, i++, or_null(in->proxy));
    wp_db_bind_text_or_null(s, i++, or_null(in->proxy_password));
    wp_db_bind_int64(s, i++, in->archive_enabled ? 1 : 0);
    wp_db_bind_int64(s, i++, in->pull_limit);
    wp_db_bind_int64(s, i++, in->pull_interval_s);
    wp_db_bind_int64(s, i++, in->backoff_max_s);
    wp_db_bind_int64(s, i++, in->timeout_s);
    wp_db_bind_int64(s, i++, now_us);
    if ((err = wp_db_step(s)) == WP_ENOTFOUND)
        err = wp_error_set(WP_ENOTFOUND, "tenant '%s' not found", tenant_id);
    if (err < 0)
        goto out;
    if (version)
        *version = wp_db_col_int64(s, 0);
    wp_db_done(s);
    s = NULL;
    if ((err = wp_db_run(st,
                         "INSERT INTO wecom_archive_state (tenant_id) VALUES (?)"
                         " ON CONFLICT (tenant_id) DO NOTHING",
                         "t", tenant_id)) < 0 ||
        (err = wp_db_run(st,
                         "UPDATE wecom_archive_state SET retry_gen = retry_gen + 1,"
                         " next_due_us = NULL, failures = 0 WHERE tenant_id = ?",
                         "t", tenant_id)) < 0)
        goto out;
out:
    wp_db_done(s);
    return wp_store__op_end(st, err);
}

/* --- keys ----------------------------------------------------------------------------------- */

void wp_wecom_key_rows_free(wp_wecom_key_row *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i].pem);
    free(v);
}

int wp_store_wecom_keys_list(wp_store *st, wp_wecom_key_row **out, size_t *n,
                             const char *tenant_id, int with_pem)
{
    struct wp_stmt *s = NULL;
    wp_wecom_key_row *v = NULL;
    size_t cap = 0, len = 0;
    int err;

    *out = NULL;
    *n = 0;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT version, fingerprint, bits, created_us, pem FROM"
                             " wecom_archive_keys WHERE tenant_id = ? ORDER BY version")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if ((err = wp_array__grow((void **)&v, &cap, len, sizeof *v)) < 0)
            break;
        wp_wecom_key_row *k = &v[len];
        memset(k, 0, sizeof *k);
        len++;
        k->version = wp_db_col_int64(s, 0);
        if ((err = wp_db_col_copy(s, 1, k->fingerprint, sizeof k->fingerprint)) < 0)
            break;
        k->bits = (int)wp_db_col_int64(s, 2);
        k->created_us = wp_db_col_int64(s, 3);
        if (with_pem && !(k->pem = strdup(wp_db_col_text(s, 4) ? wp_db_col_text(s, 4) : ""))) {
            err = wp_error_set(WP_ENOMEM, "out of memory");
            break;
        }
    }
    wp_db_done(s);
    if (err < 0) {
        wp_wecom_key_rows_free(v, len);
        return err;
    }
    *out = v;
    *n = len;
    return 0;
}

int wp_store_wecom_key_put(wp_store *st, const char *tenant_id, int64_t version,
                           const char *sealed_pem, const char *fingerprint, int bits,
                           int64_t now_us)
{
    int err;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if (version < 1 || version > INT32_MAX)
        return wp_error_set(WP_EINVAL, "key version %" PRId64 " is out of range", version);
    if (!sealed_pem)
        return wp_db_run(st,
                         "DELETE FROM wecom_archive_keys WHERE tenant_id = ? AND version = ?",
                         "ti", tenant_id, version);
    err = wp_db_run(st,
                    "INSERT INTO wecom_archive_keys (tenant_id, version, pem, fingerprint, bits,"
                    " created_us) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, version)"
                    " DO UPDATE SET pem = excluded.pem, fingerprint = excluded.fingerprint,"
                    " bits = excluded.bits, created_us = excluded.created_us",
                    "tittii", tenant_id, version, sealed_pem, fingerprint, (int64_t)bits, now_us);
    if (err == WP_ENOTFOUND)
        err = wp_error_set(WP_ENOTFOUND, "tenant '%s' not found", tenant_id);
    return err;
}

/* --- state ---------------------------------------------------------------------------------- */

int wp_store_wecom_archive_state_get(wp_store *st, wp_wecom_archive_state *out,
                                     const char *tenant_id)
{
    struct wp_stmt *s = NULL;
    wp_wecom_archive_state r;
    int err;

    memset(&r, 0, sizeof r);
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if ((err = wp_db_prepare(
             st, &s,
             "SELECT seq, records, stored, duplicates, pulls, errors, failures, last_pull_us,"
             " last_record_us, last_error_us, next_due_us, retry_gen, retried_gen, last_error,"
             " (SELECT count(*) FROM wecom_archive_held h WHERE h.tenant_id = s.tenant_id),"
             " (SELECT count(*) FROM wecom_archive_held h WHERE h.tenant_id = s.tenant_id"
             " AND h.kind IN " RETRYABLE ")"
             " FROM wecom_archive_state s WHERE s.tenant_id = ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    if ((err = wp_db_step(s)) == WP_DB_ROW) {
        int64_t *nums[] = {&r.seq,          &r.records,        &r.stored,       &r.duplicates,
                           &r.pulls,        &r.errors,         &r.failures,     &r.last_pull_us,
                           &r.last_record_us, &r.last_error_us, &r.next_due_us, &r.retry_gen,
                           &r.retried_gen};
        for (int i = 0; i < 13; i++)
            *nums[i] = wp_db_col_isnull(s, i) ? 0 : wp_db_col_int64(s, i);
        const char *e = wp_db_col_text(s, 13);
        snprintf(r.last_error, sizeof r.last_error, "%s", e ? e : "");
        r.held = wp_db_col_int64(s, 14);
        r.held_retryable = wp_db_col_int64(s, 15);
    }
    wp_db_done(s);
    if (err < 0)
        return err;
    *out = r;
    return 0;
}

/* error cut to at most max bytes on a character, into out. */
static void cut_utf8(char *out, size_t cap, const char *in)
{
    size_t n = strlen(in);
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)in[n] & 0xc0) == 0x80)
            n--;
    }
    memcpy(out, in, n);
    out[n] = '\0';
}

int wp_store_wecom_archive_failed(wp_store *st, const char *tenant_id, const char *error,
                                  int64_t now_us, int64_t next_due_us)
{
    char msg[WP_WECOM_ERROR_MAX + 1];
    int err;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    cut_utf8(msg, sizeof msg, error ? error : "error");
    return wp_db_run(st,
                     "UPDATE wecom_archive_state SET last_error = ?, last_error_us = ?,"
                     " failures = failures + 1, errors = errors + 1, next_due_us = ?"
                     " WHERE tenant_id = ?",
                     "tiit", msg, now_us, next_due_us, tenant_id);
}

int wp_store_wecom_archive_schedule(wp_store *st, const char *tenant_id, int64_t now_us,
                                    int64_t next_due_us)
{
    int err;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    return wp_db_run(st,
                     "UPDATE wecom_archive_state SET pulls = pulls + 1, last_pull_us = ?,"
                     " failures = 0, next_due_us = ? WHERE tenant_id = ?",
                     "iit", now_us, next_due_us, tenant_id);
}

int wp_store_wecom_archive_kick(wp_store *st, const char *tenant_id)
{
    int err;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    return wp_db_run(st,
                     "UPDATE wecom_archive_state SET retry_gen = retry_gen + 1, next_due_us ="
                     " NULL WHERE tenant_id = ?",
                     "t", tenant_id);
}

int wp_store_wecom_archive_due(wp_store *st, char (**out)[WP_ID_LEN + 1], size_t *n,
                               int64_t now_us)
{
    struct wp_stmt *s = NULL;
    char(*v)[WP_ID_LEN + 1] = NULL;
    size_t cap = 0, len = 0;
    int err;

    *out = NULL;
    *n = 0;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT c.tenant_id FROM wecom_config c JOIN tenants t ON t.id ="
                             " c.tenant_id LEFT JOIN wecom_archive_state s ON s.tenant_id ="
                             " c.tenant_id WHERE c.archive_enabled = 1 AND c.archive_secret IS"
                             " NOT NULL AND (s.next_due_us IS NULL OR s.next_due_us <= ?)"
                             " ORDER BY COALESCE(s.next_due_us, 0), c.tenant_id")) < 0)
        return err;
    wp_db_bind_int64(s, 1, now_us);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if ((err = wp_array__grow((void **)&v, &cap, len, sizeof *v)) < 0 ||
            (err = wp_db_col_copy(s, 0, v[len], sizeof v[len])) < 0)
            break;
        len++;
    }
    wp_db_done(s);
    if (err < 0) {
        free(v);
        return err;
    }
    *out = v;
    *n = len;
    return 0;
}

int wp_store_wecom_archive_device(wp_store *st, char out[WP_ID_LEN + 1], const char *tenant_id,
                                  const char *employee_id, int64_t now_us)
{
    return wp_store_device_source(st, out, tenant_id, employee_id, "wecom_archive", now_us);
}

static int cmp_userid(const void *a, const void *b)
{
    return strcmp(((const wp_wecom_userid *)a)->userid, ((const wp_wecom_userid *)b)->userid);
}

int wp_store_wecom_userids(wp_store *st, wp_wecom_userid **out, size_t *n, const char *tenant_id)
{
    struct wp_stmt *s = NULL;
    wp_wecom_userid *v = NULL;
    size_t cap = 0, len = 0;
    int err;

    *out = NULL;
    *n = 0;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT wecom_userid, id FROM employees WHERE tenant_id = ?"
                             " AND wecom_userid IS NOT NULL")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if ((err = wp_array__grow((void **)&v, &cap, len, sizeof *v)) < 0 ||
            (err = wp_db_col_copy(s, 0, v[len].userid, sizeof v[len].userid)) < 0 ||
            (err = wp_db_col_copy(s, 1, v[len].employee_id, sizeof v[len].employee_id)) < 0)
            break;
        len++;
    }
    wp_db_done(s);
    if (err < 0) {
        free(v);
        return err;
    }
    if (len)
        qsort(v, len, sizeof *v, cmp_userid); /* bytewise whatever the database's collation */
    *out = v;
    *n = len;
    return 0;
}

/* --- held records --------------------------------------------------------------------------- */

void wp_wecom_held_rows_free(wp_wecom_held_row *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].record);
        free(v[i].message);
    }
    free(v);
}

/* Read the held rows a statement returns: id, seq, msgid, kind, reason, attempts, created_us,
 * updated_us, and record and message when full. */
static int read_held(struct wp_stmt *s, wp_wecom_held_row **out, size_t *n, int full)
{
    wp_wecom_held_row *v = NULL;
    size_t cap = 0, len = 0;
    int err;
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if ((err = wp_array__grow((void **)&v, &cap, len, sizeof *v)) < 0)
            break;
        wp_wecom_held_row *h = &v[len];
        memset(h, 0, sizeof *h);
        len++;
        const char *msgid = wp_db_col_text(s, 2), *reason = wp_db_col_text(s, 4);
        if ((err = wp_db_col_copy(s, 0, h->id, sizeof h->id)) < 0 ||
            (err = wp_db_col_copy(s, 3, h->kind, sizeof h->kind)) < 0)
            break;
        h->seq = wp_db_col_isnull(s, 1) ? 0 : wp_db_col_int64(s, 1);
        cut_utf8(h->msgid, sizeof h->msgid, msgid ? msgid : "");
        cut_utf8(h->reason, sizeof h->reason, reason ? reason : "");
        h->attempts = wp_db_col_int64(s, 5);
        h->created_us = wp_db_col_int64(s, 6);
        h->updated_us = wp_db_col_int64(s, 7);
        if (full) {
            const char *r = wp_db_col_text(s, 8), *m = wp_db_col_text(s, 9);
            if (!(h->record = strdup(r ? r : "")) || (m && !(h->message = strdup(m)))) {
                err = wp_error_set(WP_ENOMEM, "out of memory");
                break;
            }
        }
    }
    if (err < 0) {
        wp_wecom_held_rows_free(v, len);
        return err;
    }
    *out = v;
    *n = len;
    return 0;
}

#define HELD_COLUMNS "id, seq, msgid, kind, reason, attempts, created_us, updated_us"

int wp_store_wecom_held_retryable(wp_store *st, wp_wecom_held_row **out, size_t *n,
                                  const char *tenant_id, int64_t after_seq, unsigned limit)
{
    struct wp_stmt *s = NULL;
    int err;
    *out = NULL;
    *n = 0;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT " HELD_COLUMNS ", record, message FROM wecom_archive_held"
                             " WHERE tenant_id = ? AND seq > ? AND kind IN " RETRYABLE
                             " ORDER BY seq LIMIT ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_int64(s, 2, after_seq);
    wp_db_bind_int64(s, 3, limit);
    err = read_held(s, out, n, 1);
    wp_db_done(s);
    return err;
}

int wp_store_wecom_held_list(wp_store *st, wp_wecom_held_row **out, size_t *n,
                             char next_cursor[WP_ARCHIVE_CURSOR_MAX], const char *tenant_id,
                             const char *kind, const char *cursor, unsigned limit)
{
    struct wp_stmt *s = NULL;
    int64_t below = INT64_MAX;
    unsigned lim;
    int err;

    *out = NULL;
    *n = 0;
    next_cursor[0] = '\0';
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_page__limit(&lim, limit)) < 0)
        return err;
    if (cursor && *cursor) {
        char *end;
        long long v = strtoll(cursor, &end, 10);
        if (*end || v < 0)
            return wp_error_set(WP_EINVAL, "invalid cursor");
        below = v;
    }
    /* rows without a seq sort last (-1) */
    if ((err = wp_db_prepare(st, &s,
                             "SELECT " HELD_COLUMNS " FROM wecom_archive_held WHERE tenant_id = ?"
                             " AND COALESCE(seq, -1) < ? AND (CAST(? AS TEXT) IS NULL OR kind = ?)"
                             " ORDER BY COALESCE(seq, -1) DESC, id DESC LIMIT ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_int64(s, 2, below);
    wp_db_bind_text_or_null(s, 3, or_null(kind));
    wp_db_bind_text_or_null(s, 4, or_null(kind));
    wp_db_bind_int64(s, 5, (int64_t)lim + 1);
    err = read_held(s, out, n, 0);
    wp_db_done(s);
    if (err == 0 && *n > lim) {
        *n = lim;
        if ((*out)[lim - 1].seq > 0)
            snprintf(next_cursor, WP_ARCHIVE_CURSOR_MAX, "%" PRId64, (*out)[lim - 1].seq);
    }
    return err;
}

/* Hold a record back, or update one held before (the same seq): its kind and reason change,
 * its record and message stay as first kept, and it counts once in the quarantine usage. */
static int put_held(wp_store *st, const wp_wecom_pull *p, const wp_wecom_held *h,
                    int64_t add[WP_USAGE_KINDS])
{
    struct wp_stmt *s = NULL;
    char id[WP_ID_LEN + 1];
    int64_t bytes = (int64_t)strlen(h->record) + (h->message ? (int64_t)strlen(h->message) : 0);
    int err;

    wp_id_new(id);
    if ((err = wp_db_prepare(
             st, &s,
             "INSERT INTO wecom_archive_held (tenant_id, id, seq, msgid, kind, reason, record,"
             " message, bytes, created_us, updated_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
             " ON CONFLICT (tenant_id, seq) DO UPDATE SET kind = excluded.kind,"
             " reason = excluded.reason, attempts = wecom_archive_held.attempts + 1,"
             " updated_us = excluded.updated_us RETURNING id")) < 0)
        return err;
    wp_db_bind_text(s, 1, p->tenant_id);
    wp_db_bind_text(s, 2, id);
    if (h->seq > 0)
        wp_db_bind_int64(s, 3, h->seq);
    else
        wp_db_bind_null(s, 3);
    wp_db_bind_text_or_null(s, 4, or_null(h->msgid));
    wp_db_bind_text(s, 5, h->kind);
    wp_db_bind_text(s, 6, h->reason);
    wp_db_bind_text(s, 7, h->record);
    wp_db_bind_text_or_null(s, 8, h->message);
    wp_db_bind_int64(s, 9, bytes);
    wp_db_bind_int64(s, 10, p->now_us);
    wp_db_bind_int64(s, 11, p->now_us);
    if ((err = wp_db_step(s)) == WP_DB_ROW && strcmp(wp_db_col_text(s, 0), id) == 0)
        add[WP_USAGE_QUARANTINE] += bytes; /* a new row: an updated one counted before */
    wp_db_done(s);
    return err < 0 ? err : 0;
}

/* A held record stored now: its row goes, and its bytes leave the quarantine usage. */
static int release_held(wp_store *st, const wp_wecom_pull *p, int64_t seq)
{
    struct wp_stmt *s = NULL;
    int64_t bytes = -1;
    int err;
    if ((err = wp_db_prepare(st, &s,
                             "DELETE FROM wecom_archive_held WHERE tenant_id = ? AND seq = ?"
                             " RETURNING bytes")) < 0)
        return err;
    wp_db_bind_text(s, 1, p->tenant_id);
    wp_db_bind_int64(s, 2, seq);
    if ((err = wp_db_step(s)) == WP_DB_ROW)
        bytes = wp_db_col_int64(s, 0);
    wp_db_done(s);
    if (err < 0 || bytes <= 0)
        return err < 0 ? err : 0;
    return wp_db_run(st,
                     "UPDATE tenant_usage SET quarantine_bytes = CASE WHEN quarantine_bytes > ?"
                     " THEN quarantine_bytes - ? ELSE 0 END WHERE tenant_id = ?",
                     "iit", bytes, bytes, p->tenant_id);
}

int wp_store_wecom_archive_apply(wp_store *st, wp_wecom_pull *p)
{
    struct wp_stmt *s = NULL;
    int64_t add[WP_USAGE_KINDS] = {0};
    size_t failed = 0;
    int err;

    p->stored = p->duplicates = 0;
    if ((err = wp_store__check_id("tenant", p->tenant_id)) < 0)
        return err;
    if (p->to_seq < p->from_seq)
        return wp_error_set(WP_EINVAL, "the archive's cursor cannot go back");
    for (size_t i = 0; i < p->n_batches; i++)
        if (p->batches[i]->source != WP_BATCH_WECOM_ARCHIVE ||
            strcmp(p->batches[i]->tenant_id, p->tenant_id) != 0)
            return wp_error_set(WP_EINVAL, "a batch of the pull is not the tenant's archive's");
    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    /* The state row first: on PostgreSQL the UPDATE locks it until the commit, so two nodes
     * pulling one tenant take turns, and the second finds the cursor moved. */
    if ((err = wp_db_run(st,
                         "INSERT INTO wecom_archive_state (tenant_id) VALUES (?)"
                         " ON CONFLICT (tenant_id) DO NOTHING",
                         "t", p->tenant_id)) < 0)
        goto out;
    if ((err = wp_db_prepare(st, &s,
                             "UPDATE wecom_archive_state SET seq = seq WHERE tenant_id = ?"
                             " RETURNING seq")) < 0)
        goto out;
    wp_db_bind_text(s, 1, p->tenant_id);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    if (err != WP_DB_ROW || wp_db_col_int64(s, 0) != p->from_seq) {
        err = wp_error_set(WP_EBUSY, "the archive's cursor moved: another node stored this pull");
        goto out;
    }
    wp_db_done(s);
    s = NULL;
    if ((err = wp_store__events_apply_in_op(st, p->batches, p->n_batches, &failed)) < 0)
        goto out;
    for (size_t i = 0; i < p->n_batches; i++) {
        const wp_event_batch *b = p->batches[i];
        if (b->refused) { /* a storage limit: nothing of the pull is kept */
            p->refusal = b->refusal;
            err = wp_usage_refuse(&p->refusal);
            goto out;
        }
        for (size_t j = 0; j < b->n; j++) {
            if (b->events[j].duplicate)
                p->duplicates++;
            else if (b->events[j].applied)
                p->stored++;
        }
    }
    for (size_t i = 0; i < p->n_held && err == 0; i++)
        err = put_held(st, p, &p->held[i], add);
    for (size_t i = 0; i < p->n_released && err == 0; i++)
        err = release_held(st, p, p->released[i]);
    if (err < 0)
        goto out;
    if ((err = wp_store__usage_add(st, p->tenant_id, add, &p->refusal)) < 0)
        goto out;
    err = wp_db_run(st,
                    "UPDATE wecom_archive_state SET seq = ?, records = records + ?,"
                    " stored = stored + ?, duplicates = duplicates + ?, pulls = pulls + ?,"
                    " last_pull_us = CASE WHEN ? = 1 THEN ? ELSE last_pull_us END,"
                    " last_record_us = CASE WHEN last_record_us IS NULL OR last_record_us < ?"
                    " THEN ? ELSE last_record_us END,"
                    " retried_gen = CASE WHEN ? >= 0 THEN ? ELSE retried_gen END,"
                    " failures = 0, next_due_us = ? WHERE tenant_id = ?",
                    "iiiiiiiiiiiit", p->to_seq, p->records, p->stored, p->duplicates,
                    (int64_t)(p->pulled ? 1 : 0), (int64_t)(p->pulled ? 1 : 0), p->now_us,
                    p->last_record_us ? p->last_record_us : INT64_MIN,
                    p->last_record_us ? p->last_record_us : (int64_t)0, p->retried_gen,
                    p->retried_gen, p->next_due_us, p->tenant_id);
out:
    wp_db_done(s);
    if ((err = wp_store__op_end(st, err)) < 0) {
        p->stored = p->duplicates = 0;
        for (size_t i = 0; i < p->n_batches; i++)
            for (size_t j = 0; j < p->batches[i]->n; j++)
                p->batches[i]->events[j].applied = 0;
    }
    return err;
}
