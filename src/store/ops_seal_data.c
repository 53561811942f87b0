/* SPDX-License-Identifier: MIT */
/* The messages written before a master key was configured, sealed in place and indexed with
 * keyed grams, and those sealed under an older data key version sealed under the newest
 * (`workphone keys seal-data`; seal.h, docs/internals/encryption.md, "Sealing what was there"). */
#include "store/db.h"
#include "store/grams.h"
#include "store/internal.h"
#include "store/seal.h"
#include "util/buf.h"
#include "util/error.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPENED_MAX (64u * 1024 * 1024) /* bytes of an opened text, at most */
#define GRAMS_MAX (2u * 1024 * 1024)   /* bytes of the grams of one message */

/* the sealed columns of a message, in the order the batch selects them */
static const char *const msg_cols[] = {"text",     "raw", "peer_name", "peer_phone", "group_name",
                                       "filename", "url", "title",     "memo"};
#define NCOLS 9
#define MSG_COLS "text, raw, peer_name, peer_phone, group_name, filename, url, title, memo"
#define MSG_SET                                                                                    \
    "text = ?, raw = ?, peer_name = ?, peer_phone = ?, group_name = ?, filename = ?, url = ?,"     \
    " title = ?, memo = ?"

struct row {
    int64_t rid, skey; /* skey: SQLite's search key, -1 when none */
    char id[WP_ID_LEN + 1];
    char *col[NCOLS];
};

void wp_seal__vals_free(char **vals, int n)
{
    for (int c = 0; c < n; c++) {
        if (vals[c])
            sodium_memzero(vals[c], strlen(vals[c]));
        free(vals[c]);
        vals[c] = NULL;
    }
}

static void rows_free(struct row *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        wp_seal__vals_free(v[i].col, NCOLS);
    free(v);
}

int wp_seal__dup_col(char **out, struct wp_stmt *s, int col)
{
    *out = NULL;
    if (wp_db_col_isnull(s, col))
        return 0;
    if (!(*out = strdup(wp_db_col_text(s, col))))
        return wp_error_set(WP_ENOMEM, "out of memory");
    return 0;
}

/* The value opened when sealed (into b), then sealed under the newest key (into out): *res
 * points at the stored form to write. */
int wp_seal__reseal(wp_store *st, wp_buf *b, wp_buf *out, const char **res, const char **plain,
                    const wp_seal_at *at, const char *stored)
{
    int err;
    if ((err = wp_seal__open_text(st, b, plain, at, stored)) < 0)
        return err;
    return wp_seal__text(st, out, res, at, *plain);
}

int wp_seal__row(wp_store *st, int *act, const struct wp_seal_row *row, char *const *vals,
                 int64_t newest, wp_buf *ob, wp_buf *sb, const char **res, enum wp_seal_need *need,
                 int64_t *problems, wp_seal_bad_fn bad, void *ctx)
{
    int any = 0, bad_version = 0, was_plain = 0, err = 0;
    const char *plain = NULL;
    *act = 0;
    for (int c = 0; c < row->n; c++) {
        res[c] = vals[c];
        need[c] = wp_seal__need(vals[c], newest);
        any |= need[c] != WP_SEAL_NEED_NONE;
        bad_version |= need[c] == WP_SEAL_NEED_BAD;
        was_plain |= need[c] == WP_SEAL_NEED_PLAIN;
    }
    if (!any)
        return 0;
    if (bad_version) {
        (*problems)++;
        if (bad)
            bad(ctx, row->what, row->id, "a sealed value names no key version: left as it is");
        return 0;
    }
    for (int c = 0; c < row->n && err == 0; c++) {
        if (need[c] == WP_SEAL_NEED_NONE)
            continue;
        wp_seal_at at = {row->tenant_id, row->table, row->cols[c], row->id};
        err = wp_seal__reseal(st, &ob[c], &sb[c], &res[c], &plain, &at, vals[c]);
    }
    if (err == WP_EIO) { /* a value that does not open: logged (seal_open), left */
        (*problems)++;
        if (bad)
            bad(ctx, row->what, row->id, wp_error_last());
        return 0;
    }
    if (err < 0)
        return err;
    *act = was_plain ? 1 : 2;
    return 0;
}

/* SQLite: the message's plain grams taken out of the contentless index (FTS5's 'delete' with
 * exactly what was indexed: ops_events.c's wp_grams__make of the text), its keyed ones put in
 * under the same search key. */
