/* SPDX-License-Identifier: MIT */
/* Time zones: a fixed offset, or an IANA zone read from the system's TZif files, and the local
 * days and wall-clock times they give (analytics' days, the tenant's working hours). */
#ifndef WP_UTIL_TZ_H
#define WP_UTIL_TZ_H

#include <stddef.h>
#include <stdint.h>

#define WP_TZ_NAME_MAX 64 /* bytes of a zone's name */
#define WP_TZ_DAY_S 86400LL

typedef struct wp_tz {
    int fixed; /* 1: offset_s for all time */
    int offset_s;
    int64_t *trans; /* transition times (s), ascending */
    int32_t *off;   /* the offset from each transition on */
    size_t n;
    int32_t first; /* before the first transition */
} wp_tz;

/* Load a zone: "Z", "UTC", "+hh:mm" / "-hh:mm", or an IANA name ("Asia/Shanghai") read from
 * /usr/share/zoneinfo. Asia/Shanghai, the default of tenants, is +08:00 for all time when the
 * system has no zone files (China has kept one offset since 1991).
 * @param what  the name of the field in the error message ("'tz'")
 * @return 0, WP_EINVAL ("'tz' is not a time zone ..."), WP_ENOMEM
 * Caller releases *out with wp_tz_release() (also after a failure). */
int wp_tz_load(wp_tz *out, const char *name, const char *what);
void wp_tz_release(wp_tz *z);

/* The offset from UTC at t (seconds since the epoch). Past the file's last transition the last
 * offset holds. */
int wp_tz_offset(const wp_tz *z, int64_t t);

/* The local day of t (seconds), as days since 1970-01-01. */
int64_t wp_tz_day(const wp_tz *z, int64_t t);

/* When local time `minute` (minutes after midnight, up to 24 * 60) of local day `day` is, in
 * UTC seconds. A wall time that a change of offset skips or repeats maps to one of its
 * neighbours. */
int64_t wp_tz_local(const wp_tz *z, int64_t day, int minute);

/* The ISO weekday of a day since 1970-01-01: 1 Monday .. 7 Sunday. */
int wp_tz_weekday(int64_t day);

/* The shift of a weekly schedule that starts on local day `day`, in UTC seconds [*a, *b): 1, or
 * 0 when day is not one of `days` (bit d - 1 for ISO weekday d). to_min <= from_min is a shift
 * that ends the next day. The one rule of working hours (store/workhours.h) and of the agent. */
int wp_tz_shift(const wp_tz *z, unsigned days, int from_min, int to_min, int64_t day, int64_t *a,
                int64_t *b);

/* 1 when t_us (microseconds since the epoch) lies within a shift of that weekly schedule
 * (one that started the local day before may still run), else 0. */
int wp_tz_weekly_contains(const wp_tz *z, unsigned days, int from_min, int to_min, int64_t t_us);

#endif
