/* SPDX-License-Identifier: MIT */
/* GET /api/v1/analytics/...: the dashboard's numbers, scoped like every list, over local days
 * of any range (?from=&to=&tz=), from the store's rollups (docs/internals/analytics.md). */
#include "api/analytics_int.h"
#include "api/api.h"
#include "store/analytics.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/tz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_S 86400LL
#define US 1000000LL
#define DEFAULT_DAYS 30
#define DEFAULT_TZ "+08:00"

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static void day_text(char out[16], int64_t day)
{
    char ts[40];
    wp_time_format(ts, day * DAY_S * US, 0);
    snprintf(out, 16, "%.10s", ts);
}

/* --- the request: range, spans, scope -----------------------------------------------------------
 */

struct req {
    api_analytics_range range;
    wp_analytics_filter f;
    api_scope scope;
};

static int add_span(api_analytics_range *r, int64_t from_s, int64_t to_s, int64_t day)
{
    int64_t off = day * DAY_S - from_s; /* maps from_s to the day's first second */
    if (off % 3600)
        return wp_error_set(WP_EINVAL,
                            "'tz' has an offset that is not whole hours: days cannot be counted"
                            " from hourly rollups");
    wp_analytics_span *last = r->n_spans ? &r->spans[r->n_spans - 1] : NULL;
    if (last && last->offset_s == off && last->to_us == from_s * US) {
        last->to_us = to_s * US;
        return 0;
    }
    if (r->n_spans == WP_ANALYTICS_SPANS_MAX)
        return wp_error_set(WP_EINVAL, "the range has too many offset changes");
    r->spans[r->n_spans++] = (wp_analytics_span){from_s * US, to_s * US, (int)off};
    return 0;
}

static int parse_by(const wp_http_ctx *ctx, enum wp_analytics_by dflt, enum wp_analytics_by *out)
{
    const char *by = wp_http_query(ctx, "by");
    *out = dflt;
    if (!by || !*by)
        return 0;
    if (!strcmp(by, "employee"))
        *out = WP_ANALYTICS_EMPLOYEE;
    else if (!strcmp(by, "unit"))
        *out = WP_ANALYTICS_UNIT;
    else if (!strcmp(by, "none"))
        *out = WP_ANALYTICS_ALL;
    else
        return wp_error_set(WP_EINVAL, "'by' must be employee, unit or none");
    return 0;
}

int api_analytics__range(api_analytics_range *r, const char *from, const char *to, const char *tz,
                         int64_t now_us)
{
    int64_t from_us = 0, to_us = 0;
    int err;
    memset(r, 0, sizeof *r);
    r->tz = tz && *tz ? tz : DEFAULT_TZ;
    if (from && *from && wp_time_parse(&from_us, from) < 0)
        return wp_error_set(WP_EINVAL,
                            "'from' is not an RFC 3339 time (2026-11-22T10:00:00+08:00)");
    if (to && *to && wp_time_parse(&to_us, to) < 0)
        return wp_error_set(WP_EINVAL, "'to' is not an RFC 3339 time (2026-11-22T10:00:00+08:00)");
    if ((err = wp_tz_load(&r->z, r->tz, "'tz'")) < 0)
        return err;
    int64_t to_s = floor_div(to_us ? to_us : now_us, US);
    int64_t to_day = wp_tz_day(&r->z, to_s);
    r->end_day = to_us && wp_tz_local(&r->z, to_day, 0) == to_s ? to_day : to_day + 1;
    r->first_day = from_us ? wp_tz_day(&r->z, floor_div(from_us, US)) : r->end_day - DEFAULT_DAYS;
    if (r->first_day >= r->end_day)
        return wp_error_set(WP_EINVAL, "'from' must be before 'to'");
    if (r->end_day - r->first_day > WP_ANALYTICS_RANGE_MAX_DAYS)
        return wp_error_set(WP_EINVAL, "the range is longer than %d days",
                            WP_ANALYTICS_RANGE_MAX_DAYS);
    if (wp_tz_local(&r->z, r->first_day, 0) < 0)
        return wp_error_set(WP_EINVAL, "'from' is before 1970");
    for (int64_t d = r->first_day; d < r->end_day; d++) {
        int64_t a = wp_tz_local(&r->z, d, 0), b = wp_tz_local(&r->z, d + 1, 0);
        if (b - a <= DAY_S) {
            err = add_span(r, a, b, d);
        } else { /* a long day: its hours past 24 map back onto it */
            if ((err = add_span(r, a, a + DAY_S, d)) == 0)
                err = add_span(r, a + DAY_S, b, d);
        }
        if (err < 0)
            return err;
    }
    return 0;
}

