/* SPDX-License-Identifier: MIT */
/* Geofences (migration 0027; ops_geofence.c; docs/internals/geofence.md): circles and polygons
 * of org units, the set that binds an employee (its unit's path), and the state machine ingest
 * runs on each location event in the writer's transaction. */
#ifndef WP_STORE_GEOFENCE_H
#define WP_STORE_GEOFENCE_H

#include <stddef.h>
#include <stdint.h>

#include "store/events.h"
#include "store/store.h"
#include "store/workhours.h"
#include "util/geo_fence.h"
#include "util/id.h"

#define WP_GEOFENCE_MAX 1000           /* fences per tenant */
#define WP_GEOFENCE_RADIUS_MIN 10      /* metres */
#define WP_GEOFENCE_RADIUS_MAX 50000   /* metres */
#define WP_GEOFENCE_NAME_MAX 100       /* characters */
#define WP_GEOFENCE_MARGIN_M WP_GEO_FENCE_MARGIN_M /* the hysteresis band's least half-width */

typedef struct wp_geofence {
    char id[WP_ID_LEN + 1];
    char org_unit_id[WP_ID_LEN + 1];
    char name[WP_GEOFENCE_NAME_MAX * 4 + 1];
    int polygon;
    int64_t lat_e7, lon_e7, radius_m; /* circle */
    int64_t (*pts)[2];                /* polygon: [lon_e7, lat_e7], malloc */
    size_t n;
    int has_schedule; /* 0: the employee's working hours */
    wp_workhours schedule;
    int64_t min_lat, max_lat, min_lon, max_lon;
    int64_t created_us, updated_us;
} wp_geofence;

/* The shape of f for util/geo_fence.h (borrows f's points). */
void wp_geofence_shape(wp_geo_fence *out, const wp_geofence *f);
void wp_geofence_release(wp_geofence *f);
void wp_geofences_free(wp_geofence *v, size_t n);

/* Insert f (its id, bbox and times are set here). WP_ENOTFOUND (no such unit), WP_ELIMIT
 * (the tenant holds WP_GEOFENCE_MAX). In the caller's transaction. */
int wp_store_geofence_create(wp_store *st, const char *tenant_id, wp_geofence *f, int64_t now_us);
/* Caller releases *out with wp_geofence_release(). WP_ENOTFOUND. */
int wp_store_geofence_get(wp_store *st, wp_geofence *out, const char *tenant_id, const char *id);
/* Replace everything but id and created_us. WP_ENOTFOUND. */
int wp_store_geofence_update(wp_store *st, const char *tenant_id, wp_geofence *f, int64_t now_us);
int wp_store_geofence_delete(wp_store *st, const char *tenant_id, const char *id);

/* Drop the fences of tenant_id (NULL: of every tenant) kept in this process: another node
 * changed them (docs/internals/cluster.md). The next batch reads them again. Any thread. */
void wp_store_geofences_forget(const char *tenant_id);
/* Every fence of the tenant (at most WP_GEOFENCE_MAX), by name. Free with wp_geofences_free. */
int wp_store_geofence_list(wp_store *st, wp_geofence **out, size_t *n, const char *tenant_id);
/* The fences binding employee_id: those of its unit and of the units above it. */
int wp_store_geofences_binding(wp_store *st, wp_geofence **out, size_t *n, const char *tenant_id,
                               const char *employee_id);

/* Run the state machine on the batch's stored location events (in the batch's operation):
 * geofence_state, geofence_events, and one alert of kind geofence per leaving in force (its
 * id in the event's fence_alert_id). */
int wp_store__geofence_ingest(wp_store *st, wp_event_batch *b, int64_t stored_us);

#endif
