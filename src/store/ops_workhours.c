/* SPDX-License-Identifier: MIT */
/* Working hours (migration 0018): the tenant's zone, its schedule and the units' overrides,
 * and the calendar reply times and the attendance questions read. */
#include "store/cluster.h"
#include "store/db.h"
#include "store/internal.h"
#include "store/store.h"
#include "store/workhours.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define US 1000000LL
#define ALL_DAYS 0x7f
#define DAY_MIN 1440

int wp_workhours_check(const wp_workhours *h, const char *field)
{
    if (h->days > ALL_DAYS)
        return wp_error_set(WP_EINVAL, "'%s': days must be from 1 (Monday) to 7 (Sunday)", field);
    if (h->from_min < 0 || h->from_min >= DAY_MIN || h->to_min <= 0 || h->to_min > DAY_MIN)
        return wp_error_set(WP_EINVAL, "'%s': times must be from 00:00 to 24:00", field);
    if (h->from_min == h->to_min)
        return wp_error_set(WP_EINVAL,
                            "'%s': 'from' and 'to' are the same time (00:00 to 24:00 is all day)",
                            field);
    return 0;
}

static const wp_workhours default_hours = {WP_WORKHOURS_DAYS_DEFAULT, WP_WORKHOURS_FROM_DEFAULT,
                                           WP_WORKHOURS_TO_DEFAULT};

void wp_workhours_settings_release(wp_workhours_settings *s)
{
    if (!s)
        return;
    free(s->units);
    memset(s, 0, sizeof *s);
}

static int read_hours(struct wp_stmt *s, int col, wp_workhours *h)
{
    h->days = (unsigned)wp_db_col_int64(s, col);
    h->from_min = (int)wp_db_col_int64(s, col + 1);
    h->to_min = (int)wp_db_col_int64(s, col + 2);
    if (wp_workhours_check(h, "working_hours") < 0)
        return wp_error_set(WP_EIO, "store: working hours out of range");
    return 0;
}

int wp_store_workhours_get(wp_store *st, wp_workhours_settings *out, const char *tenant_id)
{
    wp_workhours_settings v;
    struct wp_stmt *s = NULL;
    size_t cap = 0;
    int err;

    memset(&v, 0, sizeof v);
    snprintf(v.time_zone, sizeof v.time_zone, "%s", WP_WORKHOURS_ZONE_DEFAULT);
    v.tenant = default_hours;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT time_zone, updated_us FROM tenant_zones WHERE tenant_id = ?")) <
        0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    if ((err = wp_db_step(s)) == WP_DB_ROW) {
        err = wp_db_col_copy(s, 0, v.time_zone, sizeof v.time_zone);
        v.zone_set = 1;
        v.updated_us = wp_db_col_int64(s, 1);
    }
    wp_db_done(s);
    s = NULL;
    if (err < 0)
        return err;
    /* the tenant's row ('') first, then the units that still exist, by id */
    if ((err = wp_db_prepare(st, &s,
                             "SELECT w.org_unit_id, w.days, w.from_min, w.to_min, w.updated_us"
                             " FROM working_hours w WHERE w.tenant_id = ? AND (w.org_unit_id = ''"
                             " OR EXISTS (SELECT 1 FROM org_units u WHERE u.tenant_id ="
                             " w.tenant_id AND u.id = w.org_unit_id)) ORDER BY w.org_unit_id")) <
        0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        const char *unit = wp_db_col_text(s, 0);
        int64_t upd = wp_db_col_int64(s, 4);
        if (!unit || !*unit) {
            if ((err = read_hours(s, 1, &v.tenant)) < 0)
                break;
            v.tenant_set = 1;
            if (upd > v.updated_us)
                v.updated_us = upd;
            continue;
        }
        if ((err = wp_array__grow((void **)&v.units, &cap, v.n_units, sizeof *v.units)) < 0)
            break;
        wp_workhours_unit *u = &v.units[v.n_units];
        memset(u, 0, sizeof *u);
        if ((err = wp_db_col_copy(s, 0, u->org_unit_id, sizeof u->org_unit_id)) < 0 ||
            (err = read_hours(s, 1, &u->hours)) < 0)
            break;
        u->updated_us = upd;
        v.n_units++;
    }
    wp_db_done(s);
    if (err < 0) {
        free(v.units);
        return err;
    }
    *out = v;
    return 0;
}

