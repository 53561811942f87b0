/* SPDX-License-Identifier: MIT */
/* Geofences: CRUD, the set binding an employee, the ingest state machine (geofence.h). */
#include "store/cluster.h"
#include "store/db.h"
#include "store/geofence.h"
#include "store/internal.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/id.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COLS                                                                                       \
    "id, org_unit_id, name, kind, center_lat_e7, center_lon_e7, radius_m, points_json,"            \
    " schedule_json, min_lat_e7, max_lat_e7, min_lon_e7, max_lon_e7, created_us, updated_us"

void wp_geofence_shape(wp_geo_fence *out, const wp_geofence *f)
{
    memset(out, 0, sizeof *out);
    out->polygon = f->polygon;
    out->lat_e7 = f->lat_e7;
    out->lon_e7 = f->lon_e7;
    out->radius_m = (double)f->radius_m;
    out->pts = (const int64_t(*)[2])f->pts;
    out->n = f->n;
}

void wp_geofence_release(wp_geofence *f)
{
    if (f) {
        free(f->pts);
        f->pts = NULL;
        f->n = 0;
    }
}

void wp_geofences_free(wp_geofence *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        wp_geofence_release(&v[i]);
    free(v);
}

/* "[[lon,lat],...]" in e7 degrees */
static int points_text(wp_buf *b, const wp_geofence *f)
{
    int err = wp_buf_addc(b, '[');
    for (size_t i = 0; err == 0 && i < f->n; i++)
        err = wp_buf_addf(b, "%s[%lld,%lld]", i ? "," : "", (long long)f->pts[i][0],
                          (long long)f->pts[i][1]);
    return err == 0 ? wp_buf_addc(b, ']') : err;
}

static int points_parse(wp_geofence *f, const char *s)
{
    size_t cap = 0;
    char *end;
    f->n = 0;
    while (s && *s) {
        while (*s == '[' || *s == ',' || *s == ']' || *s == ' ')
            s++;
        if (!*s)
            break;
        long long lon = strtoll(s, &end, 10);
        if (end == s || *end != ',')
            return wp_error_set(WP_EIO, "geofence points are damaged");
        s = end + 1;
        long long lat = strtoll(s, &end, 10);
        if (end == s)
            return wp_error_set(WP_EIO, "geofence points are damaged");
        s = end;
        if (wp_array__grow((void **)&f->pts, &cap, f->n, sizeof *f->pts) < 0)
            return wp_error_set(WP_ENOMEM, "out of memory");
        f->pts[f->n][0] = lon;
        f->pts[f->n][1] = lat;
        f->n++;
    }
    return 0;
}

static int read_row(struct wp_stmt *s, wp_geofence *f)
{
    int err;
    memset(f, 0, sizeof *f);
    if ((err = wp_db_col_copy(s, 0, f->id, sizeof f->id)) < 0 ||
        (err = wp_db_col_copy(s, 1, f->org_unit_id, sizeof f->org_unit_id)) < 0 ||
        (err = wp_db_col_copy(s, 2, f->name, sizeof f->name)) < 0)
        return err;
    f->polygon = strcmp(wp_db_col_text(s, 3), "polygon") == 0;
    if (f->polygon) {
        if ((err = points_parse(f, wp_db_col_text(s, 7))) < 0) {
            wp_geofence_release(f);
            return err;
        }
    } else {
        f->lat_e7 = wp_db_col_int64(s, 4);
        f->lon_e7 = wp_db_col_int64(s, 5);
        f->radius_m = wp_db_col_int64(s, 6);
    }
    if (!wp_db_col_isnull(s, 8)) {
        unsigned days;
        int a, b;
        if (sscanf(wp_db_col_text(s, 8), "{\"days\":%u,\"from\":%d,\"to\":%d}", &days, &a, &b) !=
            3) {
            wp_geofence_release(f);
            return wp_error_set(WP_EIO, "geofence schedule is damaged");
        }
        f->has_schedule = 1;
        f->schedule.days = days;
        f->schedule.from_min = a;
        f->schedule.to_min = b;
    }
    f->min_lat = wp_db_col_int64(s, 9);
    f->max_lat = wp_db_col_int64(s, 10);
    f->min_lon = wp_db_col_int64(s, 11);
    f->max_lon = wp_db_col_int64(s, 12);
    f->created_us = wp_db_col_int64(s, 13);
    f->updated_us = wp_db_col_int64(s, 14);
    return 0;
}

