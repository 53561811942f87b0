/* SPDX-License-Identifier: MIT */
/* Field staff offline (issue 18): the policy's geofences, working hours and off-duty rule, and
 * the inside/outside state the server's ingest keeps, decided here with the same rule. */
#include "agent/agent_int.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void wp_agent__field_release(struct wp_agent_field *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->fences[i].pts);
    free(f->fences);
    wp_tz_release(&f->tz);
    memset(f, 0, sizeof *f);
}

/* "HH:MM" (up to "24:00") into minutes; -1 when it is not one. */
static int minutes(const char *s)
{
    if (!s || strlen(s) != 5 || s[2] != ':')
        return -1;
    for (int i = 0; i < 5; i++)
        if (i != 2 && (s[i] < '0' || s[i] > '9'))
            return -1;
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    int v = h * 60 + m;
    return m < 60 && v <= 24 * 60 ? v : -1;
}

/* {"days": [1..7], "from": "HH:MM", "to": "HH:MM"} as the server writes it; 0 or -1. */
static int hours(const json_t *o, unsigned *days, int *from, int *to)
{
    const json_t *d = json_object_get(o, "days");
    size_t i;
    const json_t *v;
    if (!json_is_array(d))
        return -1;
    *days = 0;
    json_array_foreach(d, i, v) {
        json_int_t n = json_integer_value(v);
        if (!json_is_integer(v) || n < 1 || n > 7)
            return -1;
        *days |= 1u << (n - 1);
    }
    *from = minutes(json_string_value(json_object_get(o, "from")));
    *to = minutes(json_string_value(json_object_get(o, "to")));
    return *from >= 0 && *from < 24 * 60 && *to > 0 && *to != *from ? 0 : -1;
}

static int64_t e7(double deg)
{
    return llround(deg * 1e7);
}

/* One fence of the policy (wp_ingest_geofence_json); 0 or -1. */
static int fence(struct wp_agent_fence *out, const json_t *o)
{
    const json_t *shape = json_object_get(o, "shape"), *sched = json_object_get(o, "schedule");
    const char *id = json_string_value(json_object_get(o, "id"));
    const char *name = json_string_value(json_object_get(o, "name"));
    const char *type = json_string_value(json_object_get(shape, "type"));
    memset(out, 0, sizeof *out);
    if (!id || !name || !type)
        return -1;
    snprintf(out->id, sizeof out->id, "%s", id);
    snprintf(out->name, sizeof out->name, "%s", name);
    if (sched && !json_is_null(sched)) {
        if (hours(sched, &out->days, &out->from_min, &out->to_min) < 0)
            return -1;
        out->has_schedule = 1;
    }
    if (!strcmp(type, "circle")) {
        const json_t *c = json_object_get(shape, "center");
        const json_t *r = json_object_get(shape, "radius_m");
        if (json_array_size(c) != 2 || !json_is_number(json_array_get(c, 0)) ||
            !json_is_number(json_array_get(c, 1)) || !json_is_number(r))
            return -1;
        out->shape.lon_e7 = e7(json_number_value(json_array_get(c, 0)));
        out->shape.lat_e7 = e7(json_number_value(json_array_get(c, 1)));
        out->shape.radius_m = json_number_value(r);
        return 0;
    }
    const json_t *pts = json_object_get(shape, "points");
    size_t n = json_array_size(pts);
    if (strcmp(type, "polygon") != 0 || n < 3 || n > WP_GEO_FENCE_POINTS_MAX)
        return -1;
    if (!(out->pts = malloc(n * sizeof *out->pts)))
        return -1;
    for (size_t i = 0; i < n; i++) {
        const json_t *p = json_array_get(pts, i);
        if (json_array_size(p) != 2 || !json_is_number(json_array_get(p, 0)) ||
            !json_is_number(json_array_get(p, 1)))
            return -1;
        out->pts[i][0] = e7(json_number_value(json_array_get(p, 0)));
        out->pts[i][1] = e7(json_number_value(json_array_get(p, 1)));
    }
    out->shape.polygon = 1;
    out->shape.pts = (const int64_t(*)[2])out->pts;
    out->shape.n = n;
    return 0;
}

