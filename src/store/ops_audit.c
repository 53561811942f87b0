/* SPDX-License-Identifier: MIT */
/* The audit log (migrations 0006, 0016): append to a tenant's hash chain, list it, walk it,
 * and sign checkpoints of where it ends. */
#include "store/audit.h"
#include "store/db.h"
#include "store/internal.h"
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
/* a version for each encoding: a new one gets a new name. Rows of format 2 (from migration
 * 0016) differ from format 1 in the name alone: it marks a chain that keeps length records. */
#define DOMAIN_V1 "workphone.audit.v1"
#define DOMAIN_V2 "workphone.audit.v2"
#define FORMAT 2 /* of the rows appended now */
#define DOMAIN_HEAD "workphone.audit.head.v1"
#define DOMAIN_LENGTH "workphone.audit.length.v1"
#define DOMAIN_CHECKPOINT "workphone.audit.checkpoint.v1"
#define VERIFY_CHUNK 1000           /* rows fetched at a time by verify */
#define ACTION_MAX 64
#define CLIENT_MAX 64
#define SQL_MAX 2048

#define ROW_COLUMNS                                                                                \
    "seq, id, ts_us, actor, action, target, details, client, prev_hash, hash, format"

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
    int64_t seq, ts_us, format;
};

/* The keyed BLAKE2b-256 of a row's canonical encoding, as 64 lowercase hex digits. */
static void row_hash(char out[WP_AUDIT_HASH_HEX + 1], const unsigned char key[WP_AUDIT_KEY_LEN],
                     const struct row *r)
{
    crypto_generichash_state h;
    unsigned char bin[32];
    crypto_generichash_init(&h, key, WP_AUDIT_KEY_LEN, sizeof bin);
    put_text(&h, r->format == 1 ? DOMAIN_V1 : DOMAIN_V2);
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

/* The keyed MAC of where a chain ends, for the head (DOMAIN_HEAD) or the tenant's length
 * record (DOMAIN_LENGTH): the domains differ so that one cannot be copied into the other. */
static void end_mac(char out[WP_AUDIT_HASH_HEX + 1], const unsigned char key[WP_AUDIT_KEY_LEN],
                    const char *domain, const char *tenant_id, int64_t seq, const char *hash)
{
    crypto_generichash_state h;
    unsigned char bin[32];
    crypto_generichash_init(&h, key, WP_AUDIT_KEY_LEN, sizeof bin);
    put_text(&h, domain);
    put_text(&h, tenant_id);
    put_u64(&h, (uint64_t)seq);
    put_text(&h, hash);
    crypto_generichash_final(&h, bin, sizeof bin);
    sodium_bin2hex(out, WP_AUDIT_HASH_HEX + 1, bin, sizeof bin);
}

/* Whether mac (may be NULL) is the MAC of (domain, tenant, seq, hash), compared in constant
 * time. */
static int end_mac_ok(const unsigned char key[WP_AUDIT_KEY_LEN], const char *domain,
                      const char *tenant_id, int64_t seq, const char *hash, const char *mac)
{
    char want[WP_AUDIT_HASH_HEX + 1];
    if (!mac || !hash || strlen(mac) != WP_AUDIT_HASH_HEX)
        return 0;
    end_mac(want, key, domain, tenant_id, seq, hash);
    return sodium_memcmp(want, mac, WP_AUDIT_HASH_HEX) == 0;
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

static int check_entry(const wp_audit_entry *e, const char *tenant_id)
{
    int err;
    if ((err = wp_store__check_id("tenant", e->tenant_id)) < 0 ||
        (err = check_field("audit actor", e->actor, WP_AUDIT_FIELD_MAX, 1)) < 0 ||
        (err = check_action(e->action)) < 0 ||
        (err = check_field("audit target", e->target, WP_AUDIT_FIELD_MAX, 0)) < 0 ||
        (err = check_field("audit client", e->client, CLIENT_MAX, 0)) < 0 ||
        (e->details && (err = check_details(e->details)) < 0))
        return err;
    if (strcmp(e->tenant_id, tenant_id) != 0)
        return wp_error_set(WP_EINVAL, "audit entries of one batch are of one tenant");
    return 0;
}

/* Lock the tenant's row: the lock that serializes the appends of one tenant, on every node.
 * It comes before anything else an append touches because other writers (an employee's
 * change) lock the same row before their audit row: one order for all, so that no two
 * transactions wait on each other. PostgreSQL holds it until the transaction ends without
 * writing the row; SQLite's writer lock is held already. */
static int lock_tenant(wp_store *st, const char *tenant_id)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_db_prepare(st, &s,
                             wp_store_backend(st) == WP_STORE_PG
                                 ? "SELECT 1 FROM tenants WHERE id = ? FOR NO KEY UPDATE"
                                 : "SELECT 1 FROM tenants WHERE id = ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    if ((err = wp_db_step(s)) == WP_DB_DONE)
        err = wp_error_set(WP_ENOTFOUND, "tenant '%s' not found", tenant_id);
    wp_db_done(s);
    return err < 0 ? err : 0;
}

/* The head: *seq 0 and GENESIS when the tenant has none yet (*none set). */
static int head_of(wp_store *st, const char *tenant_id, int64_t *seq,
                   char hash[WP_AUDIT_HASH_HEX + 1], int *none)
{
    struct wp_stmt *s = NULL;
    int err;
    *seq = 0;
    *none = 1;
    memcpy(hash, GENESIS, WP_AUDIT_HASH_HEX + 1);
    if ((err = wp_db_prepare(st, &s, "SELECT seq, hash FROM audit_heads WHERE tenant_id = ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    if ((err = wp_db_step(s)) == WP_DB_ROW) {
        *none = 0;
        *seq = wp_db_col_int64(s, 0);
        err = wp_db_col_copy(s, 1, hash, WP_AUDIT_HASH_HEX + 1);
    }
    wp_db_done(s);
    return err < 0 ? err : 0;
}

static int insert_row(wp_store *st, const struct row *r)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_db_prepare(st, &s,
                             "INSERT INTO audit_log (tenant_id, seq, id, ts_us, actor, action,"
                             " target, details, client, prev_hash, hash, format)"
                             " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) < 0)
        return err;
    wp_db_bind_text(s, 1, r->tenant_id);
    wp_db_bind_int64(s, 2, r->seq);
    wp_db_bind_text(s, 3, r->id);
    wp_db_bind_int64(s, 4, r->ts_us);
    wp_db_bind_text(s, 5, r->actor);
    wp_db_bind_text(s, 6, r->action);
    wp_db_bind_text_or_null(s, 7, r->target);
    wp_db_bind_text(s, 8, r->details);
    wp_db_bind_text_or_null(s, 9, r->client);
    wp_db_bind_text(s, 10, r->prev_hash);
    wp_db_bind_text(s, 11, r->hash);
    wp_db_bind_int64(s, 12, r->format);
    if ((err = wp_db_step(s)) == WP_EEXISTS) /* a row the head does not know of */
        err = wp_error_set(WP_EIO, "store: audit row %lld of tenant '%s' exists already",
                           (long long)r->seq, r->tenant_id);
    wp_db_done(s);
    return err < 0 ? err : 0;
}

/* Move the head and the tenant's length record to (seq, hash), each with its MAC. */
static int move_ends(wp_store *st, const unsigned char *key, const char *tenant_id, int64_t seq,
                     const char *hash, int new_head)
{
    struct wp_stmt *s = NULL;
    char mac[WP_AUDIT_HASH_HEX + 1];
    int err;
    end_mac(mac, key, DOMAIN_HEAD, tenant_id, seq, hash);
    if ((err = wp_db_prepare(st, &s,
                             new_head ? "INSERT INTO audit_heads (seq, hash, mac, tenant_id)"
                                        " VALUES (?, ?, ?, ?)"
                                      : "UPDATE audit_heads SET seq = ?, hash = ?, mac = ?"
                                        " WHERE tenant_id = ?")) < 0)
        return err;
    wp_db_bind_int64(s, 1, seq);
    wp_db_bind_text(s, 2, hash);
    wp_db_bind_text(s, 3, mac);
    wp_db_bind_text(s, 4, tenant_id);
    err = wp_db_step(s);
    wp_db_done(s);
    s = NULL;
    if (err < 0)
        return err;
    /* the length record, in the tenant's own row: it only grows, and taking it away means
     * editing the tenant, not only the log */
    end_mac(mac, key, DOMAIN_LENGTH, tenant_id, seq, hash);
    if ((err = wp_db_prepare(st, &s,
                             "UPDATE tenants SET audit_seq = ?, audit_hash = ?, audit_mac = ?"
                             " WHERE id = ?")) < 0)
        return err;
    wp_db_bind_int64(s, 1, seq);
    wp_db_bind_text(s, 2, hash);
    wp_db_bind_text(s, 3, mac);
    wp_db_bind_text(s, 4, tenant_id);
    err = wp_db_step(s);
    wp_db_done(s);
    return err < 0 ? err : 0;
}

int wp_store_audit_append_batch(wp_store *st, const unsigned char key[WP_AUDIT_KEY_LEN],
                                const wp_audit_entry *v, size_t n, char out_id[WP_ID_LEN + 1])
{
    char id[WP_ID_LEN + 1] = "", prev[WP_AUDIT_HASH_HEX + 1], hash[WP_AUDIT_HASH_HEX + 1];
    int64_t seq, now;
    int err, new_head;

    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((err = check_entry(&v[i], v[0].tenant_id)) < 0)
            return err;
    if (sodium_init() < 0)
        return wp_error_set(WP_EIO, "libsodium cannot start");
    now = wp_time_now_us();
    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    if ((err = lock_tenant(st, v[0].tenant_id)) < 0 ||
        (err = head_of(st, v[0].tenant_id, &seq, prev, &new_head)) < 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        const wp_audit_entry *e = &v[i];
        struct row r;
        wp_id_new(id);
        memset(&r, 0, sizeof r);
        r.tenant_id = e->tenant_id;
        r.seq = ++seq;
        r.id = id;
        r.ts_us = e->ts_us ? e->ts_us : now;
        r.actor = e->actor;
        r.action = e->action;
        r.target = e->target && *e->target ? e->target : NULL;
        r.details = e->details ? e->details : "{}";
        r.client = e->client && *e->client ? e->client : NULL;
        r.prev_hash = prev;
        r.format = FORMAT;
        row_hash(hash, key, &r);
        r.hash = hash;
        if ((err = insert_row(st, &r)) < 0)
            goto out;
        memcpy(prev, hash, sizeof prev);
    }
    err = move_ends(st, key, v[0].tenant_id, seq, prev, new_head);
out:
    if ((err = wp_store__op_end(st, err)) == 0 && out_id)
        memcpy(out_id, id, sizeof id);
    return err;
}

int wp_store_audit_append(wp_store *st, const unsigned char key[WP_AUDIT_KEY_LEN],
                          const wp_audit_entry *e, char out_id[WP_ID_LEN + 1])
{
    return wp_store_audit_append_batch(st, key, e, 1, out_id);
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
    char cid[WP_ID_LEN + 1], target[WP_ID_LEN + 16], like[WP_ID_LEN + 8];
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
        (f->customer_id && *f->customer_id &&
         (err = wp_store__check_id("customer", f->customer_id)) < 0) ||
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
    if (f->customer_id && *f->customer_id) {
        /* an id is [0-9a-z] only (checked above), so it needs no escaping in the pattern;
         * the query borrows both strings, which live as long as this function */
        snprintf(target, sizeof target, "customer:%s", f->customer_id);
        snprintf(like, sizeof like, "%%\"%s\"%%", f->customer_id);
        wp_query__sql(&q, " AND (target = ? OR (action IN ('messages.read', 'messages.search')"
                          " AND details LIKE ?))");
        wp_query__text(&q, target);
        wp_query__text(&q, like);
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
    int sealed;       /* a good row of format 2 was seen: the chain keeps length records */
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
    r.format = wp_db_col_int64(s, 10);

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
    if ((r.format != 1 && r.format != FORMAT) || !str_eq(h, r.hash)) {
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
    w->sealed |= r.format == FORMAT;
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

/* Where the chain says it ends: its head and the tenant's length record, read in one
 * statement so that both come from one moment. seq -1: no such record. */
struct ends {
    int64_t head_seq, rec_seq;
    char *head_hash, *head_mac, *rec_hash, *rec_mac;
};

static void ends_release(struct ends *e)
{
    free(e->head_hash);
    free(e->head_mac);
    free(e->rec_hash);
    free(e->rec_mac);
    memset(e, 0, sizeof *e);
    e->head_seq = e->rec_seq = -1;
}

static int dup_col(struct wp_stmt *s, int col, char **out)
{
    const char *v = wp_db_col_text(s, col);
    *out = NULL;
    if (wp_db_col_isnull(s, col) || !v)
        return 0;
    if (!(*out = strdup(v)))
        return wp_error_set(WP_ENOMEM, "out of memory");
    return 0;
}

static int read_ends(wp_store *st, const char *tenant_id, struct ends *e)
{
    struct wp_stmt *s = NULL;
    int err;
    ends_release(e);
    if ((err = wp_db_prepare(st, &s,
                             "SELECT h.seq, h.hash, h.mac, t.audit_seq, t.audit_hash, t.audit_mac"
                             " FROM (SELECT CAST(? AS TEXT) AS id) x"
                             " LEFT JOIN audit_heads h ON h.tenant_id = x.id"
                             " LEFT JOIN tenants t ON t.id = x.id")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    if ((err = wp_db_step(s)) == WP_DB_ROW) {
        if (!wp_db_col_isnull(s, 0))
            e->head_seq = wp_db_col_int64(s, 0);
        if (!wp_db_col_isnull(s, 3))
            e->rec_seq = wp_db_col_int64(s, 3);
        if ((err = dup_col(s, 1, &e->head_hash)) == 0 && (err = dup_col(s, 2, &e->head_mac)) == 0 &&
            (err = dup_col(s, 4, &e->rec_hash)) == 0)
            err = dup_col(s, 5, &e->rec_mac);
    }
    wp_db_done(s);
    return err < 0 ? err : 0;
}

/* The rows are walked: does their end agree with the tenant's length record, then with the
 * head? The record comes first: unlike the head, it cannot be deleted alone. */
static void judge_ends(struct walk *w, const struct ends *e)
{
    const char *t = w->tenant_id;
    int64_t n = w->last_seq;
    if (e->rec_seq >= 0) {
        if (!end_mac_ok(w->key, DOMAIN_LENGTH, t, e->rec_seq, e->rec_hash, e->rec_mac))
            bad(w, n, w->last_id,
                "the tenant's length record is forged: its MAC does not match (it says %lld rows)",
                (long long)e->rec_seq);
        else if (n == 0 && e->rec_seq > 0)
            removed(w, 1, e->rec_seq, 1, NULL, " from the end: the whole log was deleted");
        else if (e->rec_seq > n) {
            char tail[96];
            snprintf(tail, sizeof tail, " from the end (the tenant's length record says %lld)",
                     (long long)e->rec_seq);
            removed(w, n + 1, e->rec_seq, n + 1, NULL, tail);
        } else if (e->rec_seq < n)
            bad(w, e->rec_seq + 1, NULL, "the tenant's length record was set back to row %lld",
                (long long)e->rec_seq);
        else if (n > 0 && !str_eq(e->rec_hash, w->prev))
            bad(w, n, w->last_id, "the tenant's length record does not match row %lld",
                (long long)n);
    } else if (w->sealed) {
        bad(w, n, w->last_id,
            "the tenant's length record is missing (rows written since migration 0016 keep one)");
    } else if (n > 0 || e->head_seq >= 0) {
        w->v->notes++;
        if (!w->v->note[0])
            snprintf(w->v->note, sizeof w->v->note,
                     "tenant %s: no length record (a chain written before migration 0016); the "
                     "next append writes one, until then a cut end with its head set back is "
                     "not seen",
                     t);
    }
    if (w->done)
        return;
    if (e->head_seq < 0 && n > 0)
        bad(w, n, w->last_id, "the chain's head record is missing");
    else if (e->head_seq > n)
        removed(w, n + 1, e->head_seq, n + 1, NULL, " from the end");
    else if (e->head_seq >= 0 && e->head_seq < n)
        bad(w, e->head_seq + 1, NULL, "the chain's head record was moved back to row %lld",
            (long long)e->head_seq);
    else if (e->head_seq > 0 && !str_eq(e->head_hash, w->prev))
        bad(w, n, w->last_id, "the chain's head record does not match row %lld", (long long)n);
    else if (e->head_seq > 0 && !e->head_mac && w->sealed)
        bad(w, n, w->last_id, "the chain's head record has no MAC");
    else if (e->head_seq > 0 && e->head_mac &&
             !end_mac_ok(w->key, DOMAIN_HEAD, t, e->head_seq, e->head_hash, e->head_mac))
        bad(w, n, w->last_id, "the chain's head record was rewritten: its MAC does not match");
}

static int verify_tenant(wp_store *st, const unsigned char *key, const char *tenant_id,
                         wp_audit_verdict *v)
{
    struct walk w;
    struct ends e = {.head_seq = -1, .rec_seq = -1};
    int64_t n;
    int err, saw_ends = 0;

    memset(&w, 0, sizeof w);
    w.key = key;
    w.tenant_id = tenant_id;
    w.v = v;
    w.cseq = INT64_MIN;
    memcpy(w.prev, GENESIS, sizeof w.prev);
    if (!(w.cid = strdup("")))
        return wp_error_set(WP_ENOMEM, "out of memory");
    /* Rows are only ever added, so the walk needs no snapshot: once the rows run out, the head
     * and the length record are read and the rows after the cursor asked for once more.
     * Whatever a committed append added before they were read is then in view, so records
     * past the last row mean rows were removed from the end, not that they are still on their
     * way. */
    for (;;) {
        if ((err = walk_rows(st, &w, &n)) < 0 || w.done)
            goto out;
        if (n > 0 || !saw_ends) {
            if (n == 0) {
                if ((err = read_ends(st, tenant_id, &e)) < 0)
                    goto out;
                saw_ends = 1;
            } else {
                saw_ends = 0;
            }
            continue;
        }
        break;
    }
    if (w.pending)
        judge_pending(&w, NULL, e.head_seq);
    else
        judge_ends(&w, &e);
    err = 0;
out:
    free(w.cid);
    free(w.p_hash);
    ends_release(&e);
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
    /* every chain there is, whether or not its tenant row is still there, and every tenant
     * whose length record says it has one (its rows and head may all be gone) */
    if ((err = wp_db_prepare(st, &s,
                             "SELECT tenant_id FROM audit_log UNION"
                             " SELECT tenant_id FROM audit_heads UNION"
                             " SELECT id FROM tenants WHERE audit_seq IS NOT NULL ORDER BY 1")) < 0)
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

/* --- signed checkpoints ---------------------------------------------------------------------- */

/* What a checkpoint's signature covers: its fields in the row hash's encoding. */
struct enc {
    unsigned char b[WP_AUDIT_CHECKPOINT_LINE_MAX];
    size_t n;
};

static void enc_u64(struct enc *e, uint64_t v)
{
    for (int i = 0; i < 8 && e->n < sizeof e->b; i++)
        e->b[e->n++] = (unsigned char)(v >> (56 - 8 * i));
}

static void enc_text(struct enc *e, const char *s)
{
    size_t n = strlen(s);
    assert(e->n + 9 + n <= sizeof e->b); /* ids and hashes: short, checked by the callers */
    e->b[e->n++] = 1;
    enc_u64(e, n);
    memcpy(e->b + e->n, s, n);
    e->n += n;
}

static void checkpoint_message(struct enc *e, const wp_audit_checkpoint *cp)
{
    e->n = 0;
    enc_text(e, DOMAIN_CHECKPOINT);
    enc_text(e, cp->tenant_id);
    enc_u64(e, (uint64_t)cp->seq);
    enc_text(e, cp->hash);
    enc_u64(e, (uint64_t)cp->ts_us);
}

static void key_id_of(char out[17], const unsigned char pub[WP_AUDIT_SIGN_PUB_LEN])
{
    sodium_bin2hex(out, 17, pub, 8);
}

int wp_store_audit_checkpoint(wp_store *st, wp_audit_checkpoint *out,
                              const unsigned char key[WP_AUDIT_KEY_LEN],
                              const unsigned char seed[WP_AUDIT_SIGN_SEED_LEN],
                              const char *tenant_id, int64_t now_us)
{
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    unsigned char sig[crypto_sign_BYTES];
    struct ends e = {.head_seq = -1, .rec_seq = -1};
    struct wp_stmt *s = NULL;
    wp_audit_checkpoint cp;
    struct enc m;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if (sodium_init() < 0)
        return wp_error_set(WP_EIO, "libsodium cannot start");
    if ((err = read_ends(st, tenant_id, &e)) < 0)
        goto out;
    if (e.head_seq <= 0) {
        err = wp_error_set(WP_ENOTFOUND, "tenant '%s' has no audit log yet", tenant_id);
        goto out;
    }
    if (!e.head_mac) {
        err = wp_error_set(WP_ENOTFOUND,
                           "tenant '%s' has no keyed head yet (a chain written before migration "
                           "0016; its next append makes one)",
                           tenant_id);
        goto out;
    }
    /* sign only an end that verifies: its MAC, and the row it names is there with that hash */
    if (!end_mac_ok(key, DOMAIN_HEAD, tenant_id, e.head_seq, e.head_hash, e.head_mac)) {
        err = wp_error_set(WP_EIO, "the audit head of tenant '%s' does not verify: run "
                                   "'workphone audit verify'", tenant_id);
        goto out;
    }
    if ((err = wp_db_prepare(st, &s,
                             "SELECT hash FROM audit_log WHERE tenant_id = ? AND seq = ?")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_int64(s, 2, e.head_seq);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    if (err != WP_DB_ROW || !str_eq(wp_db_col_text(s, 0), e.head_hash)) {
        err = wp_error_set(WP_EIO, "the audit head of tenant '%s' names row %lld, which is not "
                                   "there as it says: run 'workphone audit verify'",
                           tenant_id, (long long)e.head_seq);
        goto out;
    }
    memset(&cp, 0, sizeof cp);
    snprintf(cp.tenant_id, sizeof cp.tenant_id, "%s", tenant_id);
    cp.seq = e.head_seq;
    snprintf(cp.hash, sizeof cp.hash, "%s", e.head_hash);
    cp.ts_us = now_us;
    crypto_sign_seed_keypair(pk, sk, seed);
    checkpoint_message(&m, &cp);
    crypto_sign_detached(sig, NULL, m.b, m.n, sk);
    sodium_bin2hex(cp.sig, sizeof cp.sig, sig, sizeof sig);
    key_id_of(cp.key_id, pk);
    *out = cp;
    err = 0;
out:
    sodium_memzero(sk, sizeof sk);
    wp_db_done(s);
    ends_release(&e);
    return err;
}

int wp_audit_checkpoint_format(char *out, size_t cap, const wp_audit_checkpoint *cp)
{
    int n = snprintf(out, cap,
                     "event=audit_checkpoint tenant=%s seq=%lld hash=%s time_us=%lld key=%s sig=%s",
                     cp->tenant_id, (long long)cp->seq, cp->hash, (long long)cp->ts_us,
                     cp->key_id, cp->sig);
    if (n < 0 || (size_t)n >= cap)
        return wp_error_set(WP_EINVAL, "no room for a checkpoint line");
    return 0;
}

static int is_hex(const char *s, size_t n)
{
    return strlen(s) == n && strspn(s, "0123456789abcdef") == n;
}

static int parse_i64(int64_t *out, const char *s)
{
    char *end;
    if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 18)
        return -1;
    *out = strtoll(s, &end, 10);
    return 0;
}

int wp_audit_checkpoint_parse(wp_audit_checkpoint *out, const char *line)
{
    static const char *const names[] = {"tenant", "seq", "hash", "time_us", "key", "sig"};
    enum { N = sizeof names / sizeof names[0] };
    char vals[N][WP_AUDIT_CHECKPOINT_LINE_MAX];
    int seen[N] = {0};
    wp_audit_checkpoint cp;

    if (strlen(line) > 4 * WP_AUDIT_CHECKPOINT_LINE_MAX)
        return wp_error_set(WP_EINVAL, "a checkpoint line is at most %d bytes",
                            4 * WP_AUDIT_CHECKPOINT_LINE_MAX);
    for (const char *p = line; *p;) {
        p += strspn(p, " \t\r\n");
        size_t len = strcspn(p, " \t\r\n");
        const char *eq = memchr(p, '=', len);
        if (eq) {
            for (int i = 0; i < N; i++) {
                size_t kn = strlen(names[i]), vn = len - (size_t)(eq - p) - 1;
                if ((size_t)(eq - p) != kn || memcmp(p, names[i], kn) != 0)
                    continue;
                if (seen[i]++)
                    return wp_error_set(WP_EINVAL, "checkpoint: '%s' comes twice", names[i]);
                if (vn >= sizeof vals[i])
                    return wp_error_set(WP_EINVAL, "checkpoint: '%s' is too long", names[i]);
                memcpy(vals[i], eq + 1, vn);
                vals[i][vn] = '\0';
            }
        }
        p += len;
    }
    for (int i = 0; i < N; i++)
        if (!seen[i])
            return wp_error_set(WP_EINVAL, "checkpoint: no '%s=' in the line", names[i]);
    memset(&cp, 0, sizeof cp);
    if (wp_store__check_id("tenant", vals[0]) < 0)
        return wp_error_set(WP_EINVAL, "checkpoint: 'tenant' is not an id");
    memcpy(cp.tenant_id, vals[0], sizeof cp.tenant_id); /* an id: WP_ID_LEN and a NUL */
    if (parse_i64(&cp.seq, vals[1]) < 0 || cp.seq < 1)
        return wp_error_set(WP_EINVAL, "checkpoint: 'seq' is not a row number");
    if (!is_hex(vals[2], WP_AUDIT_HASH_HEX))
        return wp_error_set(WP_EINVAL, "checkpoint: 'hash' is not 64 hex digits");
    memcpy(cp.hash, vals[2], sizeof cp.hash);
    if (parse_i64(&cp.ts_us, vals[3]) < 0)
        return wp_error_set(WP_EINVAL, "checkpoint: 'time_us' is not a time");
    if (!is_hex(vals[4], 16))
        return wp_error_set(WP_EINVAL, "checkpoint: 'key' is not 16 hex digits");
    memcpy(cp.key_id, vals[4], sizeof cp.key_id);
    if (!is_hex(vals[5], 128))
        return wp_error_set(WP_EINVAL, "checkpoint: 'sig' is not 128 hex digits");
    memcpy(cp.sig, vals[5], sizeof cp.sig);
    *out = cp;
    return 0;
}

int wp_store_audit_verify_checkpoint(wp_store *st, const unsigned char key[WP_AUDIT_KEY_LEN],
                                     const unsigned char pub[WP_AUDIT_SIGN_PUB_LEN],
                                     const wp_audit_checkpoint *cp, wp_audit_verdict *out)
{
    unsigned char sig[crypto_sign_BYTES];
    char key_id[17], at[40];
    struct wp_stmt *s = NULL;
    struct walk w; /* only to word the verdict as the walk does */
    wp_audit_verdict v;
    struct enc m;
    int err;

    memset(&v, 0, sizeof v);
    memset(&w, 0, sizeof w);
    v.ok = 1;
    w.v = &v;
    w.tenant_id = cp->tenant_id;
    if (sodium_init() < 0)
        return wp_error_set(WP_EIO, "libsodium cannot start");
    key_id_of(key_id, pub);
    checkpoint_message(&m, cp);
    if (sodium_hex2bin(sig, sizeof sig, cp->sig, strlen(cp->sig), NULL, NULL, NULL) != 0 ||
        crypto_sign_verify_detached(sig, m.b, m.n, pub) != 0) {
        bad(&w, cp->seq, NULL,
            "the checkpoint's signature does not verify with key %s (it names key %s)", key_id,
            cp->key_id);
        *out = v;
        return 0;
    }
    if ((err = verify_tenant(st, key, cp->tenant_id, &v)) < 0)
        return err;
    if (!v.ok) {
        *out = v;
        return 0;
    }
    wp_time_format(at, cp->ts_us, 0);
    if (v.rows < cp->seq) {
        bad(&w, cp->seq, NULL,
            "the log has %lld rows, but the checkpoint of %s says it had %lld: it was cut and "
            "rewritten since",
            (long long)v.rows, at, (long long)cp->seq);
        *out = v;
        return 0;
    }
    if ((err = wp_db_prepare(st, &s,
                             "SELECT id, hash FROM audit_log WHERE tenant_id = ? AND seq = ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, cp->tenant_id);
    wp_db_bind_int64(s, 2, cp->seq);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    if (err != WP_DB_ROW || !str_eq(wp_db_col_text(s, 1), cp->hash))
        bad(&w, cp->seq, err == WP_DB_ROW ? wp_db_col_text(s, 0) : NULL,
            "row %lld is not the row the checkpoint of %s signed: the log was rewritten since",
            (long long)cp->seq, at);
    *out = v;
    err = 0;
out:
    wp_db_done(s);
    return err;
}

int wp_store_audit_chains(wp_store *st, char (**out)[WP_ID_LEN + 1], size_t *n)
{
    struct wp_stmt *s = NULL;
    char (*ids)[WP_ID_LEN + 1] = NULL;
    size_t cap = 0, k = 0;
    int err;

    *out = NULL;
    *n = 0;
    if ((err = wp_db_prepare(st, &s, "SELECT tenant_id FROM audit_heads ORDER BY tenant_id")) < 0)
        return err;
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        const char *t = wp_db_col_text(s, 0);
        if (!t || strlen(t) > WP_ID_LEN) {
            err = wp_error_set(WP_EIO, "store: an audit head has a bad tenant id");
            break;
        }
        if ((err = wp_array__grow((void **)&ids, &cap, k, sizeof *ids)) < 0)
            break;
        memcpy(ids[k++], t, strlen(t) + 1);
    }
    wp_db_done(s);
    if (err < 0) {
        free(ids);
        return err;
    }
    *out = ids;
    *n = k;
    return 0;
}

/* --- re-sealing an imported chain ---------------------------------------------------------- */

struct reseal_row {
    struct row r;
    char *text[8]; /* the row's text fields, owned */
};

int wp_store_audit_reseal(wp_store *st, const unsigned char key[WP_AUDIT_KEY_LEN],
                          const char *tenant_id, int64_t *rows)
{
    struct wp_stmt *s = NULL;
    struct reseal_row *v = NULL;
    size_t n = 0, cap = 0;
    char prev[WP_AUDIT_HASH_HEX + 1], hash[WP_AUDIT_HASH_HEX + 1];
    int err;

    *rows = 0;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT " ROW_COLUMNS " FROM audit_log WHERE tenant_id = ?"
                             " ORDER BY seq")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if (n == cap && (err = wp_array__grow((void **)&v, &cap, n, sizeof *v)) < 0)
            break;
        struct reseal_row *x = &v[n];
        static const int cols[8] = {1, 3, 4, 5, 6, 7, 8, 9};
        memset(x, 0, sizeof *x);
        n++;
        for (int i = 0; i < 8; i++) {
            const char *t = wp_db_col_text(s, cols[i]);
            if (t && !(x->text[i] = strdup(t))) {
                err = wp_error_set(WP_ENOMEM, "out of memory");
                break;
            }
        }
        if (err < 0)
            break;
        x->r.tenant_id = tenant_id;
        x->r.seq = wp_db_col_int64(s, 0);
        x->r.ts_us = wp_db_col_int64(s, 2);
        x->r.format = wp_db_col_int64(s, 10);
        x->r.id = x->text[0], x->r.actor = x->text[1], x->r.action = x->text[2];
        x->r.target = x->text[3], x->r.details = x->text[4], x->r.client = x->text[5];
        x->r.prev_hash = x->text[6];
    }
    wp_db_done(s);
    s = NULL;
    if (err < 0)
        goto out;
    err = 0;
    if (n == 0)
        goto out;
    snprintf(prev, sizeof prev, "%s", v[0].r.prev_hash ? v[0].r.prev_hash : GENESIS);
    for (size_t i = 0; i < n; i++) {
        v[i].r.prev_hash = prev;
        row_hash(hash, key, &v[i].r);
        if ((err = wp_db_prepare(st, &s,
                                 "UPDATE audit_log SET prev_hash = ?, hash = ?"
                                 " WHERE tenant_id = ? AND seq = ?")) < 0)
            goto out;
        wp_db_bind_text(s, 1, prev);
        wp_db_bind_text(s, 2, hash);
        wp_db_bind_text(s, 3, tenant_id);
        wp_db_bind_int64(s, 4, v[i].r.seq);
        err = wp_db_step(s);
        wp_db_done(s);
        s = NULL;
        if (err < 0)
            goto out;
        memcpy(prev, hash, sizeof prev);
    }
    err = move_ends(st, key, tenant_id, v[n - 1].r.seq, prev, 0);
    *rows = (int64_t)n;
out:
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 8; k++)
            free(v[i].text[k]);
    free(v);
    return err;
}

int wp_store_audit_head(wp_store *st, const char *tenant_id, char hash[WP_AUDIT_HASH_HEX + 1])
{
    int64_t seq;
    int none;
    return head_of(st, tenant_id, &seq, hash, &none);
}