static int read_all(struct wp_stmt *s, wp_geofence **out, size_t *n)
{
    wp_geofence *v = NULL;
    size_t cap = 0, k = 0;
    int err;
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if ((err = wp_array__grow((void **)&v, &cap, k, sizeof *v)) < 0 ||
            (err = read_row(s, &v[k])) < 0)
            break;
        k++;
    }
    if (err < 0) {
        wp_geofences_free(v, k);
        return err;
    }
    *out = v;
    *n = k;
    return 0;
}

/* The columns a write sets, as texts: the kind, points and schedule. */
static int write_texts(wp_geofence *f, wp_buf *pts, char sched[64])
{
    wp_geo_fence g;
    int err = 0;
    wp_geofence_shape(&g, f);
    wp_geo_fence_bbox(&g, &f->min_lat, &f->max_lat, &f->min_lon, &f->max_lon);
    if (f->polygon)
        err = points_text(pts, f);
    sched[0] = '\0';
    if (f->has_schedule)
        snprintf(sched, 64, "{\"days\":%u,\"from\":%d,\"to\":%d}", f->schedule.days,
                 f->schedule.from_min, f->schedule.to_min);
    return err;
}

/* Bind the 15 columns of COLS from idx on. */
static void bind_fence(struct wp_stmt *s, int idx, const wp_geofence *f, const wp_buf *pts,
                       const char *sched)
{
    wp_db_bind_text(s, idx, f->id);
    wp_db_bind_text(s, idx + 1, f->org_unit_id);
    wp_db_bind_text(s, idx + 2, f->name);
    wp_db_bind_text(s, idx + 3, f->polygon ? "polygon" : "circle");
    if (f->polygon) {
        wp_db_bind_null(s, idx + 4);
        wp_db_bind_null(s, idx + 5);
        wp_db_bind_null(s, idx + 6);
        wp_db_bind_text(s, idx + 7, pts->buf);
    } else {
        wp_db_bind_int64(s, idx + 4, f->lat_e7);
        wp_db_bind_int64(s, idx + 5, f->lon_e7);
        wp_db_bind_int64(s, idx + 6, f->radius_m);
        wp_db_bind_null(s, idx + 7);
    }
    wp_db_bind_text_or_null(s, idx + 8, sched[0] ? sched : NULL);
    wp_db_bind_int64(s, idx + 9, f->min_lat);
    wp_db_bind_int64(s, idx + 10, f->max_lat);
    wp_db_bind_int64(s, idx + 11, f->min_lon);
    wp_db_bind_int64(s, idx + 12, f->max_lon);
    wp_db_bind_int64(s, idx + 13, f->created_us);
    wp_db_bind_int64(s, idx + 14, f->updated_us);
}

/* Every write moves the tenant's version, in the writer's transaction. */
static int bump(wp_store *st, const char *tenant_id)
{
    int err = wp_db_run(st,
                        "INSERT INTO geofence_versions (tenant_id, version) VALUES (?, 1)"
                        " ON CONFLICT (tenant_id) DO UPDATE SET version ="
                        " geofence_versions.version + 1",
                        "t", tenant_id);
    return err < 0 ? err : wp_store__notify(st, tenant_id, WP_CLUSTER_GEOFENCES);
}

