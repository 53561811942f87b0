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
#include <stdlib.h>
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

/* GET /api/v1/locations/latest?unit=: the last position today (the tenant's local day) of each
 * employee in the caller's scope, and in the subtree of unit when given; a unit outside the
 * scope is 404 as if it did not exist. Audited as a read (location.read) on the unit, or on
 * the tenant. docs/internals/track.md. */
int api_locations_latest(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    api_scope scope;
    wp_org_unit unit;
    wp_workhours_settings ws;
    wp_tz zone;
    wp_latest_position *v = NULL;
    size_t n = 0;
    const char *unit_id = NULL;
    json_t *items = NULL, *d = NULL;
    int err;

    memset(&ws, 0, sizeof ws);
    memset(&zone, 0, sizeof zone);
    if ((err = api_query_id(ctx, "unit", &unit_id)) < 0)
        return err;
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0)
        goto out;
    if (unit_id && ((err = wp_store_org_unit_get(st, &unit, c->tenant_id, unit_id)) < 0 ||
                    (err = api_scope_allows_org_unit(&scope, &unit)) < 0))
        goto out;
    if ((err = wp_store_workhours_get(st, &ws, c->tenant_id)) < 0 ||
        (err = wp_tz_load(&zone, ws.time_zone, "'time_zone'")) < 0)
        goto out;
    int64_t day = wp_tz_day(&zone, wp_time_now_us() / US);
    int64_t from = wp_tz_local(&zone, day, 0) * US, to = wp_tz_local(&zone, day + 1, 0) * US;
    if ((err = wp_store_locations_latest(st, &v, &n, c->tenant_id, &scope.store,
                                         unit_id ? unit.path : NULL, from, to)) < 0)
        goto out;
    api_store_release(ctx, st);
    st = NULL;
    if (!(items = json_array()))
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        const wp_latest_position *p = &v[i];
        json_t *acc = p->accuracy_m < 0 ? json_null() : jround(p->accuracy_m, 100);
        if (json_array_append_new(
                items, json_pack("{s:s,s:o,s:s,s:o,s:o,s:o,s:o}", "employee_id", p->employee_id,
                                 "name", api_jstr(p->name, 0), "org_unit_id", p->org_unit_id, "ts",
                                 api_jtime(p->ts_us), "lat", jround(p->lat, 1e7), "lon",
                                 jround(p->lon, 1e7), "accuracy_m", acc)) < 0)
            goto nomem;
    }
    char target[WP_ID_LEN + 16];
    snprintf(target, sizeof target, unit_id ? "org_unit:%s" : "tenant:%s",
             unit_id ? unit_id : c->tenant_id);
    if (!(d = json_pack("{s:o,s:o,s:I}", "from", api_jtime(from), "to", api_jtime(to), "employees",
                        (json_int_t)n)))
        goto nomem;
    if ((err = api_audit_read(ctx, "location.read", target, d)) < 0)
        goto out;
    err = wp_http_reply_json(ctx, 200,
                             json_pack("{s:o,s:s,s:o,s:o}", "items", items, "time_zone",
                                       ws.time_zone, "from", api_jtime(from), "to", api_jtime(to)));
    items = NULL;
    goto out;
nomem:
    err = wp_error_set(WP_ENOMEM, "out of memory");
out:
    json_decref(items);
    json_decref(d);
    api_store_release(ctx, st);
    free(v);
    wp_tz_release(&zone);
    wp_workhours_settings_release(&ws);
    return err;
}
