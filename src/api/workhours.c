/* SPDX-License-Identifier: MIT */
/* GET/PUT /api/v1/working-hours and GET /api/v1/employees/{id}/working-hours: the tenant's
 * time zone and working hours, per-unit overrides, and whether an employee is at work. */
#include "api/api.h"
#include "store/store.h"
#include "store/workhours.h"
#include "util/clock.h"
#include "util/error.h"

#include <stdio.h>
#include <string.h>

#define UNITS_MAX 1000 /* unit overrides one PUT may name */

/* "HH:MM" from minutes after midnight (24:00 for the end of the day). */
static void hhmm(char out[8], int min)
{
    snprintf(out, 8, "%02d:%02d", min / 60 % 100, min % 60);
}

json_t *api_hours_json(const wp_workhours *h)
{
    char a[8], b[8];
    json_t *days = json_array();
    for (int d = 1; days && d <= 7; d++)
        if (h->days & (1u << (d - 1)) && json_array_append_new(days, json_integer(d)) < 0) {
            json_decref(days);
            return NULL;
        }
    hhmm(a, h->from_min);
    hhmm(b, h->to_min);
    return days ? json_pack("{s:o,s:s,s:s}", "days", days, "from", a, "to", b) : NULL;
}

/* "HH:MM", 00:00 to 24:00. */
static int parse_hhmm(int *out, json_t *v, const char *field, const char *part)
{
    const char *s = json_string_value(v);
    if (!s || strlen(s) != 5 || s[2] != ':' || s[0] < '0' || s[0] > '9' || s[1] < '0' ||
        s[1] > '9' || s[3] < '0' || s[3] > '5' || s[4] < '0' || s[4] > '9')
        return wp_error_set(WP_EINVAL, "'%s': '%s' must be a time \"HH:MM\"", field, part);
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    if (h > 24 || (h == 24 && m))
        return wp_error_set(WP_EINVAL, "'%s': '%s' must be from 00:00 to 24:00", field, part);
    *out = h * 60 + m;
    return 0;
}

/* {"days": [1..7], "from": "HH:MM", "to": "HH:MM"} */
int api_hours_parse(wp_workhours *out, json_t *o, const char *field)
{
    static const char *const fields[] = {"days", "from", "to", NULL};
    json_t *days = json_object_get(o, "days");
    int err;
    if (!json_is_object(o))
        return wp_error_set(WP_EINVAL, "'%s' must be an object {\"days\", \"from\", \"to\"} or null",
                            field);
    if ((err = api_body_check_fields(o, fields)) < 0)
        return err;
    if (!json_is_array(days))
        return wp_error_set(WP_EINVAL, "'%s': 'days' must be a list of weekdays, 1 (Monday) to 7",
                            field);
    memset(out, 0, sizeof *out);
    size_t i;
    json_t *d;
    json_array_foreach(days, i, d)
    {
        json_int_t n = json_is_integer(d) ? json_integer_value(d) : 0;
        if (n < 1 || n > 7)
            return wp_error_set(WP_EINVAL, "'%s': 'days' must be weekdays, 1 (Monday) to 7", field);
        if (out->days & (1u << (n - 1)))
            return wp_error_set(WP_EINVAL, "'%s': day %d is listed twice", field, (int)n);
        out->days |= 1u << (n - 1);
    }
    if ((err = parse_hhmm(&out->from_min, json_object_get(o, "from"), field, "from")) < 0 ||
        (err = parse_hhmm(&out->to_min, json_object_get(o, "to"), field, "to")) < 0)
        return err;
    if (out->from_min == 24 * 60)
        return wp_error_set(WP_EINVAL, "'%s': 'from' must be before 24:00", field);
    if (out->to_min == 0)
        out->to_min = 24 * 60; /* a shift that ends at midnight */
    return wp_workhours_check(out, field);
}

