/* SPDX-License-Identifier: MIT */
#include "util/geo_fence.h"

#include <math.h>

#define DEG_E7 (3.14159265358979323846 / 180.0 / 1e7)

/* The point (lat, lon) on the plane around (lat0, lon0), in metres. */
static void project(double *x, double *y, int64_t lat, int64_t lon, int64_t lat0, int64_t lon0,
                    double coslat0)
{
    *x = (double)(lon - lon0) * WP_GEO_M_PER_E7 * coslat0;
    *y = (double)(lat - lat0) * WP_GEO_M_PER_E7;
}

static double seg_dist(double px, double py, double ax, double ay, double bx, double by)
{
    double dx = bx - ax, dy = by - ay, l2 = dx * dx + dy * dy, t = 0;
    if (l2 > 0) {
        t = ((px - ax) * dx + (py - ay) * dy) / l2;
        t = t < 0 ? 0 : t > 1 ? 1 : t;
    }
    double ex = ax + t * dx - px, ey = ay + t * dy - py;
    return sqrt(ex * ex + ey * ey);
}

double wp_geo_fence_distance(const wp_geo_fence *f, int64_t lat_e7, int64_t lon_e7)
{
    double x, y;
    if (!f->polygon) {
        project(&x, &y, lat_e7, lon_e7, f->lat_e7, f->lon_e7, cos((double)f->lat_e7 * DEG_E7));
        return sqrt(x * x + y * y) - f->radius_m;
    }
    /* the plane around the point itself: the polygon's vertices around it */
    double c = cos((double)lat_e7 * DEG_E7), best = INFINITY;
    int inside = 0;
    for (size_t i = 0, j = f->n - 1; i < f->n; j = i++) {
        double ax, ay, bx, by;
        project(&ax, &ay, f->pts[i][1], f->pts[i][0], lat_e7, lon_e7, c);
        project(&bx, &by, f->pts[j][1], f->pts[j][0], lat_e7, lon_e7, c);
        if ((ay > 0) != (by > 0) && 0 < (bx - ax) * (0 - ay) / (by - ay) + ax)
            inside = !inside;
        double d = seg_dist(0, 0, ax, ay, bx, by);
        if (d < best)
            best = d;
    }
    return inside ? -best : best;
}

static int64_t clamp(int64_t v, int64_t lim)
{
    return v < -lim ? -lim : v > lim ? lim : v;
}

void wp_geo_fence_bbox(const wp_geo_fence *f, int64_t *min_lat, int64_t *max_lat,
                       int64_t *min_lon, int64_t *max_lon)
{
    if (!f->polygon) {
        double dlat = f->radius_m / WP_GEO_M_PER_E7;
        double c = cos((double)f->lat_e7 * DEG_E7);
        double dlon = c > 1e-3 ? dlat / c : 3600000000.0;
        if (dlon > 3600000000.0) /* near a pole: every longitude */
            dlon = 3600000000.0;
        /* kept within the world (the columns are 32-bit on PostgreSQL) */
        *min_lat = clamp(f->lat_e7 - (int64_t)ceil(dlat), 900000000);
        *max_lat = clamp(f->lat_e7 + (int64_t)ceil(dlat), 900000000);
        *min_lon = clamp(f->lon_e7 - (int64_t)ceil(dlon), 1800000000);
        *max_lon = clamp(f->lon_e7 + (int64_t)ceil(dlon), 1800000000);
        return;
    }
    *min_lat = *max_lat = f->pts[0][1];
    *min_lon = *max_lon = f->pts[0][0];
    for (size_t i = 1; i < f->n; i++) {
        if (f->pts[i][1] < *min_lat)
            *min_lat = f->pts[i][1];
        if (f->pts[i][1] > *max_lat)
            *max_lat = f->pts[i][1];
        if (f->pts[i][0] < *min_lon)
            *min_lon = f->pts[i][0];
        if (f->pts[i][0] > *max_lon)
            *max_lon = f->pts[i][0];
    }
}

double wp_geo_fence_margin(int64_t accuracy_cm)
{
    double m = WP_GEO_FENCE_MARGIN_M;
    if (accuracy_cm > 0 && (double)accuracy_cm / 100.0 > m)
        m = (double)accuracy_cm / 100.0;
    return m;
}

enum wp_geo_side wp_geo_fence_side(double d, double margin)
{
    return d > margin ? WP_GEO_OUTSIDE : d < -margin ? WP_GEO_INSIDE : WP_GEO_UNDECIDED;
}
