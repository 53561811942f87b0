/* SPDX-License-Identifier: MIT */
/* Time zones from the system's TZif files (version 2 and later), and local days. */
#include "util/tz.h"
#include "util/tz_int.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TZ_FILE_MAX (256 * 1024)
#define ZONEINFO "/usr/share/zoneinfo/"
#define FALLBACK_NAME "Asia/Shanghai"
#define FALLBACK_OFFSET_S (8 * 3600)

void wp_tz_release(wp_tz *z)
{
    free(z->trans);
    free(z->off);
    memset(z, 0, sizeof *z);
}

static int64_t be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    if (n == 4)
        return (int32_t)(uint32_t)v;
    return (int64_t)v;
}

int wp_tz__parse(wp_tz *z, const unsigned char *d, size_t len)
{
    size_t p = 0;
    for (int part = 0; part < 2; part++) {
        if (len - p < 44 || memcmp(d + p, "TZif", 4) || (part == 0 && d[p + 4] < '2'))
            return -1;
        int64_t isutc = be(d + p + 20, 4), isstd = be(d + p + 24, 4), leap = be(d + p + 28, 4),
                timecnt = be(d + p + 32, 4), typecnt = be(d + p + 36, 4),
                charcnt = be(d + p + 40, 4);
        if (isutc < 0 || isstd < 0 || leap < 0 || timecnt < 0 || typecnt < 1 || charcnt < 0 ||
            timecnt > 4096 || typecnt > 256)
            return -1;
        int tl = part == 0 ? 4 : 8;
        size_t body = (size_t)(timecnt * tl + timecnt + typecnt * 6 + charcnt + leap * (tl + 4) +
                               isstd + isutc);
        p += 44;
        if (len - p < body)
            return -1;
        if (part == 0) {
            p += body;
            continue;
        }
        const unsigned char *t = d + p, *ix = t + timecnt * 8, *ty = ix + timecnt;
        z->n = (size_t)timecnt;
        z->trans = malloc((z->n ? z->n : 1) * sizeof *z->trans);
        z->off = malloc((z->n ? z->n : 1) * sizeof *z->off);
        if (!z->trans || !z->off)
            return -1;
        /* RFC 8536: every offset within -25..+26 hours, transitions ascending (the lookup
         * bisects them); a file that says otherwise is not a zone */
        for (int64_t k = 0; k < typecnt; k++) {
            int64_t off = be(ty + 6 * k, 4);
            if (off < WP_TZ_OFFSET_MIN || off > WP_TZ_OFFSET_MAX)
                return -1;
        }
        for (size_t i = 0; i < z->n; i++) {
            if (ix[i] >= typecnt)
                return -1;
            z->trans[i] = be(t + 8 * i, 8);
            if (i > 0 && z->trans[i] <= z->trans[i - 1])
                return -1;
            z->off[i] = (int32_t)be(ty + 6 * ix[i], 4);
        }
        z->first = (int32_t)be(ty, 4);
        return 0;
    }
    return -1;
}

int wp_tz_load(wp_tz *z, const char *tz, const char *what)
{
    memset(z, 0, sizeof *z);
    z->fixed = 1;
    if (!tz || !*tz)
        goto bad;
    if (!strcmp(tz, "Z") || !strcmp(tz, "UTC"))
        return 0;
    if ((tz[0] == '+' || tz[0] == '-') && strlen(tz) == 6 && tz[3] == ':') {
        int h = (tz[1] - '0') * 10 + (tz[2] - '0'), m = (tz[4] - '0') * 10 + (tz[5] - '0');
        for (int i = 1; i < 6; i++)
            if (i != 3 && (tz[i] < '0' || tz[i] > '9'))
                goto bad;
        if (h > 14 || m > 59)
            goto bad;
        z->offset_s = (tz[0] == '-' ? -1 : 1) * (h * 3600 + m * 60);
        return 0;
    }
    /* an IANA name: letters, digits, _ + - and / between parts, never .. */
    size_t n = strlen(tz);
    if (n > WP_TZ_NAME_MAX || tz[0] == '/' || strstr(tz, ".."))
        goto bad;
    for (size_t i = 0; i < n; i++) {
        char ch = tz[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '+' || ch == '-' || ch == '/'))
            goto bad;
    }
    char path[sizeof ZONEINFO + WP_TZ_NAME_MAX];
    snprintf(path, sizeof path, ZONEINFO "%s", tz);
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (!strcmp(tz, FALLBACK_NAME)) {
            z->offset_s = FALLBACK_OFFSET_S;
            return 0;
        }
        goto bad;
    }
    unsigned char *d = malloc(TZ_FILE_MAX);
    size_t len = d ? fread(d, 1, TZ_FILE_MAX, f) : 0;
    fclose(f);
    if (!d)
        return wp_error_set(WP_ENOMEM, "out of memory");
    z->fixed = 0;
    int r = wp_tz__parse(z, d, len);
    free(d);
    if (r < 0) {
        wp_tz_release(z);
        goto bad;
    }
    return 0;
bad:
    return wp_error_set(WP_EINVAL, "%s is not a time zone ('+08:00', 'Asia/Shanghai')", what);
}

int wp_tz_offset(const wp_tz *z, int64_t t)
{
    if (z->fixed)
        return z->offset_s;
    if (!z->n || t < z->trans[0])
        return z->first;
    size_t lo = 0, hi = z->n; /* the last transition <= t */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (z->trans[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return z->off[lo];
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

int64_t wp_tz_day(const wp_tz *z, int64_t t)
{
    return floor_div(t + wp_tz_offset(z, t), WP_TZ_DAY_S);
}

int64_t wp_tz_local(const wp_tz *z, int64_t day, int minute)
{
    int64_t local = day * WP_TZ_DAY_S + (int64_t)minute * 60, t = local - wp_tz_offset(z, local);
    t = local - wp_tz_offset(z, t);
    return local - wp_tz_offset(z, t);
}

int wp_tz_weekday(int64_t day)
{
    /* 1970-01-01 was a Thursday (4) */
    return (int)((day % 7 + 7 + 3) % 7) + 1;
}

int wp_tz_shift(const wp_tz *z, unsigned days, int from_min, int to_min, int64_t day, int64_t *a,
                int64_t *b)
{
    if (!(days & (1u << (wp_tz_weekday(day) - 1))))
        return 0;
    *a = wp_tz_local(z, day, from_min);
    *b = wp_tz_local(z, to_min <= from_min ? day + 1 : day, to_min);
    return *b > *a;
}

int wp_tz_weekly_contains(const wp_tz *z, unsigned days, int from_min, int to_min, int64_t t_us)
{
    int64_t t = t_us / 1000000 - (t_us % 1000000 < 0), day = wp_tz_day(z, t);
    for (int64_t d = day - 1; d <= day; d++) {
        int64_t a, b;
        if (wp_tz_shift(z, days, from_min, to_min, d, &a, &b) && t_us >= a * 1000000 &&
            t_us < b * 1000000)
            return 1;
    }
    return 0;
}