int wp_agent__field_parse(struct wp_agent_field *out, const char *policy, size_t len)
{
    json_t *j = json_loadb(policy, len, 0, NULL);
    const json_t *settings = json_object_get(j, "settings");
    const json_t *fences = json_object_get(j, "geofences");
    const json_t *wh = json_object_get(settings, "working_hours");
    const char *zone = json_string_value(json_object_get(settings, "time_zone"));
    int err = 0;

    memset(out, 0, sizeof *out);
    if (!json_is_object(j)) {
        err = -1;
        goto out;
    }
    const char *off_duty = json_string_value(json_object_get(settings, "locations_off_duty"));
    out->keep = off_duty && !strcmp(off_duty, "keep"); /* anything else: the default, drop */
    /* A zone this device's zone files do not know, or no hours (an older server): off-duty
     * points are recorded (the server drops them) and fences on the working hours are never in
     * force here; nothing is decided wrongly, only less offline. */
    if (zone && wh && hours(wh, &out->days, &out->from_min, &out->to_min) == 0 &&
        wp_tz_load(&out->tz, zone, "'time_zone'") == 0) {
        out->have_hours = 1;
        snprintf(out->zone, sizeof out->zone, "%s", zone);
    }
    size_t n = json_array_size(fences);
    if (n && !(out->fences = calloc(n, sizeof *out->fences))) {
        err = -1;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (fence(&out->fences[out->n], json_array_get(fences, i)) < 0) {
            free(out->fences[out->n].pts); /* a shape this agent does not know: skipped */
            continue;
        }
        out->n++;
    }
    out->have_policy = 1;
out:
    json_decref(j);
    if (err < 0)
        wp_agent__field_release(out);
    return err;
}

/* 1 when t_us is within the weekly schedule; 0 without known hours. */
static int contains(const struct wp_agent_field *f, unsigned days, int from, int to, int64_t t_us)
{
    return f->have_hours && wp_tz_weekly_contains(&f->tz, days, from, to, t_us);
}

int wp_agent__field_on_duty(const struct wp_agent_field *f, int64_t t_us)
{
    return contains(f, f->days, f->from_min, f->to_min, t_us);
}

int wp_agent__field_decide(const struct wp_agent_field *f, struct wp_agent_fence_step *step,
                           int64_t t_us, int64_t lat_e7, int64_t lon_e7, int64_t accuracy_cm)
{
    double margin = wp_geo_fence_margin(accuracy_cm), d = 0;
    const struct wp_agent_fence *nearest = NULL;

    memset(step, 0, sizeof *step);
    step->state = f->state;
    if (f->state != WP_AGENT_FENCE_UNKNOWN && t_us < f->since_us)
        return 0; /* a point older than the decision: late, changes nothing */
    for (size_t i = 0; i < f->n; i++) {
        const struct wp_agent_fence *x = &f->fences[i];
        int in_force = x->has_schedule ? contains(f, x->days, x->from_min, x->to_min, t_us)
                                       : wp_agent__field_on_duty(f, t_us);
        if (!in_force)
            continue;
        double dx = wp_geo_fence_distance(&x->shape, lat_e7, lon_e7);
        if (!nearest || dx < d) {
            d = dx;
            nearest = x;
        }
    }
    if (!nearest)
        return 0; /* no fence in force: nothing is decided */
    enum wp_geo_side side = wp_geo_fence_side(d, margin);
    int now = side == WP_GEO_OUTSIDE ? WP_AGENT_FENCE_OUTSIDE
            : side == WP_GEO_INSIDE  ? WP_AGENT_FENCE_INSIDE
                                     : f->state;
    if (now == WP_AGENT_FENCE_INSIDE)
        step->inside = nearest;
    if (now == f->state || now == WP_AGENT_FENCE_UNKNOWN)
        return 0;
    step->changed = 1;
    step->state = now;
    step->since_us = t_us;
    if (f->state == WP_AGENT_FENCE_UNKNOWN)
        return 0; /* the first decision: neither a leaving nor a return */
    if (now == WP_AGENT_FENCE_OUTSIDE) {
        step->left = 1;
        /* the fence left: the one last seen inside, else the nearest (as the server's alert) */
        step->fence_id = f->last_in_id[0] ? f->last_in_id : nearest->id;
        step->fence_name = f->last_in_id[0] ? f->last_in_name : nearest->name;
    } else {
        step->returned = 1;
        step->fence_id = nearest->id;
        step->fence_name = nearest->name;
    }
    return 0;
}

