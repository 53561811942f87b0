/* SPDX-License-Identifier: MIT */
/* The geometry of geofences (docs/internals/geofence.md): a circle or a polygon in WGS-84
 * degrees * 1e7, and how far a point lies from its edge, in metres, on a local equirectangular
 * plane around the shape (exact enough for fences up to 50 km across). */
#ifndef WP_UTIL_GEO_FENCE_H
#define WP_UTIL_GEO_FENCE_H

#include <stddef.h>
#include <stdint.h>

#define WP_GEO_FENCE_POINTS_MAX 200
#define WP_GEO_FENCE_MARGIN_M 30 /* the hysteresis band's least half-width */

/* The sides of a fence's edge a point is decided on (docs/internals/geofence.md, "At ingest"). */
enum wp_geo_side { WP_GEO_UNDECIDED = 0, WP_GEO_INSIDE = 1, WP_GEO_OUTSIDE = 2 };

/* The half-width of the hysteresis band for a point of that accuracy (centimetres; <= 0:
 * unknown): max(accuracy, WP_GEO_FENCE_MARGIN_M) metres. */
double wp_geo_fence_margin(int64_t accuracy_cm);

/* The side a signed distance d (wp_geo_fence_distance of the nearest fence in force) decides:
 * outside beyond +margin, inside within -margin, WP_GEO_UNDECIDED in the band between (the
 * state stays). The server's ingest and the agent both decide with this. */
enum wp_geo_side wp_geo_fence_side(double d, double margin);

typedef struct wp_geo_fence {
    int polygon;                 /* 0: circle */
    int64_t lat_e7, lon_e7;      /* circle: the center */
    double radius_m;             /* circle */
    const int64_t (*pts)[2];     /* polygon: [lon_e7, lat_e7], borrowed; n >= 3, not closed */
    size_t n;
} wp_geo_fence;

/* The signed distance from the point to the shape's edge in metres: negative inside, positive
 * outside. */
double wp_geo_fence_distance(const wp_geo_fence *f, int64_t lat_e7, int64_t lon_e7);

/* The shape's bounding box in e7 degrees (a circle's from its radius). */
void wp_geo_fence_bbox(const wp_geo_fence *f, int64_t *min_lat, int64_t *max_lat,
                       int64_t *min_lon, int64_t *max_lon);

/* Metres per e7 degree of latitude. */
#define WP_GEO_M_PER_E7 (6371008.8 * 3.14159265358979323846 / 180.0 / 1e7)

#endif
