/* SPDX-License-Identifier: MIT */
/* The message search: newest first, with cursors, a substring query answered from the gram
 * index and checked on the text as the reader sees it. Filters are assembled from fixed SQL
 * fragments (values always bound). */
#include "store/db.h"
#include "store/grams.h"
#include "store/internal.h"
#include "store/messages.h"
#include "store/query.h"
#include "store/seal.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/error.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define SQL_MAX 4096
#define SEALED_MAX (64u * 1024 * 1024) /* bytes of an opened text, at most */
#define Q_MAX 1024          /* bytes of a search query */
#define SEARCH_ROUND 100    /* candidates fetched at a time for a query */
#define SEARCH_BUDGET 20000 /* candidates one call looks at, at most */
/* A query matching fewer rows than this in the whole search index is driven from it on
 * SQLite (see search_drive()). */
#define SEARCH_DRIVE_MAX 4096

/* --- messages --------------------------------------------------------------------------------- */

#define MESSAGE_COLUMNS                                                                            \
    "m.id, m.device_id, m.employee_id, m.customer_id, m.seq, m.ts_us, m.direction, m.channel,"     \
    " m.chat, m.group_id, m.group_name, m.peer_id, m.peer_name, m.msgtype, m.msgid, m.text,"       \
    " m.media, m.filename, m.size, m.url, m.title, m.amount_fen, m.memo, m.recalled,"              \
    " m.recalled_us"

static int read_message(wp_store *st, struct wp_stmt *s, wp_message *m, wp_strpool **pool,
                        const char *tenant_id)
{
    int err;
    memset(m, 0, sizeof *m);
    if ((err = wp_db_col_copy(s, 0, m->id, sizeof m->id)) < 0 ||
        (err = wp_db_col_copy(s, 1, m->device_id, sizeof m->device_id)) < 0 ||
        (err = wp_db_col_copy(s, 2, m->employee_id, sizeof m->employee_id)) < 0 ||
        (err = wp_col__id(s, 3, m->customer_id)) < 0)
        return err;
    m->seq = wp_db_col_int64(s, 4);
    m->ts_us = wp_db_col_int64(s, 5);
    const char *dir = wp_db_col_text(s, 6);
    m->direction = !dir ? WP_DIR_NONE : strcmp(dir, "in") == 0 ? WP_DIR_IN : WP_DIR_OUT;
    /* the text columns; those sealed to this row are opened as they are read (the text below,
     * in a buffer of its own size) */
    const struct {
        const char **dst;
        int col;
        const char *sealed; /* its column's name when it may be sealed */
    } strs[] = {{&m->channel, 7, NULL},
                {&m->chat, 8, NULL},
                {&m->group_id, 9, NULL},
                {&m->group_name, 10, "group_name"},
                {&m->peer_id, 11, NULL},
                {&m->peer_name, 12, "peer_name"},
                {&m->msgtype, 13, NULL},
                {&m->msgid, 14, NULL},
                {&m->text, 15, NULL},
                {&m->media, 16, NULL},
                {&m->filename, 17, "filename"},
                {&m->url, 19, "url"},
                {&m->title, 20, "title"},
                {&m->memo, 22, "memo"}};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++) {
        wp_seal_at at = {tenant_id, "messages", strs[i].sealed, m->id};
        if ((err = strs[i].sealed ? wp_seal__col_dup(st, pool, strs[i].dst, s, strs[i].col, &at)
                                  : wp_col__dup(pool, strs[i].dst, s, strs[i].col)) < 0)
            return err;
    }
    m->size = wp_col__opt_int(s, 18, -1);
    m->amount_fen = wp_col__opt_int(s, 21, -1);
    m->recalled = wp_db_col_int64(s, 23) != 0;
    m->recalled_us = wp_col__opt_int(s, 24, 0);
    if (wp_seal__is_sealed(m->text)) {
        /* sealed to this row (docs/internals/encryption.md): opened here, so masking, the
         * exact check and every answer see the plaintext */
        wp_seal_at at = {tenant_id, "messages", "text", m->id};
        const char *plain = NULL;
        wp_buf b;
        wp_buf_init(&b, SEALED_MAX);
        if ((err = wp_seal__open_text(st, &b, &plain, &at, m->text)) == 0)
            err = wp_strpool__dup(pool, &m->text, plain);
        if (b.len)
            sodium_memzero(b.buf, b.len);
        wp_buf_release(&b);
        if (err < 0)
            return err;
    }
    return 0;
}

