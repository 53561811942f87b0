/* SPDX-License-Identifier: MIT */
/* The ingest series of /metrics: events, rejects, alerts, the writer's queue and commit times;
 * and the process's memory as the allocator and SQLite see it (the soak test tells a leak from
 * caches filling with them). */
#include "api/api.h"
#include "store/store.h"

#include <inttypes.h>
#include <malloc.h>

int api_metrics(void *app, wp_buf *out)
{
    wp_app *a = app;
    if (!a || !a->ingest)
        return 0;
    wp_ingest_stats s;
    wp_ingest_stats_get(a->ingest, &s);
    int err = wp_buf_addf(
        out,
        "# HELP workphone_ingest_events_total Device events received in accepted batches.\n"
        "# TYPE workphone_ingest_events_total counter\n"
        "workphone_ingest_events_total %" PRIu64 "\n"
        "# HELP workphone_ingest_rejected_total Device events that failed validation (quarantined).\n"
        "# TYPE workphone_ingest_rejected_total counter\n"
        "workphone_ingest_rejected_total %" PRIu64 "\n"
        "# HELP workphone_ingest_off_duty_dropped_total Locations outside working hours handled but not kept (locations_off_duty drop).\n"
        "# TYPE workphone_ingest_off_duty_dropped_total counter\n"
        "workphone_ingest_off_duty_dropped_total %" PRIu64 "\n"
        "# HELP workphone_alerts_raised_total Alerts raised by device events.\n"
        "# TYPE workphone_alerts_raised_total counter\n"
        "workphone_alerts_raised_total %" PRIu64 "\n"
        "# HELP workphone_ingest_batches_total Batches written by the group-commit writer.\n"
        "# TYPE workphone_ingest_batches_total counter\n"
        "workphone_ingest_batches_total %" PRIu64 "\n"
        "# HELP workphone_ingest_retried_alone_total Batches retried alone after a merged commit failed.\n"
        "# TYPE workphone_ingest_retried_alone_total counter\n"
        "workphone_ingest_retried_alone_total %" PRIu64 "\n"
        "# HELP workphone_ingest_queue_depth Batches waiting for the writer.\n"
        "# TYPE workphone_ingest_queue_depth gauge\n"
        "workphone_ingest_queue_depth %" PRIu64 "\n"
        "# HELP workphone_ingest_queue_bytes Bytes the batches waiting for the writer hold.\n"
        "# TYPE workphone_ingest_queue_bytes gauge\n"
        "workphone_ingest_queue_bytes %" PRIu64 "\n"
        "# HELP workphone_ingest_queue_refused_total Batches refused (503 overloaded) because the writer's queue was full.\n"
        "# TYPE workphone_ingest_queue_refused_total counter\n"
        "workphone_ingest_queue_refused_total %" PRIu64 "\n"
        "# HELP workphone_store_commit_seconds Time of one group commit (all its batches).\n"
        "# TYPE workphone_store_commit_seconds histogram\n",
        s.events, s.rejected, s.off_duty_dropped, s.alerts, s.batches, s.retried_alone, s.queue_depth,
        s.queue_bytes, s.queue_refused);
    static const uint64_t bounds[WP_INGEST_COMMIT_BUCKETS] = WP_INGEST_COMMIT_BUCKETS_US;
    uint64_t cum = 0;
    for (int k = 0; !err && k <= WP_INGEST_COMMIT_BUCKETS; k++) {
        cum += s.commit_le[k];
        if (k < WP_INGEST_COMMIT_BUCKETS)
            err = wp_buf_addf(out, "workphone_store_commit_seconds_bucket{le=\"%" PRIu64 ".%06" PRIu64
                                   "\"} %" PRIu64 "\n",
                              bounds[k] / 1000000, bounds[k] % 1000000, cum);
        else
            err = wp_buf_addf(out, "workphone_store_commit_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n",
                              cum);
    }
    if (!err)
        err = wp_buf_addf(out,
                          "workphone_store_commit_seconds_sum %" PRIu64 ".%06" PRIu64 "\n"
                          "workphone_store_commit_seconds_count %" PRIu64 "\n",
                          s.commit_us_sum / 1000000, s.commit_us_sum % 1000000, cum);
    struct mallinfo2 mi = mallinfo2();
    if (!err)
        err = wp_buf_addf(
            out,
            "# HELP workphone_heap_bytes Bytes the C allocator has handed out and not got back (glibc mallinfo2: uordblks + hblkhd).\n"
            "# TYPE workphone_heap_bytes gauge\n"
            "workphone_heap_bytes %zu\n"
            "# HELP workphone_sqlite_memory_bytes Bytes SQLite holds, all connections (page caches, statements).\n"
            "# TYPE workphone_sqlite_memory_bytes gauge\n"
            "workphone_sqlite_memory_bytes %" PRId64 "\n",
            mi.uordblks + mi.hblkhd, wp_store_sqlite_memory());
    if (!err && a->jobs_leading)
        err = wp_buf_addf(out,
                          "# HELP workphone_jobs_leader 1 while this node runs the periodic jobs (it holds the group's leader lock; SQLite: always).\n"
                          "# TYPE workphone_jobs_leader gauge\n"
                          "workphone_jobs_leader %d\n",
                          a->jobs_leading(a->jobs_leading_ctx) ? 1 : 0);
    if (!err && a->changes_listening && a->changes_listening_ctx) {
        uint64_t notices = 0;
        int up = a->changes_listening(a->changes_listening_ctx, &notices);
        err = wp_buf_addf(out,
                          "# HELP workphone_changes_listening 1 while this node listens for the nodes' changes (PostgreSQL).\n"
                          "# TYPE workphone_changes_listening gauge\n"
                          "workphone_changes_listening %d\n"
                          "# HELP workphone_changes_notices_total Change notices received (each drops the caches it names).\n"
                          "# TYPE workphone_changes_notices_total counter\n"
                          "workphone_changes_notices_total %" PRIu64 "\n",
                          up ? 1 : 0, notices);
    }
    return err;
}
