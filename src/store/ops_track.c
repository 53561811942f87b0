/* SPDX-License-Identifier: MIT */
/* Tracks (issue 18): read one employee's points through the locations_employee index
 * (migration 0026), then clean, find stops, sum distance, simplify (src/util/geo.c). */
#include "store/db.h"
#include "store/internal.h"
#include "store/store.h"
#include "store/track.h"
#include "store/workhours.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

#define DAY_US (WP_TZ_DAY_S * 1000000LL)

void wp_track_release(wp_track *t)
{
    if (!t)
        return;
    free(t->points);
    free(t->stops);
    free(t->days);
    memset(t, 0, sizeof *t);
}

static int64_t local_day(const wp_tz *zone, int64_t us)
{
    int64_t s = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
    return wp_tz_day(zone, s);
}

int wp_track_build(wp_track *out, wp_geo_point *p, size_t n, int64_t from_us, int64_t to_us,
                   const wp_tz *zone, const wp_field_settings *fs)
{
    wp_geo_clean_options co = {(double)fs->track_accuracy_m, WP_TRACK_SPEED_MPS};
    int64_t stop_us = (int64_t)fs->track_stop_minutes * 60 * 1000000;
    unsigned char *keep = NULL, *in_stop = NULL;
    int err = 0;

    memset(out, 0, sizeof *out);
    out->points = p;
    out->n_read = n;
    n = out->n_clean = wp_geo_clean(p, n, &co);

    /* every local day the range touches, from_us's to (to_us - 1)'s */
    int64_t d0 = local_day(zone, from_us), d1 = local_day(zone, to_us - 1);
    out->n_days = (size_t)(d1 - d0 + 1);
    if (!(out->days = calloc(out->n_days, sizeof *out->days)))
        goto nomem;
    for (size_t i = 0; i < out->n_days; i++)
        out->days[i].day = d0 + (int64_t)i;

    size_t ns = wp_geo_stops(NULL, 0, p, n, WP_TRACK_STOP_RADIUS_M, stop_us);
    if (ns && !(out->stops = calloc(ns, sizeof *out->stops)))
        goto nomem;
    out->n_stops = wp_geo_stops(out->stops, ns, p, n, WP_TRACK_STOP_RADIUS_M, stop_us);

    /* distance: every step but those within one stop, on the day of the step's end */
    if (n && (!(keep = calloc(n, 1)) || !(in_stop = calloc(n, 1))))
        goto nomem;
    for (size_t s = 0; s < out->n_stops; s++) {
        keep[out->stops[s].first] = keep[out->stops[s].last] = 1;
        for (size_t i = out->stops[s].first + 1; i <= out->stops[s].last; i++)
            in_stop[i] = 1; /* the step into i stays within the stop */
    }
    for (size_t i = 1; i < n; i++) {
        if (in_stop[i])
            continue;
        double d = wp_geo_distance_m(p[i - 1].lat, p[i - 1].lon, p[i].lat, p[i].lon);
        out->distance_m += d;
        int64_t day = local_day(zone, p[i].ts_us) - d0;
        if (day >= 0 && (size_t)day < out->n_days)
            out->days[day].distance_m += d;
    }

    /* the line shown: a stop is its first and last points (its marker says the rest: noise
     * within it draws no zigzag), the rest Douglas-Peucker with those ends kept */
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        if (!in_stop[i] || keep[i]) {
            keep[w] = keep[i];
            p[w++] = p[i];
        }
    n = w;
    if (n && !wp_geo_simplify(keep, p, n, WP_TRACK_SIMPLIFY_M))
        goto nomem;
    w = 0;
    for (size_t i = 0; i < n; i++)
        if (keep[i])
            p[w++] = p[i];
    out->n_points = w;
    goto out;
nomem:
    err = wp_error_set(WP_ENOMEM, "out of memory");
out:
    free(keep);
    free(in_stop);
    return err;
}

/* *cal: the tenant's calendar when its locations_off_duty is "drop" (the default, also without
 * a policy row), else NULL (keep: every point is answered). Free with wp_workcal_free(). */