static void free_messages(wp_message *items, size_t n)
{
    for (size_t i = 0; items && i < n; i++)
        free(items[i].highlights);
    free(items);
}

/* The filters every plan of a message search shares, after "WHERE m.tenant_id = ?". */
static void message_filters(struct wp_query *qp, const wp_message_filter *f,
                            const struct wp_scope_bind *sc)
{
    if (f->id) {
        wp_query__sql(qp, " AND m.id = ?");
        wp_query__text(qp, f->id);
    }
    if (f->customer_id) {
        wp_query__sql(qp, " AND m.customer_id = ?");
        wp_query__text(qp, f->customer_id);
    }
    if (f->employee_id) {
        wp_query__sql(qp, " AND m.employee_id = ?");
        wp_query__text(qp, f->employee_id);
    }
    if (f->channel) {
        wp_query__sql(qp, " AND m.channel = ?");
        wp_query__text(qp, f->channel);
    }
    if (f->from_us) {
        wp_query__sql(qp, " AND m.ts_us >= ?");
        wp_query__int(qp, f->from_us);
    }
    if (f->to_us) {
        wp_query__sql(qp, " AND m.ts_us < ?");
        wp_query__int(qp, f->to_us);
    }
    wp_query__scope_history(qp, "m.employee_id", "m.customer_id", NULL, sc);
}

/* The candidate row at s: appended to p when its text really holds the query (the grams only
 * say it may). *last_t, last_id get its keys either way. */
static int take_row(wp_store *st, struct wp_stmt *s, const wp_message_filter *f,
                    wp_message_page *p, size_t *cap, wp_strpool **pool, int64_t *last_t,
                    char last_id[WP_ID_LEN + 1])
{
    wp_message m;
    int err;
    if ((err = read_message(st, s, &m, pool, f->tenant_id)) < 0)
        return err;
    *last_t = m.ts_us;
    memcpy(last_id, m.id, sizeof m.id);
    if (f->view && m.text && *m.text) {
        /* the reader's text: a hit inside what it may not see is no hit */
        wp_buf b;
        int changed = 0;
        size_t len = strlen(m.text);
        wp_buf_init(&b, len + 1);
        if ((err = f->view->fn(f->view->arg, &b, &changed, m.text, len)) == 0 && changed)
            err = wp_strpool__dup(pool, &m.text, b.buf);
        wp_buf_release(&b);
        if (err < 0)
            return err;
    }
    if (f->q && *f->q) {
        if ((err = wp_grams__find(&m.highlights, &m.n_highlights, m.text, strlen(m.text), f->q,
                                  strlen(f->q))) < 0)
            return err;
        if (m.n_highlights == 0)
            return 0; /* the grams were there, the text is not */
    }
    if ((err = wp_array__grow((void **)&p->items, cap, p->n, sizeof *p->items)) < 0) {
        free(m.highlights);
        return err;
    }
    p->items[p->n++] = m;
    return 0;
}

/* How a round finds its candidates; every plan gives the same rows in the same order.
 * PLAN_DRIVE: SQLite, from the search index (search_drive()). PLAN_PG_WALK: PostgreSQL, the
 * time index newest first with the grams as a filter, down to (lo_t, lo_id) inclusive when
 * bounded. PLAN_PG_INDEX: PostgreSQL, every candidate from the GIN index, then sorted.
 * NULL: the planner's choice. */
enum round_kind { PLAN_DRIVE = 1, PLAN_PG_WALK, PLAN_PG_INDEX };
struct round_plan {
    enum round_kind kind;
    int bounded;
    int64_t lo_t;
    char lo_id[WP_ID_LEN + 1];
};

