/* SPDX-License-Identifier: MIT */
/* The dashboard's numbers (migration 0009): the rollup job, and queries that add the rollups
 * to the raw rows stored after their watermark, so answers are exact at any moment. */
#include "store/analytics.h"
#include "store/db.h"
#include "store/internal.h"
#include "store/query.h"
#include "store/store.h"
#include "store/workhours.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/testhooks.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define US_PER_HOUR 3600000000LL
#define CHUNK 5000      /* messages folded in one transaction */
#define WALK_PAGE 20000 /* messages read at a time by a reply walk */
#define HIST_TEXT_MAX (WP_ANALYTICS_BINS * 24)
#define SQL_MAX 4096

/* --- reply-time bins ------------------------------------------------------------------------ */

/* [start of the tier in seconds, width of a bin, first bin] */
static const int64_t tiers[][3] = {
    {0, 1, 0},          /* below 2 min: exact seconds, bins 0..119 */
    {120, 10, 120},     /* below 10 min: 10 s, bins 120..167 */
    {600, 60, 168},     /* below 2 h: 1 min, bins 168..277 */
    {7200, 600, 278},   /* below 24 h: 10 min, bins 278..409 */
    {86400, 3600, 410}, /* below 30 days: 1 h, bins 410..1105 */
    {2592000, 0, 1106}, /* 30 days and more: one bin */
};
#define N_TIERS (sizeof tiers / sizeof tiers[0])

int wp_analytics_bin(int64_t seconds)
{
    if (seconds < 0)
        seconds = 0;
    for (size_t i = N_TIERS; i-- > 0;)
        if (seconds >= tiers[i][0])
            return (int)(tiers[i][2] + (tiers[i][1] ? (seconds - tiers[i][0]) / tiers[i][1] : 0));
    return 0;
}

int64_t wp_analytics_bin_floor(int bin)
{
    if (bin < 0)
        bin = 0;
    if (bin >= WP_ANALYTICS_BINS)
        bin = WP_ANALYTICS_BINS - 1;
    for (size_t i = N_TIERS; i-- > 0;)
        if (bin >= tiers[i][2])
            return tiers[i][0] + (bin - tiers[i][2]) * tiers[i][1];
    return 0;
}

/* Nearest rank: the smallest bin floor with at least ceil(p% of n) samples at or below it. */
static int64_t hist_percentile(const int64_t *h, int64_t n, int p)
{
    if (n <= 0)
        return -1;
    int64_t rank = (n * p + 99) / 100, seen = 0;
    if (rank < 1)
        rank = 1;
    for (int b = 0; b < WP_ANALYTICS_BINS; b++)
        if ((seen += h[b]) >= rank)
            return wp_analytics_bin_floor(b);
    return wp_analytics_bin_floor(WP_ANALYTICS_BINS - 1);
}

/* Add "bin:count,..." to h. A malformed text means a damaged store. */
static int hist_parse_add(int64_t *h, const char *s)
{
    while (s && *s) {
        char *end;
        long b = strtol(s, &end, 10);
        if (*end != ':' || b < 0 || b >= WP_ANALYTICS_BINS)
            return wp_error_set(WP_EIO, "analytics: bad reply histogram");
        long long c = strtoll(end + 1, &end, 10);
        if ((*end != ',' && *end) || c < 0)
            return wp_error_set(WP_EIO, "analytics: bad reply histogram");
        h[b] += c;
        s = *end ? end + 1 : end;
    }
    return 0;
}

static int hist_format(wp_buf *b, const int64_t *h)
{
    int err = 0;
    wp_buf_reset(b);
    for (int i = 0; i < WP_ANALYTICS_BINS && err == 0; i++)
        if (h[i])
            err = wp_buf_addf(b, "%s%d:%lld", b->len ? "," : "", i, (long long)h[i]);
    return err;
}

/* --- a string-keyed map to indexes (open addressing) ----------------------------------------- */

struct smap {
    char **keys;
    size_t *vals;
    size_t cap, n;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void smap_free(struct smap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->keys[i]);
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

/* *out = the value of key, or SIZE_MAX when absent. */
static size_t smap_get(const struct smap *m, const char *key)
{
    if (!m->cap)
        return SIZE_MAX;
    for (size_t i = hash_str(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->keys[i])
            return SIZE_MAX;
        if (!strcmp(m->keys[i], key))
            return m->vals[i];
    }
}

static int smap_put(struct smap *m, const char *key, size_t val)
{
    if ((m->n + 1) * 2 > m->cap) {
        struct smap g = {NULL, NULL, m->cap ? m->cap * 2 : 64, 0};
        if (!(g.keys = calloc(g.cap, sizeof *g.keys)) ||
            !(g.vals = calloc(g.cap, sizeof *g.vals))) {
            free(g.keys);
            return wp_error_set(WP_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i]) {
                size_t j = hash_str(m->keys[i]) & (g.cap - 1);
                while (g.keys[j])
                    j = (j + 1) & (g.cap - 1);
                g.keys[j] = m->keys[i];
                g.vals[j] = m->vals[i];
                g.n++;
            }
        free(m->keys);
        free(m->vals);
        *m = g;
    }
    size_t i = hash_str(key) & (m->cap - 1);
    while (m->keys[i] && strcmp(m->keys[i], key))
        i = (i + 1) & (m->cap - 1);
    if (!m->keys[i]) {
        if (!(m->keys[i] = strdup(key)))
            return wp_error_set(WP_ENOMEM, "out of memory");
        m->n++;
    }
    m->vals[i] = val;
    return 0;
}

/* --- the filter ------------------------------------------------------------------------------ */

struct ctx {
    const wp_analytics_filter *f;
    struct wp_scope_bind sc; /* the reader's scope */
    int64_t from_us, to_us;  /* the whole range */
    /* by unit: employee id -> unit id */
    struct smap units;
    char (*unit_ids)[WP_ID_LEN + 1];
    size_t n_units;
    /* watermarks read in the answer's snapshot */
    int64_t msg_rid, calls_us, alerts_us;
    int tx;           /* a read transaction of ours is open */
    struct smap rows; /* "day\x1fgroup\x1fkind\x1fcategory" -> the result row adding them up */
};

static int check_filter(struct ctx *c, const wp_analytics_filter *f)
{
    int err;
    memset(c, 0, sizeof *c);
    c->f = f;
    if ((err = wp_store__check_id("tenant", f->tenant_id)) < 0)
        return err;
    if ((err = wp_scope__check(&c->sc, f->tenant_id, f->scope)) < 0)
        return err;
    if (f->by != WP_ANALYTICS_ALL && f->by != WP_ANALYTICS_EMPLOYEE && f->by != WP_ANALYTICS_UNIT)
        return wp_error_set(WP_EINVAL, "analytics: unknown grouping");
    if (!f->spans || f->n_spans < 1 || f->n_spans > WP_ANALYTICS_SPANS_MAX)
        return wp_error_set(WP_EINVAL, "analytics: 1 to %d spans", WP_ANALYTICS_SPANS_MAX);
    for (size_t i = 0; i < f->n_spans; i++) {
        const wp_analytics_span *s = &f->spans[i];
        if (s->from_us < 0 || s->to_us <= s->from_us || s->from_us % US_PER_HOUR ||
            s->to_us % US_PER_HOUR || s->offset_s % 3600 || s->offset_s < -48 * 3600 ||
            s->offset_s > 48 * 3600 || (i && s->from_us != f->spans[i - 1].to_us))
            return wp_error_set(WP_EINVAL, "analytics: span %zu is not whole hours", i);
    }
    c->from_us = f->spans[0].from_us;
    c->to_us = f->spans[f->n_spans - 1].to_us;
    if ((c->to_us - c->from_us) / (24 * US_PER_HOUR) > WP_ANALYTICS_RANGE_MAX_DAYS)
        return wp_error_set(WP_EINVAL, "the range is longer than %d days",
                            WP_ANALYTICS_RANGE_MAX_DAYS);
    return 0;
}

static void ctx_release(struct ctx *c)
{
    smap_free(&c->rows);
    smap_free(&c->units);
    free(c->unit_ids);
    c->unit_ids = NULL;
}

/* The rows whose employee (column col) the caller may see. */
static void q_scope(struct wp_query *q, struct ctx *c, const char *col)
{
    wp_query__scope_employees(q, col, &c->sc);
}

/* The binds of a branch over the rows past the rollups' watermark, whose SQL so far holds
 * tenant, watermark, span start and end placeholders in that order; then the scope on col. */
static void q_past_mark(struct wp_query *q, struct ctx *c, const wp_analytics_span *sp,
                        int64_t mark, const char *col)
{
    wp_query__text(q, c->f->tenant_id);
    wp_query__int(q, mark);
    wp_query__int(q, sp->from_us);
    wp_query__int(q, sp->to_us);
    q_scope(q, c, col);
}

/* A consistent snapshot for the whole answer: rollups and watermarks must agree. */
static int read_begin(wp_store *st, struct ctx *c)
{
    int err;
    if (st->in_tx)
        return 0;
    if ((err = wp_db_exec(st, wp_store_backend(st) == WP_STORE_PG
                                  ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
                                  : "BEGIN")) < 0)
        return err;
    c->tx = 1;
    return 0;
}

/* A read-only snapshot ends with ROLLBACK: there is nothing to commit, and a COMMIT that
 * failed would leave the transaction open on the connection for the next request. */
static void read_end(wp_store *st, struct ctx *c)
{
    if (c->tx)
        wp_db_exec(st, "ROLLBACK");
    c->tx = 0;
}

static int read_watermarks(wp_store *st, struct ctx *c)
{
    struct wp_stmt *s = NULL;
    int err;
    c->msg_rid = c->calls_us = c->alerts_us = -1; /* nothing folded: every row is new */
    if (c->f->raw)
        return 0;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT msg_rid, calls_us, alerts_us FROM analytics_state"
                             " WHERE tenant_id = ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, c->f->tenant_id);
    if ((err = wp_db_step(s)) == WP_DB_ROW) {
        c->msg_rid = wp_db_col_int64(s, 0);
        c->calls_us = wp_db_col_int64(s, 1);
        c->alerts_us = wp_db_col_int64(s, 2);
        err = 0;
    }
    wp_db_done(s);
    return err < 0 ? err : 0;
}

/* by unit: the unit of every employee of the tenant */
static int load_units(wp_store *st, struct ctx *c)
{
    struct wp_stmt *s = NULL;
    size_t cap = 0;
    int err;
    if (c->f->by != WP_ANALYTICS_UNIT)
        return 0;
    if ((err = wp_db_prepare(st, &s, "SELECT id, org_unit_id FROM employees WHERE tenant_id = ?")) <
        0)
        return err;
    wp_db_bind_text(s, 1, c->f->tenant_id);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        char id[WP_ID_LEN + 1];
        if ((err = wp_array__grow((void **)&c->unit_ids, &cap, c->n_units, sizeof *c->unit_ids)) <
                0 ||
            (err = wp_db_col_copy(s, 0, id, sizeof id)) < 0 ||
            (err = wp_db_col_copy(s, 1, c->unit_ids[c->n_units], WP_ID_LEN + 1)) < 0 ||
            (err = smap_put(&c->units, id, c->n_units)) < 0)
            break;
        c->n_units++;
    }
    wp_db_done(s);
    return err < 0 ? err : 0;
}