static int off_duty_calendar(wp_store *st, wp_workcal **cal, const char *tenant_id)
{
    struct wp_stmt *s = NULL;
    int keep = 0, err;
    *cal = NULL;
    if ((err = wp_db_prepare(
             st, &s, "SELECT locations_off_duty FROM tenant_policy WHERE tenant_id = ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    if ((err = wp_db_step(s)) == WP_DB_ROW)
        keep = wp_db_col_text(s, 0) && !strcmp(wp_db_col_text(s, 0), "keep");
    wp_db_done(s);
    if (err < 0 || keep)
        return err < 0 ? err : 0;
    return wp_workcal_load(cal, st, tenant_id);
}

/* Under the tenant's locations_off_duty "drop", the points outside the employee's working
 * hours are left out: those stored under "keep" before a change are never answered. *kept
 * gets how many of the n remain, in order. */
static int off_duty_filter(wp_store *st, wp_geo_point *p, size_t n, size_t *kept,
                           const char *tenant_id, const char *employee_id)
{
    wp_workcal *cal = NULL;
    int err;
    *kept = n;
    if (n == 0 || (err = off_duty_calendar(st, &cal, tenant_id)) < 0 || !cal)
        return n == 0 ? 0 : err;
    const wp_workhours *h = wp_workcal_of(cal, employee_id, NULL);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (wp_workcal_contains(cal, h, p[i].ts_us))
            p[k++] = p[i];
    *kept = k;
    wp_workcal_free(cal);
    return 0;
}

int wp_store_track_get(wp_store *st, wp_track *out, const char *tenant_id, const char *employee_id,
                       int64_t from_us, int64_t to_us, const wp_tz *zone)
{
    struct wp_stmt *s = NULL;
    wp_geo_point *p = NULL;
    wp_field_settings fs;
    size_t n = 0, cap = 0;
    int err;

    memset(out, 0, sizeof *out);
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("employee", employee_id)) < 0)
        return err;
    if (to_us <= from_us)
        return wp_error_set(WP_EINVAL, "'to' must be after 'from'");
    if (to_us - from_us > WP_TRACK_DAYS_MAX * DAY_US)
        return wp_error_set(WP_EINVAL, "a track spans at most %d days", WP_TRACK_DAYS_MAX);
    if ((err = wp_store_field_settings_get(st, &fs, tenant_id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT ts_us, lat_e7, lon_e7, accuracy_cm FROM locations"
                             " WHERE tenant_id = ? AND employee_id = ? AND ts_us >= ?"
                             " AND ts_us < ? ORDER BY ts_us, device_id, seq")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, employee_id);
    wp_db_bind_int64(s, 3, from_us);
    wp_db_bind_int64(s, 4, to_us);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if (n == WP_TRACK_POINTS_MAX) {
            err = wp_error_set(WP_ELIMIT, "more than %d points in the range: ask for a shorter one",
                               WP_TRACK_POINTS_MAX);
            break;
        }
        if (n == cap && (err = wp_array__grow((void **)&p, &cap, n, sizeof *p)) < 0)
            break;
        p[n].ts_us = wp_db_col_int64(s, 0);
        p[n].lat = (double)wp_db_col_int64(s, 1) / 1e7;
        p[n].lon = (double)wp_db_col_int64(s, 2) / 1e7;
        p[n].accuracy_m = wp_db_col_isnull(s, 3) ? -1 : (double)wp_db_col_int64(s, 3) / 100.0;
        n++;
    }
    wp_db_done(s);
    if (err < 0 || (err = off_duty_filter(st, p, n, &n, tenant_id, employee_id)) < 0) {
        free(p);
        return err;
    }
    return wp_track_build(out, p, n, from_us, to_us, zone, &fs);
}

/* Under "drop", a newest point outside the employee's working hours (stored under "keep"
 * before a change) gives way to the newest of the range within them, read newest first from
 * the locations_employee index; an employee with none is left out. v[*k] keeps its order. */
static int latest_on_duty(wp_store *st, wp_latest_position *v, size_t *k, const char *tenant_id,
                          int64_t from_us)
{
    wp_workcal *cal = NULL;
    struct wp_stmt *s = NULL;
    size_t w = 0;
    int err;
    if ((err = off_duty_calendar(st, &cal, tenant_id)) < 0 || !cal)
        return err;
    for (size_t i = 0; i < *k && err >= 0; i++) {
        wp_latest_position *p = &v[i];
        const wp_workhours *h = wp_workcal_of(cal, p->employee_id, NULL);
        int found = wp_workcal_contains(cal, h, p->ts_us);
        if (!found) {
            if ((err = wp_db_prepare(st, &s,
                                     "SELECT ts_us, lat_e7, lon_e7, accuracy_cm FROM locations"
                                     " WHERE tenant_id = ? AND employee_id = ? AND ts_us >= ?"
                                     " AND ts_us < ? ORDER BY ts_us DESC, device_id DESC,"
                                     " seq DESC")) < 0)
                break;
            wp_db_bind_text(s, 1, tenant_id);
            wp_db_bind_text(s, 2, p->employee_id);
            wp_db_bind_int64(s, 3, from_us);
            wp_db_bind_int64(s, 4, p->ts_us); /* the newest is outside */
            while ((err = wp_db_step(s)) == WP_DB_ROW) {
                int64_t ts = wp_db_col_int64(s, 0);
                if (!wp_workcal_contains(cal, h, ts))
                    continue;
                p->ts_us = ts;
                p->lat = (double)wp_db_col_int64(s, 1) / 1e7;
                p->lon = (double)wp_db_col_int64(s, 2) / 1e7;
                p->accuracy_m =
                    wp_db_col_isnull(s, 3) ? -1 : (double)wp_db_col_int64(s, 3) / 100.0;
                found = 1;
                break;
            }
            wp_db_done(s);
        }
        if (err >= 0 && found && w++ != i)
            v[w - 1] = *p;
    }
    wp_workcal_free(cal);
    *k = w;
    return err < 0 ? err : 0;
}

/* Each employee's newest row through locations_employee: one index probe per employee in
 * scope. Ties on ts_us go to the highest (device_id, seq), as the track orders them. */
int wp_store_locations_latest(wp_store *st, wp_latest_position **out, size_t *n,
                              const char *tenant_id, const wp_scope *scope, const char *org_path,
                              int64_t from_us, int64_t to_us)
{
    struct wp_stmt *s = NULL;
    struct wp_scope_bind sc;
    wp_latest_position *v = NULL;
    char flo[1024], fhi[1024];
    size_t cap = 0, k = 0;
    int err;

    *out = NULL;
    *n = 0;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_scope__check(&sc, tenant_id, scope)) < 0 ||
        (org_path && (err = wp_scope__range(flo, fhi, org_path)) < 0))
        return err;
    if (to_us <= from_us)
        return wp_error_set(WP_EINVAL, "'to' must be after 'from'");
    if ((err = wp_db_prepare(
             st, &s,
             "SELECT e.id, e.org_unit_id, e.name, l.ts_us, l.lat_e7, l.lon_e7, l.accuracy_cm"
             " FROM employees e JOIN org_units o ON o.tenant_id = e.tenant_id"
             " AND o.id = e.org_unit_id JOIN locations l ON l.tenant_id = e.tenant_id"
             " AND l.id = (SELECT x.id FROM locations x WHERE x.tenant_id = e.tenant_id"
             " AND x.employee_id = e.id AND x.ts_us >= ? AND x.ts_us < ?"
             " ORDER BY x.ts_us DESC, x.device_id DESC, x.seq DESC LIMIT 1)"
             " WHERE e.tenant_id = ?"
             " AND (CAST(? AS TEXT) IS NULL OR (o.path >= ? AND o.path < ?))"
             " AND (CAST(? AS TEXT) IS NULL OR e.id = ?)"
             " AND (CAST(? AS TEXT) IS NULL OR (o.path >= ? AND o.path < ?))"
             " ORDER BY e.name, e.id LIMIT ?")) < 0)
        return err;
    int i = 1;
    const char *sp = sc.org_path ? sc.lo : NULL, *org = org_path ? flo : NULL;
    wp_db_bind_int64(s, i++, from_us);
    wp_db_bind_int64(s, i++, to_us);
    wp_db_bind_text(s, i++, tenant_id);
    wp_db_bind_text_or_null(s, i++, sp);
    wp_db_bind_text_or_null(s, i++, sp);
    wp_db_bind_text_or_null(s, i++, sp ? sc.hi : NULL);
    wp_db_bind_text_or_null(s, i++, sc.employee_id);
    wp_db_bind_text_or_null(s, i++, sc.employee_id);
    wp_db_bind_text_or_null(s, i++, org);
    wp_db_bind_text_or_null(s, i++, org);
    wp_db_bind_text_or_null(s, i++, org ? fhi : NULL);
    wp_db_bind_int64(s, i++, WP_LATEST_MAX + 1);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if (k == WP_LATEST_MAX) {
            err = wp_error_set(WP_ELIMIT, "more than %d employees: ask for one org unit",
                               WP_LATEST_MAX);
            break;
        }
        if ((err = wp_array__grow((void **)&v, &cap, k, sizeof *v)) < 0)
            break;
        wp_latest_position *p = &v[k];
        memset(p, 0, sizeof *p);
        if ((err = wp_db_col_copy(s, 0, p->employee_id, sizeof p->employee_id)) < 0 ||
            (err = wp_db_col_copy(s, 1, p->org_unit_id, sizeof p->org_unit_id)) < 0 ||
            (err = wp_db_col_copy(s, 2, p->name, sizeof p->name)) < 0)
            break;
        p->ts_us = wp_db_col_int64(s, 3);
        p->lat = (double)wp_db_col_int64(s, 4) / 1e7;
        p->lon = (double)wp_db_col_int64(s, 5) / 1e7;
        p->accuracy_m = wp_db_col_isnull(s, 6) ? -1 : (double)wp_db_col_int64(s, 6) / 100.0;
        k++;
    }
    wp_db_done(s);
    if (err >= 0 && k && (err = latest_on_duty(st, v, &k, tenant_id, from_us)) < 0)
        k = 0;
    if (err < 0) {
        free(v);
        return err;
    }
    *out = v;
    *n = k;
    return 0;
}