/* One round of candidates (at most want rows after the cursor); appends hits to p. *got gets
 * how many candidate rows came back, *last_t/last_id the last candidate's keys. */
static int message_round(wp_store *st, const wp_message_filter *f, const struct wp_scope_bind *sc,
                         const char *grams, const char *grams2, const struct round_plan *rp,
                         int has, int64_t ct, const char *cid, unsigned want, wp_message_page *p,
                         size_t *cap, wp_strpool **pool, unsigned stop_at, unsigned *got,
                         int64_t *last_t, char last_id[WP_ID_LEN + 1])
{
    struct wp_stmt *s = NULL;
    struct wp_query q;
    int pg = wp_store_backend(st) == WP_STORE_PG;
    int drive = rp && rp->kind == PLAN_DRIVE;
    int err;

    *got = 0;
    wp_query__init(&q, SQL_MAX);
    if (drive) {
        /* CROSS JOIN keeps message_fts the outer loop: the few matches, then their rows. */
        wp_query__sql(
            &q, "SELECT " MESSAGE_COLUMNS " FROM message_fts CROSS JOIN messages m"
                " ON m.skey = message_fts.rowid WHERE message_fts MATCH ? AND m.tenant_id = ?");
        wp_query__text(&q, grams);
    } else {
        wp_query__sql(&q, "SELECT " MESSAGE_COLUMNS " FROM messages m WHERE m.tenant_id = ?");
    }
    wp_query__text(&q, f->tenant_id);
    message_filters(&q, f, sc);
    if (f->q && *f->q) {
        wp_query__sql(&q, " AND m.text IS NOT NULL");
        if (grams && !drive) {
            /* PLAN_PG_WALK: an expression the GIN index cannot answer, so the time index it is.
             * grams2 (PostgreSQL): the plain grams of a tenant not all sealed yet, asked too */
            int walk_pg = rp && rp->kind == PLAN_PG_WALK;
            wp_query__sql(&q, !pg       ? " AND m.skey IN (SELECT rowid FROM message_fts WHERE"
                                          " message_fts MATCH ?)"
                              : grams2  ? (walk_pg ? " AND (m.grams @> CAST(? AS text[]) OR"
                                                     " m.grams @> CAST(? AS text[])) IS TRUE"
                                                   : " AND (m.grams @> CAST(? AS text[]) OR"
                                                     " m.grams @> CAST(? AS text[]))")
                              : walk_pg ? " AND (m.grams @> CAST(? AS text[])) IS TRUE"
                                        : " AND m.grams @> CAST(? AS text[])");
            wp_query__text(&q, grams);
            if (pg && grams2)
                wp_query__text(&q, grams2);
        }
    }
    if (rp && rp->kind == PLAN_PG_WALK && rp->bounded) {
        wp_query__sql(&q, " AND m.ts_us >= ? AND (m.ts_us > ? OR m.id >= ?)");
        wp_query__int(&q, rp->lo_t);
        wp_query__int(&q, rp->lo_t);
        wp_query__text(&q, rp->lo_id);
    }
    if (has) {
        /* PostgreSQL: the same rows, written as a range its indexes take whatever the plan */
        wp_query__sql(&q, pg ? " AND m.ts_us <= ? AND (m.ts_us < ? OR m.id < ?)"
                             : " AND (m.ts_us < ? OR (m.ts_us = ? AND m.id < ?))");
        wp_query__int(&q, ct);
        wp_query__int(&q, ct);
        wp_query__text(&q, cid);
    }
    /* PLAN_PG_INDEX: an order the time index cannot give, so the GIN index it is */
    wp_query__sql(&q, rp && rp->kind == PLAN_PG_INDEX
                          ? " ORDER BY m.ts_us + 0 DESC, m.id DESC LIMIT ?"
                          : " ORDER BY m.ts_us DESC, m.id DESC LIMIT ?");
    wp_query__int(&q, want);
    if ((err = wp_query__prepare(&q, st, &s)) < 0)
        goto out;
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        (*got)++;
        if ((err = take_row(st, s, f, p, cap, pool, last_t, last_id)) < 0)
            goto out;
        if (p->n == stop_at)
            break;
    }
    if (err > 0)
        err = 0;