/* The group an employee's numbers go to. */
static const char *group_of(const struct ctx *c, const char *employee_id)
{
    if (c->f->by == WP_ANALYTICS_ALL)
        return "";
    if (c->f->by == WP_ANALYTICS_EMPLOYEE)
        return employee_id;
    size_t i = smap_get(&c->units, employee_id);
    return i == SIZE_MAX ? "" : c->unit_ids[i];
}

/* --- results: rows gathered, then sorted and merged on their key -------------------------------
 */

static int row_cmp(const void *a, const void *b)
{
    const wp_analytics_row *x = a, *y = b;
    int r;
    if (x->day != y->day)
        return x->day < y->day ? -1 : 1;
    if ((r = strcmp(x->group, y->group)) || (r = strcmp(x->kind, y->kind)))
        return r;
    return strcmp(x->category, y->category);
}

static int result_add(wp_analytics_result *r, size_t *cap, int64_t day, const char *group,
                      const char *kind, const char *category,
                      const int64_t v[WP_ANALYTICS_VALUES])
{
    int err;
    if ((err = wp_array__grow((void **)&r->rows, cap, r->n, sizeof *r->rows)) < 0)
        return err;
    wp_analytics_row *row = &r->rows[r->n];
    memset(row, 0, sizeof *row);
    row->day = day;
    snprintf(row->group, sizeof row->group, "%s", group ? group : "");
    snprintf(row->kind, sizeof row->kind, "%s", kind ? kind : "");
    snprintf(row->category, sizeof row->category, "%s", category ? category : "");
    memcpy(row->v, v, sizeof row->v);
    r->n++;
    return 0;
}

static void result_merge(wp_analytics_result *r)
{
    size_t w = 0;
    if (!r->n)
        return;
    qsort(r->rows, r->n, sizeof *r->rows, row_cmp);
    for (size_t i = 1; i < r->n; i++) {
        if (!row_cmp(&r->rows[w], &r->rows[i])) {
            for (int k = 0; k < WP_ANALYTICS_VALUES; k++)
                r->rows[w].v[k] += r->rows[i].v[k];
        } else {
            r->rows[++w] = r->rows[i];
        }
    }
    r->n = w + 1;
}

void wp_analytics_result_release(wp_analytics_result *r)
{
    if (!r)
        return;
    free(r->rows);
    wp_strpool__free(r->mem);
    r->rows = NULL;
    r->mem = NULL;
    r->n = 0;
}