int wp_store_geofence_create(wp_store *st, const char *tenant_id, wp_geofence *f, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    wp_buf pts;
    char sched[64];
    int err;

    wp_buf_init(&pts, 64 * 1024);
    if ((err = wp_store__unit_exists(st, tenant_id, f->org_unit_id)) < 0)
        goto out;
    if ((err = wp_db_prepare(st, &s, "SELECT COUNT(*) FROM geofences WHERE tenant_id = ?")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    if ((err = wp_db_step(s)) == WP_DB_ROW && wp_db_col_int64(s, 0) >= WP_GEOFENCE_MAX)
        err = wp_error_set(WP_ELIMIT, "the tenant has %d geofences already (the most allowed)",
                           WP_GEOFENCE_MAX);
    wp_db_done(s);
    if (err < 0 || (err = write_texts(f, &pts, sched)) < 0)
        goto out;
    wp_id_new(f->id);
    f->created_us = f->updated_us = now_us;
    if ((err = wp_db_prepare(st, &s,
                             "INSERT INTO geofences (tenant_id, " COLS ") VALUES (?, ?, ?, ?, ?,"
                             " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    bind_fence(s, 2, f, &pts, sched);
    if ((err = wp_db_step(s)) > 0)
        err = 0;
    wp_db_done(s);
    if (err == 0)
        err = bump(st, tenant_id);
out:
    wp_buf_release(&pts);
    return err;
}

int wp_store_geofence_update(wp_store *st, const char *tenant_id, wp_geofence *f, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    wp_buf pts;
    char sched[64];
    int err;

    wp_buf_init(&pts, 64 * 1024);
    if ((err = wp_store__unit_exists(st, tenant_id, f->org_unit_id)) < 0 ||
        (err = write_texts(f, &pts, sched)) < 0)
        goto out;
    f->updated_us = now_us;
    if ((err = wp_db_prepare(st, &s,
                             "UPDATE geofences SET id = ?, org_unit_id = ?, name = ?, kind = ?,"
                             " center_lat_e7 = ?, center_lon_e7 = ?, radius_m = ?, points_json = ?,"
                             " schedule_json = ?, min_lat_e7 = ?, max_lat_e7 = ?, min_lon_e7 = ?,"
                             " max_lon_e7 = ?, created_us = ?, updated_us = ? WHERE tenant_id = ?"
                             " AND id = ? RETURNING id")) < 0)
        goto out;
    bind_fence(s, 1, f, &pts, sched);
    wp_db_bind_text(s, 16, tenant_id);
    wp_db_bind_text(s, 17, f->id);
    if ((err = wp_db_step(s)) == WP_DB_DONE)
        err = wp_error_set(WP_ENOTFOUND, "geofence '%s' not found", f->id);
    else if (err > 0)
        err = 0;
    wp_db_done(s);
    if (err == 0)
        err = bump(st, tenant_id);
out:
    wp_buf_release(&pts);
    return err;
}

int wp_store_geofence_get(wp_store *st, wp_geofence *out, const char *tenant_id, const char *id)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT " COLS " FROM geofences WHERE tenant_id = ? AND id = ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, id);
    if ((err = wp_db_step(s)) == WP_DB_ROW)
        err = read_row(s, out);
    else if (err == WP_DB_DONE)
        err = wp_error_set(WP_ENOTFOUND, "geofence '%s' not found", id);
    wp_db_done(s);
    return err;
}

int wp_store_geofence_delete(wp_store *st, const char *tenant_id, const char *id)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_db_prepare(st, &s, "DELETE FROM geofences WHERE tenant_id = ? AND id = ?"
                                     " RETURNING id")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, id);
    if ((err = wp_db_step(s)) == WP_DB_DONE)
        err = wp_error_set(WP_ENOTFOUND, "geofence '%s' not found", id);
    else if (err > 0)
        err = 0;
    wp_db_done(s);
    return err == 0 ? bump(st, tenant_id) : err;
}

int wp_store_geofence_list(wp_store *st, wp_geofence **out, size_t *n, const char *tenant_id)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT " COLS " FROM geofences WHERE tenant_id = ? ORDER BY name,"
                             " id")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    err = read_all(s, out, n);
    wp_db_done(s);
    return err;
}

