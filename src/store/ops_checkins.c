/* SPDX-License-Identifier: MIT */
/* Check-ins and attendance (migration 0028; checkins.h). docs/internals/checkins.md. */
#include "store/checkins.h"
#include "store/db.h"
#include "store/field.h"
#include "store/internal.h"
#include "store/query.h"
#include "store/workhours.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SQL_MAX 4096
#define US 1000000LL

#define CHECKIN_COLUMNS                                                                            \
    "k.id, k.device_id, k.employee_id, k.customer_id, k.fence_id, k.seq, k.ts_us, k.kind,"         \
    " k.lat_e7, k.lon_e7, k.accuracy_cm, k.photo, k.note, k.inside_geofence"

static int read_checkin(struct wp_stmt *s, wp_checkin *c, wp_strpool **pool)
{
    int err;
    memset(c, 0, sizeof *c);
    if ((err = wp_col__id(s, 0, c->id)) < 0 || (err = wp_col__id(s, 1, c->device_id)) < 0 ||
        (err = wp_col__id(s, 2, c->employee_id)) < 0 ||
        (err = wp_col__id(s, 3, c->customer_id)) < 0 || (err = wp_col__id(s, 4, c->fence_id)) < 0 ||
        (err = wp_db_col_copy_opt(s, 7, c->kind, sizeof c->kind)) < 0 ||
        (err = wp_db_col_copy_opt(s, 11, c->photo, sizeof c->photo)) < 0)
        return err;
    c->seq = wp_db_col_int64(s, 5);
    c->ts_us = wp_db_col_int64(s, 6);
    c->lat_e7 = wp_db_col_int64(s, 8);
    c->lon_e7 = wp_db_col_int64(s, 9);
    c->accuracy_cm = wp_db_col_isnull(s, 10) ? -1 : wp_db_col_int64(s, 10);
    c->inside_geofence = wp_db_col_isnull(s, 13) ? -1 : (int)wp_db_col_int64(s, 13);
    if (!wp_db_col_isnull(s, 12) && (err = wp_col__dup(pool, &c->note, s, 12)) < 0)
        return err;
    return 0;
}

/* The employee conditions of f (scope, unit, employee) on column col. */
static void employees_where(struct wp_query *q, const char *col, const wp_checkin_filter *f,
                            const struct wp_scope_bind *sc, const char *lo, const char *hi)
{
    wp_query__scope_employees(q, col, sc);
    if (f->org_path)
        wp_query__in_subtree(q, col, f->tenant_id, lo, hi);
    if (f->employee_id) {
        wp_query__sql(q, " AND ");
        wp_query__sql(q, col);
        wp_query__sql(q, " = ?");
        wp_query__text(q, f->employee_id);
    }
}

/* Check f's ids, kind, scope and unit; lo/hi get the unit's subtree range. */
static int check_filter(const wp_checkin_filter *f, struct wp_scope_bind *sc, char lo[1024],
                        char hi[1024])
{
    int err;
    if ((err = wp_store__check_id("tenant", f->tenant_id)) < 0 ||
        (err = wp_store__check_opt_id("employee", f->employee_id)) < 0 ||
        (err = wp_scope__check(sc, f->tenant_id, f->scope)) < 0)
        return err;
    if (f->kind && strcmp(f->kind, "in") != 0 && strcmp(f->kind, "out") != 0 &&
        strcmp(f->kind, "visit") != 0)
        return wp_error_set(WP_EINVAL, "'kind' must be in, out or visit");
    lo[0] = hi[0] = '\0';
    if (f->org_path && (err = wp_scope__range(lo, hi, f->org_path)) < 0)
        return err;
    return 0;
}

