/* SPDX-License-Identifier: MIT */
/* libFuzzer target: an analytics range, ?from= ?to= ?tz= (src/api/analytics.c), given as up
 * to three lines of the input. A range that parses covers 1..WP_ANALYTICS_RANGE_MAX_DAYS local
 * days with 1..WP_ANALYTICS_SPANS_MAX spans that follow each other without a gap, start and
 * end on whole hours, have a whole-hour offset within +-48 h, and put each of their hours on
 * a day of the range. */
#include "api/analytics_int.h"
#include "util/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_assert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define US 1000000LL
#define NOW_US 1795312800000000LL /* 2026-11-22T02:00:00Z */

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    FUZZ_ASSERT(s != NULL, "out of memory");
    memcpy(s, data, size);
    s[size] = '\0';
    char *part[3] = {NULL, NULL, NULL}, *p = s;
    for (int i = 0; i < 3 && p; i++) {
        part[i] = p;
        p = strchr(p, '\n');
        if (p)
            *p++ = '\0';
    }
    api_analytics_range r;
    int err = api_analytics__range(&r, part[0], part[1], part[2], NOW_US);
    if (err < 0) {
        FUZZ_ASSERT(err == WP_EINVAL, "error %d: %s", err, wp_error_last());
        goto out;
    }
    int64_t days = r.end_day - r.first_day;
    FUZZ_ASSERT(days >= 1 && days <= WP_ANALYTICS_RANGE_MAX_DAYS, "%lld days", (long long)days);
    FUZZ_ASSERT(r.n_spans >= 1 && r.n_spans <= WP_ANALYTICS_SPANS_MAX, "%zu spans", r.n_spans);
    FUZZ_ASSERT(r.spans[0].from_us == wp_tz_local(&r.z, r.first_day, 0) * US,
                "the first span does not start the first day");
    FUZZ_ASSERT(r.spans[r.n_spans - 1].to_us == wp_tz_local(&r.z, r.end_day, 0) * US,
                "the last span does not end the last day");
    FUZZ_ASSERT(r.spans[0].from_us >= 0, "a range before 1970");
    for (size_t i = 0; i < r.n_spans; i++) {
        const wp_analytics_span *sp = &r.spans[i];
        FUZZ_ASSERT(sp->from_us < sp->to_us, "span %zu is empty", i);
        FUZZ_ASSERT(sp->from_us % (3600 * US) == 0 && sp->to_us % (3600 * US) == 0,
                    "span %zu is not on whole hours", i);
        FUZZ_ASSERT(sp->offset_s % 3600 == 0 && sp->offset_s >= -48 * 3600 &&
                        sp->offset_s <= 48 * 3600,
                    "span %zu has offset %d", i, sp->offset_s);
        FUZZ_ASSERT(i == 0 || r.spans[i - 1].to_us == sp->from_us, "a gap before span %zu", i);
        int64_t d0 = floor_div(sp->from_us / US + sp->offset_s, 86400),
                d1 = floor_div((sp->to_us / US - 1) + sp->offset_s, 86400);
        FUZZ_ASSERT(d0 >= r.first_day && d1 < r.end_day && d0 <= d1,
                    "span %zu falls on days %lld..%lld outside %lld..%lld", i, (long long)d0,
                    (long long)d1, (long long)r.first_day, (long long)r.end_day);
    }
out:
    wp_tz_release(&r.z);
    free(s);
    return 0;
}
