/* SPDX-License-Identifier: MIT */
/* GET /api/v1/checkins and GET /api/v1/attendance (issue 18, CONTRACT §7): field staff's
 * check-ins, and the attendance computed from them, within the reader's scope (a salesperson
 * its own, a manager its subtree), audited as reads of personal data. docs/internals/checkins.md.
 */
#include "api/api.h"
#include "api/table.h"
#include "store/checkins.h"
#include "store/org.h"
#include "store/people.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define US 1000000LL

static json_t *jcoord(int64_t e7)
{
    return json_real((double)e7 / 1e7);
}

static json_t *checkin_json(const void *item, const void *arg)
{
    const wp_checkin *k = item;
    (void)arg;
    return json_pack("{s:s,s:s,s:s,s:I,s:o,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "id", k->id,
                     "employee_id", k->employee_id, "device_id", k->device_id, "seq",
                     (json_int_t)k->seq, "ts", api_jtime(k->ts_us), "kind", k->kind, "lat",
                     jcoord(k->lat_e7), "lon", jcoord(k->lon_e7), "accuracy_m",
                     k->accuracy_cm < 0 ? json_null() : json_real((double)k->accuracy_cm / 100),
                     "photo", api_jstr(k->photo, 1), "note", api_jstr(k->note, 0), "customer_id",
                     api_jstr(k->customer_id, 1), "inside_geofence",
                     k->inside_geofence < 0 ? json_null() : json_boolean(k->inside_geofence),
                     "fence_id", api_jstr(k->fence_id, 1));
}

/* ?employee= and ?unit= into f, each in the reader's scope (else 404 as a missing one). */
static int people_filter(wp_http_ctx *ctx, wp_store *st, const api_scope *scope,
                         wp_checkin_filter *f, wp_org_unit *unit)
{
    const api_caller *c = api_caller_of(ctx);
    const char *emp = NULL, *uid = NULL;
    wp_employee e;
    int err;
    if ((err = api_query_id(ctx, "employee", &emp)) < 0 ||
        (err = api_query_id(ctx, "unit", &uid)) < 0)
        return err;
    if (emp) {
        if ((err = wp_store_employee_get(st, &e, c->tenant_id, emp)) < 0 ||
            (err = api_scope_allows_employee(ctx, st, scope, &e)) < 0)
            return err;
        f->employee_id = emp;
    }
    if (uid) {
        if ((err = wp_store_org_unit_get(st, unit, c->tenant_id, uid)) < 0 ||
            (err = api_scope_allows_org_unit(scope, unit)) < 0)
            return err;
        f->org_path = unit->path;
    }
    f->scope = &scope->store;
    return 0;
}

/* The filter's query as the audit row's details. */
static json_t *read_details(const wp_checkin_filter *f, const char *from, const char *to)
{
    return json_pack("{s:o,s:o,s:o,s:o}", "employee", api_jstr(f->employee_id, 1), "unit",
                     api_jstr(f->org_path, 1), "from", api_jstr(from, 1), "to", api_jstr(to, 1));
}

int api_checkins_list(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    wp_checkin_filter f = {.tenant_id = c->tenant_id};
    wp_checkin_page page;
    wp_org_unit unit;
    api_scope scope;
    wp_store *st = NULL;
    const char *outside = wp_http_query(ctx, "outside");
    int err;

    memset(&page, 0, sizeof page);
    if ((err = api_query_limit(ctx, &f.limit)) < 0 ||
        (err = api_query_time(ctx, "from", &f.from_us)) < 0 ||
        (err = api_query_time(ctx, "to", &f.to_us)) < 0)
        return err;
    f.kind = wp_http_query(ctx, "kind");
    if (f.kind && !*f.kind)
        f.kind = NULL;
    if (outside && *outside && strcmp(outside, "1") != 0 && strcmp(outside, "0") != 0)
        return wp_error_set(WP_EINVAL, "'outside' must be 1 or 0");
    f.outside = outside && !strcmp(outside, "1");
    f.cursor = wp_http_query(ctx, "cursor");
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0 ||
        (err = people_filter(ctx, st, &scope, &f, &unit)) < 0 ||
        (err = wp_store_checkins_list(st, &page, &f)) < 0)
        goto out;
    api_store_release(ctx, st);
    st = NULL;
    json_t *d = read_details(&f, wp_http_query(ctx, "from"), wp_http_query(ctx, "to"));
    if (d && json_object_set_new(d, "count", json_integer((json_int_t)page.n)) < 0) {
        json_decref(d);
        d = NULL;
    }
    err = d ? api_audit_read(ctx, "checkins.read", NULL, d)
            : wp_error_set(WP_ENOMEM, "out of memory");
    json_decref(d);
    if (err < 0)
        goto out;
    err = api_reply_items(ctx, page.items, page.n, sizeof *page.items, checkin_json, NULL,
                          page.next_cursor);
