/* SPDX-License-Identifier: MIT */
/* Unit tests of src/util/geo.c against values computed by hand or published elsewhere. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "util/geo.h"

#define MIN_US (60LL * 1000000)

static void near(double got, double want, double tol)
{
    if (fabs(got - want) > tol)
        fail_msg("got %.9f, want %.9f +- %g", got, want, tol);
}

static void test_util_geo__distances(void **state)
{
    (void)state;
    /* one degree along a meridian is R * pi / 180 exactly */
    near(wp_geo_distance_m(0, 0, 1, 0), WP_GEO_EARTH_R_M * M_PI / 180, 1e-6);
    near(wp_geo_distance_m(30, 120, 30, 120), 0, 0);
    /* Tiananmen (39.9042 N, 116.4074 E) to the Bund area (31.2304 N, 121.4737 E): the
     * great-circle distance Beijing - Shanghai is quoted as 1,067 km; within 0.5 % */
    near(wp_geo_distance_m(39.9042, 116.4074, 31.2304, 121.4737), 1067000, 1067000 * 0.005);
    /* London (51.5074 N, 0.1278 W) to Paris (48.8566 N, 2.3522 E): 343.5 km as quoted */
    near(wp_geo_distance_m(51.5074, -0.1278, 48.8566, 2.3522), 343500, 343500 * 0.005);
    /* symmetric */
    near(wp_geo_distance_m(31.2304, 121.4737, 39.9042, 116.4074),
         wp_geo_distance_m(39.9042, 116.4074, 31.2304, 121.4737), 1e-6);
}

static wp_geo_point pt(int minute, double lat, double lon, double acc)
{
    wp_geo_point p = {minute * MIN_US, lat, lon, acc};
    return p;
}

static void test_util_geo__clean_drops_spikes_and_bad_accuracy(void **state)
{
    (void)state;
    /* 0.001 degree of latitude is 111.2 m: one a minute is 1.85 m/s */
    wp_geo_point p[] = {
        pt(0, 31.000, 121.0, 10),
        pt(1, 31.001, 121.0, 10),
        pt(2, 31.500, 121.0, 10),  /* 55 km away and back: a spike */
        pt(3, 31.003, 121.0, 500), /* accuracy worse than 100 m */
        pt(4, 31.004, 121.0, -1),  /* unknown accuracy is kept */
        pt(5, 32.000, 121.0, 10),  /* a real jump: the next agrees */
        pt(6, 32.001, 121.0, 10),
        pt(7, 35.000, 121.0, 10), /* far and last: kept, nothing says it is wrong */
    };
    wp_geo_clean_options o = WP_GEO_CLEAN_OPTIONS_INIT;
    size_t n = wp_geo_clean(p, sizeof p / sizeof *p, &o);
    assert_int_equal(n, 6);
    const double want[] = {31.000, 31.001, 31.004, 32.000, 32.001, 35.000};
    for (size_t i = 0; i < n; i++)
        near(p[i].lat, want[i], 0);
}

static void test_util_geo__stops(void **state)
{
    (void)state;
    wp_geo_point p[40];
    size_t n = 0;
    /* moving north 200 m a minute, then 15 minutes at one place (16 points, 2 of them 20 m
     * off on either side: the centre stays), then moving on, then 5 minutes still (too short) */
    for (int i = 0; i < 5; i++)
        p[n++] = pt(i, 31.0 + 0.0018 * i, 121.0, 5);
    int t = 5;
    double slat = 31.0 + 0.0018 * 5;
    for (int i = 0; i <= 15; i++, t++)
        p[n++] = pt(t, slat, 121.0 + (i == 3 ? 0.0002 : i == 4 ? -0.0002 : 0), 5);
    for (int i = 1; i <= 5; i++, t++)
        p[n++] = pt(t, slat + 0.0018 * i, 121.0, 5);
    for (int i = 0; i < 5; i++, t++)
        p[n++] = pt(t, slat + 0.0018 * 5, 121.0, 5);
    wp_geo_stop s[4];
    assert_int_equal(wp_geo_stops(s, 4, p, n, 100, 10 * MIN_US), 1);
    assert_int_equal(s[0].first, 5);
    assert_int_equal(s[0].last, 20);
    assert_true(s[0].from_us == 5 * MIN_US && s[0].to_us == 20 * MIN_US);
    near(s[0].lat, slat, 1e-12);
    near(s[0].lon, 121.0, 1e-12);
    /* the short stay is one with a lower bar */
    assert_int_equal(wp_geo_stops(s, 4, p, n, 100, 4 * MIN_US), 2);
    assert_int_equal(s[1].first, n - 6); /* the last moving point already lies there */
    assert_int_equal(wp_geo_stops(NULL, 0, p, n, 100, 4 * MIN_US), 2); /* counted, not written */
}

static void test_util_geo__simplify(void **state)
{
    (void)state;
    /* a straight line north with 3 m of noise, a corner, a straight line east */
    wp_geo_point p[21];
    unsigned char keep[21];
    for (int i = 0; i <= 10; i++)
        p[i] = pt(i, 31.0 + 0.001 * i, 121.0 + (i % 2 ? 0.00003 : 0), 5);
    for (int i = 1; i <= 10; i++)
        p[10 + i] = pt(10 + i, 31.01, 121.0 + 0.001 * i, 5);
    memset(keep, 0, sizeof keep);
    assert_int_equal(wp_geo_simplify(keep, p, 21, 10), 3);
    assert_true(keep[0] && keep[10] && keep[20]);
    /* a point fixed on entry stays and splits the line */
    memset(keep, 0, sizeof keep);
    keep[15] = 1;
    assert_int_equal(wp_geo_simplify(keep, p, 21, 10), 4);
    assert_true(keep[0] && keep[10] && keep[15] && keep[20]);
    /* a tolerance above the noise but below it keeps the wiggles */
    memset(keep, 0, sizeof keep);
    /* the noisy leg whole, the straight one by its ends */
    assert_int_equal(wp_geo_simplify(keep, p, 21, 1), 12);
    assert_int_equal(wp_geo_simplify(keep, p, 1, 10), 1);
}

static void test_util_geo__gcj02(void **state)
{
    (void)state;
    double lat, lon, blat, blon;
    /* Beijing railway station, WGS-84 39.90105 N 116.42079 E: Baidu Maps' geoconv service
     * answers GCJ-02 39.90245063 N 116.42702745 E (the value quoted in the tests of the R
     * package ases/baidumap, conv_coord(39.90105, 116.42079, from='WGS-84', to='GCJ-02')) */
    wp_geo_wgs_to_gcj(&lat, &lon, 39.90105, 116.42079);
    near(lat, 39.90245063, 1e-5);
    near(lon, 116.42702745, 1e-5);
    wp_geo_gcj_to_wgs(&blat, &blon, lat, lon);
    near(blat, 39.90105, 1e-8);
    near(blon, 116.42079, 1e-8);
    /* outside China nothing moves */
    wp_geo_wgs_to_gcj(&lat, &lon, 51.5074, -0.1278);
    near(lat, 51.5074, 0);
    near(lon, -0.1278, 0);
    assert_true(wp_geo_outside_china(51.5074, -0.1278));
    assert_false(wp_geo_outside_china(31.23, 121.47));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_util_geo__distances),
        cmocka_unit_test(test_util_geo__clean_drops_spikes_and_bad_accuracy),
        cmocka_unit_test(test_util_geo__stops),
        cmocka_unit_test(test_util_geo__simplify),
        cmocka_unit_test(test_util_geo__gcj02),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
