/* SPDX-License-Identifier: MIT */
/* `workphone jobs run`: run the background jobs of src/jobs once, for operators and tests;
 * `serve` runs the same jobs on its own. */
#include "cli/cli.h"
#include "jobs/jobs.h"
#include "util/error.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static const char help[] =
    "usage: workphone jobs run --data DIR [--db URL]\n"
    "\n"
    "Runs the background jobs once, at the current time: customers of deactivated\n"
    "employees go to the public pool (reason owner_left), and\n"
    "customers nobody contacted or followed up for the tenant's reclaim_inactive_days\n"
    "(reason inactive). Each move is in the customer's timeline and the audit log. Then the\n"
    "dashboard's rollups take in what was stored since the last run, and the customer\n"
    "rules run: follow-up reminders and overdue alerts, grading rules, script usage. Last,\n"
    "the retention purge deletes what is older than the tenant's retention rules, except\n"
    "what a legal hold keeps, and audits the counts. One failing does not stop the others.\n"
    "Safe to run beside the server and to run again: a move is never made twice.\n"
    "\n"
    "  --data DIR  the data directory made by 'workphone init' (it holds the audit key)\n"
    "  --db URL    postgresql://... when the store is in PostgreSQL\n";

static int run_jobs(const char *data, const char *db, const char *media)
{
    wp_jobs_work work;
    wp_jobs *j = NULL;
    wp_jobs_options o = WP_JOBS_OPTIONS_INIT; /* no log lines: what they did goes below */
    int code = WP_EXIT_FAIL;

    memset(&work, 0, sizeof work);
    cli_keyring kr;
    int err = cli_keyring_open(&kr, data, db, NULL, NULL);
    if (err == 0)
        err = cli_keyring_get(&kr, work.audit_key, 0, 0);
    cli_keyring_close(&kr);
    if (err < 0) {
        cli_fail("jobs", "cannot load the audit key: %s", wp_error_last());
        return WP_EXIT_FAIL;
    }
    work.media_dir = media;
    o.data_dir = data;
    o.db_url = db;
    if (wp_jobs_new(&j, &o) < 0) {
        cli_fail("jobs", "cannot open the store: %s", wp_error_last());
        goto out;
    }
    if (wp_jobs_add_work(j, &work, WP_JOBS_INTERVAL_S * 1000) < 0) {
        cli_fail("jobs", "%s", wp_error_last());
        goto out;
    }
    if (wp_jobs_run_once(j) < 0) {
        cli_fail("jobs", "%s (moves and rollups made before it stay)", wp_error_last());
        printf("reclaim: owner_left=%lld inactive=%lld\n", (long long)work.reclaim.owner_left,
               (long long)work.reclaim.inactive);
        goto out;
    }
    printf("reclaim: owner_left=%lld inactive=%lld\n", (long long)work.reclaim.owner_left,
           (long long)work.reclaim.inactive);
    /* on stderr: stdout stays the reclaim's one line that scripts read */
    fprintf(stderr, "analytics: messages=%lld calls=%lld alerts=%lld\n",
            (long long)work.rollup.messages, (long long)work.rollup.calls,
            (long long)work.rollup.alerts);
    fprintf(stderr, "rules: reminders=%lld closed=%lld overdue=%lld graded=%lld script_uses=%lld\n",
            (long long)work.rules.reminders, (long long)work.rules.closed,
            (long long)work.rules.overdue, (long long)work.rules.graded,
            (long long)work.rules.script_uses);
    fprintf(stderr, "retention: messages=%lld calls=%lld alerts=%lld media=%lld\n",
            (long long)work.retention.messages, (long long)work.retention.calls,
            (long long)work.retention.alerts, (long long)work.retention.media);
    code = WP_EXIT_OK;
out:
    wp_jobs_free(j);
    sodium_memzero(&work, sizeof work);
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
    wp_conf *conf = NULL;
    char media[4096];
    int code = cli_data_dir_check("jobs", data, db, &conf);
    if (code == 0) /* the retention purge unlinks files there: media_dir= of DIR/workphone.conf */
        code = cli_media_dir(media, sizeof media, NULL, "jobs", data, NULL, conf);
    wp_conf_free(conf);
    return code ? code : run_jobs(data, db, media);
}