/* The settings as the caller sees them: the units of its scope only. */
static json_t *settings_json(wp_store *st, const api_scope *scope,
                             const char *tenant_id, const wp_workhours_settings *s)
{
    json_t *units = json_array(), *o;
    for (size_t i = 0; units && i < s->n_units; i++) {
        const wp_workhours_unit *u = &s->units[i];
        if (!scope->all) {
            wp_org_unit ou;
            int err = wp_store_org_unit_get(st, &ou, tenant_id, u->org_unit_id);
            if (err == WP_ENOTFOUND || (err == 0 && api_scope_allows_org_unit(scope, &ou) < 0))
                continue;
            if (err < 0) {
                json_decref(units);
                return NULL;
            }
        }
        json_t *h = api_hours_json(&u->hours);
        if (!h || json_object_set_new(h, "org_unit_id", json_string(u->org_unit_id)) < 0 ||
            json_object_set_new(h, "updated_at", api_jtime(u->updated_us)) < 0 ||
            json_array_append_new(units, h) < 0) {
            json_decref(units);
            return NULL;
        }
    }
    o = units ? json_pack("{s:s,s:b,s:o,s:b,s:o,s:o}", "time_zone", s->time_zone, "time_zone_set",
                          s->zone_set, "default", api_hours_json(&s->tenant), "default_set",
                          s->tenant_set, "updated_at", api_jtime(s->updated_us), "units", units)
              : NULL;
    if (!o)
        wp_error_set(WP_ENOMEM, "out of memory");
    return o;
}

/* Read the settings on st and build the answer; the caller gives st back before replying. */
static int settings_answer(wp_http_ctx *ctx, wp_store *st, const api_scope *scope,
                           const char *tenant_id, json_t **out)
{
    wp_workhours_settings s;
    int err;
    if ((err = wp_store_workhours_get(st, &s, tenant_id)) < 0)
        return err;
    *out = settings_json(st, scope, tenant_id, &s);
    wp_workhours_settings_release(&s);
    return *out ? 0 : WP_ENOMEM;
}

int api_working_hours_get(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    api_scope scope;
    int err;
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    json_t *o = NULL;
    if ((err = api_scope_for(ctx, st, &scope)) == 0)
        err = settings_answer(ctx, st, &scope, c->tenant_id, &o);
    api_store_release(ctx, st);
    return err < 0 ? err : wp_http_reply_json(ctx, 200, o);
}

/* PUT {"time_zone"?: name|null, "default"?: hours|null, "units"?: {"<unit id>": hours|null}}:
 * what the body names is set (null: back to the default, or the unit inherits again), in one
 * transaction with its audit row working_hours.put (details: the body). */
