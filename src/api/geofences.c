/* SPDX-License-Identifier: MIT */
/* /api/v1/geofences: circles and polygons of org units (CONTRACT §7). Managers write within
 * their units (right manage, scope by org_unit_id); readers list what is in their scope. */
#include "api/api.h"
#include "store/geofence.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/utf8.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* [lon, lat] in degrees into e7 */
static int parse_point(int64_t *lat, int64_t *lon, json_t *v, const char *field)
{
    json_t *a = json_array_get(v, 0), *b = json_array_get(v, 1);
    if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_number(a) || !json_is_number(b))
        return wp_error_set(WP_EINVAL, "'%s' must be [lon, lat] in degrees", field);
    double x = json_number_value(a), y = json_number_value(b);
    if (!(x >= -180 && x <= 180) || !(y >= -90 && y <= 90))
        return wp_error_set(WP_EINVAL, "'%s': lon must be -180..180 and lat -90..90", field);
    *lon = (int64_t)llround(x * 1e7);
    *lat = (int64_t)llround(y * 1e7);
    return 0;
}

static int parse_shape(wp_geofence *f, json_t *o)
{
    static const char *const circle[] = {"type", "center", "radius_m", NULL};
    static const char *const polygon[] = {"type", "points", NULL};
    const char *type = json_string_value(json_object_get(o, "type"));
    int err;
    if (!json_is_object(o) || !type)
        return wp_error_set(WP_EINVAL, "'shape' must be an object with 'type' circle or polygon");
    free(f->pts);
    f->pts = NULL;
    f->n = 0;
    if (!strcmp(type, "circle")) {
        json_t *r = json_object_get(o, "radius_m");
        if ((err = api_body_check_fields(o, circle)) < 0 ||
            (err = parse_point(&f->lat_e7, &f->lon_e7, json_object_get(o, "center"),
                               "shape.center")) < 0)
            return err;
        if (!json_is_number(r) || !(json_number_value(r) >= WP_GEOFENCE_RADIUS_MIN) ||
            !(json_number_value(r) <= WP_GEOFENCE_RADIUS_MAX))
            return wp_error_set(WP_EINVAL, "'shape.radius_m' must be %d to %d metres",
                                WP_GEOFENCE_RADIUS_MIN, WP_GEOFENCE_RADIUS_MAX);
        f->radius_m = (int64_t)llround(json_number_value(r));
        f->polygon = 0;
        return 0;
    }
    if (strcmp(type, "polygon") != 0)
        return wp_error_set(WP_EINVAL, "'shape.type' must be circle or polygon");
    json_t *pts = json_object_get(o, "points"), *p;
    if ((err = api_body_check_fields(o, polygon)) < 0)
        return err;
    if (!json_is_array(pts) || json_array_size(pts) < 3)
        return wp_error_set(WP_EINVAL, "'shape.points' must list at least 3 points [lon, lat]");
    if (json_array_size(pts) > WP_GEO_FENCE_POINTS_MAX)
        return wp_error_set(WP_EINVAL, "'shape.points' has more than %d points",
                            WP_GEO_FENCE_POINTS_MAX);
    if (!(f->pts = calloc(json_array_size(pts), sizeof *f->pts)))
        return wp_error_set(WP_ENOMEM, "out of memory");
    size_t i;
    json_array_foreach(pts, i, p)
    {
        if ((err = parse_point(&f->pts[i][1], &f->pts[i][0], p, "shape.points")) < 0)
            return err;
        f->n++;
    }
    f->polygon = 1;
    return 0;
}

