/* SPDX-License-Identifier: MIT */
/* Test hooks (a clock a test sets and moves, injected failures, short intervals), all behind
 * one switch, WORKPHONE_TEST_HOOKS=1, read once when the process starts. */
#ifndef WP_UTIL_TESTHOOKS_H
#define WP_UTIL_TESTHOOKS_H

#include <stddef.h>

typedef struct wp_test_hooks {
    int on;                       /* WORKPHONE_TEST_HOOKS=1 */
    unsigned handover_fail_after; /* WORKPHONE_TEST_HANDOVER_FAIL_AFTER: a handover's Nth move
                                   * fails, to show nothing is left half done; 0: none */
    unsigned jobs_interval_s;     /* WORKPHONE_JOBS_INTERVAL_S, 1..86400; 0: the default */
    unsigned audit_checkpoint_s;  /* WORKPHONE_AUDIT_CHECKPOINT_S, 1..86400; 0: the default */
    unsigned wecom_interval_s;    /* WORKPHONE_WECOM_INTERVAL_S, 1..86400: the WeCom jobs'
                                   * interval and a waiting transfer's poll; 0: the defaults
                                   * (or WORKPHONE_JOBS_INTERVAL_S when that is set) */
    unsigned migrate_to;          /* WORKPHONE_TEST_MIGRATE_TO, 1..100000: wp_store_open()
                                   * applies migrations up to this version only, then fails
                                   * (WP_ESCHEMA) so no command runs on that schema; the upgrade
                                   * test walks a store through every version so; 0: none */
    unsigned migration_extra;     /* WORKPHONE_TEST_MIGRATION_EXTRA=1: the binary knows one
                                   * more, additive migration than it embeds (it plays the
                                   * next release in the rolling upgrade test); 0: none */
    unsigned audit_fail_batches;  /* WORKPHONE_TEST_AUDIT_FAIL_BATCHES, 1..1000000: the audit
                                   * worker's first N batch writes fail as a store would, to
                                   * show the buffered reads wait and are written once; 0: none */
    int sqlite_not_full;          /* WORKPHONE_TEST_SQLITE_NOT_FULL=1: the store's SQLite
                                   * connections are set to synchronous NORMAL after FULL, to
                                   * show the read-back check refusing them */
    unsigned jobs_kill_after;     /* WORKPHONE_TEST_JOBS_KILL_AFTER: the process kills itself
                                   * (SIGKILL) in the Nth step of the jobs, before it commits
                                   * (wp_test_hooks_job_step); 0: never */
    unsigned sqlite_busy_ms;      /* WORKPHONE_TEST_SQLITE_BUSY_MS, 1..60000: SQLite's busy
                                   * timeout (how long a statement waits for another
                                   * process's write lock) instead of 5000 ms; 0: the default */
    const char *writer_hold_file; /* WORKPHONE_TEST_WRITER_HOLD: the ingest writer merges
                                   * nothing while this file exists (batches stay queued);
                                   * NULL: none */
} wp_test_hooks;

/* Read the switch from the environment and, only when it is 1, the hooks: the numbers above,
 * and the clock: WORKPHONE_FAKE_NOW (an RFC 3339 time) fixes wp_time_now_us() there, and
 * WORKPHONE_TEST_CLOCK names a file whose content, an RFC 3339 time, becomes the clock's time
 * whenever the file changes (wp_time_now_us() looks at it on every call), so a test moves the
 * clock of a running server by writing the file. With the switch off (unset, "" or "0") none
 * of these variables has any effect, and nothing reads the environment again.
 * Call once, from main(), before any thread starts.
 * @return 0; WP_EINVAL naming the variable whose value is bad (the switch, or a hook while it
 *         is on); the hooks stay off then */
int wp_test_hooks_load(void);

/* The hooks loaded: all zero (off) before wp_test_hooks_load() and when the switch is off.
 * Borrowed; never NULL; the same for the whole process. */
const wp_test_hooks *wp_test_hooks_get(void);

/* A step of the jobs is about to commit: a reclaim move (with its event and audit row), a
 * fold of the analytics rollup or a batch of the script count. The Nth call of the process
 * (jobs_kill_after) raises SIGKILL, so a test sees what a crash in the middle of a job leaves. Does nothing with the hooks off.
 * Thread-safe. */
void wp_test_hooks_job_step(void);

/* The injected store failure of one request (the header `X-Workphone-Test-Fail: store=N`,
 * src/http/server.c): arm the calling thread so that its Nth store operation from now (a
 * statement's prepare in src/store/store.c, its step or a script's exec in
 * src/store/db_sqlite.c and db_pg.c; a ROLLBACK is not counted) fails with WP_EIO as an I/O error would, once. n == 0 disarms it and forgets
 * whether it fired. Does nothing with the hooks off. */
void wp_test_hooks_store_arm(unsigned n);

/* Called by the store's statement layer before each operation: 0, or WP_EIO (message set)
 * when this is the armed operation. script is the exec'd script, NULL for a prepare or a
 * step. Costs one
 * thread-local read when nothing is armed. */
int wp_test_hooks_store_op(const char *script);

/* 1 when the calling thread's armed failure fired since it was last armed. */
int wp_test_hooks_store_fired(void);

/* The injected allocation failure of one request (the header `X-Workphone-Test-Fail:
 * alloc=N`, src/http/server.c): arm the calling thread so that its Nth allocation from now
 * fails, once, as malloc returning NULL would. What counts: jansson's (the server sets its
 * allocator to one that asks wp_test_hooks_alloc_fails() when the hooks are on), the request
 * arena's (src/http/arena.c), a wp_buf growing (src/util/buf.c) and a scan result's matches
 * growing (src/scan/scan.c); libmicrohttpd's, SQLite's, libpq's and the few plain mallocs of
 * the store are not counted. n == 0 disarms it and forgets whether it fired. Does nothing
 * with the hooks off. */
void wp_test_hooks_alloc_arm(unsigned n);

/* Called by those allocators before they allocate: 1 when this is the armed allocation (it
 * must then fail with WP_ENOMEM or NULL), else 0. Costs one thread-local read when nothing
 * is armed. */
int wp_test_hooks_alloc_fails(void);

/* 1 when the calling thread's armed allocation failure fired since it was last armed. */
/* jansson's allocator while the hooks are on (json_set_alloc_funcs(wp_test_hooks_malloc, free)):
 * malloc, except that an armed request's Nth allocation fails, never while jansson parses
 * (wp_json_loadb() says why). */
void *wp_test_hooks_malloc(size_t n);

int wp_test_hooks_alloc_fired(void);

#endif
