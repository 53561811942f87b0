/* SPDX-License-Identifier: MIT */
/* The range of an analytics request (analytics.c), exposed for its fuzz target
 * (tests/fuzz/fuzz_range.c). */
#ifndef WP_API_ANALYTICS_INT_H
#define WP_API_ANALYTICS_INT_H

#include "store/analytics.h"
#include "util/tz.h"

#include <stddef.h>
#include <stdint.h>

typedef struct api_analytics_range {
    wp_tz z;
    const char *tz;             /* the zone's name as asked ("+08:00" by default) */
    int64_t first_day, end_day; /* local days [first_day, end_day) */
    wp_analytics_span spans[WP_ANALYTICS_SPANS_MAX];
    size_t n_spans;
} api_analytics_range;

/* ?from= ?to= ?tz= (each NULL or "" when not given) into r: local days, from the day of from
 * to the day that ends at to (or holds it); by default the 30 days that end with the day of
 * now_us. The spans cover [first_day, end_day) in order, each on whole hours.
 * @return 0 or WP_EINVAL (a message naming the parameter); WP_ENOMEM
 * Release r->z with wp_tz_release() (also after a failure). */
int api_analytics__range(api_analytics_range *r, const char *from, const char *to, const char *tz,
                         int64_t now_us);

#endif