/* ?from= ?to= ?tz=: local days, from the day of from to the day that ends at to (or holds
 * it); by default the 30 days that end with today. */
static int parse_range(wp_http_ctx *ctx, struct req *r)
{
    int err = api_analytics__range(&r->range, wp_http_query(ctx, "from"), wp_http_query(ctx, "to"),
                                   wp_http_query(ctx, "tz"), wp_time_now_us());
    r->f.spans = r->range.spans;
    r->f.n_spans = r->range.n_spans;
    return err;
}

static int req_init(wp_http_ctx *ctx, struct req *r, enum wp_analytics_by dflt_by)
{
    const api_caller *c = api_caller_of(ctx);
    int err;
    memset(r, 0, sizeof *r);
    r->f.tenant_id = c->tenant_id;
    if ((err = parse_by(ctx, dflt_by, &r->f.by)) < 0 || (err = parse_range(ctx, r)) < 0)
        return err;
    return 0;
}

/* After api_scope_for(): the filter takes the caller's scope. */
static void req_scope(struct req *r)
{
    r->f.scope = &r->scope.store;
}

/* The reply's head: the range as asked for days. */
static json_t *head_json(const struct req *r)
{
    char a[40], b[40];
    int64_t from_s = wp_tz_local(&r->range.z, r->range.first_day, 0),
            to_s = wp_tz_local(&r->range.z, r->range.end_day, 0);
    wp_time_format(a, from_s * US, wp_tz_offset(&r->range.z, from_s) / 60);
    wp_time_format(b, to_s * US, wp_tz_offset(&r->range.z, to_s) / 60);
    const char *by = r->f.by == WP_ANALYTICS_EMPLOYEE ? "employee"
                     : r->f.by == WP_ANALYTICS_UNIT   ? "unit"
                                                      : NULL;
    return json_pack("{s:s,s:s,s:s,s:o}", "from", a, "to", b, "tz", r->range.tz, "by",
                     by ? json_string(by) : json_null());
}