int wp_store_geofences_binding(wp_store *st, wp_geofence **out, size_t *n, const char *tenant_id,
                               const char *employee_id)
{
    struct wp_stmt *s = NULL;
    int err;
    /* the units on the path "/<root>/.../<own>/" of the employee's unit */
    if ((err = wp_db_prepare(
             st, &s,
             "SELECT g.id, g.org_unit_id, g.name, g.kind, g.center_lat_e7, g.center_lon_e7,"
             " g.radius_m, g.points_json, g.schedule_json, g.min_lat_e7, g.max_lat_e7,"
             " g.min_lon_e7, g.max_lon_e7, g.created_us, g.updated_us FROM employees e"
             " JOIN org_units u ON u.tenant_id = e.tenant_id AND u.id = e.org_unit_id"
             " JOIN geofences g ON g.tenant_id = e.tenant_id AND g.active = 1"
             " AND ('/' || u.path) LIKE ('%/' || g.org_unit_id || '/%')"
             " WHERE e.tenant_id = ? AND e.id = ? ORDER BY g.id")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, employee_id);
    err = read_all(s, out, n);
    wp_db_done(s);
    return err;
}

/* --- the tenants' fences in memory ---------------------------------------------------------- */

/* A tenant's fences at one version: shared by the batches that use it (refs under cache_mu). */
struct tenant_set {
    char tenant_id[WP_ID_LEN + 1];
    int64_t version;
    wp_geofence *v;
    size_t n;
    unsigned refs; /* the cache's own, and one per user */
    struct tenant_set *next;
};

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static struct tenant_set *cache_head;

static void set_unref(struct tenant_set *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&cache_mu);
    unsigned left = --t->refs;
    pthread_mutex_unlock(&cache_mu);
    if (!left) {
        wp_geofences_free(t->v, t->n);
        free(t);
    }
}

void wp_store_geofences_forget(const char *tenant_id)
{
    struct tenant_set *gone = NULL;
    pthread_mutex_lock(&cache_mu);
    for (struct tenant_set **p = &cache_head; *p;) {
        struct tenant_set *t = *p;
        if (tenant_id && strcmp(t->tenant_id, tenant_id)) {
            p = &t->next;
            continue;
        }
        *p = t->next;
        t->next = gone;
        gone = t;
    }
    pthread_mutex_unlock(&cache_mu);
    while (gone) { /* a batch using one keeps it until it is done */
        struct tenant_set *next = gone->next;
        set_unref(gone);
        gone = next;
    }
}

/* The tenant's fences at version: from the cache, else read on st and installed (a newer one
 * replaces an older; two nodes each read the store's version, so neither uses a stale set). */
static int set_get(struct tenant_set **out, wp_store *st, const char *tenant_id, int64_t version)
{
    struct tenant_set *t, *old = NULL;
    int err;
    pthread_mutex_lock(&cache_mu);
    for (t = cache_head; t; t = t->next)
        if (!strcmp(t->tenant_id, tenant_id) && t->version == version) {
            t->refs++;
            break;
        }
    pthread_mutex_unlock(&cache_mu);
    if (t) {
        *out = t;
        return 0;
    }
    if (!(t = calloc(1, sizeof *t)))
        return wp_error_set(WP_ENOMEM, "out of memory");
    snprintf(t->tenant_id, sizeof t->tenant_id, "%s", tenant_id);
    t->version = version;
    t->refs = 2; /* the cache's and the caller's */
    if ((err = wp_store_geofence_list(st, &t->v, &t->n, tenant_id)) < 0) {
        free(t);
        return err;
    }
    pthread_mutex_lock(&cache_mu);
    for (struct tenant_set **p = &cache_head; *p; p = &(*p)->next)
        if (!strcmp((*p)->tenant_id, tenant_id)) {
            if ((*p)->version > version) { /* a newer one came in meanwhile: keep it */
                t->refs--;
                pthread_mutex_unlock(&cache_mu);
                *out = t;
                return 0;
            }
            old = *p;
            *p = old->next;
            break;
        }
    t->next = cache_head;
    cache_head = t;
    pthread_mutex_unlock(&cache_mu);
    set_unref(old);
    *out = t;
    return 0;
}

