/* SPDX-License-Identifier: MIT */
/* A tenant's field-staff thresholds (migration 0030; field.h). */
#include "store/field.h"
#include "store/db.h"
#include "store/internal.h"
#include "util/clock.h"
#include "util/error.h"

int wp_store_field_settings_get(wp_store *st, wp_field_settings *out, const char *tenant_id)
{
    struct wp_stmt *s = NULL;
    wp_field_settings v = WP_FIELD_SETTINGS_INIT;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT track_accuracy_m, track_stop_minutes, attendance_grace_minutes"
                             " FROM field_settings WHERE tenant_id = ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    if ((err = wp_db_step(s)) == WP_DB_ROW) {
        v.track_accuracy_m = (int)wp_db_col_int64(s, 0);
        v.track_stop_minutes = (int)wp_db_col_int64(s, 1);
        v.attendance_grace_minutes = (int)wp_db_col_int64(s, 2);
    }
    wp_db_done(s);
    if (err < 0)
        return err;
    *out = v;
    return 0;
}

static int in_range(const char *name, int v, int lo, int hi)
{
    if (v < lo || v > hi)
        return wp_error_set(WP_EINVAL, "'%s' must be a whole number %d-%d", name, lo, hi);
    return 0;
}

int wp_store_field_settings_put(wp_store *st, const char *tenant_id, const wp_field_settings *v)
{
    struct wp_stmt *s = NULL;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = in_range("track_accuracy_m", v->track_accuracy_m, WP_TRACK_ACCURACY_M_MIN,
                        WP_TRACK_ACCURACY_M_MAX)) < 0 ||
        (err = in_range("track_stop_minutes", v->track_stop_minutes, WP_TRACK_STOP_MINUTES_MIN,
                        WP_TRACK_STOP_MINUTES_MAX)) < 0 ||
        (err = in_range("attendance_grace_minutes", v->attendance_grace_minutes, 0,
                        WP_ATTENDANCE_GRACE_MAX)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "INSERT INTO field_settings (tenant_id, track_accuracy_m,"
                             " track_stop_minutes, attendance_grace_minutes, updated_us)"
                             " VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant_id) DO UPDATE SET"
                             " track_accuracy_m = excluded.track_accuracy_m,"
                             " track_stop_minutes = excluded.track_stop_minutes,"
                             " attendance_grace_minutes = excluded.attendance_grace_minutes,"
                             " updated_us = excluded.updated_us")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_int64(s, 2, v->track_accuracy_m);
    wp_db_bind_int64(s, 3, v->track_stop_minutes);
    wp_db_bind_int64(s, 4, v->attendance_grace_minutes);
    wp_db_bind_int64(s, 5, wp_time_now_us());
    if ((err = wp_db_step(s)) == WP_ENOTFOUND)
        err = wp_error_set(WP_ENOTFOUND, "tenant '%s' not found", tenant_id);
    wp_db_done(s);
    return err < 0 ? err : 0;
}