out:
    wp_db_done(s);
    wp_buf_release(&q.sql);
    return err;
}

/* Whether SQLite should start from the search index: *drive = 1 when the grams match fewer
 * than SEARCH_DRIVE_MAX rows of it. Otherwise SQLite walks the tenant's time index newest
 * first and probes the match list per row: a common query fills its page after a few rows,
 * but a rare one walks the whole tenant (115 ms at 1M messages, 5 ms from the index). The
 * two plans give the same rows in the same order; only the cost differs. */
static int search_drive(wp_store *st, const char *grams, int *drive)
{
    struct wp_stmt *s = NULL;
    int err;

    *drive = 0;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT count(*) FROM (SELECT 1 FROM message_fts WHERE message_fts"
                             " MATCH ? LIMIT ?)")) < 0)
        goto out;
    wp_db_bind_text(s, 1, grams);
    wp_db_bind_int64(s, 2, SEARCH_DRIVE_MAX);
    if ((err = wp_db_step(s)) != WP_DB_ROW) {
        if (err >= 0)
            err = wp_error_set(WP_EIO, "search index count returned no row");
        goto out;
    }
    *drive = wp_db_col_int64(s, 0) < SEARCH_DRIVE_MAX;
    err = 0;
out:
    wp_db_done(s);
    return err;
}

/* Newest first: ts_us, then id, both descending. */
static int cmp_newest(const void *x, const void *y)
{
    const wp_message *a = x, *b = y;
    if (a->ts_us != b->ts_us)
        return a->ts_us < b->ts_us ? 1 : -1;
    return -strcmp(a->id, b->id);
}

/* SQLite, a query with no customer or employee filter: walk its FTS5 doclists newest first
 * (search keys sort like times, grams.h) and stop after a page, whatever the query's
 * frequency. Keys order messages by millisecond only, so once limit + 1 hits are in, the walk
 * reads the rest of the last hit's millisecond and sorts: the page is then exactly the one
 * (ts_us DESC, id DESC) gives. A spent budget also ends at a millisecond's end, and the
 * cursor is its start. */