/* Reply times depend on the hours: the tenant's rollups start over, and the job folds its
 * history again (answers stay exact meanwhile: they read the raw rows past the watermark). */
static int reset_analytics(wp_store *st, const char *tenant_id)
{
    static const char *const sql[] = {
        "DELETE FROM analytics_hourly WHERE tenant_id = ?",
        "DELETE FROM analytics_alerts_hourly WHERE tenant_id = ?",
        "DELETE FROM analytics_chats WHERE tenant_id = ?",
        "DELETE FROM analytics_state WHERE tenant_id = ?",
    };
    int err = 0;
    for (size_t i = 0; i < sizeof sql / sizeof *sql && err == 0; i++)
        err = wp_db_run(st, sql[i], "t", tenant_id);
    return err;
}

int wp_store_workhours_set_zone(wp_store *st, const char *tenant_id, const char *zone,
                                int64_t now_us)
{
    wp_tz z;
    int err;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if (zone) {
        err = wp_tz_load(&z, zone, "'time_zone'");
        wp_tz_release(&z);
        if (err < 0)
            return err;
    }
    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    if (zone)
        err = wp_db_run(st,
                        "INSERT INTO tenant_zones (tenant_id, time_zone, updated_us) VALUES"
                        " (?, ?, ?) ON CONFLICT (tenant_id) DO UPDATE SET time_zone ="
                        " excluded.time_zone, updated_us = excluded.updated_us",
                        "tti", tenant_id, zone, now_us);
    else
        err = wp_db_run(st, "DELETE FROM tenant_zones WHERE tenant_id = ?", "t", tenant_id);
    if (err == 0)
        err = reset_analytics(st, tenant_id);
    if (err == 0)
        err = wp_store__notify(st, tenant_id, WP_CLUSTER_HOURS);
    return wp_store__op_end(st, err);
}

int wp_store_workhours_set(wp_store *st, const char *tenant_id, const char *unit_id,
                           const wp_workhours *h, int64_t now_us)
{
    int err;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (unit_id && (err = wp_store__check_id("org unit", unit_id)) < 0) ||
        (h && (err = wp_workhours_check(h, "working_hours")) < 0))
        return err;
    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    if (unit_id && (err = wp_store__unit_exists(st, tenant_id, unit_id)) < 0)
        goto out;
    if (h)
        err = wp_db_run(st,
                        "INSERT INTO working_hours (tenant_id, org_unit_id, days, from_min, to_min,"
                        " updated_us) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id,"
                        " org_unit_id) DO UPDATE SET days = excluded.days, from_min ="
                        " excluded.from_min, to_min = excluded.to_min, updated_us ="
                        " excluded.updated_us",
                        "ttiiii", tenant_id, unit_id ? unit_id : "", (int64_t)h->days,
                        (int64_t)h->from_min, (int64_t)h->to_min, now_us);
    else
        err = wp_db_run(st, "DELETE FROM working_hours WHERE tenant_id = ? AND org_unit_id = ?",
                        "tt", tenant_id, unit_id ? unit_id : "");
    if (err == 0)
        err = reset_analytics(st, tenant_id);
    if (err == 0)
        err = wp_store__notify(st, tenant_id, WP_CLUSTER_HOURS);
out:
    return wp_store__op_end(st, err);
}

/* --- the calendar ------------------------------------------------------------------------------ */

struct emp {
    char id[WP_ID_LEN + 1];
    const wp_workhours *hours;
    const char *unit; /* "" for the tenant's */
};

struct wp_workcal {
    wp_tz tz;
    char zone[WP_TZ_NAME_MAX + 1];
    wp_workhours tenant;
    wp_workhours_settings set;
    struct emp *emps; /* by id */
    size_t n_emps;
};

void wp_workcal_free(wp_workcal *c)
{
    if (!c)
        return;
    wp_tz_release(&c->tz);
    wp_workhours_settings_release(&c->set);
    free(c->emps);
    free(c);
}

static int unit_cmp(const void *key, const void *el)
{
    return strcmp(key, ((const wp_workhours_unit *)el)->org_unit_id);
}

