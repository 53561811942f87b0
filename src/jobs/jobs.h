/* SPDX-License-Identifier: MIT */
/* The jobs: a scheduler of named periodic tasks, and the periodic work on the store (reclaim
 * to the pool, analytics rollups, customer rules, signed audit checkpoints). */
#ifndef WP_JOBS_H
#define WP_JOBS_H

#include "store/analytics.h"
#include "store/audit.h"
#include "store/customers.h"
#include "store/retention.h"
#include "store/rules.h"
#include "store/store.h"
#include "util/buf.h"

#include <stdint.h>

/* --- the scheduler (scheduler.c) ------------------------------------------------------------- */

/* One run of a task.
 * @param st      the scheduler's own store connection, borrowed for the run (no transaction
 *                is open; the task leaves none open)
 * @param arg     what the task was registered with
 * @param now_us  the time of the run, wp_time_now_us()
 * @param note    logfmt fields for the run's log line ("owner_left=0 inactive=0", made with
 *                wp_log_add() and friends); a run that succeeds and leaves it empty logs
 *                nothing
 * @return 0, or a negative WP_E* with wp_error_last(): logged with the note and counted,
 *         never fatal; the task runs again at its next time */
typedef int (*wp_jobs_fn)(wp_store *st, void *arg, int64_t now_us, wp_buf *note);

enum wp_jobs_flags {
    WP_JOBS_AT_START = 1 << 0, /* the first run as the scheduler starts, not an interval later */
    WP_JOBS_AT_STOP = 1 << 1,  /* one more run at a graceful stop, after the last regular one */
};

#define WP_JOBS_MAX 16      /* tasks of one scheduler */
#define WP_JOBS_NAME_MAX 32 /* bytes of a task's name */

typedef struct wp_jobs wp_jobs;

typedef struct wp_jobs_options {
    const char *data_dir, *db_url; /* the store it opens for its tasks: wp_store_open() */
    int log_fd; /* a line per run that failed or has something to say; -1: none */
    /* PostgreSQL: run the tasks only while this node holds the session advisory lock of this
     * key, taken on a connection of its own and checked every WP_JOBS_LEADER_RETRY_MS
     * (docs/internals/cluster.md); 0, or SQLite: always run them */
    int64_t leader_key;
} wp_jobs_options;

#define WP_JOBS_LEADER_RETRY_MS 2000 /* a follower tries the lock, a leader checks it, this often */

#define WP_JOBS_OPTIONS_INIT {.log_fd = -1}

/* A scheduler with no task yet, and its store connection (its own: the thread that runs the
 * tasks, or the caller of wp_jobs_run_once(), is the only one to use it).
 * @return 0, or the store's error (WP_EIO, WP_ESCHEMA, ...), WP_ENOMEM
 * Caller owns *out; release with wp_jobs_free(). */
int wp_jobs_new(wp_jobs **out, const wp_jobs_options *o);

/* Register a task: fn(arg) runs every interval_ms, counted from the end of its last run (the
 * first an interval after wp_jobs_start(), or at once with WP_JOBS_AT_START). Tasks that are
 * due together run in the order they were added. Only before wp_jobs_start().
 * @param name  1..31 bytes, unique in j: names the task in log lines, wp_jobs_kick() and
 *              wp_jobs_stats(); copied
 * @param arg   borrowed: it must outlive j
 * @return 0; WP_EINVAL (name, interval 0); WP_EEXISTS (the name); WP_ELIMIT (WP_JOBS_MAX) */
int wp_jobs_add(wp_jobs *j, const char *name, unsigned interval_ms, unsigned flags,
                wp_jobs_fn fn, void *arg);

/* Start the one thread that runs the tasks. @return 0; WP_EIO; WP_EBUSY (started before) */
int wp_jobs_start(wp_jobs *j);

/* Run the task named name as soon as the thread is free (at once when it waits), and once more
 * after a run in progress: work came in. Cheap, any thread; an unknown name, or a scheduler
 * stopped or not started yet (it runs once started), does nothing more. */
void wp_jobs_kick(wp_jobs *j, const char *name);

