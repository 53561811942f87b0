/* SPDX-License-Identifier: MIT */
/* libFuzzer target: a TZif file (src/util/tz.c), as wp_tz_load() reads one from
 * /usr/share/zoneinfo. A file that parses gives ascending transitions and offsets within
 * RFC 8536's -25..+26 hours, and local days and times that agree with each other. */
#include "util/tz_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_assert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_offset(int off)
{
    FUZZ_ASSERT(off >= WP_TZ_OFFSET_MIN && off <= WP_TZ_OFFSET_MAX, "offset %d s", off);
}

/* t's local day, and the start of that day back in UTC: no later than t, a day at most
 * (plus a change of offset) before it. */
static void check_time(const wp_tz *z, int64_t t)
{
    int off = wp_tz_offset(z, t);
    check_offset(off);
    int64_t day = wp_tz_day(z, t);
    FUZZ_ASSERT(day ==
                    (t + off - ((t + off) % WP_TZ_DAY_S + WP_TZ_DAY_S) % WP_TZ_DAY_S) / WP_TZ_DAY_S,
                "day %lld of %lld", (long long)day, (long long)t);
    int64_t start = wp_tz_local(z, day, 0);
    int64_t slack = 2 * (WP_TZ_OFFSET_MAX - WP_TZ_OFFSET_MIN);
    FUZZ_ASSERT(start - t <= slack && t - start <= WP_TZ_DAY_S + slack,
                "day %lld starts at %lld, t %lld", (long long)day, (long long)start, (long long)t);
    int wd = wp_tz_weekday(day);
    FUZZ_ASSERT(wd >= 1 && wd <= 7, "weekday %d", wd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wp_tz z;
    memset(&z, 0, sizeof z);
    if (wp_tz__parse(&z, data, size) == 0) {
        FUZZ_ASSERT(!z.fixed, "a file gave a fixed zone");
        FUZZ_ASSERT(z.n <= 4096, "%zu transitions", z.n);
        check_offset(z.first);
        for (size_t i = 0; i < z.n; i++) {
            check_offset(z.off[i]);
            FUZZ_ASSERT(i == 0 || z.trans[i - 1] < z.trans[i], "transition %zu not after %zu", i,
                        i - 1);
        }
        /* around each transition inside the years anybody asks about (1900..2200), and at
         * fixed times */
        const int64_t lo = -2208988800LL, hi = 7258118400LL;
        for (size_t i = 0; i < z.n && i < 64; i++) {
            int64_t t = z.trans[i];
            if (t < lo || t > hi)
                continue;
            FUZZ_ASSERT(wp_tz_offset(&z, t) == z.off[i], "offset at transition %zu", i);
            check_time(&z, t - 1);
            check_time(&z, t);
            check_time(&z, t + 1);
        }
        check_time(&z, 0);
        check_time(&z, 1795312800LL);
        check_time(&z, lo);
        check_time(&z, hi);
    }
    wp_tz_release(&z);
    return 0;
}