static int search_walk(wp_store *st, const wp_message_filter *f, const struct wp_scope_bind *sc,
                       const char *grams, int has, int64_t ct, const char *cid, unsigned limit,
                       wp_message_page *p, size_t *cap, wp_strpool **pool)
{
    int64_t key_hi = INT64_MAX, key_lo = 0, stop_group = -1;
    unsigned budget = SEARCH_BUDGET;
    int more = 0, err = 0;

    if (has)
        key_hi = wp_skey__group_last(wp_skey__group(ct));
    if (f->to_us && f->to_us > INT64_MIN &&
        wp_skey__group_last(wp_skey__group(f->to_us - 1)) < key_hi)
        key_hi = wp_skey__group_last(wp_skey__group(f->to_us - 1));
    if (f->from_us)
        key_lo = wp_skey__group_first(wp_skey__group(f->from_us));
    for (;;) {
        struct wp_stmt *s = NULL;
        struct wp_query q;
        unsigned got = 0;
        int64_t last_key = 0, last_t;
        char last_id[WP_ID_LEN + 1];

        wp_query__init(&q, SQL_MAX);
        wp_query__sql(
            &q, "SELECT " MESSAGE_COLUMNS ", m.skey FROM message_fts CROSS JOIN messages m"
                " ON m.skey = message_fts.rowid WHERE message_fts MATCH ? AND message_fts.rowid"
                " <= ? AND message_fts.rowid >= ? AND m.tenant_id = ?");
        wp_query__text(&q, grams);
        wp_query__int(&q, key_hi);
        wp_query__int(&q, key_lo);
        wp_query__text(&q, f->tenant_id);
        message_filters(&q, f, sc);
        wp_query__sql(&q, " AND m.text IS NOT NULL");
        if (has) {
            wp_query__sql(&q, " AND (m.ts_us < ? OR (m.ts_us = ? AND m.id < ?))");
            wp_query__int(&q, ct);
            wp_query__int(&q, ct);
            wp_query__text(&q, cid);
        }
        wp_query__sql(&q, " ORDER BY message_fts.rowid DESC LIMIT ?");
        wp_query__int(&q, SEARCH_ROUND);
        if ((err = wp_query__prepare(&q, st, &s)) == 0) {
            while ((err = wp_db_step(s)) == WP_DB_ROW) {
                int64_t key = wp_db_col_int64(s, 25);
                if (stop_group >= 0 && key >> WP_SKEY_LOW_BITS != stop_group) {
                    more = 1;
                    break;
                }
                got++;
                last_key = key;
                if ((err = take_row(st, s, f, p, cap, pool, &last_t, last_id)) < 0)
                    break;
                if (stop_group < 0 && p->n > limit)
                    stop_group = key >> WP_SKEY_LOW_BITS;
            }
        }
        wp_db_done(s);
        wp_buf_release(&q.sql);
        if (err < 0)
            return err;
        if (more || got < SEARCH_ROUND)
            break;
        key_hi = last_key - 1;
        if (stop_group < 0 && budget <= got)
            stop_group = last_key >> WP_SKEY_LOW_BITS; /* finish this millisecond, then stop */
        else if (stop_group < 0)
            budget -= got;
    }
    if (p->n) /* items is NULL when nothing matched: qsort must not see it */
        qsort(p->items, p->n, sizeof *p->items, cmp_newest);
    if (p->n > limit) {
        for (size_t i = limit; i < p->n; i++)
            free(p->items[i].highlights);
        p->n = limit;
        wp_cursor__make(p->next_cursor, p->items[limit - 1].ts_us, p->items[limit - 1].id);
    } else if (more) {
        /* everything from this millisecond on was looked at: go on below its start */
        char zero[WP_ID_LEN + 1];
        memset(zero, '0', WP_ID_LEN);
        zero[WP_ID_LEN] = '\0';
        wp_cursor__make(p->next_cursor, stop_group * 1000, zero);
    }
    return 0;
}

/* A search's rounds so far: the cursor (the last candidate looked at), candidates looked at,
 * and the cap on them (SEARCH_BUDGET rounded up to whole rounds, as one plain walk of rounds
 * spends it, so every plan stops at the same candidate). */
enum rounds_state { ROUNDS_MORE, ROUNDS_FULL, ROUNDS_DONE, ROUNDS_SPENT };
struct rounds {
    int has;
    int64_t ct;
    char cid[WP_ID_LEN + 1];
    unsigned limit, want, seen, cap;
    enum rounds_state state;
    const char *grams2; /* PostgreSQL: the query's plain grams too (a tenant not all sealed) */
};

/* Rounds of plan rp from r's cursor until the page is full (limit + 1 hits), the plan has no
 * more candidates (ROUNDS_DONE; for a bounded walk: its window is done, r->state stays
 * ROUNDS_MORE), or the cap is reached (ROUNDS_SPENT). */
static int run_rounds(wp_store *st, const wp_message_filter *f, const struct wp_scope_bind *sc,
                      const char *grams, const struct round_plan *rp, struct rounds *r,
                      wp_message_page *p, size_t *cap, wp_strpool **pool)
{
    int err;
    r->state = ROUNDS_MORE;
    for (;;) {
        unsigned got = 0, want = r->cap - r->seen < r->want ? r->cap - r->seen : r->want;
        int64_t last_t = 0;
        char last_id[WP_ID_LEN + 1] = "";
        if ((err = message_round(st, f, sc, grams, r->grams2, rp, r->has, r->ct, r->cid, want, p,
                                 cap, pool, r->limit + 1, &got, &last_t, last_id)) < 0)
            return err;
        r->seen += got;
        if (p->n > r->limit) {
            r->state = ROUNDS_FULL;
            return 0;
        }
        if (got < want) {
            if (!(rp && rp->kind == PLAN_PG_WALK && rp->bounded))
                r->state = ROUNDS_DONE;
            return 0;
        }
        r->has = 1;
        r->ct = last_t;
        memcpy(r->cid, last_id, sizeof r->cid);
        if (r->seen >= r->cap) {
            r->state = ROUNDS_SPENT;
            return 0;
        }
    }
}