/* Name every group of r: an employee's or a unit's name. */
static int fill_names(wp_store *st, const struct ctx *c, wp_analytics_result *r)
{
    struct wp_stmt *s = NULL;
    wp_strpool *pool = NULL;
    struct smap idx = {NULL, NULL, 0, 0};
    const char **names = NULL;
    size_t n = 0, cap = 0;
    int err;
    if (c->f->by == WP_ANALYTICS_ALL || !r->n)
        return 0;
    if ((err = wp_db_prepare(st, &s,
                             c->f->by == WP_ANALYTICS_UNIT
                                 ? "SELECT id, name FROM org_units WHERE tenant_id = ?"
                                 : "SELECT id, name FROM employees WHERE tenant_id = ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, c->f->tenant_id);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        const char *id = wp_db_col_text(s, 0);
        if ((err = wp_array__grow((void **)&names, &cap, n, sizeof *names)) < 0 ||
            (err = wp_strpool__dup(&pool, &names[n], wp_db_col_text(s, 1))) < 0 ||
            (err = smap_put(&idx, id ? id : "", n)) < 0)
            break;
        n++;
    }
    wp_db_done(s);
    if (err >= 0) {
        err = 0;
        for (size_t i = 0; i < r->n; i++) {
            size_t k = r->rows[i].group[0] ? smap_get(&idx, r->rows[i].group) : SIZE_MAX;
            r->rows[i].name = k == SIZE_MAX ? NULL : names[k];
        }
        wp_strpool__free(r->mem);
        r->mem = pool;
        pool = NULL;
    }
    wp_strpool__free(pool);
    smap_free(&idx);
    free(names);
    return err;
}

/* The last steps of every answer: merge r's rows, name their groups, and move them to *out
 * (r keeps nothing to free). */
static int result_finish(wp_store *st, const struct ctx *c, wp_analytics_result *r,
                         wp_analytics_result *out)
{
    int err;
    result_merge(r);
    if ((err = fill_names(st, c, r)) < 0)
        return err;
    *out = *r;
    r->rows = NULL;
    r->mem = NULL;
    return 0;
}

/* Steps s and adds each row: day, employee, [kind, category,] values (ncols of them). */
static int gather(struct ctx *c, struct wp_stmt *s, wp_analytics_result *r, size_t *cap,
                  int has_kind, int nvals)
{
    int err;
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        int64_t v[WP_ANALYTICS_VALUES] = {0};
        int col = 2 + (has_kind ? 2 : 0);
        for (int k = 0; k < nvals; k++)
            v[k] = wp_db_col_int64(s, col + k);
        const char *e = wp_db_col_text(s, 1), *g = group_of(c, e ? e : "");
        const char *kind = has_kind ? wp_db_col_text(s, 2) : NULL;
        const char *cat = has_kind ? wp_db_col_text(s, 3) : NULL;
        int64_t day = wp_db_col_int64(s, 0);
        char key[WP_ID_LEN + WP_ARCHIVE_WORD_MAX + WP_ARCHIVE_FIELD_MAX + 32];
        snprintf(key, sizeof key, "%lld\x1f%s\x1f%s\x1f%s", (long long)day, g, kind ? kind : "",
                 cat ? cat : "");
        size_t at = smap_get(&c->rows, key);
        if (at != SIZE_MAX) { /* rows come in pre-summed; the same key adds up here */
            for (int k = 0; k < WP_ANALYTICS_VALUES; k++)
                r->rows[at].v[k] += v[k];
            continue;
        }
        if ((err = result_add(r, cap, day, g, kind, cat, v)) < 0 ||
            (err = smap_put(&c->rows, key, r->n - 1)) < 0)
            return err;
    }
    return err;
}

/* The employee column of a grouped select: the employee itself, or '' for one total. */
static const char *emp_col(const struct ctx *c, const char *col)
{
    return c->f->by == WP_ANALYTICS_ALL ? "''" : col;
}

/* --- activity ----------------------------------------------------------------------------------
 */

static int activity_span(wp_store *st, struct ctx *c, const wp_analytics_span *sp,
                         wp_analytics_result *r, size_t *cap)
{
    struct wp_query q;
    struct wp_stmt *s = NULL;
    int64_t off_h = sp->offset_s / 3600, from_h = sp->from_us / US_PER_HOUR,
            to_h = sp->to_us / US_PER_HOUR;
    int err;

    wp_query__init(&q, SQL_MAX);
    /* the rollups: read as they are and added up in C (a GROUP BY over an hour-per-employee
     * table sorts ~200k rows for a month; the sums per key cost less) */
    if (!c->f->raw) {
        wp_query__sql(&q, "SELECT (h.hour + ?) / 24, h.employee_id, h.msgs_in, h.msgs_out, h.calls,"
                          " h.call_s FROM analytics_hourly h WHERE h.tenant_id = ? AND h.hour >= ?"
                          " AND h.hour < ?");
        wp_query__int(&q, off_h);
        wp_query__text(&q, c->f->tenant_id);
        wp_query__int(&q, from_h);
        wp_query__int(&q, to_h);
        q_scope(&q, c, "h.employee_id");
        if ((err = wp_query__prepare(&q, st, &s)) == 0)
            err = gather(c, s, r, cap, 0, 4);
        wp_db_done(s);
        s = NULL;
        wp_buf_release(&q.sql);
        if (err < 0)
            return err;
        wp_query__init(&q, SQL_MAX);
    }
    wp_query__sql(&q, "SELECT (x.hour + ?) / 24, ");
    wp_query__sql(&q, emp_col(c, "x.e"));
    wp_query__sql(&q, ", SUM(x.mi), SUM(x.mo), SUM(x.c), SUM(x.cs) FROM (");
    wp_query__int(&q, off_h);
    /* past the watermark the rid range drives: || '' and unary + keep SQLite off the ts index */
    wp_query__sql(&q, "SELECT m.ts_us / 3600000000 AS hour, m.employee_id AS e,"
                      " CASE WHEN m.direction = 'in' THEN 1 ELSE 0 END AS mi,"
                      " CASE WHEN m.direction = 'out' THEN 1 ELSE 0 END AS mo, 0 AS c, 0 AS cs"
                      " FROM messages m WHERE ");
    wp_query__sql(
        &q, c->f->raw ? "m.tenant_id = ? AND m.rid > ? AND m.ts_us >= ? AND m.ts_us < ?"
                      : "m.tenant_id || '' = ? AND m.rid > ? AND +m.ts_us >= ? AND +m.ts_us < ?");
    q_past_mark(&q, c, sp, c->msg_rid, "m.employee_id");
    /* past the watermark, calls_created drives (unary + keeps SQLite off calls_ts) */
    wp_query__sql(
        &q, " UNION ALL SELECT k.ts_us / 3600000000, k.employee_id, 0, 0, 1,"
            " COALESCE(k.duration_s, 0) FROM calls k WHERE k.tenant_id = ? AND k.created_us > ?");
    wp_query__sql(&q, c->f->raw ? " AND k.ts_us >= ? AND k.ts_us < ?"
                                : " AND +k.ts_us >= ? AND +k.ts_us < ?");
    q_past_mark(&q, c, sp, c->calls_us, "k.employee_id");
    wp_query__sql(&q, ") x GROUP BY 1, 2");
    if ((err = wp_query__prepare(&q, st, &s)) == 0)
        err = gather(c, s, r, cap, 0, 4);
    wp_db_done(s);
    wp_buf_release(&q.sql);
    return err < 0 ? err : 0;
}

/* Runs one query per span inside a snapshot, then merges. */
typedef int (*span_fn)(wp_store *st, struct ctx *c, const wp_analytics_span *sp,
                       wp_analytics_result *r, size_t *cap);

static int by_spans(wp_store *st, wp_analytics_result *out, const wp_analytics_filter *f,
                    span_fn fn)
{
    struct ctx c;
    wp_analytics_result r = {NULL, 0, NULL};
    size_t cap = 0;
    int err;
    if ((err = check_filter(&c, f)) < 0)
        return err;
    if ((err = read_begin(st, &c)) < 0)
        goto out;
    if ((err = read_watermarks(st, &c)) < 0 || (err = load_units(st, &c)) < 0)
        goto out;
    for (size_t i = 0; i < f->n_spans && err == 0; i++)
        err = fn(st, &c, &f->spans[i], &r, &cap);
    if (err < 0)
        goto out;
    err = result_finish(st, &c, &r, out);
out:
    read_end(st, &c);
    ctx_release(&c);
    wp_analytics_result_release(&r);
    return err;
}

int wp_store_analytics_activity(wp_store *st, wp_analytics_result *out,
                                const wp_analytics_filter *f)
{
    return by_spans(st, out, f, activity_span);
}

/* --- alerts ------------------------------------------------------------------------------------
 */

static int alerts_span(wp_store *st, struct ctx *c, const wp_analytics_span *sp,
                       wp_analytics_result *r, size_t *cap)
{
    struct wp_query q;
    struct wp_stmt *s = NULL;
    int64_t off_h = sp->offset_s / 3600;
    int err;

    wp_query__init(&q, SQL_MAX);
    wp_query__sql(&q, "SELECT (x.hour + ?) / 24, ");
    wp_query__sql(&q, emp_col(c, "x.e"));
    wp_query__sql(&q, ", x.kind, x.cat, SUM(x.n) FROM (");
    wp_query__int(&q, off_h);
    if (!c->f->raw) {
        wp_query__sql(
            &q, "SELECT h.hour AS hour, h.employee_id AS e, h.kind AS kind, h.category AS cat,"
                " h.n AS n FROM analytics_alerts_hourly h WHERE h.tenant_id = ? AND h.hour >= ?"
                " AND h.hour < ?");
        wp_query__text(&q, c->f->tenant_id);
        wp_query__int(&q, sp->from_us / US_PER_HOUR);
        wp_query__int(&q, sp->to_us / US_PER_HOUR);
        q_scope(&q, c, "h.employee_id");
        wp_query__sql(&q, " UNION ALL ");
    }
    wp_query__sql(&q, "SELECT a.ts_us / 3600000000 AS hour, a.employee_id AS e, a.kind AS kind,"
                      " COALESCE(a.category, '') AS cat, 1 AS n FROM alerts a WHERE a.tenant_id = ?"
                      " AND a.created_us > ?");
    wp_query__sql(&q, c->f->raw ? " AND a.ts_us >= ? AND a.ts_us < ?"
                                : " AND +a.ts_us >= ? AND +a.ts_us < ?");
    q_past_mark(&q, c, sp, c->alerts_us, "a.employee_id");
    wp_query__sql(&q, ") x");
    if (!wp_scope__all(&c->sc)) /* insider alerts: admins, auditors */
        wp_query__sql(&q, " WHERE x.kind NOT IN ('mass_unmask', 'mass_export')");
    wp_query__sql(&q, " GROUP BY 1, 2, 3, 4");
    if ((err = wp_query__prepare(&q, st, &s)) == 0)
        err = gather(c, s, r, cap, 1, 1);
    wp_db_done(s);
    wp_buf_release(&q.sql);
    return err < 0 ? err : 0;
}

int wp_store_analytics_alerts(wp_store *st, wp_analytics_result *out, const wp_analytics_filter *f)
{
    return by_spans(st, out, f, alerts_span);
}

/* --- the reply walk ----------------------------------------------------------------------------
 */

/* Messages of one-to-one customer chats, in the order they were stored. */
#define WALK_COLUMNS "m.rid, m.employee_id, m.chat, m.ts_us, m.direction"
#define WALK_WHERE                                                                                 \
    " AND m.direction IS NOT NULL AND m.chat IS NOT NULL AND m.group_id IS NULL"                   \
    " AND m.customer_id IS NOT NULL"

struct walk_row {
    int64_t rid, ts_us;
    int in; /* 1 in, 0 out */
    char employee_id[WP_ID_LEN + 1];
    char *chat;
};

/* Where a turn or a reply is counted: by the job, an hour bucket of an employee; by a query,
 * a group, if the turn began in the range. */
struct walk_sink {
    int (*turn)(void *arg, const char *employee_id, int64_t start_us);
    int (*reply)(void *arg, const char *employee_id, int64_t start_us, int64_t reply_s);
    void *arg;
};

struct chats {
    const wp_workcal *cal; /* whose working hours a reply time counts */
    struct smap idx;       /* "employee\x1fchat" -> slot */
    int64_t *open;   /* open_since_us per slot; 0: no open turn */
    int *dirty;
    char **keys;
    size_t n, cap;
};

static void chats_free(struct chats *ch)
{
    smap_free(&ch->idx);
    for (size_t i = 0; i < ch->n; i++)
        free(ch->keys[i]);
    free(ch->keys);
    free(ch->open);
    free(ch->dirty);
    memset(ch, 0, sizeof *ch);
}

/* The slot of a chat, its state read from analytics_chats on first sight (load != 0). */
static int chat_slot(wp_store *st, struct chats *ch, const char *tenant_id,
                     const struct walk_row *w, int load, size_t *out)
{
    char key[WP_ID_LEN + 2 + WP_ARCHIVE_FIELD_MAX + 1];
    int err;
    snprintf(key, sizeof key, "%s\x1f%s", w->employee_id, w->chat);
    size_t i = smap_get(&ch->idx, key);
    if (i != SIZE_MAX) {
        *out = i;
        return 0;
    }
    if (ch->n == ch->cap) {
        size_t nc = ch->cap ? ch->cap * 2 : 256;
        int64_t *o = realloc(ch->open, nc * sizeof *o);
        if (o)
            ch->open = o;
        int *d = realloc(ch->dirty, nc * sizeof *d);
        if (d)
            ch->dirty = d;
        char **k = realloc(ch->keys, nc * sizeof *k);
        if (k)
            ch->keys = k;
        if (!o || !d || !k)
            return wp_error_set(WP_ENOMEM, "out of memory");
        ch->cap = nc;
    }
    int64_t open = 0;
    if (load) {
        struct wp_stmt *s = NULL;
        if ((err = wp_db_prepare(st, &s,
                                 "SELECT open_since_us FROM analytics_chats WHERE tenant_id = ?"
                                 " AND employee_id = ? AND chat = ?")) < 0)
            return err;
        wp_db_bind_text(s, 1, tenant_id);
        wp_db_bind_text(s, 2, w->employee_id);
        wp_db_bind_text(s, 3, w->chat);
        if ((err = wp_db_step(s)) == WP_DB_ROW)
            open = wp_db_col_int64(s, 0);
        wp_db_done(s);
        if (err < 0)
            return err;
    }
    if (!(ch->keys[ch->n] = strdup(key)))
        return wp_error_set(WP_ENOMEM, "out of memory");
    ch->open[ch->n] = open;
    ch->dirty[ch->n] = 0;
    if ((err = smap_put(&ch->idx, key, ch->n)) < 0) {
        free(ch->keys[ch->n]);
        return err;
    }
    *out = ch->n++;
    return 0;
}

static void walk_rows_free(struct walk_row *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].chat);
    free(v);
}