int wp_store_checkins_list(wp_store *st, wp_checkin_page *out, const wp_checkin_filter *f)
{
    struct wp_stmt *s = NULL;
    struct wp_query q;
    struct wp_scope_bind sc;
    wp_checkin_page p;
    wp_strpool *pool = NULL;
    char cid[WP_ID_LEN + 1], lo[1024], hi[1024];
    int64_t ct = 0;
    int has = 0, err;
    unsigned limit;
    size_t cap = 0;

    memset(&p, 0, sizeof p);
    memset(out, 0, sizeof *out);
    wp_query__init(&q, SQL_MAX);
    if ((err = check_filter(f, &sc, lo, hi)) < 0 || (err = wp_page__limit(&limit, f->limit)) < 0 ||
        (err = wp_cursor__parse(&has, &ct, cid, f->cursor)) < 0)
        goto out;
    wp_query__sql(&q, "SELECT " CHECKIN_COLUMNS " FROM checkins k WHERE k.tenant_id = ?");
    wp_query__text(&q, f->tenant_id);
    employees_where(&q, "k.employee_id", f, &sc, lo, hi);
    if (f->kind) {
        wp_query__sql(&q, " AND k.kind = ?");
        wp_query__text(&q, f->kind);
    }
    if (f->outside)
        wp_query__sql(&q, " AND k.inside_geofence = 0");
    if (f->from_us) {
        wp_query__sql(&q, " AND k.ts_us >= ?");
        wp_query__int(&q, f->from_us);
    }
    if (f->to_us) {
        wp_query__sql(&q, " AND k.ts_us < ?");
        wp_query__int(&q, f->to_us);
    }
    if (has) {
        wp_query__sql(&q, " AND (k.ts_us < ? OR (k.ts_us = ? AND k.id < ?))");
        wp_query__int(&q, ct);
        wp_query__int(&q, ct);
        wp_query__text(&q, cid);
    }
    wp_query__sql(&q, " ORDER BY k.ts_us DESC, k.id DESC LIMIT ?");
    wp_query__int(&q, (int64_t)limit + 1);
    if ((err = wp_query__prepare(&q, st, &s)) < 0)
        goto out;
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if (p.n == limit) {
            wp_cursor__make(p.next_cursor, p.items[p.n - 1].ts_us, p.items[p.n - 1].id);
            break;
        }
        if ((err = wp_array__grow((void **)&p.items, &cap, p.n, sizeof *p.items)) < 0 ||
            (err = read_checkin(s, &p.items[p.n], &pool)) < 0)
            goto out;
        p.n++;
    }
    if (err < 0)
        goto out;
    p.mem = pool;
    pool = NULL;
    *out = p;
    p.items = NULL;
    err = 0;
out:
    wp_db_done(s);
    free(p.items);
    wp_strpool__free(pool);
    wp_buf_release(&q.sql);
    return err;
}

void wp_checkin_page_release(wp_checkin_page *p)
{
    if (!p)
        return;
    free(p->items);
    wp_strpool__free(p->mem);
    memset(p, 0, sizeof *p);
}

/* --- attendance ------------------------------------------------------------------------------ */

static int read_employees(wp_store *st, wp_attendance *a, const wp_checkin_filter *f,
                          const struct wp_scope_bind *sc, const char *lo, const char *hi)
{
    struct wp_stmt *s = NULL;
    struct wp_query q;
    size_t cap = 0;
    int err;
    wp_query__init(&q, SQL_MAX);
    wp_query__sql(&q, "SELECT e.id, e.org_unit_id, e.name FROM employees e WHERE e.tenant_id = ?"
                      " AND e.active = 1");
    wp_query__text(&q, f->tenant_id);
    employees_where(&q, "e.id", f, sc, lo, hi);
    wp_query__sql(&q, " ORDER BY e.name, e.id LIMIT ?");
    wp_query__int(&q, WP_ATTENDANCE_EMPLOYEES_MAX + 1);
    if ((err = wp_query__prepare(&q, st, &s)) < 0)
        goto out;
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if (a->n_employees == WP_ATTENDANCE_EMPLOYEES_MAX) {
            err = wp_error_set(WP_ELIMIT, "more than %d employees: ask for a unit or one employee",
                               WP_ATTENDANCE_EMPLOYEES_MAX);
            goto out;
        }
        if ((err = wp_array__grow((void **)&a->employees, &cap, a->n_employees,
                                  sizeof *a->employees)) < 0)
            goto out;
        wp_attendance_employee *e = &a->employees[a->n_employees];
        memset(e, 0, sizeof *e);
        if ((err = wp_col__id(s, 0, e->id)) < 0 || (err = wp_col__id(s, 1, e->org_unit_id)) < 0 ||
            (err = wp_db_col_copy_opt(s, 2, e->name, sizeof e->name)) < 0)
            goto out;
        a->n_employees++;
    }
    err = err < 0 ? err : 0;
out:
    wp_db_done(s);
    wp_buf_release(&q.sql);
    return err;
}

/* An employee's index by its id, to find check-ins' employees. */
struct ent {
    const char *id;
    size_t idx;
};

static int ent_cmp(const void *x, const void *y)
{
    return strcmp(((const struct ent *)x)->id, ((const struct ent *)y)->id);
}

static int ent_key(const void *k, const void *el)
{
    return strcmp(k, ((const struct ent *)el)->id);
}