/* The time and id of the tenant's row `offset` rows below r's cursor within the filter's time
 * range, newest first (*found = 0: fewer rows than that), or of its oldest row (offset < 0). */
static int pg_row_at(wp_store *st, const wp_message_filter *f, const struct rounds *r, long offset,
                     int *found, int64_t *t, char id[WP_ID_LEN + 1])
{
    struct wp_stmt *s = NULL;
    struct wp_query q;
    int err;

    *found = 0;
    wp_query__init(&q, SQL_MAX);
    wp_query__sql(&q, "SELECT m.ts_us, m.id FROM messages m WHERE m.tenant_id = ?");
    wp_query__text(&q, f->tenant_id);
    if (f->from_us) {
        wp_query__sql(&q, " AND m.ts_us >= ?");
        wp_query__int(&q, f->from_us);
    }
    if (f->to_us) {
        wp_query__sql(&q, " AND m.ts_us < ?");
        wp_query__int(&q, f->to_us);
    }
    if (r->has) {
        wp_query__sql(&q, " AND m.ts_us <= ? AND (m.ts_us < ? OR m.id < ?)");
        wp_query__int(&q, r->ct);
        wp_query__int(&q, r->ct);
        wp_query__text(&q, r->cid);
    }
    if (offset < 0) {
        wp_query__sql(&q, " ORDER BY m.ts_us, m.id LIMIT 1");
    } else {
        wp_query__sql(&q, " ORDER BY m.ts_us DESC, m.id DESC LIMIT 1 OFFSET ?");
        wp_query__int(&q, offset);
    }
    if ((err = wp_query__prepare(&q, st, &s)) < 0)
        goto out;
    if ((err = wp_db_step(s)) == WP_DB_ROW) {
        *found = 1;
        *t = wp_db_col_int64(s, 0);
        if ((err = wp_db_col_copy(s, 1, id, WP_ID_LEN + 1)) < 0)
            goto out;
    }
    if (err > 0)
        err = 0;
out:
    wp_db_done(s);
    wp_buf_release(&q.sql);
    return err;
}

/* PostgreSQL, a query without a customer or employee filter. Its planner guesses a phrase's
 * matches as if its grams were independent (docs/internals/store.md, "Search on PostgreSQL"):
 * a common phrase passes for a rare one, and every match is fetched and sorted. So the store
 * chooses: walk the time index newest first over a window of rows (PG_WALK_FIRST, then four
 * times more each time, up to PG_WALK_MAX), and go on walking while the candidates seen in
 * the window say that filling the page that way reads fewer rows than the GIN index would
 * fetch below it; else the GIN index for the rest. Windows end at a row, and the rounds go
 * on from it: the same candidates in the same order as one plain walk, so the same pages,
 * cursors and budget. */
