/* SPDX-License-Identifier: MIT */
/* The audit log (migration 0006): append to a tenant's hash chain, list it, walk it. */
#include "store/archive.h"
#include "store/db.h"
#include "store/query.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/utf8.h"

#include <assert.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GENESIS "0000000000000000000000000000000000000000000000000000000000000000"
#define DOMAIN "workphone.audit.v1" /* a version for the encoding: a new one gets a new name */
#define VERIFY_CHUNK 1000           /* rows fetched at a time by verify */
#define ACTION_MAX 64
#define CLIENT_MAX 64
#define SQL_MAX 2048

#define ROW_COLUMNS                                                                                \
    "seq, id, ts_us, actor, action, target, details, client, prev_hash, hash"

/* --- the hash ---------------------------------------------------------------------------- */

static void put_u64(crypto_generichash_state *h, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (56 - 8 * i));
    crypto_generichash_update(h, b, sizeof b);
}

/* A tag byte (0: NULL, 1: text), then the length as 8 bytes big-endian, then the bytes: no
 * two different field lists encode alike, whatever the fields contain. */
static void put_text(crypto_generichash_state *h, const char *s)
{
    unsigned char tag = s != NULL;
    crypto_generichash_update(h, &tag, 1);
    if (!s)
        return;
    size_t n = strlen(s);
    put_u64(h, n);
    crypto_generichash_update(h, (const unsigned char *)s, n);
}

/* The fields of one row, as stored (text columns borrowed). */
struct row {
    const char *tenant_id, *id, *actor, *action, *target, *details, *client, *prev_hash, *hash;
    int64_t seq, ts_us;
};

/* The keyed BLAKE2b-256 of a row's canonical encoding, as 64 lowercase hex digits. */
static void row_hash(char out[WP_AUDIT_HASH_HEX + 1], const unsigned char key[WP_AUDIT_KEY_LEN],
                     const struct row *r)
{
    crypto_generichash_state h;
    unsigned char bin[32];
    crypto_generichash_init(&h, key, WP_AUDIT_KEY_LEN, sizeof bin);
    put_text(&h, DOMAIN);
    put_text(&h, r->tenant_id);
    put_u64(&h, (uint64_t)r->seq);
    put_text(&h, r->id);
    put_u64(&h, (uint64_t)r->ts_us);
    put_text(&h, r->actor);
    put_text(&h, r->action);
    put_text(&h, r->target);
    put_text(&h, r->details);
    put_text(&h, r->client);
    put_text(&h, r->prev_hash);
    crypto_generichash_final(&h, bin, sizeof bin);
    sodium_bin2hex(out, WP_AUDIT_HASH_HEX + 1, bin, sizeof bin);
}

/* --- append ------------------------------------------------------------------------------ */

static int check_action(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0)
        return wp_error_set(WP_EINVAL, "audit action is empty");
    if (n > ACTION_MAX || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789._") != n)
        return wp_error_set(WP_EINVAL, "audit action '%.80s' is not 1-%d of a-z 0-9 . _", s,
                            ACTION_MAX);
    return 0;
}

/* A one-line field: check_name's rules within max bytes; NULL or "" is none when optional. */
static int check_field(const char *field, const char *s, size_t max, int required)
{
    int err;
    if (!required && (!s || !*s))
        return 0;
    if ((err = wp_store__check_name(field, s, max)) < 0)
        return err;
    if (strlen(s) > max)
        return wp_error_set(WP_EINVAL, "%s is longer than %zu bytes", field, max);
    return 0;
}

/* A JSON object's text, as the API makes it: '{' ... '}', UTF-8, within the limit. The store
 * keeps and hashes the text as given; it does not parse it. */
static int check_details(const char *s)
{
    size_t n = strlen(s);
    if (n > WP_AUDIT_DETAILS_MAX)
        return wp_error_set(WP_EINVAL, "audit details are longer than %d bytes",
                            WP_AUDIT_DETAILS_MAX);
    if (n < 2 || s[0] != '{' || s[n - 1] != '}' || !wp_utf8_valid(s, n))
        return wp_error_set(WP_EINVAL, "audit details are not a JSON object");
    return 0;
}

