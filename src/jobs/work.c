/* SPDX-License-Identifier: MIT */
/* The periodic work on the store: reclaim to the pool, the dashboard's rollups, the customer
 * rules, the retention purge. Each is a task of the scheduler; the store does the work, in transactions of its own,
 * so a crash loses nothing and a rerun repeats nothing. */
#include "jobs/jobs.h"
#include "util/log.h"

#include <string.h>

static int reclaim(wp_store *st, void *arg, int64_t now_us, wp_buf *note)
{
    wp_jobs_work *w = arg;
    memset(&w->reclaim, 0, sizeof w->reclaim);
    int err = wp_store_pool_reclaim(st, &w->reclaim, w->audit_key, now_us);
    wp_log_addf(note, "owner_left", "%lld", (long long)w->reclaim.owner_left);
    wp_log_addf(note, "inactive", "%lld", (long long)w->reclaim.inactive);
    return err;
}

static int rollup(wp_store *st, void *arg, int64_t now_us, wp_buf *note)
{
    wp_jobs_work *w = arg;
    memset(&w->rollup, 0, sizeof w->rollup);
    int err = wp_store_analytics_rollup(st, &w->rollup, now_us, 0);
    wp_log_addf(note, "messages", "%lld", (long long)w->rollup.messages);
    wp_log_addf(note, "calls", "%lld", (long long)w->rollup.calls);
    wp_log_addf(note, "alerts", "%lld", (long long)w->rollup.alerts);
    return err;
}

static int rules(wp_store *st, void *arg, int64_t now_us, wp_buf *note)
{
    wp_jobs_work *w = arg;
    memset(&w->rules, 0, sizeof w->rules);
    int err = wp_store_crm_rules_run(st, &w->rules, w->audit_key, now_us);
    wp_log_addf(note, "reminders", "%lld", (long long)w->rules.reminders);
    wp_log_addf(note, "closed", "%lld", (long long)w->rules.closed);
    wp_log_addf(note, "overdue", "%lld", (long long)w->rules.overdue);
    wp_log_addf(note, "graded", "%lld", (long long)w->rules.graded);
    wp_log_addf(note, "script_uses", "%lld", (long long)w->rules.script_uses);
    return err;
}

static int retention(wp_store *st, void *arg, int64_t now_us, wp_buf *note)
{
    wp_jobs_work *w = arg;
    memset(&w->retention, 0, sizeof w->retention);
    int err = wp_store_retention_purge(st, &w->retention, w->audit_key, w->media_dir, now_us);
    wp_log_addf(note, "messages", "%lld", (long long)w->retention.messages);
    wp_log_addf(note, "calls", "%lld", (long long)w->retention.calls);
    wp_log_addf(note, "alerts", "%lld", (long long)w->retention.alerts);
    wp_log_addf(note, "media", "%lld", (long long)w->retention.media);
    return err;
}

int wp_jobs_add_work(wp_jobs *j, wp_jobs_work *w, unsigned interval_ms)
{
    int err;
    if ((err = wp_jobs_add(j, "reclaim", interval_ms, 0, reclaim, w)) < 0 ||
        (err = wp_jobs_add(j, "rollup", interval_ms, 0, rollup, w)) < 0 ||
        (err = wp_jobs_add(j, "rules", interval_ms, 0, rules, w)) < 0 ||
        (err = wp_jobs_add(j, "retention", interval_ms, 0, retention, w)) < 0)
        return err;
    return 0;
}