out:
    api_store_release(ctx, st);
    wp_checkin_page_release(&page);
    return err;
}

/* --- attendance ------------------------------------------------------------------------------ */

/* "YYYY-MM-DD" into days since 1970-01-01; WP_EINVAL naming it. */
static int parse_date(const char *s, const char *name, int64_t *out)
{
    int y, m, d;
    char extra;
    if (!s || !*s)
        return wp_error_set(WP_EINVAL, "'%s' is required: a date, YYYY-MM-DD", name);
    if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &extra) != 3 || y < 1970 ||
        y > 9999 || m < 1 || m > 12 || d < 1 || s[4] != '-' || s[7] != '-')
        return wp_error_set(WP_EINVAL, "'%s' must be a date, YYYY-MM-DD", name);
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[m - 1] + (m == 2 && leap))
        return wp_error_set(WP_EINVAL, "'%s' must be a date, YYYY-MM-DD", name);
    /* days from civil (H. Hinnant) */
    int64_t yy = m <= 2 ? y - 1 : y, era = yy / 400, yoe = yy - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    *out = era * 146097 + doe - 719468;
    return 0;
}

static void format_date(char out[16], int64_t day)
{
    int64_t z = day + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    int64_t dd = doy - (153 * mp + 2) / 5 + 1, mm = mp < 10 ? mp + 3 : mp - 9;
    int64_t yy = yoe + era * 400 + (mm <= 2);
    snprintf(out, 16, "%04d-%02d-%02d", (int)yy, (int)mm, (int)dd);
}

static json_t *attendance_json(const wp_attendance *a, const char *from, const char *to)
{
    json_t *items = json_array(), *units = json_array(), *o = NULL;
    int bad = !items || !units;
    for (size_t i = 0; !bad && i < a->n_days; i++) {
        const wp_attendance_day *d = &a->days[i];
        const wp_attendance_employee *e = &a->employees[d->employee];
        char date[16];
        format_date(date, d->day);
        bad = json_array_append_new(
            items, json_pack("{s:s,s:s,s:s,s:s,s:b,s:o,s:o,s:b,s:b,s:b,s:I,s:I}", "employee_id",
                             e->id, "employee_name", e->name, "org_unit_id", e->org_unit_id, "date",
                             date, "working_day", d->working, "first_in", api_jtime(d->first_in_us),
                             "last_out", api_jtime(d->last_out_us), "late", d->late, "early_leave",
                             d->early_leave, "missing", d->missing, "worked_minutes",
                             (json_int_t)d->worked_minutes, "visits", (json_int_t)d->visits));
    }
    /* totals per unit, in the order units first appear */
    for (size_t i = 0; !bad && i < a->n_employees; i++) {
        const char *uid = a->employees[i].org_unit_id;
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = !strcmp(a->employees[j].org_unit_id, uid);
        if (seen)
            continue;
        int64_t n = 0, wd = 0, late = 0, early = 0, miss = 0, mins = 0, visits = 0;
        for (size_t j = 0; j < a->n_employees; j++)
            n += !strcmp(a->employees[j].org_unit_id, uid);
        for (size_t k = 0; k < a->n_days; k++) {
            const wp_attendance_day *d = &a->days[k];
            if (strcmp(a->employees[d->employee].org_unit_id, uid) != 0)
                continue;
            wd += d->working, late += d->late, early += d->early_leave, miss += d->missing;
            mins += d->worked_minutes, visits += d->visits;
        }
        bad = json_array_append_new(
            units,
            json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "org_unit_id", uid, "employees",
                      (json_int_t)n, "working_days", (json_int_t)wd, "late", (json_int_t)late,
                      "early_leave", (json_int_t)early, "missing", (json_int_t)miss,
                      "worked_minutes", (json_int_t)mins, "visits", (json_int_t)visits));
    }
    if (!bad)
        o = json_pack("{s:s,s:s,s:s,s:i,s:o,s:o}", "from", from, "to", to, "time_zone",
                      a->time_zone, "grace_minutes", a->grace_minutes, "items", items,
                      "units", units);
    else {
        json_decref(items);
        json_decref(units);
    }
    return o;
}

