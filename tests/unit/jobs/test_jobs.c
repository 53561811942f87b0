/* SPDX-License-Identifier: MIT */
/* Unit tests of src/jobs: the scheduler (order, run once, failures counted and logged, kicks,
 * the runs at start and at a graceful stop), on a SQLite store in a temp dir; the leader lock
 * of two schedulers on one PostgreSQL database (tests/unit/store/pg_util.c). The work itself
 * is the store's, tested there and by the integration tests on both backends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jobs/jobs.h"
#include "pg_util.h"
#include "util/clock.h"
#include "util/error.h"

static char dir[64];

/* What the tasks did, in the order they did it. */
static struct {
    pthread_mutex_t lock;
    char order[256];
    _Atomic int runs[8];
    _Atomic int in_slow, slow_done;
    int64_t now_seen;
    wp_store *st_seen;
} T = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void did(char c)
{
    pthread_mutex_lock(&T.lock);
    size_t n = strlen(T.order);
    if (n + 1 < sizeof T.order) {
        T.order[n] = c;
        T.order[n + 1] = '\0';
    }
    pthread_mutex_unlock(&T.lock);
}

/* A task: arg is its letter; 'x' fails, 's' takes 200 ms. */
static int task(wp_store *st, void *arg, int64_t now_us, wp_buf *note)
{
    char c = *(const char *)arg;
    T.st_seen = st;
    T.now_seen = now_us;
    T.runs[c & 7]++;
    did(c);
    if (c == 'x') {
        if (wp_buf_adds(note, " tried=1") < 0)
            return WP_ENOMEM;
        return wp_error_set(WP_EIO, "boom \"quoted\"");
    }
    if (c == 's') {
        T.in_slow = 1;
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
        T.slow_done = 1;
    }
    if (c == 'n' && wp_buf_adds(note, " said=yes") < 0)
        return WP_ENOMEM;
    return 0;
}

static const char A = 'a', B = 'b', X = 'x', N = 'n', S = 's';

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    return remove(p);
}

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/wp-jobs-XXXXXX");
    assert_non_null(mkdtemp(dir));
    memset(T.order, 0, sizeof T.order);
    for (int i = 0; i < 8; i++)
        T.runs[i] = 0;
    T.in_slow = T.slow_done = 0;
    return 0;
}