/* The schedule in force for a unit at the end of path ("/<root>/.../<unit>/"): its own, or the
 * nearest one above it. */
static const wp_workhours *of_path(const wp_workcal *c, const char *path, const char **unit)
{
    size_t n = strlen(path);
    while (n > 1) {
        if (path[n - 1] != '/')
            break;
        size_t end = n - 1, start = end;
        while (start > 0 && path[start - 1] != '/')
            start--;
        char id[WP_ID_LEN + 1];
        if (end - start > 0 && end - start <= WP_ID_LEN) {
            memcpy(id, path + start, end - start);
            id[end - start] = 0;
            /* bsearch wants an array even when there is none to search */
            const wp_workhours_unit *u =
                c->set.n_units ? bsearch(id, c->set.units, c->set.n_units,
                                         sizeof *c->set.units, unit_cmp)
                               : NULL;
            if (u) {
                *unit = u->org_unit_id;
                return &u->hours;
            }
        }
        n = start;
    }
    *unit = "";
    return &c->tenant;
}

static int emp_cmp(const void *a, const void *b)
{
    return strcmp(((const struct emp *)a)->id, ((const struct emp *)b)->id);
}

/* The calendar with its settings; employees are added by the caller. */
static int cal_new(wp_workcal **out, wp_store *st, const char *tenant_id)
{
    wp_workcal *c = calloc(1, sizeof *c);
    int err;
    if (!c)
        return wp_error_set(WP_ENOMEM, "out of memory");
    if ((err = wp_store_workhours_get(st, &c->set, tenant_id)) < 0)
        goto fail;
    snprintf(c->zone, sizeof c->zone, "%s", c->set.time_zone);
    c->tenant = c->set.tenant;
    /* a zone the system no longer knows (its files changed) reads as the default */
    if (wp_tz_load(&c->tz, c->zone, "'time_zone'") < 0) {
        wp_tz_release(&c->tz);
        snprintf(c->zone, sizeof c->zone, "%s", WP_WORKHOURS_ZONE_DEFAULT);
        if ((err = wp_tz_load(&c->tz, c->zone, "'time_zone'")) < 0)
            goto fail;
    }
    *out = c;
    return 0;
fail:
    wp_workcal_free(c);
    return err;
}