static int reindex_lite(wp_store *st, wp_buf *grams, int64_t skey, const char *tenant_id,
                        const char *text, const unsigned char *gk)
{
    int err;
    wp_buf_reset(grams);
    if ((err = wp_grams__make(grams, NULL, text, strlen(text), 0, WP_GRAMS_SPACED)) < 0)
        return err;
    if (grams->len &&
        (err = wp_db_run(st,
                         "INSERT INTO message_fts (message_fts, rowid, tenant_id, grams)"
                         " VALUES ('delete', ?, ?, ?)",
                         "itt", skey, tenant_id, grams->buf)) < 0)
        return err;
    wp_buf_reset(grams);
    if ((err = wp_grams__make_keyed(grams, NULL, text, strlen(text), 0, WP_GRAMS_SPACED, gk)) < 0)
        return err;
    if (grams->len == 0)
        return 0;
    return wp_db_run(st, "INSERT INTO message_fts (rowid, tenant_id, grams) VALUES (?, ?, ?)",
                     "itt", skey, tenant_id, grams->buf);
}

int wp_store_messages_seal_batch(wp_store *st, const char *tenant_id, int64_t newest,
                                 int64_t *after_rid, size_t limit, int *done, int64_t *sealed,
                                 int64_t *resealed, int64_t *problems, wp_seal_bad_fn bad,
                                 void *ctx)
{
    int pg = wp_store_backend(st) == WP_STORE_PG;
    struct wp_stmt *s = NULL;
    struct row *v = NULL;
    size_t n = 0, cap = 0;
    wp_buf ob[NCOLS], sb[NCOLS], grams;
    unsigned char gk[WP_GRAM_KEY_LEN];
    int keyed = 0, err;
    *done = 0;
    for (int c = 0; c < NCOLS; c++) {
        wp_buf_init(&ob[c], OPENED_MAX);
        wp_buf_init(&sb[c], OPENED_MAX);
    }
    wp_buf_init(&grams, GRAMS_MAX);
    if ((err = wp_store__op_begin(st, 1)) < 0)
        goto release;
    if ((err = wp_seal__gram_key(st, gk, &keyed, tenant_id)) < 0)
        goto out;
    if (!keyed) {
        err = wp_error_set(WP_EINVAL, "no master key is set: there is nothing to seal with");
        goto out;
    }
    /* the rows are locked while they are rewritten: a purge or an erasure that comes meanwhile
     * waits (SQLite: BEGIN IMMEDIATE holds the write lock already) */
    if ((err = wp_db_prepare(st, &s,
                             pg ? "SELECT rid, id, -1, " MSG_COLS " FROM messages WHERE"
                                  " tenant_id = ? AND rid > ? ORDER BY rid LIMIT ? FOR UPDATE"
                                : "SELECT rid, id, coalesce(skey, -1), " MSG_COLS " FROM messages"
                                  " WHERE tenant_id = ? AND rid > ? ORDER BY rid LIMIT ?")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_int64(s, 2, *after_rid);
    wp_db_bind_int64(s, 3, (int64_t)limit);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if (n == cap && (err = wp_array__grow((void **)&v, &cap, n, sizeof *v)) < 0)
            break;
        struct row *r = &v[n++];
        memset(r, 0, sizeof *r);
        r->rid = wp_db_col_int64(s, 0);
        wp_db_col_copy(s, 1, r->id, sizeof r->id);
        r->skey = wp_db_col_int64(s, 2);
        for (int c = 0; c < NCOLS && err >= 0; c++)
            err = wp_seal__dup_col(&r->col[c], s, 3 + c);
        if (err < 0)
            break;
    }
    wp_db_done(s);
    s = NULL;
    if (err < 0)
        goto out;
    err = 0;
    for (size_t i = 0; i < n && err == 0; i++) {
        struct row *r = &v[i];
        *after_rid = r->rid;
        enum wp_seal_need need[NCOLS];
        const char *res[NCOLS];
        struct wp_seal_row row = {tenant_id, "message", "messages", msg_cols, NCOLS, r->id};
        int act = 0;
        if ((err = wp_seal__row(st, &act, &row, r->col, newest, ob, sb, res, need, problems, bad,
                                ctx)) < 0)
            break;
        if (act == 0)
            continue;
        /* a text that was plaintext was indexed with plain grams: indexed again, keyed (a
         * sealed one is keyed already: the gram key comes from version 1 and never rotates) */
        const char *text = r->col[0];
        int reindex = need[0] == WP_SEAL_NEED_PLAIN;
        if (pg && reindex) {
            wp_buf_reset(&grams);
            if ((err = wp_grams__make_keyed(&grams, NULL, text, strlen(text), 0, WP_GRAMS_PG_ARRAY,
                                            gk)) < 0)
                break;
            err = wp_db_run(st,
                            "UPDATE messages SET " MSG_SET ", grams = CAST(? AS TEXT[])"
                            " WHERE rid = ?",
                            "ttttttttt"
                            "ti",
                            res[0], res[1], res[2], res[3], res[4], res[5], res[6], res[7], res[8],
                            grams.len ? grams.buf : "{}", r->rid);
        } else {
            err = wp_db_run(st, "UPDATE messages SET " MSG_SET " WHERE rid = ?",
                            "ttttttttt"
                            "i",
                            res[0], res[1], res[2], res[3], res[4], res[5], res[6], res[7], res[8],
                            r->rid);
            if (err == 0 && !pg && reindex && r->skey >= 0)
                err = reindex_lite(st, &grams, r->skey, tenant_id, text, gk);
        }
        if (err < 0)
            break;
        if (act == 1)
            (*sealed)++;
        else
            (*resealed)++;
    }
    if (err == 0 && n < limit)
        *done = 1;
out:
    err = wp_store__op_end(st, err);
release:
    sodium_memzero(gk, sizeof gk);
    rows_free(v, n);
    for (int c = 0; c < NCOLS; c++) {
        wp_buf_release(&ob[c]);
        wp_buf_release(&sb[c]);
    }
    wp_buf_release(&grams);
    return err;
}

/* a text in plain text: not NULL and not starting with the sealed form's byte */
#define PLAIN_TEXT_EXISTS                                                                          \
    "EXISTS (SELECT 1 FROM messages WHERE tenant_id = ? AND text IS NOT NULL AND"                  \
    " substr(text, 1, 1) <> ?)"

static int flag_set(wp_store *st, const char *tenant_id, int *changed, const char *sql)
{
    static const char sealed_byte[2] = {WP_SEAL_V1, 0};
    struct wp_stmt *s = NULL;
    int err;
    *changed = 0;
    if ((err = wp_db_prepare(st, &s, sql)) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, tenant_id);
    wp_db_bind_text(s, 3, sealed_byte);
    if ((err = wp_db_step(s)) == WP_DB_ROW)
        *changed = 1;
    wp_db_done(s);
    return err < 0 ? err : 0;
}

int wp_store_messages_plain_mark(wp_store *st, const char *tenant_id, int *set)
{
    return flag_set(st, tenant_id, set,
                    "UPDATE tenants SET plain_messages = 1 WHERE id = ? AND " PLAIN_TEXT_EXISTS
                    " RETURNING id");
}

int wp_store_messages_plain_clear(wp_store *st, const char *tenant_id, int *cleared)
{
    return flag_set(st, tenant_id, cleared,
                    "UPDATE tenants SET plain_messages = 0 WHERE id = ? AND plain_messages <> 0"
                    " AND NOT " PLAIN_TEXT_EXISTS " RETURNING id");
}

int wp_store_messages_plain_get(wp_store *st, const char *tenant_id, int *set)
{
    struct wp_stmt *s = NULL;
    int err;
    *set = 0;
    if ((err = wp_db_prepare(st, &s, "SELECT plain_messages FROM tenants WHERE id = ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    if ((err = wp_db_step(s)) == WP_DB_ROW)
        *set = wp_db_col_int64(s, 0) != 0;
    wp_db_done(s);
    return err < 0 ? err : 0;
}

int wp_store_messages_seal_count(wp_store *st, const char *tenant_id, int64_t newest,
                                 int64_t *plain, int64_t *older)
{
    struct wp_stmt *s = NULL;
    int err;
    *plain = *older = 0;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT " MSG_COLS " FROM messages"
                             " WHERE tenant_id = ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        int p = 0, o = 0;
        for (int c = 0; c < NCOLS; c++) {
            enum wp_seal_need need =
                wp_seal__need(wp_db_col_isnull(s, c) ? NULL : wp_db_col_text(s, c), newest);
            p |= need == WP_SEAL_NEED_PLAIN;
            o |= need == WP_SEAL_NEED_OLDER;
        }
        *plain += p;
        *older += !p && o;
    }
    wp_db_done(s);
    return err < 0 ? err : 0;
}

int wp_store_seal_compact(wp_store *st, int *incomplete)
{
    struct wp_stmt *s = NULL;
    int err;
    *incomplete = 0;
    if (wp_store_backend(st) == WP_STORE_PG) {
        if ((err = wp_db_exec(st, "VACUUM FULL messages, customers, customer_identities, calls,"
                                  " contact_events, checkins, alerts")) < 0)
            return err;
        if (wp_db_exec(st, "CHECKPOINT") < 0)
            *incomplete = 1;
        return 0;
    }
    /* the index's deleted entries (they hold the plain grams) merged away, then every page
     * the old values and grams were on rewritten and zeroed, and the WAL emptied */
    if ((err = wp_db_exec(st, "INSERT INTO message_fts (message_fts) VALUES ('optimize')")) < 0 ||
        (err = wp_db_exec(st, "PRAGMA secure_delete = ON")) < 0 ||
        (err = wp_db_exec(st, "VACUUM")) < 0 ||
        (err = wp_db_prepare(st, &s, "PRAGMA wal_checkpoint(TRUNCATE)")) < 0)
        return err;
    if ((err = wp_db_step(s)) == WP_DB_ROW && wp_db_col_int64(s, 0) != 0)
        *incomplete = 1;
    wp_db_done(s);
    return err < 0 ? err : 0;
}
