/* SPDX-License-Identifier: MIT */
/* Working hours (migration 0018; ops_workhours.c): the tenant's time zone, its weekly hours and
 * per-unit overrides inherited down the org tree, and the calendar that answers "how much
 * working time lies between two instants" (reply times) and "is this instant within an
 * employee's working hours" (attendance and geofence schedules). docs/internals/analytics.md,
 * "Working hours". */
#ifndef WP_STORE_WORKHOURS_H
#define WP_STORE_WORKHOURS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "util/id.h"
#include "util/tz.h"

#define WP_WORKHOURS_ZONE_DEFAULT "Asia/Shanghai"
#define WP_WORKHOURS_DAYS_DEFAULT 0x1f   /* Monday to Friday */
#define WP_WORKHOURS_FROM_DEFAULT (9 * 60)
#define WP_WORKHOURS_TO_DEFAULT (18 * 60)
#define WP_WORKHOURS_DAYS_MAX 3660 /* days one span is counted over (ten years) */

/* One weekly schedule: on the days set, from from_min to to_min (minutes after local
 * midnight, to_min up to 24 * 60); to_min <= from_min is a shift that ends the next day (the
 * day it starts on is the one that must be set). */
typedef struct wp_workhours {
    unsigned days; /* bit (d - 1) for ISO weekday d: 1 Monday .. 7 Sunday */
    int from_min, to_min;
} wp_workhours;

/* WP_EINVAL naming field unless days < 128, 0 <= from < 1440, 0 < to <= 1440, from != to. */
int wp_workhours_check(const wp_workhours *h, const char *field);

/* A unit's own schedule. */
typedef struct wp_workhours_unit {
    char org_unit_id[WP_ID_LEN + 1];
    wp_workhours hours;
    int64_t updated_us;
} wp_workhours_unit;

/* What a tenant set (and the defaults where it set nothing). */
typedef struct wp_workhours_settings {
    char time_zone[WP_TZ_NAME_MAX + 1]; /* in force */
    int zone_set;                       /* 0: the default zone */
    wp_workhours tenant;                /* in force */
    int tenant_set;                     /* 0: the default hours */
    int64_t updated_us;                 /* of the tenant's own row or zone; 0: never set */
    wp_workhours_unit *units;           /* the overrides of units that exist, by id */
    size_t n_units;
} wp_workhours_settings;

/* Caller releases *out with wp_workhours_settings_release(). */
int wp_store_workhours_get(wp_store *st, wp_workhours_settings *out, const char *tenant_id);
void wp_workhours_settings_release(wp_workhours_settings *s);

/* Set the tenant's time zone (a name wp_tz_load() knows; NULL: back to the default). In the
 * caller's transaction (with its audit row); reply times are folded again (the analytics
 * rollups of the tenant start over). WP_EINVAL. */
int wp_store_workhours_set_zone(wp_store *st, const char *tenant_id, const char *zone,
                                int64_t now_us);

/* Set the hours of the tenant (unit_id NULL) or of one unit, or remove them (h NULL: the
 * tenant's go back to the default, a unit inherits again). As above, in the caller's
 * transaction, and the rollups start over. WP_EINVAL; WP_ENOTFOUND (no such unit). */
int wp_store_workhours_set(wp_store *st, const char *tenant_id, const char *unit_id,
                           const wp_workhours *h, int64_t now_us);

/* --- the calendar ---------------------------------------------------------------------------- */

/* A tenant's zone and schedules, and the schedule in force for each employee: its own unit's,
 * else the nearest unit's above it that has one, else the tenant's. Read once (for a query or
 * a run of the rollup job); then read-only and safe to share. */
typedef struct wp_workcal wp_workcal;

/* Caller frees *out with wp_workcal_free() (NULL is fine). */
int wp_workcal_load(wp_workcal **out, wp_store *st, const char *tenant_id);
void wp_workcal_free(wp_workcal *c);

/* The schedule of an employee, and the unit it comes from ("" for the tenant's). An employee
 * the calendar does not know (NULL, or made after the load) has the tenant's. Borrowed from
 * c. */
const wp_workhours *wp_workcal_of(const wp_workcal *c, const char *employee_id,
                                  const char **from_unit);

/* The working time in [from_us, to_us) under h, in microseconds (0 when to <= from); spans
 * longer than WP_WORKHOURS_DAYS_MAX days count that many days. */
int64_t wp_workcal_between_us(const wp_workcal *c, const wp_workhours *h, int64_t from_us,
                              int64_t to_us);

/* 1 when t_us is within h, else 0. */
int wp_workcal_contains(const wp_workcal *c, const wp_workhours *h, int64_t t_us);

/* The shift under h that starts on local day (days since 1970-01-01 in the tenant's zone), in
 * UTC seconds [*from_s, *to_s): 1, or 0 when day is no working day (nothing set). */
int wp_workcal_shift(const wp_workcal *c, const wp_workhours *h, int64_t day, int64_t *from_s,
                     int64_t *to_s);

/* The tenant's time zone. Borrowed from c. */
const wp_tz *wp_workcal_tz(const wp_workcal *c);

/* The tenant's time zone name. Borrowed from c. */
const char *wp_workcal_zone(const wp_workcal *c);

/* The one question attendance and geofence schedules ask: is t_us within the working hours of
 * this employee? *out: 1 or 0; hours, from_unit and zone (optional, may be NULL) say why.
 * WP_ENOTFOUND (no such employee). */
typedef struct wp_employee_hours {
    int working;
    wp_workhours hours;
    char from_unit[WP_ID_LEN + 1]; /* "" when the tenant's */
    char time_zone[WP_TZ_NAME_MAX + 1];
} wp_employee_hours;

/* A calendar of the tenant's zone and schedules, and *hours the schedule of one employee (the
 * tenant's when unknown): what geofences in force need once per batch. Caller frees *out with
 * wp_workcal_free(); *hours is borrowed from it. */
int wp_workcal_load_employee(wp_workcal **out, const wp_workhours **hours, wp_store *st,
                             const char *tenant_id, const char *employee_id);

int wp_store_employee_working(wp_store *st, wp_employee_hours *out, const char *tenant_id,
                              const char *employee_id, int64_t t_us);

#endif
