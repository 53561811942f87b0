/* SPDX-License-Identifier: MIT */
/* `workphone jobs run`: run the background jobs once (the pool's reclaim rules), for operators
 * and tests; `serve` runs the same jobs on its own. */
#include "cli/cli.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"
#include "util/testhooks.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char help[] =
    "usage: workphone jobs run --data DIR [--db URL]\n"
    "\n"
    "Runs the background jobs once, at the current time (WORKPHONE_FAKE_NOW fixes it):\n"
    "customers of deactivated employees go to the public pool (reason owner_left), and\n"
    "customers nobody contacted or followed up for the tenant's reclaim_inactive_days\n"
    "(reason inactive). Each move is in the customer's timeline and the audit log. Then the\n"
    "dashboard's rollups take in what was stored since the last run, and the customer\n"
    "rules run: follow-up reminders and overdue alerts, grading rules, script usage. Safe to\n"
    "run beside the server and to run again: a move is never made twice.\n"
    "\n"
    "  --data DIR  the data directory made by 'workphone init' (it holds the audit key)\n"
    "  --db URL    postgresql://... when the store is in PostgreSQL\n";

static int jobs_run_once(wp_store *st, const unsigned char *audit_key, int64_t now_us,
                         int64_t *owner_left, int64_t *inactive, wp_analytics_rollup_result *a,
                         wp_rules_result *rules)
{
    wp_reclaim_result r = {0, 0};
    int err = wp_store_pool_reclaim(st, &r, audit_key, now_us);
    *owner_left = r.owner_left;
    *inactive = r.inactive;
    /* the dashboard's rollups (ops_analytics.c), also after a failed reclaim */
    int err2 = wp_store_analytics_rollup(st, a, now_us, 0);
    /* the customer rules (ops_rules.c): SOP reminders and overdue alerts, grading, scripts */
    int err3 = wp_store_crm_rules_run(st, memset(rules, 0, sizeof *rules), audit_key, now_us);
    return err < 0 ? err : err2 < 0 ? err2 : err3;
}

/* --- inside serve: a thread that runs the jobs every interval ----------------------------- */

struct cli_jobs {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stop;
    unsigned interval_s;
    wp_store *st;
    unsigned char key[WP_AUDIT_KEY_LEN];
};

static void *jobs_main(void *arg)
{
    struct cli_jobs *j = arg;
    struct timespec until;
    pthread_mutex_lock(&j->lock);
    while (!j->stop) {
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += j->interval_s; /* the first run waits too: a restart is no trigger */
        while (!j->stop && pthread_cond_timedwait(&j->wake, &j->lock, &until) != ETIMEDOUT) {
        }
        if (j->stop)
            break;
        pthread_mutex_unlock(&j->lock);
        int64_t left = 0, inactive = 0;
        wp_analytics_rollup_result a;
        wp_rules_result rr;
        wp_buf line;
        int err = jobs_run_once(j->st, j->key, wp_time_now_us(), &left, &inactive, &a, &rr);
        wp_log_start(&line, err < 0 ? "error" : "info", "jobs");
        wp_log_addf(&line, "owner_left", "%lld", (long long)left);
        wp_log_addf(&line, "inactive", "%lld", (long long)inactive);
        wp_log_addf(&line, "analytics_messages", "%lld", (long long)a.messages);
        if (err < 0)
            wp_log_addn(&line, "error", wp_error_last(), 200);
        wp_log_end(&line, 2);
        pthread_mutex_lock(&j->lock);
    }
    pthread_mutex_unlock(&j->lock);
    return NULL;
}