int api_attendance(wp_http_ctx *ctx)
{
    const api_caller *c = api_caller_of(ctx);
    wp_checkin_filter f = {.tenant_id = c->tenant_id};
    const char *from = wp_http_query(ctx, "from"), *to = wp_http_query(ctx, "to");
    wp_attendance a;
    wp_org_unit unit;
    api_scope scope;
    wp_store *st = NULL;
    int64_t first, last;
    int err;

    memset(&a, 0, sizeof a);
    if ((err = parse_date(from, "from", &first)) < 0 || (err = parse_date(to, "to", &last)) < 0)
        return err;
    if (last < first)
        return wp_error_set(WP_EINVAL, "'to' must not be before 'from'");
    if (last - first >= WP_ATTENDANCE_DAYS_MAX)
        return wp_error_set(WP_EINVAL, "'from' to 'to' spans more than %d days",
                            WP_ATTENDANCE_DAYS_MAX);
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0 ||
        (err = people_filter(ctx, st, &scope, &f, &unit)) < 0 ||
        (err = wp_store_attendance(st, &a, &f, first, last, wp_time_now_us())) < 0)
        goto out;
    api_store_release(ctx, st);
    st = NULL;
    json_t *o = attendance_json(&a, from, to);
    if (!o) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    json_t *d = read_details(&f, from, to);
    err = d ? api_audit_read(ctx, "attendance.read", NULL, d)
            : wp_error_set(WP_ENOMEM, "out of memory");
    json_decref(d);
    if (err < 0) {
        json_decref(o);
        goto out;
    }
    err = wp_http_reply_json(ctx, 200, o);
out:
    api_store_release(ctx, st);
    wp_attendance_release(&a);
    return err;
}

/* GET /api/v1/attendance/export?from=&to=&unit=&employee=&format=: the attendance's days as
 * XLSX (or CSV), one row an employee's day, audited as an export (attendance.export). */
int api_export_attendance(wp_http_ctx *ctx)
{
    static const char *const cols[] = {"employee_id", "employee", "org_unit_id",    "date",
                                       "working_day", "first_in", "last_out",       "late",
                                       "early_leave", "missing",  "worked_minutes", "visits",
                                       NULL};
    const api_caller *c = api_caller_of(ctx);
    wp_checkin_filter f = {.tenant_id = c->tenant_id};
    const char *from = wp_http_query(ctx, "from"), *to = wp_http_query(ctx, "to");
    enum api_table_format format;
    wp_attendance a;
    wp_org_unit unit;
    api_scope scope;
    api_table t;
    wp_store *st = NULL;
    int64_t first, last;
    int err;

    memset(&a, 0, sizeof a);
    memset(&t, 0, sizeof t);
    if ((err = api_table_format_query(ctx, &format)) < 0 ||
        (err = parse_date(from, "from", &first)) < 0 || (err = parse_date(to, "to", &last)) < 0)
        return err;
    if (last < first)
        return wp_error_set(WP_EINVAL, "'to' must not be before 'from'");
    if (last - first >= WP_ATTENDANCE_DAYS_MAX)
        return wp_error_set(WP_EINVAL, "'from' to 'to' spans more than %d days",
                            WP_ATTENDANCE_DAYS_MAX);
    if ((err = api_store_acquire(ctx, &st)) < 0)
        return err;
    if ((err = api_scope_for(ctx, st, &scope)) < 0 ||
        (err = people_filter(ctx, st, &scope, &f, &unit)) < 0 ||
        (err = wp_store_attendance(st, &a, &f, first, last, wp_time_now_us())) < 0 ||
        (err = api_table_begin(&t, ctx, format, "attendance", cols)) < 0)
        goto out;
    for (size_t i = 0; i < a.n_days && err == 0; i++) {
        const wp_attendance_day *d = &a.days[i];
        const wp_attendance_employee *e = &a.employees[d->employee];
        char date[16];
        format_date(date, d->day);
        if ((err = api_table_word(&t, e->id)) == 0 && (err = api_table_text(&t, e->name)) == 0 &&
            (err = api_table_word(&t, e->org_unit_id)) == 0 &&
            (err = api_table_word(&t, date)) == 0 && (err = api_table_num(&t, d->working)) == 0 &&
            (err = api_table_time(&t, d->first_in_us)) == 0 &&
            (err = api_table_time(&t, d->last_out_us)) == 0 &&
            (err = api_table_num(&t, d->late)) == 0 &&
            (err = api_table_num(&t, d->early_leave)) == 0 &&
            (err = api_table_num(&t, d->missing)) == 0 &&
            (err = api_table_num(&t, d->worked_minutes)) == 0 &&
            (err = api_table_num(&t, d->visits)) == 0)
            err = api_table_row_end(&t);
    }
    json_t *det = read_details(&f, from, to);
    err = api_export_finish(ctx, &st, &t, err, "attendance.export", NULL, "attendance", det);
out:
    api_table_release(&t);
    api_store_release(ctx, st);
    wp_attendance_release(&a);
    return err;
}
