/* SPDX-License-Identifier: MIT */
/* Check-ins (issue 18; migration 0028; ops_checkins.c): the clock-ins, clock-outs and customer
 * visits that devices report (written by ops_events.c), listed within a reader's scope, and the
 * attendance computed from them against working hours. docs/internals/checkins.md. */
#ifndef WP_STORE_CHECKINS_H
#define WP_STORE_CHECKINS_H

#include <stddef.h>
#include <stdint.h>

#include "store/scope.h"
#include "store/store.h"
#include "util/id.h"

#define WP_ATTENDANCE_DAYS_MAX 31        /* local days one attendance call spans */
#define WP_ATTENDANCE_EMPLOYEES_MAX 2000 /* employees one attendance call covers */
#define WP_ATTENDANCE_CHECKINS_MAX 200000 /* check-ins one attendance call reads */

typedef struct wp_checkin {
    char id[WP_ID_LEN + 1], device_id[WP_ID_LEN + 1], employee_id[WP_ID_LEN + 1];
    char customer_id[WP_ID_LEN + 1]; /* "" when none */
    char fence_id[WP_ID_LEN + 1];    /* "" when none */
    int64_t seq, ts_us;
    char kind[8];                        /* "in", "out", "visit" */
    int64_t lat_e7, lon_e7, accuracy_cm; /* accuracy_cm -1 when unknown */
    char photo[80];                      /* a media ref, "" when none */
    const char *note;                    /* NULL when none; in the page's memory */
    int inside_geofence;                 /* -1 no fence known, 0 outside, 1 inside */
} wp_checkin;

/* What to list: all fields optional but tenant_id. Strings borrowed for the call. */
typedef struct wp_checkin_filter {
    const char *tenant_id;
    const wp_scope *scope;   /* the reader's; NULL: the whole tenant */
    const char *org_path;    /* NULL, or only employees of this org subtree (the unit asked) */
    const char *employee_id; /* NULL, or this employee */
    const char *kind;        /* NULL, "in", "out", "visit" */
    int outside;             /* 1: only those known to lie outside every fence */
    int64_t from_us, to_us;  /* 0: unbounded */
    const char *cursor;
    unsigned limit;
} wp_checkin_filter;

typedef struct wp_checkin_page {
    wp_checkin *items; /* newest first */
    size_t n;
    char next_cursor[WP_ARCHIVE_CURSOR_MAX]; /* "" when this is the last page */
    void *mem;
} wp_checkin_page;

/* WP_EINVAL (bad cursor, kind, limit). Release with wp_checkin_page_release(). */
int wp_store_checkins_list(wp_store *st, wp_checkin_page *out, const wp_checkin_filter *f);
void wp_checkin_page_release(wp_checkin_page *p);

/* One employee's local day. */
typedef struct wp_attendance_day {
    size_t employee;                  /* index into wp_attendance.employees */
    int64_t day;                      /* local day, days since 1970-01-01 */
    int working;                      /* a working day under the employee's hours */
    int64_t first_in_us, last_out_us; /* 0: none */
    int late, early_leave, missing;
    int64_t worked_minutes, visits;
} wp_attendance_day;

typedef struct wp_attendance_employee {
    char id[WP_ID_LEN + 1], org_unit_id[WP_ID_LEN + 1];
    char name[404];
} wp_attendance_employee;

typedef struct wp_attendance {
    wp_attendance_employee *employees; /* by name, then id */
    size_t n_employees;
    wp_attendance_day *days; /* per employee (in its order), then day */
    size_t n_days;
    char time_zone[64];
    int grace_minutes; /* the tenant's attendance_grace_minutes (field.h) */
} wp_attendance;

/* The attendance of the active employees in the filter (scope, org_path, employee_id; not
 * kind, outside, cursor, limit) over the local days first_day..last_day (at most
 * WP_ATTENDANCE_DAYS_MAX): a day's check-ins are those at local times on it; first in, last
 * out; late when the first in is after the shift's start plus the tenant's
 * attendance_grace_minutes (field.h); early
 * leave when the last out is before its end; missing when a working day whose shift has begun
 * by now_us has no in; worked minutes from first in to last out. WP_EINVAL; WP_ELIMIT past
 * WP_ATTENDANCE_EMPLOYEES_MAX or WP_ATTENDANCE_CHECKINS_MAX. Caller releases *out with
 * wp_attendance_release() (also after a failure). */
int wp_store_attendance(wp_store *st, wp_attendance *out, const wp_checkin_filter *f,
                        int64_t first_day, int64_t last_day, int64_t now_us);
void wp_attendance_release(wp_attendance *a);

#endif
