/* SPDX-License-Identifier: MIT */
/* Clock (fixed, or followed from a file, by the test hooks) and RFC 3339. */
#include "util/clock.h"
#include "util/error.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static _Atomic int64_t fake_us;

/* The clock file of the test hooks (WORKPHONE_TEST_CLOCK): its path, set once before any
 * thread starts, and what the file was when it was last read. */
static char follow_path[4096];
static pthread_mutex_t follow_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    int read;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
} follow_seen;

int wp_time__follow(const char *path)
{
    if ((size_t)snprintf(follow_path, sizeof follow_path, "%s", path) >= sizeof follow_path) {
        follow_path[0] = '\0';
        return wp_error_set(WP_EINVAL, "WORKPHONE_TEST_CLOCK: the path is too long");
    }
    return 0;
}

/* When the clock file changed since it was read (another inode, size or mtime: a test that
 * renames a new file into place, or rewrites it), take its time. A missing file, or one that
 * does not hold an RFC 3339 time (yet: caught between truncate and write), changes nothing
 * and is looked at again on the next call. */
static void follow(void)
{
    struct stat sb;
    if (stat(follow_path, &sb) != 0)
        return;
    pthread_mutex_lock(&follow_lock);
    if (!follow_seen.read || sb.st_dev != follow_seen.dev || sb.st_ino != follow_seen.ino ||
        sb.st_size != follow_seen.size || sb.st_mtim.tv_sec != follow_seen.mtime.tv_sec ||
        sb.st_mtim.tv_nsec != follow_seen.mtime.tv_nsec) {
        char text[64];
        size_t n = 0;
        int64_t us;
        FILE *f = fopen(follow_path, "r");
        if (f) {
            n = fread(text, 1, sizeof text - 1, f);
            fclose(f);
        }
        while (n && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
            n--;
        text[n] = '\0';
        if (f && wp_time_parse(&us, text) == 0) {
            atomic_store(&fake_us, us);
            follow_seen.read = 1;
            follow_seen.dev = sb.st_dev;
            follow_seen.ino = sb.st_ino;
            follow_seen.size = sb.st_size;
            follow_seen.mtime = sb.st_mtim;
        }
    }
    pthread_mutex_unlock(&follow_lock);
}

int64_t wp_time_now_us(void)
{
    if (follow_path[0])
        follow();
    int64_t f = atomic_load(&fake_us);
    if (f)
        return f;
    return wp_time_real_us();
}

int64_t wp_time_real_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void wp_time_set_fake(int64_t us)
{
    atomic_store(&fake_us, us);
}

/* Days since 1970-01-01 for a civil date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yy + (*m <= 2));
}

void wp_time_format(char out[40], int64_t us, int offset_min)
{
    int64_t local = us + (int64_t)offset_min * 60000000;
    int64_t secs = local >= 0 ? local / 1000000 : (local - 999999) / 1000000;
    int frac = (int)(local - secs * 1000000);
    int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    int sod = (int)(secs - days * 86400);
    int y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    int n = snprintf(out, 40, "%04d-%02u-%02uT%02d:%02d:%02d", y, m, d, sod / 3600,
                     sod / 60 % 60, sod % 60);
    if (frac)
        n += snprintf(out + n, 40 - (size_t)n, ".%06d", frac);
    if (offset_min == 0) {
        snprintf(out + n, 40 - (size_t)n, "Z");
    } else {
        int a = offset_min < 0 ? -offset_min : offset_min;
        snprintf(out + n, 40 - (size_t)n, "%c%02d:%02d", offset_min < 0 ? '-' : '+', a / 60,
                 a % 60);
    }
}

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

int wp_time_parse(int64_t *out_us, const char *s)
{
    const char *p = s;
    int y, mo, d, h, mi, se, frac = 0;
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
        digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' '))
        goto bad;
    p++;
    if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' ||
        digits(&p, 2, &se))
        goto bad;
    if (*p == '.') {
        p++;
        int n = 0;
        while (*p >= '0' && *p <= '9') {
            if (n < 6) {
                frac = frac * 10 + (*p - '0');
                n++;
            }
            p++;
        }
        if (n == 0)
            goto bad;
        while (n++ < 6)
            frac *= 10;
    }
    int off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om;
        if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 || om > 59)
            goto bad;
        off = sign * (oh * 60 + om);
    } else {
        goto bad;
    }
    if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
        goto bad;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap))
        goto bad;
    int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + se - (int64_t)off * 60;
    *out_us = secs * 1000000 + frac;
    return 0;
bad:
    return wp_error_set(WP_EINVAL, "'%.40s' is not an RFC 3339 time", s);
}