int cli_jobs_start(cli_jobs **out, const char *data, const char *db,
                   const unsigned char *audit_key)
{
    struct cli_jobs *j = calloc(1, sizeof *j);
    pthread_condattr_t ca;
    int err;
    if (!j)
        return wp_error_set(WP_ENOMEM, "out of memory");
    j->interval_s = wp_test_hooks_get()->jobs_interval_s ? wp_test_hooks_get()->jobs_interval_s
                                                         : CLI_JOBS_INTERVAL_S;
    memcpy(j->key, audit_key, sizeof j->key);
    if ((err = wp_store_open(&j->st, data, db)) < 0) {
        sodium_memzero(j->key, sizeof j->key);
        free(j);
        return err;
    }
    pthread_mutex_init(&j->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&j->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&j->thread, NULL, jobs_main, j) != 0) {
        wp_store_free(j->st);
        pthread_cond_destroy(&j->wake);
        pthread_mutex_destroy(&j->lock);
        sodium_memzero(j->key, sizeof j->key);
        free(j);
        return wp_error_set(WP_EIO, "cannot start the jobs thread");
    }
    *out = j;
    return 0;
}

void cli_jobs_stop(cli_jobs *j)
{
    if (!j)
        return;
    pthread_mutex_lock(&j->lock);
    j->stop = 1;
    pthread_cond_signal(&j->wake);
    pthread_mutex_unlock(&j->lock);
    pthread_join(j->thread, NULL); /* a run in progress finishes its move first */
    wp_store_free(j->st);
    pthread_cond_destroy(&j->wake);
    pthread_mutex_destroy(&j->lock);
    sodium_memzero(j->key, sizeof j->key);
    free(j);
}

static int run_jobs(const char *data, const char *db)
{
    unsigned char key[WP_AUDIT_KEY_LEN];
    wp_store *st = NULL;
    int64_t left = 0, inactive = 0;
    wp_analytics_rollup_result a;
    wp_rules_result rr;
    int code = WP_EXIT_FAIL;

    if (wp_audit_key_load(key, data, 0) < 0) {
        cli_fail("jobs", "cannot load the audit key: %s", wp_error_last());
        return WP_EXIT_FAIL;
    }
    if (wp_store_open(&st, data, db) < 0) {
        cli_fail("jobs", "cannot open the store: %s", wp_error_last());
        goto out;
    }
    if (jobs_run_once(st, key, wp_time_now_us(), &left, &inactive, &a, &rr) < 0) {
        cli_fail("jobs", "%s (moves and rollups made before it stay)", wp_error_last());
        printf("reclaim: owner_left=%lld inactive=%lld\n", (long long)left, (long long)inactive);
        goto out;
    }
    printf("reclaim: owner_left=%lld inactive=%lld\n", (long long)left, (long long)inactive);
    /* on stderr: stdout stays the reclaim's one line that scripts read */
    fprintf(stderr, "analytics: messages=%lld calls=%lld alerts=%lld\n", (long long)a.messages,
            (long long)a.calls, (long long)a.alerts);
    fprintf(stderr, "rules: reminders=%lld closed=%lld overdue=%lld graded=%lld script_uses=%lld\n",
            (long long)rr.reminders, (long long)rr.closed, (long long)rr.overdue,
            (long long)rr.graded, (long long)rr.script_uses);
    code = WP_EXIT_OK;
out:
    wp_store_free(st);
    sodium_memzero(key, sizeof key);
    return code;
}

int cmd_jobs(int argc, char **argv)
{
    const char *data = NULL, *db = NULL;
    if (cli_wants_help(argc, argv) || argc < 2) {
        fputs(help, argc < 2 ? stderr : stdout);
        return argc < 2 ? WP_EXIT_USAGE : WP_EXIT_OK;
    }
    if (strcmp(argv[1], "run") != 0)
        return cli_usage_error("jobs", "unknown subcommand '%s'; see 'workphone jobs --help'",
                               argv[1]);
    for (int i = 2; i < argc; i++) {
        int r;
        if ((r = cli_opt(argc, argv, &i, "jobs", "data", &data)) ||
            (r = cli_opt(argc, argv, &i, "jobs", "db", &db))) {
            if (r < 0)
                return WP_EXIT_USAGE;
            continue;
        }
        return cli_usage_error("jobs", "unknown argument '%s'; see 'workphone jobs --help'",
                               argv[i]);
    }
    int code = cli_data_dir_check("jobs", data, db, NULL);
    return code ? code : run_jobs(data, db);
}
