/* SPDX-License-Identifier: MIT */
/* A tenant's field-staff thresholds (issue 18; migration 0030, ops_field.c): how tracks are
 * cleaned and cut into stops (track.h) and when a clock-in is late (checkins.h). GET/PUT
 * /api/v1/settings; docs/internals/track.md. */
#ifndef WP_STORE_FIELD_H
#define WP_STORE_FIELD_H

#include "store/store.h"

#define WP_TRACK_ACCURACY_M_DEFAULT 100 /* points less accurate than this are dropped */
#define WP_TRACK_ACCURACY_M_MIN 10
#define WP_TRACK_ACCURACY_M_MAX 1000
#define WP_TRACK_STOP_MINUTES_DEFAULT 10 /* staying this long within 100 m is a stop */
#define WP_TRACK_STOP_MINUTES_MIN 1
#define WP_TRACK_STOP_MINUTES_MAX 240
#define WP_ATTENDANCE_GRACE_DEFAULT 5 /* minutes after the shift's start a clock-in is late */
#define WP_ATTENDANCE_GRACE_MAX 120

typedef struct wp_field_settings {
    int track_accuracy_m;         /* WP_TRACK_ACCURACY_M_MIN..MAX */
    int track_stop_minutes;       /* WP_TRACK_STOP_MINUTES_MIN..MAX */
    int attendance_grace_minutes; /* 0..WP_ATTENDANCE_GRACE_MAX */
} wp_field_settings;

#define WP_FIELD_SETTINGS_INIT                                                                     \
    {WP_TRACK_ACCURACY_M_DEFAULT, WP_TRACK_STOP_MINUTES_DEFAULT, WP_ATTENDANCE_GRACE_DEFAULT}

/* The tenant's thresholds; the defaults when none were set. */
int wp_store_field_settings_get(wp_store *st, wp_field_settings *out, const char *tenant_id);

/* Store all three; WP_EINVAL naming the setting for a value out of its range. */
int wp_store_field_settings_put(wp_store *st, const char *tenant_id, const wp_field_settings *v);

#endif