int wp_store_attendance(wp_store *st, wp_attendance *out, const wp_checkin_filter *f,
                        int64_t first_day, int64_t last_day, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    struct wp_query q;
    struct wp_scope_bind sc;
    wp_workcal *cal = NULL;
    struct ent *sorted = NULL;
    char lo[1024], hi[1024];
    int64_t nd = last_day - first_day + 1, rows = 0;
    int err;

    memset(out, 0, sizeof *out);
    wp_query__init(&q, SQL_MAX);
    if ((err = check_filter(f, &sc, lo, hi)) < 0)
        goto out;
    if (nd < 1 || nd > WP_ATTENDANCE_DAYS_MAX) {
        err =
            wp_error_set(WP_EINVAL, "'from' to 'to' must be 1 to %d days", WP_ATTENDANCE_DAYS_MAX);
        goto out;
    }
    if ((err = wp_workcal_load(&cal, st, f->tenant_id)) < 0 ||
        (err = read_employees(st, out, f, &sc, lo, hi)) < 0)
        goto out;
    snprintf(out->time_zone, sizeof out->time_zone, "%s", wp_workcal_zone(cal));
    wp_field_settings fs;
    if ((err = wp_store_field_settings_get(st, &fs, f->tenant_id)) < 0)
        goto out;
    out->grace_minutes = fs.attendance_grace_minutes;
    const wp_tz *tz = wp_workcal_tz(cal);
    size_t ne = out->n_employees;
    if (ne && (!(out->days = calloc(ne * (size_t)nd, sizeof *out->days)) ||
               !(sorted = malloc(ne * sizeof *sorted)))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    out->n_days = ne * (size_t)nd;
    for (size_t i = 0; i < ne; i++)
        sorted[i] = (struct ent){out->employees[i].id, i};
    if (ne)
        qsort(sorted, ne, sizeof *sorted, ent_cmp);
    for (size_t i = 0; i < ne; i++) {
        const wp_workhours *h = wp_workcal_of(cal, out->employees[i].id, NULL);
        for (int64_t d = 0; d < nd; d++) {
            wp_attendance_day *ad = &out->days[i * (size_t)nd + (size_t)d];
            int64_t a, b;
            ad->employee = i;
            ad->day = first_day + d;
            ad->working = wp_workcal_shift(cal, h, ad->day, &a, &b);
        }
    }
    /* the check-ins of the span, a day either side for zones */
    int64_t from_s = wp_tz_local(tz, first_day, 0), to_s = wp_tz_local(tz, last_day + 1, 0);
    wp_query__sql(&q, "SELECT k.employee_id, k.ts_us, k.kind FROM checkins k"
                      " WHERE k.tenant_id = ? AND k.ts_us >= ? AND k.ts_us < ?");
    wp_query__text(&q, f->tenant_id);
    wp_query__int(&q, from_s * US);
    wp_query__int(&q, to_s * US);
    employees_where(&q, "k.employee_id", f, &sc, lo, hi);
    wp_query__sql(&q, " ORDER BY k.ts_us, k.id");
    if (ne == 0)
        goto done;
    if ((err = wp_query__prepare(&q, st, &s)) < 0)
        goto out;
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if (++rows > WP_ATTENDANCE_CHECKINS_MAX) {
            err = wp_error_set(WP_ELIMIT, "more than %d check-ins: ask for fewer days",
                               WP_ATTENDANCE_CHECKINS_MAX);
            goto out;
        }
        const char *emp = wp_db_col_text(s, 0), *kind = wp_db_col_text(s, 2);
        int64_t ts = wp_db_col_int64(s, 1);
        const struct ent *e = emp ? bsearch(emp, sorted, ne, sizeof *sorted, ent_key) : NULL;
        if (!e || !kind)
            continue; /* an employee made inactive: not in the table */
        int64_t d = wp_tz_day(tz, ts >= 0 ? ts / US : -((-ts + US - 1) / US)) - first_day;
        if (d < 0 || d >= nd)
            continue;
        wp_attendance_day *ad = &out->days[e->idx * (size_t)nd + (size_t)d];
        if (!strcmp(kind, "in")) {
            if (!ad->first_in_us)
                ad->first_in_us = ts;
        } else if (!strcmp(kind, "out")) {
            ad->last_out_us = ts;
        } else {
            ad->visits++;
        }
    }
    if (err < 0)
        goto out;
done:
    for (size_t i = 0; i < out->n_days; i++) {
        wp_attendance_day *ad = &out->days[i];
        const wp_workhours *h = wp_workcal_of(cal, out->employees[ad->employee].id, NULL);
        int64_t a = 0, b = 0;
        int shift = wp_workcal_shift(cal, h, ad->day, &a, &b);
        if (ad->last_out_us && ad->last_out_us < ad->first_in_us)
            ad->last_out_us = 0; /* an out before the day's first in ends nothing */
        if (ad->first_in_us && ad->last_out_us)
            ad->worked_minutes = (ad->last_out_us - ad->first_in_us) / (60 * US);
        if (!shift)
            continue;
        ad->late = ad->first_in_us && ad->first_in_us > (a + out->grace_minutes * 60) * US;
        ad->early_leave = ad->last_out_us && ad->last_out_us < b * US;
        ad->missing = !ad->first_in_us && now_us >= a * US;
    }
    err = 0;
out:
    wp_db_done(s);
    wp_buf_release(&q.sql);
    wp_workcal_free(cal);
    free(sorted);
    return err;
}

void wp_attendance_release(wp_attendance *a)
{
    if (!a)
        return;
    free(a->employees);
    free(a->days);
    memset(a, 0, sizeof *a);
}