/* Run every task once, in the order they were added, on the calling thread and its store
 * connection; a failure does not stop the others (`workphone jobs run`). Not while started.
 * @return 0, or the first failure's code with its message (wp_error_last()) named by its
 *         task: "reclaim: ..." */
int wp_jobs_run_once(wp_jobs *j);

/* Stop gracefully: a task running finishes, no other starts, then the WP_JOBS_AT_STOP tasks
 * run once each (in the order they were added), and the thread ends. Waits for all of it.
 * A scheduler never started runs nothing. NULL, or a second call, is a no-op. */
void wp_jobs_stop(wp_jobs *j);

/* wp_jobs_stop(), then the store connection and j. NULL is a no-op. */
void wp_jobs_free(wp_jobs *j);

/* 1 while j runs its tasks: it holds the leader lock, or it has no leader_key (SQLite: 1). */
int wp_jobs_leading(wp_jobs *j);

typedef struct wp_jobs_stats {
    uint64_t runs, failures; /* runs ended, of them failed */
} wp_jobs_stats;

/* How the task name has done so far. @return 0; WP_ENOTFOUND */
int wp_jobs_stats_get(wp_jobs *j, const char *name, wp_jobs_stats *out);

/* --- the periodic work on the store (work.c) -------------------------------------------------- */

#define WP_JOBS_INTERVAL_S 600 /* serve runs the work this often (a test hook may shorten it) */

/* The work's state: the key its audit rows are signed with, and what each task's last run did
 * (for `workphone jobs run` to print). */
typedef struct wp_jobs_work {
    unsigned char audit_key[WP_AUDIT_KEY_LEN];
    const char *media_dir; /* the media root whose files the retention purge unlinks; borrowed */
    wp_reclaim_result reclaim;
    wp_analytics_rollup_result rollup;
    wp_rules_result rules;
    wp_retention_result retention;
} wp_jobs_work;

/* Register the work on j, every interval_ms, in this order: "reclaim" (customers of
 * deactivated employees, and customers nobody contacted for the tenant's
 * reclaim_inactive_days, to the pool: wp_store_pool_reclaim), "rollup" (the dashboard's
 * rollups: wp_store_analytics_rollup), "rules" (follow-up reminders and overdue alerts,
 * grading rules, script usage: wp_store_crm_rules_run), "retention" (what the tenants'
 * retention rules let go and no legal hold keeps: wp_store_retention_purge). Each logs what it
 * did.
 * @param w  borrowed: it must outlive j (the caller fills w->audit_key and wipes it after)
 * @return what wp_jobs_add() returns */
int wp_jobs_add_work(wp_jobs *j, wp_jobs_work *w, unsigned interval_ms);

/* --- signed audit checkpoints (checkpoint.c) ------------------------------------------------- */

#define WP_JOBS_CHECKPOINT_S 600 /* serve checkpoints every chain that moved this often */

typedef struct wp_jobs_checkpoints wp_jobs_checkpoints;

/* The state of the checkpoint task: the keys (copied) and where each chain stood when it was
 * last logged, so a chain that did not move is not logged again.
 * @param key      WP_AUDIT_KEY_LEN bytes: the head's MAC is checked before it is signed
 * @param seed     WP_AUDIT_SIGN_SEED_LEN bytes: the signing key
 * @param log_fd   where the lines go (the server log)
 * @return 0; WP_ENOMEM. Caller owns *out; release with wp_jobs_checkpoints_free(). */
int wp_jobs_checkpoints_new(wp_jobs_checkpoints **out, const unsigned char *key,
                            const unsigned char *seed, int log_fd);

/* The task (arg: a wp_jobs_checkpoints): a signed checkpoint of every chain that moved since
 * its last one, one line each on the log: "event=audit_checkpoint tenant= seq= hash= time_us=
 * key= sig=" (wp_audit_checkpoint_format). A chain that cannot be checkpointed does not stop
 * the others: the run fails with the first such error, "failed=N tenant=<first>" in its note. */
int wp_jobs_checkpoint(wp_store *st, void *cps, int64_t now_us, wp_buf *note);

/* NULL is a no-op. The keys are wiped. */
void wp_jobs_checkpoints_free(wp_jobs_checkpoints *c);

#endif