static json_t *days_json(const struct req *r)
{
    json_t *a = json_array();
    for (int64_t d = r->range.first_day; a && d < r->range.end_day; d++) {
        char t[16];
        day_text(t, d);
        if (json_array_append_new(a, json_string(t)) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* Set the group's members on o: employee_id or unit_id, and name. */
static int set_group(json_t *o, const struct req *r, const wp_analytics_row *row)
{
    if (r->f.by == WP_ANALYTICS_ALL)
        return 0;
    return json_object_set_new(o, r->f.by == WP_ANALYTICS_UNIT ? "unit_id" : "employee_id",
                               api_jstr(row->group, 1)) |
           json_object_set_new(o, "name", api_jstr(row->name, 0));
}

/* it (taken over; NULL: a failed allocation) with its group, appended to items; -1 when out of
 * memory (it released). */
static int add_item(json_t *items, json_t *it, const struct req *r, const wp_analytics_row *row)
{
    if (!it || set_group(it, r, row)) {
        json_decref(it);
        return -1;
    }
    return json_array_append_new(items, it);
}

typedef int (*query_fn)(wp_store *st, wp_analytics_result *out, const wp_analytics_filter *f);

/* Puts one endpoint's numbers on the reply: members of o after the head, and items; -1 when
 * out of memory. */
typedef int (*build_fn)(const struct req *r, const wp_analytics_result *res, json_t *o,
                        json_t *items);

/* What every endpoint does around its own numbers: parse the request, run query over the
 * caller's scope, then reply 200 with the head, what build adds, and "items" last. */
static int serve(wp_http_ctx *ctx, enum wp_analytics_by dflt_by, query_fn query, build_fn build)
{
    struct req r;
    wp_store *st = NULL;
    wp_analytics_result res = {NULL, 0, NULL};
    json_t *items = NULL, *o = NULL;
    int err;
    if ((err = req_init(ctx, &r, dflt_by)) < 0 || (err = api_store_acquire(ctx, &st)) < 0)
        goto out;
    if ((err = api_scope_for(ctx, st, &r.scope)) == 0) {
        req_scope(&r);
        err = query(st, &res, &r.f);
    }
    api_store_release(ctx, st);
    if (err < 0)
        goto out;
    if (!(items = json_array()) || !(o = head_json(&r)) || build(&r, &res, o, items) < 0)
        goto oom;
    err = json_object_set_new(o, "items", items);
    items = NULL; /* taken, even when that failed */
    if (err < 0)
        goto oom;
    err = wp_http_reply_json(ctx, 200, o);
    o = NULL;
    goto out;
oom:
    err = wp_error_set(WP_ENOMEM, "out of memory");
out:
    json_decref(items);
    json_decref(o);
    wp_tz_release(&r.range.z);
    wp_analytics_result_release(&res);
    return err;
}

/* --- the handlers ------------------------------------------------------------------------------
 */

/* one item a day when not grouped (days without anything are zeros) */
static int build_activity(const struct req *r, const wp_analytics_result *res, json_t *o,
                          json_t *items)
{
    size_t k = 0;
    for (int64_t d = r->range.first_day; d < r->range.end_day; d++) {
        int any = 0;
        for (; k < res->n && res->rows[k].day < d; k++) {
        }
        for (; k < res->n && res->rows[k].day == d; k++) {
            const wp_analytics_row *w = &res->rows[k];
            char t[16];
            day_text(t, d);
            json_t *it =
                json_pack("{s:s,s:I,s:I,s:I,s:I}", "day", t, "messages_in", (json_int_t)w->v[0],
                          "messages_out", (json_int_t)w->v[1], "calls", (json_int_t)w->v[2],
                          "call_seconds", (json_int_t)w->v[3]);
            if (add_item(items, it, r, w) < 0)
                return -1;
            any = 1;
        }
        if (!any && r->f.by == WP_ANALYTICS_ALL) {
            char t[16];
            day_text(t, d);
            if (json_array_append_new(items, json_pack("{s:s,s:i,s:i,s:i,s:i}", "day", t,
                                                       "messages_in", 0, "messages_out", 0, "calls",
                                                       0, "call_seconds", 0)) < 0)
                return -1;
        }
    }
    return json_object_set_new(o, "days", days_json(r));
}

int api_analytics_activity(wp_http_ctx *ctx)
{
    return serve(ctx, WP_ANALYTICS_ALL, wp_store_analytics_activity, build_activity);
}

static json_t *replies_json(const wp_analytics_row *w)
{
    return json_pack("{s:I,s:I,s:I,s:o,s:o}", "turns", (json_int_t)w->v[0], "answered",
                     (json_int_t)w->v[1], "unanswered", (json_int_t)(w->v[0] - w->v[1]), "median_s",
                     w->v[2] < 0 ? json_null() : json_integer(w->v[2]), "p90_s",
                     w->v[3] < 0 ? json_null() : json_integer(w->v[3]));
}

static int build_replies(const struct req *r, const wp_analytics_result *res, json_t *o,
                         json_t *items)
{
    for (size_t i = 0; i < res->n; i++) {
        json_t *it = replies_json(&res->rows[i]);
        if (!res->rows[i].group[0]) { /* the total comes first */
            if (!it || json_object_set_new(o, "total", it) < 0)
                return -1;
            continue;
        }
        if (add_item(items, it, r, &res->rows[i]) < 0)
            return -1;
    }
    return 0;
}

int api_analytics_response_times(wp_http_ctx *ctx)
{
    return serve(ctx, WP_ANALYTICS_EMPLOYEE, wp_store_analytics_replies, build_replies);
}

static int build_alerts(const struct req *r, const wp_analytics_result *res, json_t *o,
                        json_t *items)
{
    for (size_t i = 0; i < res->n; i++) {
        const wp_analytics_row *w = &res->rows[i];
        char t[16];
        day_text(t, w->day);
        json_t *it = json_pack("{s:s,s:s,s:o,s:I}", "day", t, "kind", w->kind, "category",
                               api_jstr(w->category, 1), "count", (json_int_t)w->v[0]);
        if (add_item(items, it, r, w) < 0)
            return -1;
    }
    return json_object_set_new(o, "days", days_json(r));
}

int api_analytics_alerts(wp_http_ctx *ctx)
{
    return serve(ctx, WP_ANALYTICS_ALL, wp_store_analytics_alerts, build_alerts);
}

static const char *const stages[] = {"lead", "contacted", "intent", "deal", "lost"};
#define N_STAGES (sizeof stages / sizeof stages[0])

static int stage_index(const char *s)
{
    for (size_t i = 0; i < N_STAGES; i++)
        if (!strcmp(s, stages[i]))
            return (int)i;
    return -1;
}

/* [{"stage", "count", "reached", "amount_fen"}] from counts and deal amounts per stage;
 * reached: at that stage or past it on the way to a deal (lost is its own end); amount_fen:
 * the deal amounts of the customers at that stage. */
static json_t *stages_json(const int64_t n[N_STAGES], const int64_t amount[N_STAGES])
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < N_STAGES; i++) {
        int64_t reached = n[i];
        if (i < 3)
            for (size_t k = i + 1; k < 4; k++)
                reached += n[k];
        if (json_array_append_new(a, json_pack("{s:s,s:I,s:I,s:I}", "stage", stages[i], "count",
                                               (json_int_t)n[i], "reached", (json_int_t)reached,
                                               "amount_fen", (json_int_t)amount[i])) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static int build_funnel(const struct req *r, const wp_analytics_result *res, json_t *o,
                        json_t *items)
{
    int64_t total[N_STAGES] = {0}, total_amount[N_STAGES] = {0};
    /* rows come by group, then stage; stages not in the list (set outside the API) are left out */
    for (size_t i = 0; i < res->n;) {
        int64_t n[N_STAGES] = {0}, amount[N_STAGES] = {0};
        size_t k = i;
        for (; k < res->n && !strcmp(res->rows[k].group, res->rows[i].group); k++) {
            int s = stage_index(res->rows[k].kind);
            if (s >= 0) {
                n[s] += res->rows[k].v[0];
                total[s] += res->rows[k].v[0];
                amount[s] += res->rows[k].v[1];
                total_amount[s] += res->rows[k].v[1];
            }
        }
        if (r->f.by != WP_ANALYTICS_ALL) {
            json_t *it = json_pack("{s:o}", "stages", stages_json(n, amount));
            if (add_item(items, it, r, &res->rows[i]) < 0)
                return -1;
        }
        i = k;
    }
    return json_object_set_new(o, "stages", stages_json(total, total_amount));
}

int api_analytics_funnel(wp_http_ctx *ctx)
{
    return serve(ctx, WP_ANALYTICS_ALL, wp_store_analytics_funnel, build_funnel);
}

static json_t *conversion_json(const int64_t v[WP_ANALYTICS_VALUES])
{
    json_t *rate = v[0] ? json_real((double)(v[1] * 10000 / v[0]) / 10000.0) : json_null();
    return json_pack("{s:I,s:I,s:I,s:o,s:I,s:I}", "customers", (json_int_t)v[0], "deals",
                     (json_int_t)v[1], "lost", (json_int_t)v[2], "rate", rate, "deals_closed",
                     (json_int_t)v[3], "deals_closed_amount_fen", (json_int_t)v[4]);
}

static int build_conversion(const struct req *r, const wp_analytics_result *res, json_t *o,
                            json_t *items)
{
    int64_t total[WP_ANALYTICS_VALUES] = {0};
    for (size_t i = 0; i < res->n; i++) {
        for (int k = 0; k < WP_ANALYTICS_VALUES; k++)
            total[k] += res->rows[i].v[k];
        if (r->f.by == WP_ANALYTICS_ALL)
            continue;
        json_t *it = conversion_json(res->rows[i].v);
        if (add_item(items, it, r, &res->rows[i]) < 0)
            return -1;
    }
    return json_object_set_new(o, "total", conversion_json(total));
}

int api_analytics_conversion(wp_http_ctx *ctx)
{
    return serve(ctx, WP_ANALYTICS_UNIT, wp_store_analytics_conversion, build_conversion);
}