/* name, org_unit_id, shape, schedule: those present (all of them on create). */
static int parse_body(wp_geofence *f, json_t *body, int create)
{
    static const char *const fields[] = {"name", "org_unit_id", "shape", "schedule", NULL};
    json_t *v;
    int err;
    if ((err = api_body_check_fields(body, fields)) < 0)
        return err;
    if (!create && !json_object_size(body))
        return wp_error_set(WP_EINVAL, "nothing to change: 'name', 'org_unit_id', 'shape' or"
                                       " 'schedule'");
    if ((v = json_object_get(body, "name")) || create) {
        const char *n = json_string_value(v);
        if (!n || !*n)
            return wp_error_set(WP_EINVAL, "'name' must be a text of 1 to %d characters",
                                WP_GEOFENCE_NAME_MAX);
        if ((err = wp_text_check("name", n, strlen(n), WP_GEOFENCE_NAME_MAX, 0)) < 0)
            return err;
        snprintf(f->name, sizeof f->name, "%s", n);
    }
    if ((v = json_object_get(body, "org_unit_id")) || create) {
        if (!api_is_id(json_string_value(v)))
            return wp_error_set(WP_EINVAL, "'org_unit_id' must be an org unit id");
        snprintf(f->org_unit_id, sizeof f->org_unit_id, "%s", json_string_value(v));
    }
    if ((v = json_object_get(body, "shape")) || create)
        if ((err = parse_shape(f, v)) < 0)
            return err;
    if ((v = json_object_get(body, "schedule"))) {
        f->has_schedule = !json_is_null(v);
        if (f->has_schedule && (err = api_hours_parse(&f->schedule, v, "schedule")) < 0)
            return err;
    }
    return 0;
}

static json_t *fence_json(const wp_geofence *f)
{
    return wp_ingest_geofence_json(f);
}

/* 0 when the caller's scope holds the unit (WP_ENOTFOUND otherwise, as a missing one). */
static int unit_in_scope(wp_store *st, const api_scope *scope, const char *tenant_id,
                         const char *unit_id)
{
    wp_org_unit u;
    int err;
    if (scope->all)
        return 0;
    if ((err = wp_store_org_unit_get(st, &u, tenant_id, unit_id)) < 0)
        return err;
    return api_scope_allows_org_unit(scope, &u);
}

static int reply_fence(wp_http_ctx *ctx, int status, const wp_geofence *f)
{
    json_t *o = fence_json(f);
    if (!o)
        return wp_error_set(WP_ENOMEM, "out of memory");
    return wp_http_reply_json(ctx, status, o);
}

int api_geofences_list(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    api_scope scope;
    wp_geofence *v = NULL;
    size_t n = 0;
    json_t *items = json_array();
    int err;

    if (!items)
        return wp_error_set(WP_ENOMEM, "out of memory");
    if ((err = api_store_acquire(ctx, &st)) < 0)
        goto out;
    if ((err = api_scope_for(ctx, st, &scope)) < 0 ||
        (err = wp_store_geofence_list(st, &v, &n, c->tenant_id)) < 0)
        goto out;
    /* the units' answers, asked once a unit (the list holds up to 1,000 fences) */
    const char **seen = n ? calloc(n, sizeof *seen) : NULL;
    int *seen_in = n ? calloc(n, sizeof *seen_in) : NULL;
    size_t n_seen = 0;
    if (n && (!seen || !seen_in))
        err = wp_error_set(WP_ENOMEM, "out of memory");
    for (size_t i = 0; i < n && err == 0; i++) {
        size_t k = 0;
        while (k < n_seen && strcmp(seen[k], v[i].org_unit_id) != 0)
            k++;
        if (k == n_seen) {
            seen[n_seen] = v[i].org_unit_id;
            seen_in[n_seen++] = unit_in_scope(st, &scope, c->tenant_id, v[i].org_unit_id);
        }
        int in = seen_in[k];
        if (in == WP_ENOTFOUND)
            continue;
        json_t *o = in < 0 ? NULL : fence_json(&v[i]);
        if ((err = in) == 0 && (!o || json_array_append_new(items, o) < 0))
            err = wp_error_set(WP_ENOMEM, "out of memory");
    }
    free(seen);
    free(seen_in);
out:
    api_store_release(ctx, st);
    wp_geofences_free(v, n);
    if (err < 0) {
        json_decref(items);
        return err;
    }
    return wp_http_reply_json(ctx, 200, json_pack("{s:o}", "items", items));
}

