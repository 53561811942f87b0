/* SPDX-License-Identifier: MIT */
/* What geofences cost at ingest (bench/geofence/run drives it): batches of location events
 * stored through wp_store_events_apply, one transaction per batch as the writer does, first in
 * a tenant without fences, then (same run, same points) with N fences binding the employee. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/devices.h"
#include "store/events.h"
#include "store/geofence.h"
#include "store/org.h"
#include "store/people.h"
#include "store/store.h"
#include "util/error.h"
#include "util/id.h"

#define TS_BASE_US 1795917600000000LL /* 2026-11-23T02:00:00Z: Monday 10:00 in Shanghai */
#define LAT0 312300000LL
#define LON0 1214700000LL

static void ok(int err, const char *what)
{
    if (err < 0) {
        fprintf(stderr, "bench_geofence: %s: %s\n", what, wp_error_last());
        exit(1);
    }
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void fake_hash(char out[65], unsigned i)
{
    char id[WP_ID_LEN + 1];
    wp_id_new(id);
    snprintf(out, 65, "%s%08x%032x", id, i, 0u);
}

static wp_device enroll(wp_store *st, const char *tenant, const char *emp, unsigned k)
{
    char code[65], tok[65], serial[32];
    wp_device d;
    fake_hash(code, 2 * k);
    fake_hash(tok, 2 * k + 1);
    snprintf(serial, sizeof serial, "SN-%u", k);
    ok(wp_store_enrollment_code_create(st, tenant, emp, code, INT64_MAX / 2), "code");
    ok(wp_store_device_enroll(st, &d, code, serial, "bench", tok, TS_BASE_US), "enroll");
    return d;
}

/* One side of the comparison: a tenant with its store, employee and device, and its walk. */
struct side {
    char tenant[WP_ID_LEN + 1];
    wp_org_unit top, unit;
    wp_employee emp;
    wp_device dev;
    wp_event *ev;
    uint64_t rng;
    double lat, lon, wall, cpu;
    size_t alerts;
};

static double cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void side_init(struct side *x, wp_store *st, unsigned per, unsigned k)
{
    memset(x, 0, sizeof *x);
    ok(wp_store_tenant_create(st, x->tenant, k ? "With" : "Without"), "tenant");
    ok(wp_store_org_unit_create(st, &x->top, x->tenant, NULL, "HQ", WP_ORG_HQ), "org unit");
    ok(wp_store_org_unit_create(st, &x->unit, x->tenant, x->top.id, "Store", WP_ORG_STORE),
       "store");
    ok(wp_store_employee_create(st, &x->emp, x->tenant, x->unit.id, "Bench", "bench",
                                WP_ROLE_SALES, NULL),
       "employee");
    x->dev = enroll(st, x->tenant, x->emp.id, k);
    if (!(x->ev = calloc(per, sizeof *x->ev)))
        ok(WP_ENOMEM, "out of memory");
    x->rng = 42; /* the same walk on both sides */
    x->lat = (double)LAT0;
    x->lon = (double)LON0;
}

/* Batch i of the walk: a point every 6 s, about 300 m apart, within about 10 km of the center;
 * stored in its own transaction, timed (wall and CPU) unless it is the first. */
static void side_batch(struct side *x, wp_store *st, unsigned i, unsigned per)
{
    wp_event_batch b = {.tenant_id = x->tenant, .device_id = x->dev.id,
                        .employee_id = x->emp.id, .events = x->ev, .n = per,
                        .now_us = TS_BASE_US};
    for (unsigned k = 0; k < per; k++) {
        x->rng = x->rng * 6364136223846793005ULL + 1442695040888963407ULL;
        double a = (double)(x->rng >> 11) / 9007199254740992.0 * 6.283185307;
        x->lat += 300 * 90 * cos(a); /* e7 degrees */
        x->lon += 300 * 105 * sin(a);
        if (fabs(x->lat - (double)LAT0) > 9e5)
            x->lat = (double)LAT0;
        if (fabs(x->lon - (double)LON0) > 1e6)
            x->lon = (double)LON0;
        wp_event *e = &x->ev[k];
        memset(e, 0, sizeof *e);
        e->seq = (int64_t)i * per + k + 1;
        e->type = WP_EVENT_LOCATION;
        e->raw = "{\"type\":\"location\"}";
        e->ts_us = TS_BASE_US + ((int64_t)i * per + k) * 6000000;
        e->lat_e7 = (int64_t)x->lat;
        e->lon_e7 = (int64_t)x->lon;
        e->accuracy_cm = 1500;
        e->size = e->amount_fen = e->duration_s = -1;
    }
    double t0 = now_s(), c0 = cpu_s();
    ok(wp_store_events_apply(st, &b), "apply");
    if (i > 0) { /* the first batch warms the caches */
        x->wall += now_s() - t0;
        x->cpu += cpu_s() - c0;
    }
    for (unsigned k = 0; k < per; k++)
        x->alerts += x->ev[k].fence_alert_id[0] != '\0';
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *db = NULL;
    unsigned batches = 200, per = 100, fences = 1000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--data"))
            dir = argv[i + 1];
        else if (!strcmp(argv[i], "--db"))
            db = argv[i + 1];
        else if (!strcmp(argv[i], "--batches"))
            batches = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--batch"))
            per = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--fences"))
            fences = (unsigned)strtoul(argv[i + 1], NULL, 10);
    }
    if (!dir || batches < 2 || !per) {
        fprintf(stderr, "usage: bench_geofence --data DIR [--db URL] [--batches N (200)] "
                        "[--batch B (100)] [--fences F (1000)]\n");
        return 2;
    }
    wp_store *st = NULL;
    struct side none, with;
    ok(wp_store_open(&st, dir, db), "open the store");
    side_init(&none, st, per, 0);
    side_init(&with, st, per, 1);
    const char *tenant = with.tenant;
    const wp_org_unit unit = with.unit, top = with.top;

    /* F fences binding the employee: half its store's, half the top unit's; circles and
     * 8-point polygons spread over 20 km, a third with a schedule of their own (all week) */
    uint64_t rng = 7;
    int64_t pts[8][2];
    for (unsigned i = 0; i < fences; i++) {
        wp_geofence f;
        memset(&f, 0, sizeof f);
        snprintf(f.name, sizeof f.name, "fence %u", i);
        snprintf(f.org_unit_id, sizeof f.org_unit_id, "%s", i % 2 ? unit.id : top.id);
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        int64_t clat = LAT0 + (int64_t)((rng >> 20) % 1800000) - 900000;
        int64_t clon = LON0 + (int64_t)((rng >> 40) % 2000000) - 1000000;
        double r = 100 + (double)((rng >> 8) % 1900);
        if (i % 4 < 2) {
            f.lat_e7 = clat;
            f.lon_e7 = clon;
            f.radius_m = (int64_t)r;
        } else {
            for (int k = 0; k < 8; k++) {
                pts[k][0] = clon + (int64_t)(r * 105 * sin(k * 0.785398));
                pts[k][1] = clat + (int64_t)(r * 90 * cos(k * 0.785398));
            }
            f.polygon = 1;
            f.pts = pts;
            f.n = 8;
        }
        if (i % 3 == 0) {
            f.has_schedule = 1;
            f.schedule.days = 0x7f;
            f.schedule.from_min = 0;
            f.schedule.to_min = 24 * 60;
        }
        ok(wp_store_geofence_create(st, tenant, &f, TS_BASE_US), "geofence");
    }
    /* the two tenants in turn, batch by batch: drift on a shared machine hits both alike */
    for (unsigned i = 0; i < batches; i++) {
        side_batch(&none, st, i, per);
        side_batch(&with, st, i, per);
    }
    double events = (double)(batches - 1) * per;
    printf("batches=%u batch=%u fences=%u none_s=%.3f none_cpu_s=%.3f none_events_per_s=%.0f "
           "with_s=%.3f with_cpu_s=%.3f with_events_per_s=%.0f ratio=%.2f cpu_ratio=%.2f "
           "alerts=%zu\n",
           batches - 1, per, fences, none.wall, none.cpu, events / none.wall, with.wall, with.cpu,
           events / with.wall, with.wall / none.wall, with.cpu / none.cpu, with.alerts);
    free(none.ev);
    free(with.ev);
    wp_store_free(st);
    return 0;
}
