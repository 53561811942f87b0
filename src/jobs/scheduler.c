/* SPDX-License-Identifier: MIT */
/* The scheduler: named periodic tasks run one at a time on one thread with its own store
 * connection; run once on the caller's thread for `workphone jobs run`. */
#include "jobs/jobs.h"
#include "store/cluster.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOTE_MAX 1024 /* bytes of a run's note */

struct task {
    char name[WP_JOBS_NAME_MAX];
    wp_jobs_fn fn;
    void *arg;
    unsigned interval_ms, flags;
    int64_t due_ns; /* CLOCK_MONOTONIC: when it runs next */
    int kicked;     /* asked for since its last run began */
    uint64_t runs, failures;
};

struct wp_jobs {
    int log_fd;
    wp_store *st;
    struct task t[WP_JOBS_MAX];
    size_t n;
    pthread_t thread;
    pthread_mutex_t lock; /* the tasks' times, flags and counts; started, stop */
    pthread_cond_t wake;  /* the thread: a task was kicked, or stop */
    int started, stop, joined;
    /* the leader lock (options.leader_key): its own connection, so that the tasks' sessions
     * and their failures never drop it; checked by the thread only */
    int64_t leader_key;
    wp_store *lead;
    int64_t lead_check_ns; /* CLOCK_MONOTONIC: the next check */
    int lead_checked;      /* checked once: a later gain is a takeover */
    _Atomic int leading;
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct task *find(wp_jobs *j, const char *name)
{
    for (size_t i = 0; i < j->n; i++)
        if (!strcmp(j->t[i].name, name))
            return &j->t[i];
    return NULL;
}

int wp_jobs_new(wp_jobs **out, const wp_jobs_options *o)
{
    wp_jobs *j = calloc(1, sizeof *j);
    pthread_condattr_t ca;
    int err;
    if (!j)
        return wp_error_set(WP_ENOMEM, "out of memory");
    j->log_fd = o->log_fd;
    if ((err = wp_store_open(&j->st, o->data_dir, o->db_url)) < 0) {
        free(j);
        return err;
    }
    wp_store_set_background(j->st); /* the jobs leave the write lock to the ingest writer */
    atomic_init(&j->leading, 1);
    if (o->leader_key && wp_store_backend(j->st) == WP_STORE_PG) {
        if ((err = wp_store_open(&j->lead, o->data_dir, o->db_url)) < 0) {
            wp_store_free(j->st);
            free(j);
            return err;
        }
        j->leader_key = o->leader_key;
        atomic_init(&j->leading, 0);
    }
    pthread_mutex_init(&j->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&j->wake, &ca);
    pthread_condattr_destroy(&ca);
    *out = j;
    return 0;
}

int wp_jobs_add(wp_jobs *j, const char *name, unsigned interval_ms, unsigned flags,
                wp_jobs_fn fn, void *arg)
{
    size_t len = strlen(name);
    assert(!j->started);
    if (!len || len >= WP_JOBS_NAME_MAX || !interval_ms || !fn)
        return wp_error_set(WP_EINVAL, "task '%.40s': a name of 1..%d bytes, an interval and a "
                                       "function",
                            name, WP_JOBS_NAME_MAX - 1);
    if (find(j, name))
        return wp_error_set(WP_EEXISTS, "task '%s' is there already", name);
    if (j->n == WP_JOBS_MAX)
        return wp_error_set(WP_ELIMIT, "more than %d tasks", WP_JOBS_MAX);
    struct task *t = &j->t[j->n++];
    memset(t, 0, sizeof *t);
    memcpy(t->name, name, len + 1);
    t->fn = fn;
    t->arg = arg;
    t->interval_ms = interval_ms;
    t->flags = flags;
    return 0;
}

/* Run t once on j's store: count it, and log it when it failed or has something to say. */
static int run(wp_jobs *j, struct task *t)
{
    wp_buf note;
    wp_buf_init(&note, NOTE_MAX);
    wp_error_clear();
    int err = t->fn(j->st, t->arg, wp_time_now_us(), &note);
    pthread_mutex_lock(&j->lock);
    t->runs++;
    if (err < 0)
        t->failures++;
    uint64_t failures = t->failures;
    pthread_mutex_unlock(&j->lock);
    if (err < 0 || note.len) {
        wp_buf line;
        wp_log_start(&line, err < 0 ? "error" : "info", "jobs");
        wp_log_add(&line, "task", t->name);
        wp_log_add_fields(&line, note.buf);
        if (err < 0) {
            wp_log_add(&line, "error", wp_error_name(err));
            wp_log_addn(&line, "error_msg", wp_error_last(), 300);
            wp_log_addf(&line, "failures", "%llu", (unsigned long long)failures);
        }
        wp_log_end(&line, j->log_fd);
    }
    wp_buf_release(&note);
    return err;
}

/* The due task that has waited longest (the first added among equals), or NULL when none is
 * due; *wait_ns then is when the next one is (INT64_MAX: none). */
static struct task *next_due(wp_jobs *j, int64_t now, int64_t *wait_ns)
{
    struct task *next = NULL;
    for (size_t i = 0; i < j->n; i++)
        if (!next || j->t[i].due_ns < next->due_ns)
            next = &j->t[i];
    *wait_ns = next ? next->due_ns : INT64_MAX;
    return next && next->due_ns <= now ? next : NULL;
}

static void lead_log(wp_jobs *j, const char *level, const char *state, int err)
{
    wp_buf line;
    wp_log_start(&line, level, "jobs_leader");
    wp_log_add(&line, "state", state);
    if (err < 0) {
        wp_log_add(&line, "error", wp_error_name(err));
        wp_log_addn(&line, "error_msg", wp_error_last(), 300);
    }
    wp_log_end(&line, j->log_fd);
}

/* Take or keep the leader lock; log a change. Under j->lock, which it lets go meanwhile. A
 * follower that becomes the leader runs every task at once: the dead leader may have left work
 * half done (each step is its own transaction, so what is left is done once). */
static void lead_check(wp_jobs *j)
{
    int was = atomic_load(&j->leading), now = 0, takeover = j->lead_checked;
    pthread_mutex_unlock(&j->lock);
    wp_error_clear();
    int err = wp_store_cluster_lead(j->lead, j->leader_key, &now);
    if (err < 0 && was)
        lead_log(j, "error", "lost", err);
    else if (now && !was)
        lead_log(j, "info", "leading", 0);
    else if (!now && was)
        lead_log(j, "warn", "following", 0);
    else if (!now && !j->lead_checked)
        lead_log(j, "info", "following", 0);
    pthread_mutex_lock(&j->lock);
    j->lead_checked = 1;
    atomic_store(&j->leading, now);
    j->lead_check_ns = mono_ns() + (int64_t)WP_JOBS_LEADER_RETRY_MS * 1000000;
    if (now && !was && takeover) {
        int64_t at = mono_ns();
        for (size_t i = 0; i < j->n; i++)
            j->t[i].due_ns = at;
    }
}

static void wait_until(wp_jobs *j, int64_t at)
{
    if (at == INT64_MAX) {
        pthread_cond_wait(&j->wake, &j->lock);
    } else {
        struct timespec until = {.tv_sec = at / 1000000000, .tv_nsec = at % 1000000000};
        pthread_cond_timedwait(&j->wake, &j->lock, &until);
    }
}

static void *loop(void *arg)
{
    wp_jobs *j = arg;
    pthread_mutex_lock(&j->lock);
    while (!j->stop) {
        int64_t at;
        if (j->lead) {
            if (mono_ns() >= j->lead_check_ns) {
                lead_check(j);
                continue;
            }
            if (!atomic_load(&j->leading)) {
                wait_until(j, j->lead_check_ns);
                continue;
            }
        }
        struct task *t = next_due(j, mono_ns(), &at);
        if (!t) {
            wait_until(j, j->lead && at > j->lead_check_ns ? j->lead_check_ns : at);
            continue;
        }
        t->kicked = 0;
        t->due_ns = INT64_MAX; /* running: a kick now only marks it */
        pthread_mutex_unlock(&j->lock);
        run(j, t);
        pthread_mutex_lock(&j->lock);
        t->due_ns = mono_ns() + (t->kicked ? 0 : (int64_t)t->interval_ms * 1000000);
    }
    pthread_mutex_unlock(&j->lock);
    /* the graceful stop: the last runs, without the lock (a kick meanwhile is ignored); a
     * follower runs none */
    for (size_t i = 0; i < j->n && atomic_load(&j->leading); i++)
        if (j->t[i].flags & WP_JOBS_AT_STOP)
            run(j, &j->t[i]);
    return NULL;
}

int wp_jobs_start(wp_jobs *j)
{
    int64_t now = mono_ns();
    pthread_mutex_lock(&j->lock);
    if (j->started || j->stop) {
        pthread_mutex_unlock(&j->lock);
        return wp_error_set(WP_EBUSY, "the jobs are started already, or stopped");
    }
    for (size_t i = 0; i < j->n; i++) {
        struct task *t = &j->t[i];
        t->due_ns = now + ((t->flags & WP_JOBS_AT_START) || t->kicked
                               ? 0
                               : (int64_t)t->interval_ms * 1000000);
    }
    j->started = 1;
    if (pthread_create(&j->thread, NULL, loop, j) != 0) {
        j->started = 0;
        pthread_mutex_unlock(&j->lock);
        return wp_error_set(WP_EIO, "cannot start the jobs thread");
    }
    pthread_mutex_unlock(&j->lock);
    return 0;
}

void wp_jobs_kick(wp_jobs *j, const char *name)
{
    pthread_mutex_lock(&j->lock);
    struct task *t = find(j, name);
    if (t) {
        t->kicked = 1;
        if (j->started && t->due_ns != INT64_MAX) {
            int64_t now = mono_ns();
            if (t->due_ns > now)
                t->due_ns = now;
            pthread_cond_signal(&j->wake);
        }
    }
    pthread_mutex_unlock(&j->lock);
}

int wp_jobs_run_once(wp_jobs *j)
{
    char msg[400] = "", name[WP_JOBS_NAME_MAX] = "";
    int first = 0;
    if (j->started)
        return wp_error_set(WP_EBUSY, "the jobs run on their thread");
    for (size_t i = 0; i < j->n; i++) {
        int err = run(j, &j->t[i]);
        if (err < 0 && !first) {
            first = err;
            snprintf(msg, sizeof msg, "%s", wp_error_last());
            snprintf(name, sizeof name, "%s", j->t[i].name);
        }
    }
    return first ? wp_error_set(first, "%s: %s", name, msg) : 0;
}

void wp_jobs_stop(wp_jobs *j)
{
    if (!j)
        return;
    pthread_mutex_lock(&j->lock);
    int join = j->started && !j->joined;
    j->stop = 1;
    j->joined = 1;
    pthread_cond_signal(&j->wake);
    pthread_mutex_unlock(&j->lock);
    if (join)
        pthread_join(j->thread, NULL); /* a run in progress finishes, then the last runs */
}

void wp_jobs_free(wp_jobs *j)
{
    if (!j)
        return;
    wp_jobs_stop(j);
    wp_store_free(j->st);
    wp_store_free(j->lead); /* the session ends: the lock is free for the next leader */
    pthread_cond_destroy(&j->wake);
    pthread_mutex_destroy(&j->lock);
    free(j);
}

int wp_jobs_stats_get(wp_jobs *j, const char *name, wp_jobs_stats *out)
{
    int err = 0;
    pthread_mutex_lock(&j->lock);
    struct task *t = find(j, name);
    if (t)
        *out = (wp_jobs_stats){.runs = t->runs, .failures = t->failures};
    else
        err = wp_error_set(WP_ENOTFOUND, "no task '%s'", name);
    pthread_mutex_unlock(&j->lock);
    return err;
}

int wp_jobs_leading(wp_jobs *j)
{
    return atomic_load(&j->leading);
}