/* --- ingest ------------------------------------------------------------------------------- */

enum { ST_UNKNOWN, ST_INSIDE, ST_OUTSIDE };
static const char *const state_names[] = {"unknown", "inside", "outside"};

struct fence_run {
    struct tenant_set *set;
    const wp_geofence **v; /* those of set binding the employee */
    size_t n;
    wp_workcal *cal;
    const wp_workhours *hours; /* the employee's */
    /* the distinct schedules of v (slot 0: the employee's hours), each asked once a point */
    wp_workhours *sched;
    size_t n_sched, *slot; /* slot[i]: the schedule of v[i] */
    int *in_force;         /* per slot, for the current point */
    int state, have_row;
    int64_t since_us;
};

/* PostgreSQL: two devices of one employee on two nodes take turns deciding its state (the
 * device row's lock covers one device only); SQLite has one writer. */
static int lock_employee(wp_store *st, const wp_event_batch *b)
{
    uint32_t h = 2166136261u;
    for (const char *p = b->tenant_id; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    for (const char *p = b->employee_id; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    if (wp_store_backend(st) != WP_STORE_PG)
        return 0;
    return wp_db_run(st, "SELECT pg_advisory_xact_lock(CAST(? AS INTEGER), CAST(? AS INTEGER))",
                     "ii", (int64_t)0x77700018, (int64_t)(int32_t)h);
}

static int read_state(wp_store *st, struct fence_run *r, const wp_event_batch *b)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = lock_employee(st, b)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT state, since_us FROM geofence_state WHERE tenant_id = ?"
                             " AND employee_id = ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, b->tenant_id);
    wp_db_bind_text(s, 2, b->employee_id);
    r->state = ST_UNKNOWN;
    if ((err = wp_db_step(s)) == WP_DB_ROW) {
        const char *t = wp_db_col_text(s, 0);
        r->state = !strcmp(t, "inside") ? ST_INSIDE : !strcmp(t, "outside") ? ST_OUTSIDE : ST_UNKNOWN;
        r->since_us = wp_db_col_int64(s, 1);
        r->have_row = 1;
    }
    wp_db_done(s);
    return err < 0 ? err : 0;
}

static int write_state(wp_store *st, struct fence_run *r, const wp_event_batch *b,
                       const wp_event *e)
{
    r->since_us = e->ts_us; /* a later point of the same batch is late against it too */
    if (r->have_row)
        return wp_db_run(st,
                         "UPDATE geofence_state SET state = ?, since_us = ?, last_lat_e7 = ?,"
                         " last_lon_e7 = ? WHERE tenant_id = ? AND employee_id = ?",
                         "tiiitt", state_names[r->state], e->ts_us, e->lat_e7, e->lon_e7,
                         b->tenant_id, b->employee_id);
    r->have_row = 1;
    return wp_db_run(st,
                     "INSERT INTO geofence_state (tenant_id, employee_id, state, since_us,"
                     " last_lat_e7, last_lon_e7) VALUES (?, ?, ?, ?, ?, ?)",
                     "tttiii", b->tenant_id, b->employee_id, state_names[r->state], e->ts_us,
                     e->lat_e7, e->lon_e7);
}

/* One location: the nearest fence in force and its signed distance. 0: none in force. */
static int nearest(const struct fence_run *r, const wp_event *e, double margin, double *d,
                   const wp_geofence **which)
{
    int any = 0;
    /* the margin in e7 degrees of latitude, and of longitude at the point's latitude */
    double pad = margin / WP_GEO_M_PER_E7 + 1;
    double c = cos((double)e->lat_e7 * 3.14159265358979323846 / 180.0 / 1e7);
    double pad_lon = c > 0.01 ? pad / c : 4e9;
    for (size_t k = 0; k < r->n_sched; k++)
        r->in_force[k] = wp_workcal_contains(r->cal, &r->sched[k], e->ts_us);
    for (size_t i = 0; i < r->n; i++) {
        const wp_geofence *f = r->v[i];
        if (!r->in_force[r->slot[i]])
            continue;
        double x;
        /* beyond the box by more than the margin: outside by more than the margin, whatever
         * the exact distance */
        if ((double)e->lat_e7 < (double)f->min_lat - pad ||
            (double)e->lat_e7 > (double)f->max_lat + pad ||
            (double)e->lon_e7 < (double)f->min_lon - pad_lon ||
            (double)e->lon_e7 > (double)f->max_lon + pad_lon) {
            x = margin + 1e6;
        } else {
            wp_geo_fence g;
            wp_geofence_shape(&g, f);
            x = wp_geo_fence_distance(&g, e->lat_e7, e->lon_e7);
        }
        if (!any || x < *d) {
            *d = x;
            *which = f;
        }
        any = 1;
    }
    return any;
}

static int one_point(wp_store *st, struct fence_run *r, wp_event_batch *b, wp_event *e,
                     int64_t stored_us, const wp_geofence **last_in)
{
    double margin = wp_geo_fence_margin(e->accuracy_cm), d = 0;
    const wp_geofence *f = NULL;
    char id[WP_ID_LEN + 1];
    int err;

    if (r->have_row && e->ts_us < r->since_us)
        return 0; /* a late point: decided already */
    if (!nearest(r, e, margin, &d, &f))
        return 0; /* no fence in force: nothing is decided */
    enum wp_geo_side side = wp_geo_fence_side(d, margin);
    int now = side == WP_GEO_OUTSIDE ? ST_OUTSIDE : side == WP_GEO_INSIDE ? ST_INSIDE : r->state;
    if (now == ST_INSIDE)
        *last_in = f;
    if (now == r->state || now == ST_UNKNOWN)
        return 0;
    int was = r->state;
    r->state = now;
    if ((err = write_state(st, r, b, e)) < 0)
        return err;
    if (was == ST_UNKNOWN)
        return 0; /* the first decision: neither a leaving nor a return */
    wp_id_new(id);
    if (now == ST_OUTSIDE) {
        /* the fence left: the one the employee was last seen inside, else the nearest */
        const wp_geofence *left = *last_in ? *last_in : f;
        wp_id_new(e->fence_alert_id);
        if ((err = wp_db_run(st,
                             "INSERT INTO alerts (tenant_id, id, ts_us, kind, category,"
                             " employee_id, device_id, seq, action, matched, created_us,"
                             " updated_us) VALUES (?, ?, ?, 'geofence', 'geofence', ?, ?, ?,"
                             " 'alert', ?, ?, ?)",
                             "ttittitii", b->tenant_id, e->fence_alert_id, e->ts_us,
                             b->employee_id, b->device_id, e->seq, left->name, stored_us,
                             b->now_us)) < 0)
            return err;
        return wp_db_run(st,
                         "INSERT INTO geofence_events (tenant_id, id, employee_id, device_id,"
                         " kind, geofence_id, ts_us, lat_e7, lon_e7, alert_id, created_us)"
                         " VALUES (?, ?, ?, ?, 'geofence.leave', ?, ?, ?, ?, ?, ?)",
                         "tttttiiiti", b->tenant_id, id, b->employee_id, b->device_id, left->id,
                         e->ts_us, e->lat_e7, e->lon_e7, e->fence_alert_id, b->now_us);
    }
    return wp_db_run(st,
                     "INSERT INTO geofence_events (tenant_id, id, employee_id, device_id, kind,"
                     " geofence_id, ts_us, lat_e7, lon_e7, alert_id, created_us)"
                     " VALUES (?, ?, ?, ?, 'geofence.return', ?, ?, ?, ?, NULL, ?)",
                     "tttttiiii", b->tenant_id, id, b->employee_id, b->device_id, f->id, e->ts_us,
                     e->lat_e7, e->lon_e7, b->now_us);
}

int wp_store__geofence_ingest(wp_store *st, wp_event_batch *b, int64_t stored_us)
{
    struct fence_run r;
    const wp_geofence *last_in = NULL;
    int any = 0, err;

    for (size_t i = 0; i < b->n && !any; i++)
        any = b->events[i].type == WP_EVENT_LOCATION && b->events[i].applied &&
              !b->events[i].duplicate;
    if (!any)
        return 0;
    memset(&r, 0, sizeof r);
    /* one statement: the employee's unit path and the tenant's fence version */
    struct wp_stmt *s = NULL;
    char path[1024] = "";
    int64_t version = 0;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT u.path, (SELECT v.version FROM geofence_versions v WHERE"
                             " v.tenant_id = e.tenant_id) FROM employees e JOIN org_units u ON"
                             " u.tenant_id = e.tenant_id AND u.id = e.org_unit_id WHERE"
                             " e.tenant_id = ? AND e.id = ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, b->tenant_id);
    wp_db_bind_text(s, 2, b->employee_id);
    if ((err = wp_db_step(s)) == WP_DB_ROW) {
        err = wp_db_col_copy(s, 0, path, sizeof path);
        version = wp_db_col_isnull(s, 1) ? 0 : wp_db_col_int64(s, 1);
    }
    wp_db_done(s);
    if (err < 0 || !version) /* no employee, or a tenant that never had a fence */
        return err < 0 ? err : 0;
    if ((err = set_get(&r.set, st, b->tenant_id, version)) < 0)
        goto out;
    if (!(r.v = malloc((r.set->n ? r.set->n : 1) * sizeof *r.v))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < r.set->n; i++) {
        char needle[WP_ID_LEN + 3];
        snprintf(needle, sizeof needle, "/%s/", r.set->v[i].org_unit_id);
        if (strstr(path, needle))
            r.v[r.n++] = &r.set->v[i];
    }
    if (!r.n)
        goto out;
    if ((err = read_state(st, &r, b)) < 0 ||
        (err = wp_workcal_load_employee(&r.cal, &r.hours, st, b->tenant_id, b->employee_id)) < 0)
        goto out;
    r.sched = malloc((r.n + 1) * sizeof *r.sched);
    r.slot = malloc(r.n * sizeof *r.slot);
    r.in_force = malloc((r.n + 1) * sizeof *r.in_force);
    if (!r.sched || !r.slot || !r.in_force) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    r.sched[r.n_sched++] = *r.hours;
    for (size_t i = 0; i < r.n; i++) {
        const wp_workhours *h = r.v[i]->has_schedule ? &r.v[i]->schedule : r.hours;
        size_t k = 0;
        while (k < r.n_sched && (r.sched[k].days != h->days || r.sched[k].from_min != h->from_min ||
                                 r.sched[k].to_min != h->to_min))
            k++;
        if (k == r.n_sched)
            r.sched[r.n_sched++] = *h;
        r.slot[i] = k;
    }
    for (size_t i = 0; i < b->n && err == 0; i++) {
        wp_event *e = &b->events[i];
        if (e->type == WP_EVENT_LOCATION && e->applied && !e->duplicate)
            err = one_point(st, &r, b, e, stored_us, &last_in);
    }
out:
    wp_workcal_free(r.cal);
    free(r.sched);
    free(r.slot);
    free(r.in_force);
    free(r.v);
    set_unref(r.set);
    return err;
}