#define PG_WALK_FIRST 2048
#define PG_WALK_MAX (1L << 20)
#define PG_FETCH_CHEAP 256 /* candidates the GIN plan fetches in a few milliseconds */
static int pg_search(wp_store *st, const wp_message_filter *f, const struct wp_scope_bind *sc,
                     const char *grams, struct rounds *r, wp_message_page *p, size_t *cap,
                     wp_strpool **pool)
{
    struct round_plan walk = {.kind = PLAN_PG_WALK, .bounded = 1};
    struct round_plan index = {.kind = PLAN_PG_INDEX};
    int64_t top_t = 0, oldest_t = 0;
    char oldest_id[WP_ID_LEN + 1];
    int found, err;

    if ((err = pg_row_at(st, f, r, 0, &found, &top_t, oldest_id)) < 0)
        return err;
    if (!found) {
        r->state = ROUNDS_DONE;
        return 0;
    }
    if ((err = pg_row_at(st, f, r, -1, &found, &oldest_t, oldest_id)) < 0)
        return err;
    for (long rows = PG_WALK_FIRST;; rows = rows * 4 > PG_WALK_MAX ? PG_WALK_MAX : rows * 4) {
        unsigned seen = r->seen;
        if ((err = pg_row_at(st, f, r, rows - 1, &found, &walk.lo_t, walk.lo_id)) < 0)
            return err;
        walk.bounded = found;
        if ((err = run_rounds(st, f, sc, grams, &walk, r, p, cap, pool)) < 0)
            return err;
        if (r->state != ROUNDS_MORE)
            return 0;
        /* the window is done: go on below its last row */
        r->has = 1;
        r->ct = walk.lo_t;
        memcpy(r->cid, walk.lo_id, sizeof r->cid);
        /* At the window's rates: the candidates the GIN index would hand over below it, and
         * the rows a walk would read to fill the page. A row walked costs about as much as a
         * candidate fetched (measured at 1M: the walk reads neighbouring rows but tests the
         * grams of each; 2-13 us a candidate, cached or not, 3-5 us a walked row). */
        double per_row = (double)(r->seen - seen) / (double)rows;
        double below =
            (double)rows * (double)(walk.lo_t - oldest_t) / (double)(top_t - walk.lo_t + 1);
        double fetch = per_row * below, need = (double)(r->limit + 1 - p->n);
        if (per_row == 0 || fetch <= PG_FETCH_CHEAP || need / per_row > fetch)
            break;
        top_t = walk.lo_t;
    }
    return run_rounds(st, f, sc, grams, &index, r, p, cap, pool);
}