/* Read the walk's rows with rid in (after, upto] (upto < 0: no bound), at most limit. */
static int walk_read(wp_store *st, struct ctx *c, const char *tenant_id, int64_t after,
                     int64_t upto, unsigned limit, struct walk_row **out, size_t *n)
{
    struct wp_query q;
    struct wp_stmt *s = NULL;
    struct walk_row *v = NULL;
    size_t cap = 0, k = 0;
    int err;

    wp_query__init(&q, SQL_MAX);
    wp_query__sql(&q, "SELECT " WALK_COLUMNS
                      " FROM messages m WHERE m.tenant_id || '' = ? AND m.rid > ?");
    wp_query__text(&q, tenant_id);
    wp_query__int(&q, after);
    if (upto >= 0) {
        wp_query__sql(&q, " AND m.rid <= ?");
        wp_query__int(&q, upto);
    }
    wp_query__sql(&q, WALK_WHERE);
    if (c)
        q_scope(&q, c, "m.employee_id");
    wp_query__sql(&q, " ORDER BY m.rid LIMIT ?");
    wp_query__int(&q, limit);
    if ((err = wp_query__prepare(&q, st, &s)) < 0)
        goto out;
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if ((err = wp_array__grow((void **)&v, &cap, k, sizeof *v)) < 0)
            break;
        struct walk_row *w = &v[k];
        memset(w, 0, sizeof *w);
        w->rid = wp_db_col_int64(s, 0);
        w->ts_us = wp_db_col_int64(s, 3);
        const char *d = wp_db_col_text(s, 4), *chat = wp_db_col_text(s, 2);
        w->in = d && !strcmp(d, "in");
        if ((err = wp_db_col_copy(s, 1, w->employee_id, sizeof w->employee_id)) < 0)
            break;
        if (!(w->chat = strdup(chat ? chat : ""))) {
            err = wp_error_set(WP_ENOMEM, "out of memory");
            break;
        }
        k++;
    }
    if (err >= 0)
        err = 0;
out:
    wp_db_done(s);
    wp_buf_release(&q.sql);
    if (err < 0) {
        walk_rows_free(v, k);
        return err;
    }
    *out = v;
    *n = k;
    return 0;
}

/* The turn machine over rows in rid order. */
static int walk_apply(wp_store *st, struct chats *ch, const char *tenant_id, int load,
                      const struct walk_row *v, size_t n, struct walk_sink *sink)
{
    int err;
    for (size_t i = 0; i < n; i++) {
        size_t slot;
        if ((err = chat_slot(st, ch, tenant_id, &v[i], load, &slot)) < 0)
            return err;
        int64_t *open = &ch->open[slot];
        if (v[i].in) {
            if (*open == 0) {
                /* a turn begins; ts 0 would read as "none", so it counts from 1 us */
                *open = v[i].ts_us > 0 ? v[i].ts_us : 1;
                ch->dirty[slot] = 1;
                if ((err = sink->turn(sink->arg, v[i].employee_id, *open)) < 0)
                    return err;
            }
        } else if (*open != 0) {
            /* the working time between the turn and its reply, by the employee's hours */
            int64_t d = wp_workcal_between_us(
                ch->cal, wp_workcal_of(ch->cal, v[i].employee_id, NULL), *open, v[i].ts_us);
            if ((err = sink->reply(sink->arg, v[i].employee_id, *open, d / 1000000)) < 0)
                return err;
            *open = 0;
            ch->dirty[slot] = 1;
        }
    }
    return 0;
}

/* --- reply times: the query ----------------------------------------------------------------------
 */

struct rgroup {
    int64_t turns, replies;
    int64_t *hist;
};

