/* SPDX-License-Identifier: MIT */
/* Geometry on the WGS-84 earth for field staff's tracks: great-circle distance, cleaning GPS
 * jumps, stop detection, Douglas-Peucker simplification, and the WGS-84 <-> GCJ-02 shift that
 * Chinese map tiles need. Pure functions on caller-owned arrays: no allocation but the
 * simplifier's work stack, no domain knowledge. */
#ifndef WP_UTIL_GEO_H
#define WP_UTIL_GEO_H

#include <stddef.h>
#include <stdint.h>

/* The mean earth radius (IUGG R1) the haversine formula uses, in metres. */
#define WP_GEO_EARTH_R_M 6371008.8

typedef struct wp_geo_point {
    int64_t ts_us;
    double lat, lon;   /* degrees, WGS-84 */
    double accuracy_m; /* < 0: unknown */
} wp_geo_point;

/* The great-circle distance between two points (degrees), by the haversine formula on a sphere
 * of radius WP_GEO_EARTH_R_M, in metres. */
double wp_geo_distance_m(double lat1, double lon1, double lat2, double lon2);

typedef struct wp_geo_clean_options {
    double max_accuracy_m; /* points whose accuracy is worse are dropped; <= 0: none */
    double max_speed_mps;  /* a single point implying more than this is a jump */
} wp_geo_clean_options;

#define WP_GEO_CLEAN_OPTIONS_INIT {100.0, 50.0}

/* Clean p (n points in time order) in place: drop the points whose accuracy is worse than
 * max_accuracy_m, then every single spike: a point that implies more than max_speed_mps from
 * the last kept point while the next point does not (it comes back). A real move, where the
 * next point agrees with the far one, is kept, and so is a far last point (nothing says it
 * is wrong). @return the number of points kept, at the front of p, in order. p is the
 * caller's, changed in place; o borrowed. */
size_t wp_geo_clean(wp_geo_point *p, size_t n, const wp_geo_clean_options *o);

typedef struct wp_geo_stop {
    size_t first, last; /* indices of its first and last points */
    int64_t from_us, to_us;
    double lat, lon; /* the centre: the mean of its points */
} wp_geo_stop;

/* Find the stops of p (n cleaned points in time order): runs of points that each lie within
 * radius_m of the mean of the run's points before them, lasting at least min_us from the
 * first point's time to the last's. Runs do not overlap. Distances here are on the local plane
 * of the run's first point (equirectangular: within 1e-6 of the haversine at 100 m). At most cap
 * stops are written to out (further ones are counted, not written). @return the number of stops
 * found. out and p are the caller's; nothing is allocated. */
size_t wp_geo_stops(wp_geo_stop *out, size_t cap, const wp_geo_point *p, size_t n, double radius_m,
                    int64_t min_us);

/* Douglas-Peucker on p (n points) with tolerance_m, on a local plane (equirectangular around
 * the first point's latitude): keep[i] is set to 1 for the points kept (the ends always are,
 * and every point whose keep[i] was already 1 on entry, which splits the line there).
 * @return the number of points kept; 0 and nothing changed when out of memory (n > 0).
 * keep (n bytes) and p are the caller's; the work stack is freed before returning. */
size_t wp_geo_simplify(unsigned char *keep, const wp_geo_point *p, size_t n, double tolerance_m);

/* 1 when the point lies outside the area where GCJ-02 applies (mainland China's rough box),
 * where both conversions leave it unchanged. */
int wp_geo_outside_china(double lat, double lon);

/* WGS-84 to GCJ-02 (the shift of maps published in China), by the formula published with the
 * Krasovsky 1940 ellipsoid (a = 6378245 m, e^2 = 0.00669342162296594323). */
void wp_geo_wgs_to_gcj(double *out_lat, double *out_lon, double lat, double lon);

/* GCJ-02 back to WGS-84, by fixed-point iteration of the forward shift until it moves less
 * than 1e-9 degrees (a few iterations; under a millimetre). */
void wp_geo_gcj_to_wgs(double *out_lat, double *out_lon, double lat, double lon);

#endif