int wp_store_audit_append(wp_store *st, const unsigned char key[WP_AUDIT_KEY_LEN],
                          const wp_audit_entry *e, char out_id[WP_ID_LEN + 1])
{
    struct wp_stmt *s = NULL;
    char id[WP_ID_LEN + 1], prev[WP_AUDIT_HASH_HEX + 1], hash[WP_AUDIT_HASH_HEX + 1];
    struct row r;
    int err;

    if ((err = wp_store__check_id("tenant", e->tenant_id)) < 0 ||
        (err = check_field("audit actor", e->actor, WP_AUDIT_FIELD_MAX, 1)) < 0 ||
        (err = check_action(e->action)) < 0 ||
        (err = check_field("audit target", e->target, WP_AUDIT_FIELD_MAX, 0)) < 0 ||
        (err = check_field("audit client", e->client, CLIENT_MAX, 0)) < 0 ||
        (e->details && (err = check_details(e->details)) < 0))
        return err;
    if (sodium_init() < 0)
        return wp_error_set(WP_EIO, "libsodium cannot start");

    wp_id_new(id);
    memset(&r, 0, sizeof r);
    r.tenant_id = e->tenant_id;
    r.id = id;
    r.ts_us = e->ts_us ? e->ts_us : wp_time_now_us();
    r.actor = e->actor;
    r.action = e->action;
    r.target = e->target && *e->target ? e->target : NULL;
    r.details = e->details ? e->details : "{}";
    r.client = e->client && *e->client ? e->client : NULL;
    r.prev_hash = prev;

    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    /* Move the head first: on PostgreSQL the UPDATE holds the head row's lock until the
     * caller's transaction ends, so no other node appends to this chain in between (SQLite's
     * writer lock does the same). The first append of a tenant makes the head. */
    for (int attempt = 0;; attempt++) {
        if ((err = wp_db_prepare(st, &s,
                                 "UPDATE audit_heads SET seq = seq + 1 WHERE tenant_id = ?"
                                 " RETURNING seq, hash")) < 0)
            goto out;
        wp_db_bind_text(s, 1, e->tenant_id);
        if ((err = wp_db_step(s)) < 0)
            goto out;
        if (err == WP_DB_ROW)
            break;
        wp_db_done(s);
        s = NULL;
        if (attempt > 0) {
            err = wp_error_set(WP_EIO, "store: the audit head of tenant '%s' cannot be made",
                               e->tenant_id);
            goto out;
        }
        if ((err = wp_db_prepare(st, &s,
                                 "INSERT INTO audit_heads (tenant_id, seq, hash) VALUES (?, 0, ?)"
                                 " ON CONFLICT (tenant_id) DO NOTHING")) < 0)
            goto out;
        wp_db_bind_text(s, 1, e->tenant_id);
        wp_db_bind_text(s, 2, GENESIS);
        if ((err = wp_db_step(s)) == WP_ENOTFOUND)
            err = wp_error_set(WP_ENOTFOUND, "tenant '%s' not found", e->tenant_id);
        if (err < 0)
            goto out;
        wp_db_done(s);
        s = NULL;
    }
    r.seq = wp_db_col_int64(s, 0);
    if ((err = wp_db_col_copy(s, 1, prev, sizeof prev)) < 0)
        goto out;
    wp_db_done(s);
    s = NULL;
    row_hash(hash, key, &r);

    if ((err = wp_db_prepare(st, &s,
                             "INSERT INTO audit_log (tenant_id, seq, id, ts_us, actor, action,"
                             " target, details, client, prev_hash, hash)"
                             " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) < 0)
        goto out;
    wp_db_bind_text(s, 1, r.tenant_id);
    wp_db_bind_int64(s, 2, r.seq);
    wp_db_bind_text(s, 3, r.id);
    wp_db_bind_int64(s, 4, r.ts_us);
    wp_db_bind_text(s, 5, r.actor);
    wp_db_bind_text(s, 6, r.action);
    wp_db_bind_text_or_null(s, 7, r.target);
    wp_db_bind_text(s, 8, r.details);
    wp_db_bind_text_or_null(s, 9, r.client);
    wp_db_bind_text(s, 10, r.prev_hash);
    wp_db_bind_text(s, 11, hash);
    if ((err = wp_db_step(s)) == WP_EEXISTS) /* a row the head does not know of */
        err = wp_error_set(WP_EIO, "store: audit row %lld of tenant '%s' exists already",
                           (long long)r.seq, r.tenant_id);
    if (err < 0)
        goto out;
    wp_db_done(s);
    s = NULL;

    if ((err = wp_db_prepare(st, &s, "UPDATE audit_heads SET hash = ? WHERE tenant_id = ?")) < 0)
        goto out;
    wp_db_bind_text(s, 1, hash);
    wp_db_bind_text(s, 2, r.tenant_id);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    err = 0;
out:
    wp_db_done(s);
    if ((err = wp_store__op_end(st, err)) == 0 && out_id)
        memcpy(out_id, id, sizeof id);
    return err;
}

/* --- list ---------------------------------------------------------------------------------- */

static int check_filter_field(const char *what, const char *s)
{
    if (s && strlen(s) > WP_AUDIT_FIELD_MAX)
        return wp_error_set(WP_EINVAL, "'%s' is longer than %d bytes", what, WP_AUDIT_FIELD_MAX);
    return 0;
}

/* Text columns as stored. Hashes are copied cut to size: the list shows what is there, even
 * from a damaged row; deciding whether it is damaged is verify's job. */
static int read_row(struct wp_stmt *s, wp_audit_row *out, wp_strpool **pool)
{
    wp_audit_row r;
    const char *v;
    int err;
    memset(&r, 0, sizeof r);
    r.seq = wp_db_col_int64(s, 0);
    v = wp_db_col_text(s, 1);
    snprintf(r.id, sizeof r.id, "%s", v ? v : "");
    r.ts_us = wp_db_col_int64(s, 2);
    if ((err = wp_strpool__dup(pool, &r.actor, wp_db_col_text(s, 3))) < 0 ||
        (err = wp_strpool__dup(pool, &r.action, wp_db_col_text(s, 4))) < 0 ||
        (err = wp_strpool__dup(pool, &r.target, wp_db_col_text(s, 5))) < 0 ||
        (err = wp_strpool__dup(pool, &r.details, wp_db_col_text(s, 6))) < 0 ||
        (err = wp_strpool__dup(pool, &r.client, wp_db_col_text(s, 7))) < 0)
        return err;
    v = wp_db_col_text(s, 8);
    snprintf(r.prev_hash, sizeof r.prev_hash, "%s", v ? v : "");
    v = wp_db_col_text(s, 9);
    snprintf(r.hash, sizeof r.hash, "%s", v ? v : "");
    *out = r;
    return 0;
}

int wp_store_audit_list(wp_store *st, wp_audit_page *out, const wp_audit_filter *f)
{
    struct wp_stmt *s = NULL;
    struct wp_query q;
    wp_audit_page p;
    wp_strpool *pool = NULL;
    char cid[WP_ID_LEN + 1];
    int64_t cseq = 0;
    int has = 0, err;
    unsigned limit;
    size_t cap = 0;

    memset(&p, 0, sizeof p);
    wp_query__init(&q, SQL_MAX);
    if ((err = wp_store__check_id("tenant", f->tenant_id)) < 0 ||
        (err = check_filter_field("actor", f->actor)) < 0 ||
        (err = check_filter_field("action", f->action)) < 0 ||
        (err = check_filter_field("target", f->target)) < 0 ||
        (err = wp_page__limit(&limit, f->limit)) < 0 ||
        (err = wp_cursor__parse(&has, &cseq, cid, f->cursor)) < 0)
        goto out;
    wp_query__sql(&q, "SELECT " ROW_COLUMNS " FROM audit_log WHERE tenant_id = ?");
    wp_query__text(&q, f->tenant_id);
    if (f->actor && *f->actor) {
        wp_query__sql(&q, " AND actor = ?");
        wp_query__text(&q, f->actor);
    }
    if (f->action && *f->action) {
        /* a prefix; substr, unlike LIKE, has no wildcards and the same case rules on both */
        wp_query__sql(&q, " AND substr(action, 1, CAST(? AS INTEGER)) = ?");
        wp_query__int(&q, (int64_t)wp_utf8_count(f->action, strlen(f->action)));
        wp_query__text(&q, f->action);
    }
    if (f->target && *f->target) {
        wp_query__sql(&q, " AND target = ?");
        wp_query__text(&q, f->target);
    }
    if (f->from_us) {
        wp_query__sql(&q, " AND ts_us >= ?");
        wp_query__int(&q, f->from_us);
    }
    if (f->to_us) {
        wp_query__sql(&q, " AND ts_us < ?");
        wp_query__int(&q, f->to_us);
    }
    if (has) { /* seq is unique in a tenant: the id half of the cursor is not needed */
        wp_query__sql(&q, " AND seq < ?");
        wp_query__int(&q, cseq);
    }
    wp_query__sql(&q, " ORDER BY seq DESC LIMIT ?");
    wp_query__int(&q, (int64_t)limit + 1);
    if ((err = wp_query__prepare(&q, st, &s)) < 0)
        goto out;
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if (p.n == limit) {
            wp_cursor__make(p.next_cursor, p.items[p.n - 1].seq, p.items[p.n - 1].id);
            break;
        }
        if ((err = wp_array__grow((void **)&p.items, &cap, p.n, sizeof *p.items)) < 0 ||
            (err = read_row(s, &p.items[p.n], &pool)) < 0)
            goto out;
        p.n++;
    }
    if (err < 0)
        goto out;
    p.mem = pool;
    pool = NULL;
    *out = p;
    p.items = NULL;
    err = 0;
out:
    wp_db_done(s);
    free(p.items);
    wp_strpool__free(pool);
    wp_buf_release(&q.sql);
    return err;
}

void wp_audit_page_release(wp_audit_page *p)
{
    if (!p)
        return;
    free(p->items);
    wp_strpool__free(p->mem);
    memset(p, 0, sizeof *p);
}

/* --- verify -------------------------------------------------------------------------------- */

/* One tenant's walk. Rows come in (seq, id) order; each must carry the next seq, chain to the
 * hash of the row before it and hash to its own hash. A row whose hash is wrong is held until
 * the row after it shows whether the chain goes through it (it was altered) or around it (it
 * was inserted). */
struct walk {
    const unsigned char *key;
    const char *tenant_id;
    wp_audit_verdict *v;
    int done; /* a verdict is in v */
    int64_t last_seq; /* of the last good row; 0 before the first */
    char last_id[WP_ID_LEN + 1];
    char prev[WP_AUDIT_HASH_HEX + 1]; /* its hash (GENESIS before the first) */
    int64_t cseq;                     /* the fetch cursor: the last row read, good or bad */
    char *cid;
    /* the row held for want of the row after it */
    int pending;
    int64_t p_seq;
    char p_id[WP_ID_LEN + 1];
    char *p_hash;
};

static void bad(struct walk *w, int64_t seq, const char *id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void bad(struct walk *w, int64_t seq, const char *id, const char *fmt, ...)
{
    va_list ap;
    w->v->ok = 0;
    snprintf(w->v->tenant_id, sizeof w->v->tenant_id, "%s", w->tenant_id);
    w->v->bad_seq = seq;
    snprintf(w->v->bad_id, sizeof w->v->bad_id, "%s", id ? id : "");
    va_start(ap, fmt);
    vsnprintf(w->v->why, sizeof w->v->why, fmt, ap);
    va_end(ap);
    w->done = 1;
}

static int str_eq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* The held row, now that the row after it (next_prev: that row's prev_hash; NULL when there is
 * none) or the head (head_seq; -1 when there is none) is known. */
static void judge_pending(struct walk *w, const char *next_prev, int64_t head_seq)
{
    if (next_prev && str_eq(next_prev, w->prev) && !str_eq(next_prev, w->p_hash))
        bad(w, w->p_seq, w->p_id, "row inserted: the chain goes from row %lld around it",
            (long long)w->last_seq);
    else if (!next_prev && head_seq >= 0 && w->p_seq > head_seq)
        bad(w, w->p_seq, w->p_id, "row inserted after the last row appended (%lld)",
            (long long)head_seq);
    else
        bad(w, w->p_seq, w->p_id, "row altered: its hash does not match its contents");
}

static void removed(struct walk *w, int64_t from, int64_t to, int64_t seq, const char *id,
                    const char *tail)
{
    if (from == to)
        bad(w, seq, id, "row %lld removed%s", (long long)from, tail);
    else
        bad(w, seq, id, "rows %lld-%lld removed%s", (long long)from, (long long)to, tail);
}

static int step_row(struct walk *w, struct wp_stmt *s)
{
    char h[WP_AUDIT_HASH_HEX + 1];
    struct row r;
    r.tenant_id = w->tenant_id;
    r.seq = wp_db_col_int64(s, 0);
    r.id = wp_db_col_text(s, 1);
    r.ts_us = wp_db_col_int64(s, 2);
    r.actor = wp_db_col_text(s, 3);
    r.action = wp_db_col_text(s, 4);
    r.target = wp_db_col_text(s, 5);
    r.details = wp_db_col_text(s, 6);
    r.client = wp_db_col_text(s, 7);
    r.prev_hash = wp_db_col_text(s, 8);
    r.hash = wp_db_col_text(s, 9);

    w->cseq = r.seq;
    free(w->cid);
    if (!(w->cid = strdup(r.id ? r.id : "")))
        return wp_error_set(WP_ENOMEM, "out of memory");
    if (w->pending) {
        judge_pending(w, r.prev_hash, -1);
        return 0;
    }
    if (r.seq <= w->last_seq) {
        bad(w, r.seq, r.id, "row inserted: seq %lld comes twice", (long long)r.seq);
        return 0;
    }
    row_hash(h, w->key, &r);
    if (!str_eq(h, r.hash)) {
        w->pending = 1;
        w->p_seq = r.seq;
        snprintf(w->p_id, sizeof w->p_id, "%s", r.id ? r.id : "");
        if (!(w->p_hash = strdup(r.hash ? r.hash : "")))
            return wp_error_set(WP_ENOMEM, "out of memory");
        return 0;
    }
    /* the row is genuine (keyed hash), so its seq and prev_hash are what was appended */
    if (!str_eq(r.prev_hash, w->prev)) {
        if (r.seq > w->last_seq + 1)
            removed(w, w->last_seq + 1, r.seq - 1, r.seq, r.id, "");
        else
            bad(w, r.seq, r.id, "row does not chain to row %lld", (long long)w->last_seq);
        return 0;
    }
    if (r.seq != w->last_seq + 1) {
        bad(w, r.seq, r.id, "row out of sequence after row %lld", (long long)w->last_seq);
        return 0;
    }
    w->last_seq = r.seq;
    snprintf(w->last_id, sizeof w->last_id, "%s", r.id);
    memcpy(w->prev, h, sizeof h);
    w->v->rows++;
    return 0;
}

/* Walk the rows after the cursor, a chunk at a time, until a verdict or the end; *n gets
 * how many rows were read. */
static int walk_rows(wp_store *st, struct walk *w, int64_t *n)
{
    struct wp_stmt *s = NULL;
    int err;
    *n = 0;
    for (;;) {
        int64_t got = 0;
        if ((err = wp_db_prepare(st, &s,
                                 "SELECT " ROW_COLUMNS " FROM audit_log WHERE tenant_id = ?"
                                 " AND (seq > ? OR (seq = ? AND id > ?)) ORDER BY seq, id"
                                 " LIMIT ?")) < 0)
            return err;
        wp_db_bind_text(s, 1, w->tenant_id);
        wp_db_bind_int64(s, 2, w->cseq);
        wp_db_bind_int64(s, 3, w->cseq);
        wp_db_bind_text(s, 4, w->cid);
        wp_db_bind_int64(s, 5, VERIFY_CHUNK);
        while (!w->done && (err = wp_db_step(s)) == WP_DB_ROW) {
            got++;
            if ((err = step_row(w, s)) < 0)
                break;
        }
        wp_db_done(s);
        s = NULL;
        if (err < 0)
            return err;
        *n += got;
        if (w->done || got < VERIFY_CHUNK)
            return 0;
    }
}

/* The head: *seq -1 when the tenant has none. */
static int read_head(wp_store *st, const char *tenant_id, int64_t *seq, char **hash)
{
    struct wp_stmt *s = NULL;
    int err;
    *seq = -1;
    *hash = NULL;
    if ((err = wp_db_prepare(st, &s, "SELECT seq, hash FROM audit_heads WHERE tenant_id = ?")) <
        0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    if ((err = wp_db_step(s)) == WP_DB_ROW) {
        const char *h = wp_db_col_text(s, 1);
        *seq = wp_db_col_int64(s, 0);
        if (!(*hash = strdup(h ? h : "")))
            err = wp_error_set(WP_ENOMEM, "out of memory");
    }
    wp_db_done(s);
    return err < 0 ? err : 0;
}

static int verify_tenant(wp_store *st, const unsigned char *key, const char *tenant_id,
                         wp_audit_verdict *v)
{
    struct walk w;
    char *head_hash = NULL;
    int64_t head_seq = -1, n;
    int err, saw_head = 0;

    memset(&w, 0, sizeof w);
    w.key = key;
    w.tenant_id = tenant_id;
    w.v = v;
    w.cseq = INT64_MIN;
    memcpy(w.prev, GENESIS, sizeof w.prev);
    if (!(w.cid = strdup("")))
        return wp_error_set(WP_ENOMEM, "out of memory");
    /* Rows are only ever added, so the walk needs no snapshot: once the rows run out, the head
     * is read and the rows after the cursor asked for once more. Whatever a committed append
     * added before the head was read is then in view, so a head past the last row means rows
     * were removed from the end, not that they are still on their way. */
    for (;;) {
        if ((err = walk_rows(st, &w, &n)) < 0 || w.done)
            goto out;
        if (n > 0 || !saw_head) {
            if (n == 0) {
                free(head_hash);
                if ((err = read_head(st, tenant_id, &head_seq, &head_hash)) < 0)
                    goto out;
                saw_head = 1;
            } else {
                saw_head = 0;
            }
            continue;
        }
        break;
    }
    if (w.pending)
        judge_pending(&w, NULL, head_seq);
    else if (head_seq < 0 && w.last_seq > 0)
        bad(&w, w.last_seq, w.last_id, "the chain's head record is missing");
    else if (head_seq > w.last_seq)
        removed(&w, w.last_seq + 1, head_seq, w.last_seq + 1, NULL, " from the end");
    else if (head_seq >= 0 && head_seq < w.last_seq)
        bad(&w, head_seq + 1, NULL, "the chain's head record was moved back to row %lld",
            (long long)head_seq);
    else if (head_seq > 0 && !str_eq(head_hash, w.prev))
        bad(&w, w.last_seq, w.last_id, "the chain's head record does not match row %lld",
            (long long)w.last_seq);
    err = 0;
out:
    free(w.cid);
    free(w.p_hash);
    free(head_hash);
    return err;
}

int wp_store_audit_verify(wp_store *st, const unsigned char key[WP_AUDIT_KEY_LEN],
                          const char *tenant_id, wp_audit_verdict *out)
{
    struct wp_stmt *s = NULL;
    wp_audit_verdict v;
    char (*ids)[WP_ID_LEN + 1] = NULL;
    size_t n = 0, cap = 0;
    int err;

    memset(&v, 0, sizeof v);
    v.ok = 1;
    if (sodium_init() < 0)
        return wp_error_set(WP_EIO, "libsodium cannot start");
    if (tenant_id) {
        if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
            return err;
        if ((err = verify_tenant(st, key, tenant_id, &v)) < 0)
            return err;
        *out = v;
        return 0;
    }
    /* every chain there is, whether or not its tenant row is still there */
    if ((err = wp_db_prepare(st, &s,
                             "SELECT tenant_id FROM audit_log UNION"
                             " SELECT tenant_id FROM audit_heads ORDER BY 1")) < 0)
        goto out;
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        const char *t = wp_db_col_text(s, 0);
        if (!t || strlen(t) > WP_ID_LEN) {
            err = wp_error_set(WP_EIO, "store: an audit row has a bad tenant id");
            goto out;
        }
        if ((err = wp_array__grow((void **)&ids, &cap, n, sizeof *ids)) < 0)
            goto out;
        memcpy(ids[n++], t, strlen(t) + 1);
    }
    if (err < 0)
        goto out;
    wp_db_done(s);
    s = NULL;
    for (size_t i = 0; i < n && v.ok; i++)
        if ((err = verify_tenant(st, key, ids[i], &v)) < 0)
            goto out;
    *out = v;
    err = 0;
out:
    wp_db_done(s);
    free(ids);
    return err;
}

int wp_store_audit_any(wp_store *st, int *any)
{
    struct wp_stmt *s = NULL;
    int err;
    *any = 0;
    if ((err = wp_db_prepare(st, &s, "SELECT 1 FROM audit_log LIMIT 1")) < 0)
        goto out;
    if ((err = wp_db_step(s)) < 0)
        goto out;
    *any = err == WP_DB_ROW;
    err = 0;
out:
    wp_db_done(s);
    return err;
}