int api_working_hours_put(wp_http_ctx *ctx)
{
    static const char *const fields[] = {"time_zone", "default", "units", NULL};
    const api_caller *c = api_caller_of(ctx);
    wp_store *st = NULL;
    api_scope scope;
    json_t *body, *v;
    wp_workhours tenant, *units = NULL;
    int err;

    if ((err = wp_http_body_object_or_reply(ctx, &body)) < 0)
        return err;
    if ((err = api_body_check_fields(body, fields)) < 0)
        return err;
    if (!json_object_size(body))
        return wp_error_set(WP_EINVAL, "nothing to set: 'time_zone', 'default' or 'units'");
    json_t *zone = json_object_get(body, "time_zone");
    if (zone && !json_is_null(zone)) {
        wp_tz z;
        if (!json_is_string(zone))
            return wp_error_set(WP_EINVAL, "'time_zone' must be a string or null");
        err = wp_tz_load(&z, json_string_value(zone), "'time_zone'");
        wp_tz_release(&z);
        if (err < 0)
            return err;
    }
    json_t *dflt = json_object_get(body, "default");
    if (dflt && !json_is_null(dflt) && (err = api_hours_parse(&tenant, dflt, "default")) < 0)
        return err;
    json_t *ju = json_object_get(body, "units");
    size_t n_units = 0;
    if (ju) {
        if (!json_is_object(ju))
            return wp_error_set(WP_EINVAL, "'units' must be an object of org unit ids");
        if (json_object_size(ju) > UNITS_MAX)
            return wp_error_set(WP_EINVAL, "'units' names more than %d units", UNITS_MAX);
        if (!(units = wp_arena_alloc(ctx->arena, (json_object_size(ju) + 1) * sizeof *units)))
            return wp_error_set(WP_ENOMEM, "out of memory");
        const char *id;
        json_object_foreach(ju, id, v)
        {
            if (!api_is_id(id))
                return wp_error_set(WP_EINVAL, "'units': '%.40s' is not an org unit id", id);
            if (!json_is_null(v) && (err = api_hours_parse(&units[n_units], v, "units")) < 0)
                return err;
            n_units++;
        }
    }

    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0 || (err = wp_store_begin(st)) < 0)
        goto out;
    int64_t now = wp_time_now_us();
    if (zone)
        err = wp_store_workhours_set_zone(st, c->tenant_id,
                                          json_is_null(zone) ? NULL : json_string_value(zone), now);
    if (err == 0 && dflt)
        err = wp_store_workhours_set(st, c->tenant_id, NULL, json_is_null(dflt) ? NULL : &tenant,
                                     now);
    if (err == 0 && ju) {
        const char *id;
        size_t i = 0;
        json_object_foreach(ju, id, v)
        {
            err = wp_store_workhours_set(st, c->tenant_id, id, json_is_null(v) ? NULL : &units[i],
                                         now);
            if (err == WP_ENOTFOUND)
                err = wp_error_set(WP_EINVAL, "'units': org unit '%s' not found", id);
            if (err < 0)
                break;
            i++;
        }
    }
    /* the answer is read before the commit: a read that failed after it would answer an
     * error for hours that were stored */
    json_t *o = NULL;
    if (err == 0 && (err = api_audit(ctx, st, "working_hours.put", "working_hours", body)) == 0 &&
        (err = settings_answer(ctx, st, &scope, c->tenant_id, &o)) == 0) {
        /* and made before it: nothing left to fail after it */
        err = wp_http_ready_json(ctx, 200, o);
        o = NULL;
    }
    if (err < 0 || (err = wp_store_commit(st)) < 0) {
        json_decref(o);
        wp_store_rollback(st);
        goto out;
    }
    api_store_release(ctx, st);
    return wp_http_ready_send(ctx);
out:
    api_store_release(ctx, st);
    return err;
}

/* GET /api/v1/employees/{id}/working-hours?at=: the schedule in force for the employee, where
 * it comes from, and whether `at` (default now) lies within it. */
int api_employee_working_hours(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    const char *id = wp_http_param(ctx, "id");
    wp_store *st = NULL;
    api_scope scope;
    wp_employee e;
    wp_employee_hours w;
    int64_t at = 0;
    int err;

    if ((err = api_query_time(ctx, "at", &at)) < 0)
        return err;
    if (!at)
        at = wp_time_now_us();
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0 ||
        (err = wp_store_employee_get(st, &e, c->tenant_id, id)) < 0 ||
        (err = api_scope_allows_employee(ctx, st, &scope, &e)) < 0 ||
        (err = wp_store_employee_working(st, &w, c->tenant_id, id, at)) < 0)
        goto out;
    api_store_release(ctx, st);
    st = NULL;
    json_t *o = api_hours_json(&w.hours);
    if (!o || json_object_set_new(o, "employee_id", json_string(id)) < 0 ||
        json_object_set_new(o, "org_unit_id", api_jstr(w.from_unit, 1)) < 0 ||
        json_object_set_new(o, "time_zone", json_string(w.time_zone)) < 0 ||
        json_object_set_new(o, "checked_at", api_jtime(at)) < 0 ||
        json_object_set_new(o, "working", json_boolean(w.working)) < 0) {
        json_decref(o);
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    err = wp_http_reply_json(ctx, 200, o);
out:
    api_store_release(ctx, st);
    return err;
}