int api_geofences_get(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    const char *id = wp_http_param(ctx, "id");
    wp_store *st = NULL;
    api_scope scope;
    wp_geofence f = {0};
    int err;

    if (!api_is_id(id))
        return wp_error_set(WP_ENOTFOUND, "geofence not found");
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) == 0 &&
        (err = wp_store_geofence_get(st, &f, c->tenant_id, id)) == 0 &&
        (err = unit_in_scope(st, &scope, c->tenant_id, f.org_unit_id)) == WP_ENOTFOUND)
        err = wp_error_set(WP_ENOTFOUND, "geofence '%s' not found", id);
    api_store_release(ctx, st);
    if (err == 0)
        err = reply_fence(ctx, 200, &f);
    wp_geofence_release(&f);
    return err;
}

/* The write of create, update and delete: in scope, one transaction with its audit row. */
static int write_fence(wp_http_ctx *ctx, const char *id, json_t *body)
{
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    api_scope scope;
    wp_geofence f = {0};
    int create = !id, del = id && !body, err;
    char old_unit[WP_ID_LEN + 1] = "";

    if (id && !api_is_id(id))
        return wp_error_set(WP_ENOTFOUND, "geofence not found");
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0 || (err = wp_store_begin(st)) < 0)
        goto out;
    if (id) {
        if ((err = wp_store_geofence_get(st, &f, c->tenant_id, id)) < 0 ||
            (err = unit_in_scope(st, &scope, c->tenant_id, f.org_unit_id)) < 0) {
            if (err == WP_ENOTFOUND)
                err = wp_error_set(WP_ENOTFOUND, "geofence '%s' not found", id);
            goto fail;
        }
        memcpy(old_unit, f.org_unit_id, sizeof old_unit);
    }
    if (body && (err = parse_body(&f, body, create)) < 0)
        goto fail;
    if (!del && strcmp(old_unit, f.org_unit_id) != 0 &&
        (err = unit_in_scope(st, &scope, c->tenant_id, f.org_unit_id)) < 0) {
        if (err == WP_ENOTFOUND)
            err = wp_error_set(WP_EINVAL, "'org_unit_id': org unit '%s' not found",
                               f.org_unit_id);
        goto fail;
    }
    int64_t now = wp_time_now_us();
    if (create)
        err = wp_store_geofence_create(st, c->tenant_id, &f, now);
    else if (del)
        err = wp_store_geofence_delete(st, c->tenant_id, id);
    else
        err = wp_store_geofence_update(st, c->tenant_id, &f, now);
    if (err == WP_ENOTFOUND && !del)
        err = wp_error_set(WP_EINVAL, "'org_unit_id': org unit '%s' not found", f.org_unit_id);
    if (err < 0)
        goto fail;
    /* the reply is made before the commit (api_write_reply): nothing left to fail after it */
    const char *action = create ? "geofence.create" : del ? "geofence.delete" : "geofence.update";
    if (del) {
        json_t *d = json_pack("{s:s}", "org_unit_id", f.org_unit_id);
        err = api_audit_reply(ctx, st, 0, action, "geofence", f.id, d, NULL, 204);
        json_decref(d);
    } else {
        err = api_write_reply(ctx, st, 0, action, "geofence", f.id, fence_json(&f),
                              create ? 201 : 200);
    }
    st = NULL;
    goto out;
fail:
    wp_store_rollback(st);
out:
    api_store_release(ctx, st);
    wp_geofence_release(&f);
    return err;
}

int api_geofences_create(wp_http_ctx *ctx)
{
    json_t *body;
    int err;
    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0)
        return err;
    return write_fence(ctx, NULL, body);
}

int api_geofences_update(wp_http_ctx *ctx)
{
    json_t *body;
    int err;
    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0)
        return err;
    return write_fence(ctx, wp_http_param(ctx, "id"), body);
}

int api_geofences_delete(wp_http_ctx *ctx)
{
    return write_fence(ctx, wp_http_param(ctx, "id"), NULL);
}