int wp_workcal_load(wp_workcal **out, wp_store *st, const char *tenant_id)
{
    wp_workcal *c = NULL;
    struct wp_stmt *s = NULL;
    size_t cap = 0;
    int err;

    if ((err = cal_new(&c, st, tenant_id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT e.id, u.path FROM employees e JOIN org_units u ON u.tenant_id"
                             " = e.tenant_id AND u.id = e.org_unit_id WHERE e.tenant_id = ?")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        const char *path = wp_db_col_text(s, 1);
        if ((err = wp_array__grow((void **)&c->emps, &cap, c->n_emps, sizeof *c->emps)) < 0)
            break;
        struct emp *e = &c->emps[c->n_emps];
        if ((err = wp_db_col_copy(s, 0, e->id, sizeof e->id)) < 0)
            break;
        e->hours = of_path(c, path ? path : "", &e->unit);
        c->n_emps++;
    }
    wp_db_done(s);
    if (err < 0)
        goto out;
    if (c->n_emps > 1)
        qsort(c->emps, c->n_emps, sizeof *c->emps, emp_cmp);
    *out = c;
    c = NULL;
    err = 0;
out:
    wp_workcal_free(c);
    return err;
}

const wp_workhours *wp_workcal_of(const wp_workcal *c, const char *employee_id,
                                  const char **from_unit)
{
    const char *unit = "";
    const wp_workhours *h = &c->tenant;
    if (employee_id && c->n_emps) {
        struct emp key;
        snprintf(key.id, sizeof key.id, "%s", employee_id);
        const struct emp *e = bsearch(&key, c->emps, c->n_emps, sizeof *c->emps, emp_cmp);
        if (e) {
            h = e->hours;
            unit = e->unit;
        }
    }
    if (from_unit)
        *from_unit = unit;
    return h;
}

const char *wp_workcal_zone(const wp_workcal *c)
{
    return c->zone;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* The shift that starts on local day d, in UTC seconds [*a, *b); 0 when d is no working day. */
static int shift(const wp_workcal *c, const wp_workhours *h, int64_t d, int64_t *a, int64_t *b)
{
    return wp_tz_shift(&c->tz, h->days, h->from_min, h->to_min, d, a, b);
}

int64_t wp_workcal_between_us(const wp_workcal *c, const wp_workhours *h, int64_t from_us,
                              int64_t to_us)
{
    if (to_us <= from_us)
        return 0;
    if (h->days == ALL_DAYS && h->from_min == 0 && h->to_min == DAY_MIN)
        return to_us - from_us; /* all the time: no zone to ask */
    int64_t first = wp_tz_day(&c->tz, floor_div(from_us, US)) - 1; /* a shift from the day
                                                                        * before may run on */
    int64_t last = wp_tz_day(&c->tz, floor_div(to_us, US));
    if (last - first > WP_WORKHOURS_DAYS_MAX)
        last = first + WP_WORKHOURS_DAYS_MAX;
    int64_t sum = 0;
    for (int64_t d = first; d <= last; d++) {
        int64_t a, b;
        if (!shift(c, h, d, &a, &b))
            continue;
        int64_t lo = a * US > from_us ? a * US : from_us, hi = b * US < to_us ? b * US : to_us;
        if (hi > lo)
            sum += hi - lo;
    }
    return sum;
}

int wp_workcal_shift(const wp_workcal *c, const wp_workhours *h, int64_t day, int64_t *from_s,
                     int64_t *to_s)
{
    return shift(c, h, day, from_s, to_s);
}

const wp_tz *wp_workcal_tz(const wp_workcal *c)
{
    return &c->tz;
}

int wp_workcal_contains(const wp_workcal *c, const wp_workhours *h, int64_t t_us)
{
    return wp_tz_weekly_contains(&c->tz, h->days, h->from_min, h->to_min, t_us);
}

int wp_store_employee_working(wp_store *st, wp_employee_hours *out, const char *tenant_id,
                              const char *employee_id, int64_t t_us)
{
    wp_workcal *c = NULL;
    struct wp_stmt *s = NULL;
    char path[1024] = "";
    int err;

    if ((err = wp_store__check_id("employee", employee_id)) < 0 ||
        (err = cal_new(&c, st, tenant_id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT u.path FROM employees e JOIN org_units u ON u.tenant_id ="
                             " e.tenant_id AND u.id = e.org_unit_id WHERE e.tenant_id = ?"
                             " AND e.id = ?")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, employee_id);
    if ((err = wp_db_step(s)) == WP_DB_ROW)
        err = wp_db_col_copy(s, 0, path, sizeof path);
    else if (err == WP_DB_DONE)
        err = wp_error_set(WP_ENOTFOUND, "employee '%s' not found", employee_id);
    wp_db_done(s);
    if (err < 0)
        goto out;
    const char *unit;
    const wp_workhours *h = of_path(c, path, &unit);
    memset(out, 0, sizeof *out);
    out->hours = *h;
    out->working = wp_workcal_contains(c, h, t_us);
    snprintf(out->from_unit, sizeof out->from_unit, "%s", unit);
    snprintf(out->time_zone, sizeof out->time_zone, "%s", c->zone);
    err = 0;
out:
    wp_workcal_free(c);
    return err;
}

int wp_workcal_load_employee(wp_workcal **out, const wp_workhours **hours, wp_store *st,
                             const char *tenant_id, const char *employee_id)
{
    wp_workcal *c = NULL;
    struct wp_stmt *s = NULL;
    char path[1024] = "";
    int err;

    if ((err = cal_new(&c, st, tenant_id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT u.path FROM employees e JOIN org_units u ON u.tenant_id ="
                             " e.tenant_id AND u.id = e.org_unit_id WHERE e.tenant_id = ?"
                             " AND e.id = ?")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, employee_id);
    if ((err = wp_db_step(s)) == WP_DB_ROW)
        err = wp_db_col_copy(s, 0, path, sizeof path);
    wp_db_done(s);
    if (err < 0)
        goto out;
    const char *unit;
    *hours = of_path(c, path, &unit);
    *out = c;
    c = NULL;
    err = 0;
out:
    wp_workcal_free(c);
    return err;
}
