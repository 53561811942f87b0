/* SPDX-License-Identifier: MIT */
/* GET /api/v1/employees/{id}/track?from=&to=: one employee's track (CONTRACT §7), scoped like
 * the employee and audited as a read of personal data (track.read). docs/internals/track.md. */
#include "api/api.h"
#include "store/store.h"
#include "store/track.h"
#include "store/workhours.h"
#include "util/clock.h"
#include "util/error.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define US 1000000LL

/* Rounded for the answer to 1/per: 1e-7 degrees (the stored precision), 0.1 m, 1 cm. */
static json_t *jround(double v, double per)
{
    return json_real(round(v * per) / per);
}

static json_t *track_json(const wp_track *t, const char *id, int64_t from_us, int64_t to_us,
                          const char *zone)
{
    json_t *points = json_array(), *stops = json_array(), *days = json_array(), *o;
    int bad = !points || !stops || !days;
    for (size_t i = 0; !bad && i < t->n_points; i++) {
        const wp_geo_point *p = &t->points[i];
        json_t *acc = p->accuracy_m < 0 ? json_null() : jround(p->accuracy_m, 100);
        bad = json_array_append_new(
            points, json_pack("{s:o,s:o,s:o,s:o}", "ts", api_jtime(p->ts_us), "lat",
                              jround(p->lat, 1e7), "lon", jround(p->lon, 1e7), "accuracy_m", acc));
    }
    for (size_t i = 0; !bad && i < t->n_stops; i++) {
        const wp_geo_stop *s = &t->stops[i];
        bad = json_array_append_new(
            stops,
            json_pack("{s:o,s:o,s:o,s:o,s:I}", "from", api_jtime(s->from_us), "to",
                      api_jtime(s->to_us), "lat", jround(s->lat, 1e7), "lon", jround(s->lon, 1e7),
                      "duration_s", (json_int_t)((s->to_us - s->from_us) / US)));
    }
    for (size_t i = 0; !bad && i < t->n_days; i++) {
        char date[16];
        int64_t z = t->days[i].day + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
        int64_t doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
        int64_t dd = doy - (153 * mp + 2) / 5 + 1, mm = mp < 10 ? mp + 3 : mp - 9;
        int64_t yy = yoe + era * 400 + (mm <= 2);
        snprintf(date, sizeof date, "%04d-%02d-%02d", (int)yy, (int)mm, (int)dd);
        bad = json_array_append_new(days, json_pack("{s:s,s:o}", "date", date, "distance_m",
                                                    jround(t->days[i].distance_m, 10)));
    }
    if (bad) {
        json_decref(points);
        json_decref(stops);
        json_decref(days);
        return NULL;
    }
    o = json_pack("{s:s,s:o,s:o,s:s,s:o,s:o,s:o,s:o,s:{s:I,s:I,s:I}}", "employee_id", id, "from",
                  api_jtime(from_us), "to", api_jtime(to_us), "time_zone", zone, "points", points,
                  "stops", stops, "distance_m", jround(t->distance_m, 10), "days", days, "counts",
                  "read", (json_int_t)t->n_read, "kept", (json_int_t)t->n_clean, "shown",
                  (json_int_t)t->n_points);
    return o;
}

int api_employee_track(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    const char *id = wp_http_param(ctx, "id");
    wp_store *st = NULL;
    api_scope scope;
    wp_employee e;
    wp_workhours_settings ws;
    wp_tz zone;
    wp_track t;
    int64_t from = 0, to = 0;
    int err;

    memset(&ws, 0, sizeof ws);
    memset(&zone, 0, sizeof zone);
    memset(&t, 0, sizeof t);
    if ((err = api_query_time(ctx, "from", &from)) < 0 ||
        (err = api_query_time(ctx, "to", &to)) < 0)
        return err;
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0 ||
        (err = wp_store_employee_get(st, &e, c->tenant_id, id)) < 0 ||
        (err = api_scope_allows_employee(ctx, st, &scope, &e)) < 0 ||
        (err = wp_store_workhours_get(st, &ws, c->tenant_id)) < 0 ||
        (err = wp_tz_load(&zone, ws.time_zone, "'time_zone'")) < 0)
        goto out;
    /* default: the local day of from, or today's; to alone: its local day */
    if (!from && !to) {
        int64_t now_s = wp_time_now_us() / US;
        from = wp_tz_local(&zone, wp_tz_day(&zone, now_s), 0) * US;
    } else if (!from)
        from = wp_tz_local(&zone, wp_tz_day(&zone, (to - 1) / US), 0) * US;
    if (!to)
        to = wp_tz_local(&zone, wp_tz_day(&zone, from / US) + 1, 0) * US;
    if (to <= from) {
        err = wp_error_set(WP_EINVAL, "'to' must be after 'from'");
        goto out;
    }
    if (to - from > WP_TRACK_DAYS_MAX * WP_TZ_DAY_S * US) {
        err = wp_error_set(WP_EINVAL, "'from' to 'to' spans more than %d days", WP_TRACK_DAYS_MAX);
        goto out;
    }
    if ((err = wp_store_track_get(st, &t, c->tenant_id, id, from, to, &zone)) < 0)
        goto out;
    api_store_release(ctx, st);
    st = NULL;
    json_t *o = track_json(&t, id, from, to, ws.time_zone);
    if (!o) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    char target[WP_ID_LEN + 16];
    snprintf(target, sizeof target, "employee:%s", id);
    json_t *d = json_pack("{s:o,s:o,s:I}", "from", api_jtime(from), "to", api_jtime(to), "points",
                          (json_int_t)t.n_read);
    err =
        d ? api_audit_read(ctx, "track.read", target, d) : wp_error_set(WP_ENOMEM, "out of memory");
    json_decref(d);
    if (err < 0) {
        json_decref(o);
        goto out;
    }
    err = wp_http_reply_json(ctx, 200, o);
out:
    api_store_release(ctx, st);
    wp_track_release(&t);
    wp_tz_release(&zone);
    wp_workhours_settings_release(&ws);
    return err;
}