static int teardown(void **state)
{
    nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static wp_jobs *new_jobs(int log_fd)
{
    wp_jobs *j = NULL;
    wp_jobs_options o = WP_JOBS_OPTIONS_INIT;
    o.data_dir = dir;
    o.log_fd = log_fd;
    assert_int_equal(wp_jobs_new(&j, &o), 0);
    return j;
}

/* Wait (up to 10 s) until cond holds: for the thread, never for time to pass. */
#define WAIT_FOR(cond)                                                                           \
    do {                                                                                         \
        for (int w_ = 0; w_ < 1000 && !(cond); w_++) {                                           \
            struct timespec ts_ = {0, 10 * 1000000L};                                            \
            nanosleep(&ts_, NULL);                                                               \
        }                                                                                        \
        assert_true(cond);                                                                       \
    } while (0)

static void test_jobs_scheduler__run_once_runs_each_in_order_past_a_failure(void **state)
{
    int fds[2];
    char log[2048] = "";
    assert_int_equal(pipe(fds), 0);
    wp_jobs *j = new_jobs(fds[1]);
    assert_int_equal(wp_jobs_add(j, "first", 1000, 0, task, (void *)&A), 0);
    assert_int_equal(wp_jobs_add(j, "broken", 1000, 0, task, (void *)&X), 0);
    assert_int_equal(wp_jobs_add(j, "noted", 1000, 0, task, (void *)&N), 0);
    assert_int_equal(wp_jobs_add(j, "last", 1000, 0, task, (void *)&B), 0);
    wp_time_set_fake(1234567);
    assert_int_equal(wp_jobs_run_once(j), WP_EIO);
    assert_string_equal(wp_error_last(), "broken: boom \"quoted\"");
    assert_string_equal(T.order, "axnb");
    assert_int_equal(T.now_seen, 1234567);
    assert_non_null(T.st_seen);
    wp_time_set_fake(0);
    wp_jobs_stats s;
    assert_int_equal(wp_jobs_stats_get(j, "broken", &s), 0);
    assert_int_equal(s.runs, 1);
    assert_int_equal(s.failures, 1);
    assert_int_equal(wp_jobs_stats_get(j, "first", &s), 0);
    assert_int_equal(s.runs, 1);
    assert_int_equal(s.failures, 0);
    assert_int_equal(wp_jobs_stats_get(j, "nothing", &s), WP_ENOTFOUND);
    wp_jobs_free(j);
    /* a line for the failure and one for the note; none for the quiet successes */
    close(fds[1]);
    ssize_t n = read(fds[0], log, sizeof log - 1);
    close(fds[0]);
    assert_true(n > 0);
    log[n] = '\0';
    assert_non_null(strstr(log, " level=error event=jobs task=broken tried=1 error=io_error "
                                "error_msg=\"boom \\\"quoted\\\"\" failures=1\n"));
    assert_non_null(strstr(log, " level=info event=jobs task=noted said=yes\n"));
    assert_null(strstr(log, "task=first"));
    assert_null(strstr(log, "task=last"));
}

static void test_jobs_scheduler__add_checks_names_and_counts(void **state)
{
    wp_jobs *j = new_jobs(-1);
    char name[WP_JOBS_NAME_MAX + 1];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    assert_int_equal(wp_jobs_add(j, "", 1000, 0, task, (void *)&A), WP_EINVAL);
    assert_int_equal(wp_jobs_add(j, name, 1000, 0, task, (void *)&A), WP_EINVAL);
    assert_int_equal(wp_jobs_add(j, "zero", 0, 0, task, (void *)&A), WP_EINVAL);
    assert_int_equal(wp_jobs_add(j, "t", 1000, 0, task, (void *)&A), 0);
    assert_int_equal(wp_jobs_add(j, "t", 1000, 0, task, (void *)&A), WP_EEXISTS);
    for (int i = 1; i < WP_JOBS_MAX; i++) {
        char n[8];
        snprintf(n, sizeof n, "t%d", i);
        assert_int_equal(wp_jobs_add(j, n, 1000, 0, task, (void *)&A), 0);
    }
    assert_int_equal(wp_jobs_add(j, "one-too-many", 1000, 0, task, (void *)&A), WP_ELIMIT);
    wp_jobs_free(j);
    wp_jobs_free(NULL);
    wp_jobs_stop(NULL);
}

static void test_jobs_scheduler__start_kick_and_a_graceful_stop(void **state)
{
    wp_jobs *j = new_jobs(-1);
    /* an hour apart: none runs on its own during the test but for the flags and the kicks */
    assert_int_equal(wp_jobs_add(j, "at-start", 3600000, WP_JOBS_AT_START, task, (void *)&A),
                     0);
    assert_int_equal(wp_jobs_add(j, "kicked", 3600000, 0, task, (void *)&B), 0);
    assert_int_equal(wp_jobs_add(j, "slow", 3600000, 0, task, (void *)&S), 0);
    assert_int_equal(wp_jobs_add(j, "at-stop", 3600000, WP_JOBS_AT_STOP, task, (void *)&N), 0);
    wp_jobs_kick(j, "kicked"); /* before the start: it runs once started */
    wp_jobs_kick(j, "no-such-task");
    assert_int_equal(wp_jobs_start(j), 0);
    assert_int_equal(wp_jobs_start(j), WP_EBUSY);
    assert_int_equal(wp_jobs_run_once(j), WP_EBUSY);
    WAIT_FOR(T.runs['a' & 7] == 1 && T.runs['b' & 7] == 1);
    wp_jobs_kick(j, "kicked");
    WAIT_FOR(T.runs['b' & 7] == 2);
    assert_int_equal(T.runs['n' & 7], 0);
    /* a stop while a task runs lets it finish, then runs the at-stop task, and nothing else */
    wp_jobs_kick(j, "slow");
    WAIT_FOR(T.in_slow);
    wp_jobs_kick(j, "kicked"); /* waits behind the slow one: the stop comes first */
    wp_jobs_stop(j);
    assert_true(T.slow_done);
    assert_int_equal(T.runs['n' & 7], 1);
    assert_int_equal(T.order[strlen(T.order) - 1], 'n');
    assert_int_equal(T.runs['a' & 7], 1);
    wp_jobs_stop(j); /* twice: nothing more */
    assert_int_equal(T.runs['n' & 7], 1);
    wp_jobs_kick(j, "kicked"); /* after the stop: nothing */
    assert_int_equal(wp_jobs_start(j), WP_EBUSY);
    wp_jobs_free(j);
}

static void test_jobs_scheduler__never_started_runs_nothing_at_stop(void **state)
{
    wp_jobs *j = new_jobs(-1);
    assert_int_equal(wp_jobs_add(j, "at-stop", 1000, WP_JOBS_AT_STOP, task, (void *)&N), 0);
    wp_jobs_free(j);
    assert_string_equal(T.order, "");
}

static void test_jobs_scheduler__sqlite_always_leads(void **state)
{
    wp_jobs *j = NULL;
    wp_jobs_options o = WP_JOBS_OPTIONS_INIT;
    o.data_dir = dir;
    o.leader_key = 42;
    assert_int_equal(wp_jobs_new(&j, &o), 0);
    assert_int_equal(wp_jobs_add(j, "at-start", 3600000, WP_JOBS_AT_START, task, (void *)&A), 0);
    assert_int_equal(wp_jobs_leading(j), 1);
    assert_int_equal(wp_jobs_start(j), 0);
    WAIT_FOR(T.runs['a' & 7] == 1);
    assert_int_equal(wp_jobs_leading(j), 1);
    wp_jobs_free(j);
}

static int pg_failed;

/* Two schedulers with one leader key on one fresh database: only one runs its task; when it
 * is freed (its session ends) the other leads within the retry and runs it. */
static void test_jobs_scheduler__pg_one_leader_and_a_takeover(void **state)
{
    const char *url = test_pg_url("test_jobs", &pg_failed);
    if (!url) {
        assert_int_equal(pg_failed, 0);
        skip();
    }
    char name[64];
    snprintf(name, sizeof name, "wp_jobs_lead_%ld", (long)getpid());
    PGconn *admin = test_pg_connect(url);
    char sql[128];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", name);
    test_pg_run(admin, sql);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    test_pg_run(admin, sql);
    char *conninfo = test_pg_conninfo(url, name, NULL);

    wp_jobs *j1 = NULL, *j2 = NULL;
    wp_jobs_options o = WP_JOBS_OPTIONS_INIT;
    o.db_url = conninfo;
    o.leader_key = 4242;
    assert_int_equal(wp_jobs_new(&j1, &o), 0);
    assert_int_equal(wp_jobs_new(&j2, &o), 0);
    assert_int_equal(wp_jobs_leading(j1), 0); /* not before its first check */
    assert_int_equal(wp_jobs_add(j1, "work", 50, WP_JOBS_AT_START, task, (void *)&A), 0);
    assert_int_equal(wp_jobs_add(j2, "work", 50, WP_JOBS_AT_START, task, (void *)&B), 0);
    assert_int_equal(wp_jobs_start(j1), 0);
    WAIT_FOR(T.runs['a' & 7] >= 3);
    assert_int_equal(wp_jobs_start(j2), 0);
    WAIT_FOR(T.runs['a' & 7] >= 10); /* j2 checked at its start: the lock is j1's */
    assert_int_equal(wp_jobs_leading(j1), 1);
    assert_int_equal(wp_jobs_leading(j2), 0);
    assert_int_equal(T.runs['b' & 7], 0);
    wp_jobs_free(j1); /* its session ends: the lock is free */
    WAIT_FOR(T.runs['b' & 7] >= 1); /* within the 2 s retry */
    assert_int_equal(wp_jobs_leading(j2), 1);
    wp_jobs_free(j2);

    snprintf(sql, sizeof sql, "DROP DATABASE %s WITH (FORCE)", name);
    test_pg_run(admin, sql);
    PQfinish(admin);
    free(conninfo);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_jobs_scheduler__run_once_runs_each_in_order_past_a_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jobs_scheduler__add_checks_names_and_counts, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_jobs_scheduler__start_kick_and_a_graceful_stop,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_jobs_scheduler__never_started_runs_nothing_at_stop,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_jobs_scheduler__sqlite_always_leads, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_jobs_scheduler__pg_one_leader_and_a_takeover,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