struct rquery {
    struct ctx *c;
    struct smap idx;
    struct rgroup *g;
    char (*names)[WP_ID_LEN + 1];
    size_t n, cap;
    int64_t from_us, to_us;
};

static void rquery_free(struct rquery *q)
{
    for (size_t i = 0; i < q->n; i++)
        free(q->g[i].hist);
    free(q->g);
    free(q->names);
    smap_free(&q->idx);
}

static int rgroup_of(struct rquery *q, const char *name, struct rgroup **out)
{
    size_t i = smap_get(&q->idx, name);
    int err;
    if (i == SIZE_MAX) {
        if (q->n == q->cap) {
            size_t nc = q->cap ? q->cap * 2 : 16;
            struct rgroup *g = realloc(q->g, nc * sizeof *g);
            if (g)
                q->g = g;
            char(*nm)[WP_ID_LEN + 1] = realloc(q->names, nc * sizeof *nm);
            if (nm)
                q->names = nm;
            if (!g || !nm)
                return wp_error_set(WP_ENOMEM, "out of memory");
            q->cap = nc;
        }
        memset(&q->g[q->n], 0, sizeof q->g[q->n]);
        if (!(q->g[q->n].hist = calloc(WP_ANALYTICS_BINS, sizeof *q->g[q->n].hist)))
            return wp_error_set(WP_ENOMEM, "out of memory");
        snprintf(q->names[q->n], sizeof q->names[q->n], "%s", name);
        if ((err = smap_put(&q->idx, name, q->n)) < 0) {
            free(q->g[q->n].hist);
            return err;
        }
        i = q->n++;
    }
    *out = &q->g[i];
    return 0;
}

static int rq_turn(void *arg, const char *employee_id, int64_t start_us)
{
    struct rquery *q = arg;
    struct rgroup *g;
    int err;
    if (start_us < q->from_us || start_us >= q->to_us)
        return 0;
    if ((err = rgroup_of(q, group_of(q->c, employee_id), &g)) < 0)
        return err;
    g->turns++;
    return 0;
}

static int rq_reply(void *arg, const char *employee_id, int64_t start_us, int64_t reply_s)
{
    struct rquery *q = arg;
    struct rgroup *g;
    int err;
    if (start_us < q->from_us || start_us >= q->to_us)
        return 0;
    if ((err = rgroup_of(q, group_of(q->c, employee_id), &g)) < 0)
        return err;
    g->replies++;
    g->hist[wp_analytics_bin(reply_s)]++;
    return 0;
}

