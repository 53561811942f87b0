/* SPDX-License-Identifier: MIT */
/* Analytics (migration 0009; ops_analytics.c).
 * What the dashboard shows, from hourly rollups that a job folds in after a watermark
 * (messages by rid, calls and alerts by the time they were stored), plus the raw rows past
 * the watermark, so every answer is exact whatever the job has done. Days are local days:
 * the caller splits its range into spans of one UTC offset, whole hours (an hour bucket then
 * never straddles a day). docs/internals/analytics.md defines each number. */
#ifndef WP_STORE_ANALYTICS_H
#define WP_STORE_ANALYTICS_H

#include <stddef.h>
#include <stdint.h>

#include "store/scope.h"
#include "store/store.h"
#include "util/id.h"

#define WP_ANALYTICS_SPANS_MAX 64      /* offset changes in one range */
#define WP_ANALYTICS_RANGE_MAX_DAYS 400 /* days of one range */
#define WP_ANALYTICS_BINS 1107         /* reply-time histogram bins */

/* A reply time as the histograms keep it: exact below 2 minutes, then rounded down to 10 s
 * (below 10 min), 1 min (below 2 h), 10 min (below 24 h), 1 h (below 30 days); 30 days and
 * more are one bin. wp_analytics_bin() maps seconds (>= 0) to a bin, _bin_floor() back. */
int wp_analytics_bin(int64_t seconds);
int64_t wp_analytics_bin_floor(int bin);

/* One stretch of the range: [from_us, to_us) on whole UTC hours, whose rows fall on the local
 * day floor((t + offset_s) / 86400); offset_s is whole hours within +-48 h (a day longer than
 * 24 hours, at the end of summer time, takes two spans: the extra hours with 24 h less). */
typedef struct wp_analytics_span {
    int64_t from_us, to_us;
    int offset_s;
} wp_analytics_span;

enum wp_analytics_by { WP_ANALYTICS_ALL = 0, WP_ANALYTICS_EMPLOYEE, WP_ANALYTICS_UNIT };

typedef struct wp_analytics_filter {
    const char *tenant_id;
    const wp_analytics_span *spans; /* 1..WP_ANALYTICS_SPANS_MAX, each starting where the one
                                     * before ends */
    size_t n_spans;
    enum wp_analytics_by by;        /* group by the employee, or by its (current) org unit */
    const wp_scope *scope;          /* NULL: any; else the employees in it */
    int raw;                        /* 1: from the raw rows only, ignoring the rollups (the
                                     * reference the tests and the benchmark compare with) */
} wp_analytics_filter;

/* A result row. day: the local day as days since 1970-01-01 in its span's offset (0 where a
 * result is not per day); group: the employee or org unit id ("" for WP_ANALYTICS_ALL). */
#define WP_ANALYTICS_VALUES 5 /* numbers of a result row */
typedef struct wp_analytics_row {
    int64_t day;
    char group[WP_ID_LEN + 1];
    const char *name; /* the group's name; NULL for "" (owned by the result) */
    char kind[WP_ARCHIVE_WORD_MAX + 1];      /* alerts: the alert kind; funnel: the stage */
    char category[WP_ARCHIVE_FIELD_MAX + 1]; /* alerts: the category ("" for none) */
    /* activity: messages in, out, calls, call seconds
     * response times: turns, answered, median s, p90 s (-1 when nothing answered)
     * alerts: count
     * funnel: customers at that stage, the sum of their deal amounts (fen)
     * conversion: customers created in the range, of them at deal, at lost; deals closed in
     *             the range (stage deal, stage changed in the range), whatever their age, and
     *             the sum of those deals' amounts (fen) */
    int64_t v[WP_ANALYTICS_VALUES];
} wp_analytics_row;

typedef struct wp_analytics_result {
    wp_analytics_row *rows; /* by day, then group (then kind, category) */
    size_t n;
    void *mem; /* private: where the names live */
} wp_analytics_result;

/* Messages and calls per local day (and group). */
int wp_store_analytics_activity(wp_store *st, wp_analytics_result *out,
                                const wp_analytics_filter *f);

/* First-reply times of customer turns that began in the range, per group (day 0): a turn is
 * a customer's inbound message in a one-to-one chat whose previous message was not inbound;
 * its reply is the employee's next outbound message in that chat, in the order the device
 * recorded them. Turns not (yet) answered count in turns but not in answered. */
int wp_store_analytics_replies(wp_store *st, wp_analytics_result *out,
                               const wp_analytics_filter *f);

/* Alerts per local day (and group), kind and category, by the time of the event. The
 * results of these functions name each group (row.name). */
int wp_store_analytics_alerts(wp_store *st, wp_analytics_result *out,
                              const wp_analytics_filter *f);

/* Customers not in the pool, by owner scope and group, by stage (kind: lead, contacted,
 * intent, deal, lost; no stage counts as lead), today (day 0, ignoring the range). */
int wp_store_analytics_funnel(wp_store *st, wp_analytics_result *out,
                              const wp_analytics_filter *f);

/* Conversion per group (day 0): see wp_analytics_row.v. */
int wp_store_analytics_conversion(wp_store *st, wp_analytics_result *out,
                                  const wp_analytics_filter *f);

void wp_analytics_result_release(wp_analytics_result *r); /* NULL rows is fine */

/* What one run of the rollup job did. */
typedef struct wp_analytics_rollup_result {
    int64_t messages, calls, alerts; /* rows folded in */
    int more;                        /* 1: stopped at max_rows; run again */
} wp_analytics_rollup_result;

/* Fold the rows stored since the last run into the rollups, every tenant, in transactions of
 * at most a few thousand rows (so a crash loses nothing and repeats nothing: rollups and
 * watermark commit together), at most max_rows messages in all (0: no limit). Calls and
 * alerts stored in the last WP_ANALYTICS_LAG_S are left for the next run (their only order
 * is the time they were stored); messages on PostgreSQL up to the last run's newest row once
 * every transaction then running has ended. Safe beside the server and beside another run
 * (they serialize on each tenant's watermark row). */
#define WP_ANALYTICS_LAG_S 300
int wp_store_analytics_rollup(wp_store *st, wp_analytics_rollup_result *out, int64_t now_us,
                              int64_t max_rows);

#endif
