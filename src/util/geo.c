/* SPDX-License-Identifier: MIT */
/* Geometry for tracks (see geo.h and docs/internals/geo.md). */
#include "util/geo.h"

#include <math.h>
#include <stdlib.h>

#define DEG (M_PI / 180.0)

double wp_geo_distance_m(double lat1, double lon1, double lat2, double lon2)
{
    double p1 = lat1 * DEG, p2 = lat2 * DEG;
    double dp = (lat2 - lat1) * DEG, dl = (lon2 - lon1) * DEG;
    double a = sin(dp / 2) * sin(dp / 2) + cos(p1) * cos(p2) * sin(dl / 2) * sin(dl / 2);
    if (a > 1)
        a = 1;
    return 2 * WP_GEO_EARTH_R_M * asin(sqrt(a));
}

static double dist(const wp_geo_point *a, const wp_geo_point *b)
{
    return wp_geo_distance_m(a->lat, a->lon, b->lat, b->lon);
}

/* Metres per second from a to b; a move in no time is infinitely fast. */
static double speed(const wp_geo_point *a, const wp_geo_point *b)
{
    double d = dist(a, b);
    int64_t dt = b->ts_us - a->ts_us;
    if (dt <= 0)
        return d > 0 ? INFINITY : 0;
    return d / ((double)dt / 1e6);
}

size_t wp_geo_clean(wp_geo_point *p, size_t n, const wp_geo_clean_options *o)
{
    size_t w = 0;
    for (size_t r = 0; r < n; r++)
        if (o->max_accuracy_m <= 0 || p[r].accuracy_m < 0 || p[r].accuracy_m <= o->max_accuracy_m)
            p[w++] = p[r];
    n = w;
    w = 0;
    for (size_t r = 0; r < n; r++) {
        /* p[r + 1] is unread yet: w <= r, so writing p[w] never reaches it */
        if (w > 0 && r + 1 < n && speed(&p[w - 1], &p[r]) > o->max_speed_mps &&
            speed(&p[w - 1], &p[r + 1]) <= o->max_speed_mps)
            continue; /* a single spike: the next point comes back */
        p[w++] = p[r];
    }
    return w;
}

size_t wp_geo_stops(wp_geo_stop *out, size_t cap, const wp_geo_point *p, size_t n, double radius_m,
                    int64_t min_us)
{
    size_t found = 0, i = 0;
    while (i < n) {
        /* on the local plane of the run's first point (a run is metres wide): p[j] lies within
         * radius of the mean (slat, slon) / k when (k p[j] - s) scaled to metres is within
         * k radius; no division, no trigonometry in the loop, which runs once per point and
         * start (a walker's GPS at 1 Hz starts a run at every point) */
        double ky = WP_GEO_EARTH_R_M * DEG, kx = ky * cos(p[i].lat * DEG);
        double slat = p[i].lat, slon = p[i].lon;
        size_t j = i + 1, k = 1;
        while (j < n) {
            double dk = (double)k, dy = (dk * p[j].lat - slat) * ky,
                   dx = (dk * p[j].lon - slon) * kx;
            if (dx * dx + dy * dy > dk * dk * radius_m * radius_m)
                break;
            slat += p[j].lat;
            slon += p[j].lon;
            k++;
            j++;
        }
        if (p[j - 1].ts_us - p[i].ts_us >= min_us && j - 1 > i) {
            if (found < cap) {
                wp_geo_stop *s = &out[found];
                s->first = i;
                s->last = j - 1;
                s->from_us = p[i].ts_us;
                s->to_us = p[j - 1].ts_us;
                s->lat = slat / (double)k;
                s->lon = slon / (double)k;
            }
            found++;
            i = j;
        } else
            i++;
    }
    return found;
}

/* The distance from (px, py) to the segment (ax, ay)-(bx, by) on a plane. */
static double seg_dist(double px, double py, double ax, double ay, double bx, double by)
{
    double dx = bx - ax, dy = by - ay, l2 = dx * dx + dy * dy, t = 0;
    if (l2 > 0) {
        t = ((px - ax) * dx + (py - ay) * dy) / l2;
        t = t < 0 ? 0 : t > 1 ? 1 : t;
    }
    double x = ax + t * dx - px, y = ay + t * dy - py;
    return sqrt(x * x + y * y);
}