int wp_agent__field_apply(wp_agent *a, const struct wp_agent_fence_step *step)
{
    struct wp_agent_field *f = &a->field;
    char in_id[sizeof f->last_in_id], in_name[sizeof f->last_in_name];
    char id[sizeof f->fence_id], name[sizeof f->fence_name];
    int state = step->changed ? step->state : f->state;
    int64_t since = step->changed ? step->since_us : f->since_us;
    int err;

    /* copies first: step may point into f. Inside: the fence inside; outside: the one left. */
    snprintf(in_id, sizeof in_id, "%s", step->inside ? step->inside->id : f->last_in_id);
    snprintf(in_name, sizeof in_name, "%s", step->inside ? step->inside->name : f->last_in_name);
    snprintf(id, sizeof id, "%s", f->fence_id);
    snprintf(name, sizeof name, "%s", f->fence_name);
    if (state == WP_AGENT_FENCE_INSIDE && step->inside) {
        snprintf(id, sizeof id, "%s", step->inside->id);
        snprintf(name, sizeof name, "%s", step->inside->name);
    } else if (step->left) {
        snprintf(id, sizeof id, "%s", step->fence_id);
        snprintf(name, sizeof name, "%s", step->fence_name);
    } else if (step->changed) {
        id[0] = name[0] = '\0';
    }
    if (state == f->state && since == f->since_us && !strcmp(id, f->fence_id) &&
        !strcmp(in_id, f->last_in_id))
        return 0; /* nothing to write: no fsync for a point that changes nothing */
    if ((err = wp_agent__begin(a)) < 0 ||
        (err = wp_agent__meta_set_int(a, "fence_state", state)) < 0 ||
        (err = wp_agent__meta_set_int(a, "fence_since_us", since)) < 0 ||
        (err = wp_agent__meta_set_text(a, "fence_id", id)) < 0 ||
        (err = wp_agent__meta_set_text(a, "fence_name", name)) < 0 ||
        (err = wp_agent__meta_set_text(a, "fence_last_in_id", in_id)) < 0 ||
        (err = wp_agent__meta_set_text(a, "fence_last_in_name", in_name)) < 0 ||
        (err = wp_agent__commit(a)) < 0) {
        wp_agent__rollback(a);
        return err;
    }
    f->state = state;
    f->since_us = since;
    snprintf(f->fence_id, sizeof f->fence_id, "%s", id);
    snprintf(f->fence_name, sizeof f->fence_name, "%s", name);
    snprintf(f->last_in_id, sizeof f->last_in_id, "%s", in_id);
    snprintf(f->last_in_name, sizeof f->last_in_name, "%s", in_name);
    return 0;
}

void wp_agent__field_install(wp_agent *a, struct wp_agent_field *nf)
{
    struct wp_agent_field *f = &a->field;
    /* the state is the employee's, not the policy's: it carries over */
    nf->state = f->state;
    nf->since_us = f->since_us;
    memcpy(nf->fence_id, f->fence_id, sizeof nf->fence_id);
    memcpy(nf->fence_name, f->fence_name, sizeof nf->fence_name);
    memcpy(nf->last_in_id, f->last_in_id, sizeof nf->last_in_id);
    memcpy(nf->last_in_name, f->last_in_name, sizeof nf->last_in_name);
    wp_agent__field_release(f);
    *f = *nf;
    memset(nf, 0, sizeof *nf);
}
