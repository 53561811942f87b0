/* SPDX-License-Identifier: MIT */
/* Tracks (issue 18; ops_track.c): one employee's location points over a time range, whichever
 * of its devices sent them, cleaned of GPS jumps, with its stops, its distance (in total and
 * per local day) and a simplified line for display. docs/internals/track.md. */
#ifndef WP_STORE_TRACK_H
#define WP_STORE_TRACK_H

#include <stddef.h>
#include <stdint.h>

#include "store/field.h"
#include "store/scope.h"
#include "store/store.h"
#include "util/geo.h"
#include "util/id.h"
#include "util/tz.h"

#define WP_TRACK_DAYS_MAX 31         /* days one call may span */
#define WP_TRACK_POINTS_MAX 1000000  /* rows one call reads (31 days at one every 2.7 s); 32 MB */
#define WP_TRACK_SPEED_MPS 50.0      /* a single point implying more is a jump */
#define WP_TRACK_STOP_RADIUS_M 100.0 /* a stop stays within this of its centre for at least
                                      * the tenant's track_stop_minutes (field.h) */
#define WP_TRACK_SIMPLIFY_M 10.0                   /* Douglas-Peucker tolerance of the line shown */

typedef struct wp_track_day {
    int64_t day; /* local day, days since 1970-01-01 */
    double distance_m;
} wp_track_day;

typedef struct wp_track {
    wp_geo_point *points; /* the simplified line, in time order */
    size_t n_points;
    wp_geo_stop *stops; /* first/last index the cleaned points, not points[] */
    size_t n_stops;
    wp_track_day *days; /* every local day the range touches, in order */
    size_t n_days;
    double distance_m;
    size_t n_read, n_clean; /* rows read, points left after cleaning */
} wp_track;

/* The track of employee_id in [from_us, to_us) (at most WP_TRACK_DAYS_MAX days; the caller
 * checks the employee's scope), its days counted in zone, read with the tenant's thresholds;
 * under the tenant's locations_off_duty "drop" (migration 0028) without the points outside its
 * working hours. WP_EINVAL for a bad range;
 * WP_ELIMIT past WP_TRACK_POINTS_MAX rows. Caller releases *out with wp_track_release()
 * (also after a failure). */
int wp_store_track_get(wp_store *st, wp_track *out, const char *tenant_id, const char *employee_id,
                       int64_t from_us, int64_t to_us, const wp_tz *zone);

/* The computation alone, on n points in time order (taken over: p is cleaned in place and
 * freed by wp_track_release()), with the tenant's thresholds fs. */
int wp_track_build(wp_track *out, wp_geo_point *p, size_t n, int64_t from_us, int64_t to_us,
                   const wp_tz *zone, const wp_field_settings *fs);

void wp_track_release(wp_track *t);

#define WP_LATEST_MAX 10000 /* employees one map answer lists (a tenant has thousands) */

/* One employee's last position in a range (the map, GET /api/v1/locations/latest). */
typedef struct wp_latest_position {
    char employee_id[WP_ID_LEN + 1];
    char org_unit_id[WP_ID_LEN + 1];
    char name[404];
    int64_t ts_us;
    double lat, lon, accuracy_m; /* accuracy_m < 0: not given */
} wp_latest_position;

/* The last position in [from_us, to_us) of every employee in scope (NULL: the tenant) and, when
 * org_path is not NULL, in that org subtree, who has one; by name, then id. WP_ELIMIT past
 * WP_LATEST_MAX. Caller frees *out (also after a failure). */
int wp_store_locations_latest(wp_store *st, wp_latest_position **out, size_t *n,
                              const char *tenant_id, const wp_scope *scope, const char *org_path,
                              int64_t from_us, int64_t to_us);

#endif