size_t wp_geo_simplify(unsigned char *keep, const wp_geo_point *p, size_t n, double tolerance_m)
{
    if (n == 0)
        return 0;
    size_t *stack = malloc(2 * n * sizeof *stack);
    if (!stack)
        return 0;
    double ky = WP_GEO_EARTH_R_M * DEG, kx = ky * cos(p[0].lat * DEG);
    keep[0] = keep[n - 1] = 1;
    size_t a = 0;
    for (size_t b = 1; b < n; b++) {
        if (!keep[b])
            continue;
        /* one piece between two fixed points: Douglas-Peucker with an explicit stack */
        size_t top = 0;
        stack[top++] = a;
        stack[top++] = b;
        while (top) {
            size_t hi = stack[--top], lo = stack[--top], far = 0;
            double best = -1;
            double ax = p[lo].lon * kx, ay = p[lo].lat * ky;
            double bx = p[hi].lon * kx, by = p[hi].lat * ky;
            for (size_t i = lo + 1; i < hi; i++) {
                double d = seg_dist(p[i].lon * kx, p[i].lat * ky, ax, ay, bx, by);
                if (d > best) {
                    best = d;
                    far = i;
                }
            }
            if (best > tolerance_m) {
                keep[far] = 1;
                stack[top++] = lo;
                stack[top++] = far;
                stack[top++] = far;
                stack[top++] = hi;
            }
        }
        a = b;
    }
    free(stack);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        kept += keep[i] != 0;
    return kept;
}

int wp_geo_outside_china(double lat, double lon)
{
    return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271;
}

/* The published GCJ-02 shift polynomials, in degrees-ish units of x = lon - 105, y = lat - 35. */
static double shift_lat(double x, double y)
{
    double r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt(fabs(x));
    r += (20.0 * sin(6.0 * x * M_PI) + 20.0 * sin(2.0 * x * M_PI)) * 2.0 / 3.0;
    r += (20.0 * sin(y * M_PI) + 40.0 * sin(y / 3.0 * M_PI)) * 2.0 / 3.0;
    r += (160.0 * sin(y / 12.0 * M_PI) + 320.0 * sin(y * M_PI / 30.0)) * 2.0 / 3.0;
    return r;
}

static double shift_lon(double x, double y)
{
    double r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt(fabs(x));
    r += (20.0 * sin(6.0 * x * M_PI) + 20.0 * sin(2.0 * x * M_PI)) * 2.0 / 3.0;
    r += (20.0 * sin(x * M_PI) + 40.0 * sin(x / 3.0 * M_PI)) * 2.0 / 3.0;
    r += (150.0 * sin(x / 12.0 * M_PI) + 300.0 * sin(x / 30.0 * M_PI)) * 2.0 / 3.0;
    return r;
}

void wp_geo_wgs_to_gcj(double *out_lat, double *out_lon, double lat, double lon)
{
    static const double a = 6378245.0, ee = 0.00669342162296594323;
    if (wp_geo_outside_china(lat, lon)) {
        *out_lat = lat;
        *out_lon = lon;
        return;
    }
    double dlat = shift_lat(lon - 105.0, lat - 35.0), dlon = shift_lon(lon - 105.0, lat - 35.0);
    double rad = lat * DEG, magic = sin(rad);
    magic = 1 - ee * magic * magic;
    double sm = sqrt(magic);
    dlat = (dlat * 180.0) / ((a * (1 - ee)) / (magic * sm) * M_PI);
    dlon = (dlon * 180.0) / (a / sm * cos(rad) * M_PI);
    *out_lat = lat + dlat;
    *out_lon = lon + dlon;
}

void wp_geo_gcj_to_wgs(double *out_lat, double *out_lon, double lat, double lon)
{
    double wlat = lat, wlon = lon;
    for (int i = 0; i < 30; i++) {
        double glat, glon;
        wp_geo_wgs_to_gcj(&glat, &glon, wlat, wlon);
        double elat = glat - lat, elon = glon - lon;
        wlat -= elat;
        wlon -= elon;
        if (fabs(elat) < 1e-9 && fabs(elon) < 1e-9)
            break;
    }
    *out_lat = wlat;
    *out_lon = wlon;
}