int wp_store_analytics_replies(wp_store *st, wp_analytics_result *out, const wp_analytics_filter *f)
{
    struct ctx c;
    struct rquery q;
    struct chats ch;
    wp_analytics_result r = {NULL, 0, NULL};
    struct wp_stmt *s = NULL;
    struct wp_query sq;
    wp_workcal *cal = NULL;
    size_t cap = 0;
    int err;

    memset(&q, 0, sizeof q);
    memset(&ch, 0, sizeof ch);
    wp_query__init(&sq, SQL_MAX);
    if ((err = check_filter(&c, f)) < 0)
        return err;
    q.c = &c;
    q.from_us = c.from_us;
    q.to_us = c.to_us;
    if ((err = read_begin(st, &c)) < 0 || (err = read_watermarks(st, &c)) < 0 ||
        (err = load_units(st, &c)) < 0 || (err = wp_workcal_load(&cal, st, f->tenant_id)) < 0)
        goto out;
    ch.cal = cal;
    if (!f->raw) {
        wp_query__sql(
            &sq, "SELECT h.employee_id, h.turns, h.replies, h.reply_hist FROM analytics_hourly h"
                 " WHERE h.tenant_id = ? AND h.hour >= ? AND h.hour < ? AND h.turns > 0");
        wp_query__text(&sq, f->tenant_id);
        wp_query__int(&sq, c.from_us / US_PER_HOUR);
        wp_query__int(&sq, c.to_us / US_PER_HOUR);
        q_scope(&sq, &c, "h.employee_id");
        if ((err = wp_query__prepare(&sq, st, &s)) < 0)
            goto out;
        while ((err = wp_db_step(s)) == WP_DB_ROW) {
            struct rgroup *g;
            const char *e = wp_db_col_text(s, 0);
            if ((err = rgroup_of(&q, group_of(&c, e ? e : ""), &g)) < 0 ||
                (err = hist_parse_add(g->hist, wp_db_col_text(s, 3))) < 0)
                goto out;
            g->turns += wp_db_col_int64(s, 1);
            g->replies += wp_db_col_int64(s, 2);
        }
        if (err < 0)
            goto out;
        wp_db_done(s);
        s = NULL;
    }
    /* the rows past the watermark, from the chats' state at the watermark (raw: from none) */
    struct walk_sink sink = {rq_turn, rq_reply, &q};
    for (int64_t after = c.msg_rid;;) {
        struct walk_row *v = NULL;
        size_t n = 0;
        if ((err = walk_read(st, &c, f->tenant_id, after, -1, WALK_PAGE, &v, &n)) < 0)
            goto out;
        err = walk_apply(st, &ch, f->tenant_id, !f->raw, v, n, &sink);
        if (n)
            after = v[n - 1].rid;
        walk_rows_free(v, n);
        if (err < 0)
            goto out;
        if (n < WALK_PAGE)
            break;
    }
    /* a total first when grouped */
    struct rgroup total = {0, 0, NULL};
    if (f->by != WP_ANALYTICS_ALL) {
        if (!(total.hist = calloc(WP_ANALYTICS_BINS, sizeof *total.hist))) {
            err = wp_error_set(WP_ENOMEM, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < q.n; i++) {
            total.turns += q.g[i].turns;
            total.replies += q.g[i].replies;
            for (int b = 0; b < WP_ANALYTICS_BINS; b++)
                total.hist[b] += q.g[i].hist[b];
        }
        int64_t v[WP_ANALYTICS_VALUES] = {total.turns, total.replies, hist_percentile(total.hist, total.replies, 50),
                        hist_percentile(total.hist, total.replies, 90)};
        err = result_add(&r, &cap, 0, "", NULL, NULL, v);
        free(total.hist);
        if (err < 0)
            goto out;
    }
    for (size_t i = 0; i < q.n; i++) {
        if (f->by != WP_ANALYTICS_ALL && !q.names[i][0])
            continue; /* an employee without a unit cannot happen; keep the total unique */
        int64_t v[WP_ANALYTICS_VALUES] = {q.g[i].turns, q.g[i].replies,
                        hist_percentile(q.g[i].hist, q.g[i].replies, 50),
                        hist_percentile(q.g[i].hist, q.g[i].replies, 90)};
        if ((err = result_add(&r, &cap, 0, q.names[i], NULL, NULL, v)) < 0)
            goto out;
    }
    if (f->by == WP_ANALYTICS_ALL && r.n == 0) {
        int64_t v[WP_ANALYTICS_VALUES] = {0, 0, -1, -1};
        if ((err = result_add(&r, &cap, 0, "", NULL, NULL, v)) < 0)
            goto out;
    }
    if (r.n > 1)
        qsort(r.rows, r.n, sizeof *r.rows, row_cmp);
    if ((err = fill_names(st, &c, &r)) < 0)
        goto out;
    *out = r;
    r.rows = NULL;
    r.mem = NULL;
    err = 0;
out:
    wp_db_done(s);
    wp_buf_release(&sq.sql);
    read_end(st, &c);
    chats_free(&ch);
    wp_workcal_free(cal);
    rquery_free(&q);
    ctx_release(&c);
    wp_analytics_result_release(&r);
    return err;
}

/* --- customers: funnel and conversion -----------------------------------------------------------
 */

int wp_store_analytics_funnel(wp_store *st, wp_analytics_result *out, const wp_analytics_filter *f)
{
    struct ctx c;
    struct wp_query q;
    struct wp_stmt *s = NULL;
    wp_analytics_result r = {NULL, 0, NULL};
    size_t cap = 0;
    int err;

    wp_query__init(&q, SQL_MAX);
    if ((err = check_filter(&c, f)) < 0)
        return err;
    if ((err = load_units(st, &c)) < 0)
        goto out;
    wp_query__sql(&q, "SELECT 0, ");
    wp_query__sql(&q, emp_col(&c, "c.owner_employee_id"));
    wp_query__sql(&q, ", COALESCE(c.stage, 'lead'), '', COUNT(*),"
                      " CAST(COALESCE(SUM(c.deal_amount_fen), 0) AS BIGINT) FROM customers c"
                      " WHERE c.tenant_id = ? AND c.in_pool = 0");
    wp_query__text(&q, f->tenant_id);
    q_scope(&q, &c, "c.owner_employee_id");
    wp_query__sql(&q, " GROUP BY 2, 3");
    if ((err = wp_query__prepare(&q, st, &s)) < 0 || (err = gather(&c, s, &r, &cap, 1, 2)) < 0)
        goto out;
    err = result_finish(st, &c, &r, out);
out:
    wp_db_done(s);
    wp_buf_release(&q.sql);
    ctx_release(&c);
    wp_analytics_result_release(&r);
    return err;
}

int wp_store_analytics_conversion(wp_store *st, wp_analytics_result *out,
                                  const wp_analytics_filter *f)
{
    struct ctx c;
    struct wp_query q;
    struct wp_stmt *s = NULL;
    wp_analytics_result r = {NULL, 0, NULL};
    size_t cap = 0;
    int err;

    wp_query__init(&q, SQL_MAX);
    if ((err = check_filter(&c, f)) < 0)
        return err;
    if ((err = read_begin(st, &c)) < 0 || (err = load_units(st, &c)) < 0)
        goto out;
    /* the cohort created in the range, and the deals closed in it */
    wp_query__sql(&q, "SELECT 0, ");
    wp_query__sql(&q, emp_col(&c, "x.e"));
    wp_query__sql(&q, ", SUM(x.n), SUM(x.deal), SUM(x.lost), SUM(x.won),"
                      " CAST(SUM(x.amount) AS BIGINT) FROM ("
                      "SELECT c.owner_employee_id AS e, 1 AS n,"
                      " CASE WHEN c.stage = 'deal' THEN 1 ELSE 0 END AS deal,"
                      " CASE WHEN c.stage = 'lost' THEN 1 ELSE 0 END AS lost, 0 AS won,"
                      " CAST(0 AS BIGINT) AS amount"
                      " FROM customers c WHERE c.tenant_id = ? AND c.in_pool = 0");
    wp_query__text(&q, f->tenant_id);
    wp_query__sql(&q, " AND c.created_us >= ? AND c.created_us < ?");
    wp_query__int(&q, c.from_us);
    wp_query__int(&q, c.to_us);
    q_scope(&q, &c, "c.owner_employee_id");
    wp_query__sql(&q, " UNION ALL SELECT d.owner_employee_id, 0, 0, 0, 1,"
                      " COALESCE(d.deal_amount_fen, 0) FROM customers d"
                      " WHERE d.tenant_id = ? AND d.in_pool = 0 AND d.stage = 'deal'"
                      " AND d.stage_us >= ? AND d.stage_us < ?");
    wp_query__text(&q, f->tenant_id);
    wp_query__int(&q, c.from_us);
    wp_query__int(&q, c.to_us);
    q_scope(&q, &c, "d.owner_employee_id");
    wp_query__sql(&q, ") x GROUP BY 2");
    if ((err = wp_query__prepare(&q, st, &s)) < 0 || (err = gather(&c, s, &r, &cap, 0, 5)) < 0)
        goto out;
    err = result_finish(st, &c, &r, out);
out:
    wp_db_done(s);
    wp_buf_release(&q.sql);
    read_end(st, &c);
    ctx_release(&c);
    wp_analytics_result_release(&r);
    return err;
}

/* --- the rollup job ------------------------------------------------------------------------------
 */

/* Deltas of one hour bucket of one employee, gathered by a chunk's walk. */
struct bucket {
    char employee_id[WP_ID_LEN + 1];
    int64_t hour, turns, replies;
    int64_t *hist; /* NULL until a reply lands */
};

struct job {
    struct smap idx; /* "employee\x1fhour" -> bucket */
    struct bucket *b;
    size_t n, cap;
};

static void job_reset(struct job *j)
{
    for (size_t i = 0; i < j->n; i++)
        free(j->b[i].hist);
    free(j->b);
    smap_free(&j->idx);
    memset(j, 0, sizeof *j);
}

static int job_bucket(struct job *j, const char *employee_id, int64_t start_us, struct bucket **out)
{
    char key[WP_ID_LEN + 32];
    int64_t hour = start_us / US_PER_HOUR;
    int err;
    snprintf(key, sizeof key, "%s\x1f%lld", employee_id, (long long)hour);
    size_t i = smap_get(&j->idx, key);
    if (i == SIZE_MAX) {
        if ((err = wp_array__grow((void **)&j->b, &j->cap, j->n, sizeof *j->b)) < 0)
            return err;
        memset(&j->b[j->n], 0, sizeof j->b[j->n]);
        snprintf(j->b[j->n].employee_id, sizeof j->b[j->n].employee_id, "%s", employee_id);
        j->b[j->n].hour = hour;
        if ((err = smap_put(&j->idx, key, j->n)) < 0)
            return err;
        i = j->n++;
    }
    *out = &j->b[i];
    return 0;
}

static int job_turn(void *arg, const char *employee_id, int64_t start_us)
{
    struct bucket *b;
    int err;
    if ((err = job_bucket(arg, employee_id, start_us, &b)) < 0)
        return err;
    b->turns++;
    return 0;
}

static int job_reply(void *arg, const char *employee_id, int64_t start_us, int64_t reply_s)
{
    struct bucket *b;
    int err;
    if ((err = job_bucket(arg, employee_id, start_us, &b)) < 0)
        return err;
    if (!b->hist && !(b->hist = calloc(WP_ANALYTICS_BINS, sizeof *b->hist)))
        return wp_error_set(WP_ENOMEM, "out of memory");
    b->replies++;
    b->hist[wp_analytics_bin(reply_s)]++;
    return 0;
}

static int job_begin(wp_store *st)
{
    return st->ops->begin(st);
}

static int job_end(wp_store *st, int err)
{
    if (err < 0) {
        wp_db_exec(st, "ROLLBACK");
        return err;
    }
    if ((err = wp_db_exec(st, "COMMIT")) < 0)
        wp_db_exec(st, "ROLLBACK");
    return err;
}

static int exec1(wp_store *st, const char *sql, const char *t, int64_t a, int64_t b)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_db_prepare(st, &s, sql)) < 0)
        return err;
    wp_db_bind_text(s, 1, t);
    wp_db_bind_int64(s, 2, a);
    wp_db_bind_int64(s, 3, b);
    err = wp_db_step(s);
    wp_db_done(s);
    return err < 0 ? err : 0;
}

struct wstate {
    int64_t msg_rid, pending_rid, pending_xid, calls_us, alerts_us;
};

/* Inside the job's transaction: the tenant's watermark row, locked on PostgreSQL. */
static int state_lock(wp_store *st, const char *tenant_id, struct wstate *w)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err =
             wp_db_prepare(st, &s,
                           "INSERT INTO analytics_state (tenant_id, msg_rid, pending_rid,"
                           " pending_xid, calls_us, alerts_us, run_us) VALUES (?, 0, 0, 0, 0, 0, 0)"
                           " ON CONFLICT (tenant_id) DO NOTHING")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    err = wp_db_step(s);
    wp_db_done(s);
    if (err < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             wp_store_backend(st) == WP_STORE_PG
                                 ? "SELECT msg_rid, pending_rid, pending_xid, calls_us, alerts_us"
                                   " FROM analytics_state WHERE tenant_id = ? FOR UPDATE"
                                 : "SELECT msg_rid, pending_rid, pending_xid, calls_us, alerts_us"
                                   " FROM analytics_state WHERE tenant_id = ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    if ((err = wp_db_step(s)) == WP_DB_ROW) {
        w->msg_rid = wp_db_col_int64(s, 0);
        w->pending_rid = wp_db_col_int64(s, 1);
        w->pending_xid = wp_db_col_int64(s, 2);
        w->calls_us = wp_db_col_int64(s, 3);
        w->alerts_us = wp_db_col_int64(s, 4);
        err = 0;
    } else if (err == WP_DB_DONE) {
        err = wp_error_set(WP_EIO, "analytics: no watermark row");
    }
    wp_db_done(s);
    return err;
}