int wp_store_messages_search(wp_store *st, wp_message_page *out, const wp_message_filter *f)
{
    wp_message_page p;
    wp_strpool *pool = NULL;
    wp_buf grams, plain, both;
    struct wp_scope_bind sc;
    char cid[WP_ID_LEN + 1];
    int64_t ct = 0;
    int has = 0, pg = wp_store_backend(st) == WP_STORE_PG, drive = 0, walk = 0, err;
    unsigned limit;
    size_t cap = 0, ngrams = 0;

    memset(&p, 0, sizeof p);
    wp_buf_init(&grams, 16 * Q_MAX);
    wp_buf_init(&plain, 16 * Q_MAX);
    wp_buf_init(&both, 40 * Q_MAX);
    const char *grams2 = NULL, *gq = NULL; /* gq: the query's grams as asked */
    if ((err = wp_store__check_id("tenant", f->tenant_id)) < 0 ||
        (err = wp_store__check_opt_id("customer", f->customer_id)) < 0 ||
        (err = wp_store__check_opt_id("message", f->id)) < 0 ||
        (err = wp_store__check_opt_id("employee", f->employee_id)) < 0 ||
        (err = wp_page__limit(&limit, f->limit)) < 0 ||
        (err = wp_cursor__parse(&has, &ct, cid, f->cursor)) < 0 ||
        (err = wp_scope__check(&sc, f->tenant_id, f->scope)) < 0)
        goto out;
    if (f->q && *f->q) {
        if (strlen(f->q) > Q_MAX) {
            err = wp_error_set(WP_EINVAL, "query is longer than %d bytes", Q_MAX);
            goto out;
        }
        /* the tenant's texts are indexed by keyed grams when it has a gram key: so is the
         * query (docs/internals/encryption.md, "Search: keyed grams") */
        unsigned char gk[WP_GRAM_KEY_LEN];
        int keyed = 0;
        if ((err = wp_seal__gram_key(st, gk, &keyed, f->tenant_id)) < 0)
            goto out;
        err = wp_grams__make_keyed(&grams, &ngrams, f->q, strlen(f->q), 1,
                                   pg ? WP_GRAMS_PG_ARRAY : WP_GRAMS_FTS_QUERY, keyed ? gk : NULL);
        sodium_memzero(gk, sizeof gk);
        if (err < 0)
            goto out;
        gq = grams.buf;
        /* a tenant whose messages stored before the master key are not all sealed yet (keys
         * seal-data) has them indexed by plain grams: those are asked too (encryption.md,
         * "Sealing what was there"); SQLite in one MATCH, PostgreSQL as a second array */
        int plain_left = 0;
        if (keyed && ngrams &&
            (err = wp_store_messages_plain_get(st, f->tenant_id, &plain_left)) < 0)
            goto out;
        if (plain_left) {
            if ((err = wp_grams__make(&plain, NULL, f->q, strlen(f->q), 1,
                                      pg ? WP_GRAMS_PG_ARRAY : WP_GRAMS_FTS_QUERY)) < 0)
                goto out;
            if (pg)
                grams2 = plain.buf;
            else if ((err = wp_buf_adds(&both, "(")) < 0 ||
                     (err = wp_buf_adds(&both, grams.buf)) < 0 ||
                     (err = wp_buf_adds(&both, ") OR (")) < 0 ||
                     (err = wp_buf_adds(&both, plain.buf)) < 0 ||
                     (err = wp_buf_adds(&both, ")")) < 0)
                goto out;
            else
                gq = both.buf;
        }
        /* A customer's or an employee's messages are few: their index, not the walk */
        walk = ngrams && !pg && !f->customer_id && !f->employee_id;
        if (ngrams && !pg && !walk && (err = search_drive(st, gq, &drive)) < 0)
            goto out;
    }
    if (walk) {
        if ((err = search_walk(st, f, &sc, gq, has, ct, cid, limit, &p, &cap, &pool)) < 0)
            goto out;
        goto done;
    }
    /* Take limit + 1 hits: the extra one only says there is a next page. A query's candidates
     * can fail the exact test, so rounds continue from the last candidate until enough hits,
     * no more candidates, or the budget is spent: then the page may be short, and its cursor
     * (the last candidate looked at) says where to go on. */
    struct rounds r = {.has = has, .ct = ct, .limit = limit, .grams2 = grams2};
    memcpy(r.cid, cid, sizeof r.cid);
    r.want = f->q && *f->q && limit + 1 < SEARCH_ROUND ? SEARCH_ROUND : limit + 1;
    r.cap = (SEARCH_BUDGET + r.want - 1) / r.want * r.want;
    struct round_plan drive_plan = {.kind = PLAN_DRIVE};
    if (pg && ngrams && !f->customer_id && !f->employee_id) {
        /* Statements are prepared once per session (store.c's cache), and PostgreSQL switches a
         * statement to a generic plan after five runs, one plan for every value; a search's
         * best plan depends on its values (how common the query is, where a window of rows
         * ends: docs/internals/store.md, "Search on PostgreSQL"), so its runs plan each time.
         * The rest of the session keeps PostgreSQL's default. */
        if ((err = wp_db_run(st, "SET plan_cache_mode = force_custom_plan", "")) == 0) {
            err = pg_search(st, f, &sc, gq, &r, &p, &cap, &pool);
            int reset = wp_db_run(st, "RESET plan_cache_mode", "");
            if (err == 0)
                err = reset;
        }
    } else
        err = run_rounds(st, f, &sc, ngrams ? gq : NULL, drive ? &drive_plan : NULL, &r, &p, &cap,
                         &pool);
    if (err < 0)
        goto out;
    if (p.n > limit) {
        free(p.items[limit].highlights);
        p.n = limit;
        wp_cursor__make(p.next_cursor, p.items[limit - 1].ts_us, p.items[limit - 1].id);
    } else if (r.state == ROUNDS_SPENT) {
        wp_cursor__make(p.next_cursor, r.ct, r.cid);
    }
done:
    p.mem = pool;
    pool = NULL;
    *out = p;
    p.items = NULL;
    p.n = 0;
    err = 0;
out:
    free_messages(p.items, p.n);
    wp_strpool__free(pool);
    wp_buf_release(&grams);
    wp_buf_release(&plain);
    wp_buf_release(&both);
    return err;
}

void wp_message_page_release(wp_message_page *p)
{
    if (!p)
        return;
    free_messages(p->items, p->n);
    wp_strpool__free(p->mem);
    memset(p, 0, sizeof *p);
}