static int state_save(wp_store *st, const char *tenant_id, const struct wstate *w, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_db_prepare(st, &s,
                             "UPDATE analytics_state SET msg_rid = ?, pending_rid = ?,"
                             " pending_xid = ?, calls_us = ?, alerts_us = ?, run_us = ?"
                             " WHERE tenant_id = ?")) < 0)
        return err;
    wp_db_bind_int64(s, 1, w->msg_rid);
    wp_db_bind_int64(s, 2, w->pending_rid);
    wp_db_bind_int64(s, 3, w->pending_xid);
    wp_db_bind_int64(s, 4, w->calls_us);
    wp_db_bind_int64(s, 5, w->alerts_us);
    wp_db_bind_int64(s, 6, now_us);
    wp_db_bind_text(s, 7, tenant_id);
    err = wp_db_step(s);
    wp_db_done(s);
    return err < 0 ? err : 0;
}

/* The highest rid the job may fold in. SQLite has one writer at a time and hands out rids in
 * commit order, so every row up to the newest is there. On PostgreSQL a row with a smaller rid
 * can still commit after a larger one: the newest rid seen by a run (with its snapshot's xmax)
 * becomes safe once every transaction then running has ended (xmin has passed that xmax).
 * That holds because the writer updates the device row before it takes rids (ops_events.c),
 * so each inserting transaction has its xid before its rows have their rids. */
static int safe_rid(wp_store *st, const char *tenant_id, int64_t now_us, int64_t *out)
{
    struct wp_stmt *s = NULL;
    struct wstate w;
    int err;
    if (wp_store_backend(st) == WP_STORE_SQLITE) {
        if ((err = wp_db_prepare(st, &s, "SELECT COALESCE(MAX(rid), 0) FROM messages")) < 0)
            return err;
        if ((err = wp_db_step(s)) == WP_DB_ROW) {
            *out = wp_db_col_int64(s, 0);
            err = 0;
        }
        wp_db_done(s);
        return err < 0 ? err : 0;
    }
    for (int pass = 0; pass < 2; pass++) {
        int64_t xmin = 0, xmax = 0, top = 0, again = 0;
        if ((err = job_begin(st)) < 0)
            return err;
        if ((err = state_lock(st, tenant_id, &w)) == 0 &&
            (err = wp_db_prepare(st, &s,
                                 "SELECT CAST(CAST(pg_snapshot_xmin(pg_current_snapshot()) AS"
                                 " text) AS bigint), CAST(CAST(pg_snapshot_xmax("
                                 "pg_current_snapshot()) AS text) AS bigint), COALESCE((SELECT"
                                 " MAX(rid) FROM messages WHERE tenant_id = ?), 0)")) == 0) {
            wp_db_bind_text(s, 1, tenant_id);
            if ((err = wp_db_step(s)) == WP_DB_ROW) {
                xmin = wp_db_col_int64(s, 0);
                xmax = wp_db_col_int64(s, 1);
                top = wp_db_col_int64(s, 2);
                err = 0;
            }
            wp_db_done(s);
        }
        *out = w.msg_rid;
        if (err == 0) {
            if (w.pending_xid && xmin >= w.pending_xid) {
                *out = w.pending_rid; /* every writer of those rows has ended */
                w.pending_rid = top;
                w.pending_xid = xmax;
            } else if (!w.pending_xid) {
                w.pending_rid = top;
                w.pending_xid = xmax;
                again = pass == 0; /* look once more: an idle store is safe at once */
            }
            err = state_save(st, tenant_id, &w, now_us);
        }
        if ((err = job_end(st, err)) < 0 || !again)
            return err;
    }
    return 0;
}

/* Fold messages (after, upto] of one tenant: counts, then the reply walk. */
static int fold_messages(wp_store *st, const char *tenant_id, int64_t after, int64_t upto)
{
    struct walk_row *v = NULL;
    struct chats ch;
    struct job j;
    struct walk_sink sink;
    struct wp_stmt *s = NULL;
    wp_buf hb;
    wp_workcal *cal = NULL;
    int64_t *h = NULL;
    size_t n = 0;
    int err;

    memset(&ch, 0, sizeof ch);
    memset(&j, 0, sizeof j);
    wp_buf_init(&hb, HIST_TEXT_MAX);
    if ((err =
             exec1(st,
                   "INSERT INTO analytics_hourly (tenant_id, hour, employee_id, msgs_in, msgs_out)"
                   " SELECT m.tenant_id, m.ts_us / 3600000000, m.employee_id,"
                   " SUM(CASE WHEN m.direction = 'in' THEN 1 ELSE 0 END),"
                   " SUM(CASE WHEN m.direction = 'out' THEN 1 ELSE 0 END)"
                   " FROM messages m WHERE m.tenant_id || '' = ? AND m.rid > ? AND m.rid <= ?"
                   " GROUP BY m.tenant_id, m.ts_us / 3600000000, m.employee_id"
                   " ON CONFLICT (tenant_id, hour, employee_id) DO UPDATE SET"
                   " msgs_in = analytics_hourly.msgs_in + excluded.msgs_in,"
                   " msgs_out = analytics_hourly.msgs_out + excluded.msgs_out",
                   tenant_id, after, upto)) < 0)
        goto out;
    if ((err = walk_read(st, NULL, tenant_id, after, upto, CHUNK + 1, &v, &n)) < 0 ||
        (err = wp_workcal_load(&cal, st, tenant_id)) < 0)
        goto out;
    ch.cal = cal;
    sink = (struct walk_sink){job_turn, job_reply, &j};
    if ((err = walk_apply(st, &ch, tenant_id, 1, v, n, &sink)) < 0)
        goto out;
    if (!(h = malloc(WP_ANALYTICS_BINS * sizeof *h))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < j.n; i++) {
        struct bucket *b = &j.b[i];
        memset(h, 0, WP_ANALYTICS_BINS * sizeof *h);
        if (b->hist) {
            if ((err = wp_db_prepare(st, &s,
                                     "SELECT reply_hist FROM analytics_hourly WHERE tenant_id = ?"
                                     " AND hour = ? AND employee_id = ?")) < 0)
                goto out;
            wp_db_bind_text(s, 1, tenant_id);
            wp_db_bind_int64(s, 2, b->hour);
            wp_db_bind_text(s, 3, b->employee_id);
            if ((err = wp_db_step(s)) == WP_DB_ROW)
                err = hist_parse_add(h, wp_db_col_text(s, 0));
            wp_db_done(s);
            s = NULL;
            if (err < 0)
                goto out;
            for (int k = 0; k < WP_ANALYTICS_BINS; k++)
                h[k] += b->hist[k];
        }
        if ((err = hist_format(&hb, h)) < 0 ||
            (err =
                 wp_db_prepare(st, &s,
                               "INSERT INTO analytics_hourly (tenant_id, hour, employee_id, turns,"
                               " replies, reply_hist) VALUES (?, ?, ?, ?, ?, ?)"
                               " ON CONFLICT (tenant_id, hour, employee_id) DO UPDATE SET"
                               " turns = analytics_hourly.turns + excluded.turns,"
                               " replies = analytics_hourly.replies + excluded.replies,"
                               " reply_hist = CASE WHEN ? = 1 THEN excluded.reply_hist"
                               " ELSE analytics_hourly.reply_hist END")) < 0)
            goto out;
        wp_db_bind_text(s, 1, tenant_id);
        wp_db_bind_int64(s, 2, b->hour);
        wp_db_bind_text(s, 3, b->employee_id);
        wp_db_bind_int64(s, 4, b->turns);
        wp_db_bind_int64(s, 5, b->replies);
        wp_db_bind_text(s, 6, hb.buf);
        wp_db_bind_int64(s, 7, b->hist ? 1 : 0);
        err = wp_db_step(s);
        wp_db_done(s);
        s = NULL;
        if (err < 0)
            goto out;
    }
    for (size_t i = 0; i < ch.n; i++) {
        if (!ch.dirty[i])
            continue;
        const char *sep = strchr(ch.keys[i], '\x1f');
        char emp[WP_ID_LEN + 1];
        snprintf(emp, sizeof emp, "%.*s", (int)(sep - ch.keys[i]), ch.keys[i]);
        if ((err = wp_db_prepare(st, &s,
                                 "INSERT INTO analytics_chats (tenant_id, employee_id, chat,"
                                 " open_since_us) VALUES (?, ?, ?, ?) ON CONFLICT (tenant_id,"
                                 " employee_id, chat) DO UPDATE SET open_since_us ="
                                 " excluded.open_since_us")) < 0)
            goto out;
        wp_db_bind_text(s, 1, tenant_id);
        wp_db_bind_text(s, 2, emp);
        wp_db_bind_text(s, 3, sep + 1);
        wp_db_bind_int64(s, 4, ch.open[i]);
        err = wp_db_step(s);
        wp_db_done(s);
        s = NULL;
        if (err < 0)
            goto out;
    }
    err = 0;
out:
    free(h);
    wp_buf_release(&hb);
    walk_rows_free(v, n);
    chats_free(&ch);
    wp_workcal_free(cal);
    job_reset(&j);
    return err;
}

/* The rid that ends a chunk of at most CHUNK messages after after (upto when fewer). */
static int chunk_end(wp_store *st, const char *tenant_id, int64_t after, int64_t upto, int64_t *out,
                     int64_t *rows)
{
    struct wp_stmt *s = NULL;
    int err;
    *out = upto;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT MAX(x.rid), COUNT(*) FROM (SELECT m.rid FROM messages m"
                             " WHERE m.tenant_id || '' = ? AND m.rid > ? AND m.rid <= ?"
                             " ORDER BY m.rid LIMIT ?) x")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_int64(s, 2, after);
    wp_db_bind_int64(s, 3, upto);
    wp_db_bind_int64(s, 4, CHUNK);
    if ((err = wp_db_step(s)) == WP_DB_ROW) {
        *rows = wp_db_col_int64(s, 1);
        if (*rows == CHUNK)
            *out = wp_db_col_int64(s, 0);
        err = 0;
    }
    wp_db_done(s);
    return err < 0 ? err : 0;
}

static int count_since(wp_store *st, const char *sql, const char *tenant_id, int64_t a, int64_t b,
                       int64_t *out)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_db_prepare(st, &s, sql)) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_int64(s, 2, a);
    wp_db_bind_int64(s, 3, b);
    if ((err = wp_db_step(s)) == WP_DB_ROW) {
        *out += wp_db_col_int64(s, 0);
        err = 0;
    }
    wp_db_done(s);
    return err < 0 ? err : 0;
}

/* Calls and alerts stored in (watermark, now - lag]. */
static int fold_calls_alerts(wp_store *st, const char *tenant_id, int64_t now_us,
                             wp_analytics_rollup_result *res)
{
    struct wstate w;
    int64_t upto = now_us - (int64_t)WP_ANALYTICS_LAG_S * 1000000;
    int err;
    if ((err = job_begin(st)) < 0)
        return err;
    if ((err = state_lock(st, tenant_id, &w)) < 0)
        goto out;
    if (upto > w.calls_us) {
        if ((err = count_since(st,
                               "SELECT COUNT(*) FROM calls WHERE tenant_id = ? AND created_us > ?"
                               " AND created_us <= ?",
                               tenant_id, w.calls_us, upto, &res->calls)) < 0 ||
            (err = exec1(st,
                         "INSERT INTO analytics_hourly (tenant_id, hour, employee_id, calls,"
                         " call_s) SELECT k.tenant_id, k.ts_us / 3600000000, k.employee_id,"
                         " COUNT(*), SUM(COALESCE(k.duration_s, 0)) FROM calls k"
                         " WHERE k.tenant_id = ? AND k.created_us > ? AND k.created_us <= ?"
                         " GROUP BY k.tenant_id, k.ts_us / 3600000000, k.employee_id"
                         " ON CONFLICT (tenant_id, hour, employee_id) DO UPDATE SET"
                         " calls = analytics_hourly.calls + excluded.calls,"
                         " call_s = analytics_hourly.call_s + excluded.call_s",
                         tenant_id, w.calls_us, upto)) < 0)
            goto out;
        w.calls_us = upto;
    }
    if (upto > w.alerts_us) {
        if ((err = count_since(st,
                               "SELECT COUNT(*) FROM alerts WHERE tenant_id = ? AND created_us > ?"
                               " AND created_us <= ?",
                               tenant_id, w.alerts_us, upto, &res->alerts)) < 0 ||
            (err = exec1(st,
                         "INSERT INTO analytics_alerts_hourly (tenant_id, hour, employee_id,"
                         " kind, category, n) SELECT a.tenant_id, a.ts_us / 3600000000,"
                         " a.employee_id, a.kind, COALESCE(a.category, ''), COUNT(*)"
                         " FROM alerts a WHERE a.tenant_id = ? AND a.created_us > ?"
                         " AND a.created_us <= ? GROUP BY a.tenant_id, a.ts_us / 3600000000,"
                         " a.employee_id, a.kind, COALESCE(a.category, '')"
                         " ON CONFLICT (tenant_id, hour, employee_id, kind, category) DO UPDATE"
                         " SET n = analytics_alerts_hourly.n + excluded.n",
                         tenant_id, w.alerts_us, upto)) < 0)
            goto out;
        w.alerts_us = upto;
    }
    if ((err = state_save(st, tenant_id, &w, now_us)) == 0)
        wp_test_hooks_job_step(); /* a test may kill the process before the commit */
out:
    return job_end(st, err);
}

static int rollup_tenant(wp_store *st, const char *tenant_id, int64_t now_us, int64_t max_rows,
                         wp_analytics_rollup_result *res)
{
    int64_t upto = 0;
    int err;
    if ((err = fold_calls_alerts(st, tenant_id, now_us, res)) < 0 ||
        (err = safe_rid(st, tenant_id, now_us, &upto)) < 0)
        return err;
    for (;;) {
        struct wstate w;
        int64_t end = 0, rows = 0;
        if (max_rows && res->messages >= max_rows) {
            res->more = 1;
            return 0;
        }
        if ((err = job_begin(st)) < 0)
            return err;
        if ((err = state_lock(st, tenant_id, &w)) < 0 || w.msg_rid >= upto)
            return job_end(st, err); /* an error, or nothing left below the safe point */
        if ((err = chunk_end(st, tenant_id, w.msg_rid, upto, &end, &rows)) == 0 &&
            (err = fold_messages(st, tenant_id, w.msg_rid, end)) == 0) {
            w.msg_rid = end;
            if ((err = state_save(st, tenant_id, &w, now_us)) == 0)
                wp_test_hooks_job_step();
        }
        if ((err = job_end(st, err)) < 0)
            return err;
        res->messages += rows;
    }
}

int wp_store_analytics_rollup(wp_store *st, wp_analytics_rollup_result *out, int64_t now_us,
                              int64_t max_rows)
{
    char(*ids)[WP_ID_LEN + 1] = NULL;
    size_t n = 0;
    int err;

    memset(out, 0, sizeof *out);
    if (st->in_tx)
        return wp_error_set(WP_EINVAL, "analytics: the rollup runs its own transactions");
    if ((err = wp_store__tenant_ids(st, &ids, &n)) < 0)
        return err;
    for (size_t i = 0; i < n && err >= 0; i++)
        err = rollup_tenant(st, ids[i], now_us, max_rows, out);
    free(ids);
    return err < 0 ? err : 0;
}

int wp_store__stored_us(wp_store *st, const char *tenant_id, int64_t now_us, int64_t *out)
{
    struct wp_stmt *s = NULL;
    int err;
    *out = now_us;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT calls_us, alerts_us FROM analytics_state WHERE tenant_id = ?")) <
        0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    if ((err = wp_db_step(s)) == WP_DB_ROW) {
        for (int col = 0; col < 2; col++) {
            int64_t mark = wp_db_col_int64(s, col);
            if (mark >= *out)
                *out = mark + 1;
        }
        err = 0;
    }
    wp_db_done(s);
    return err < 0 ? err : 0;
}
