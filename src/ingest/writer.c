/* SPDX-License-Identifier: MIT */
/* The group-commit writer: one thread with its own connection takes every batch queued, stores
 * them in one transaction (a savepoint per batch only when one of them fails), commits once,
 * and wakes their requests.
 * N requests cost one fsync; under load the merged transaction grows by itself. */
#include "ingest/ingest_int.h"
#include "store/events.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/testhooks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MERGE_MAX_EVENTS 20000 /* bounds one transaction's size (and its lock time) */
#define MERGE_MAX_BATCHES 256  /* and its number of batches */

struct job {
    wp_event_batch *b;
    size_t bytes; /* what it holds in memory, as the submitter counted it */
    int done;
    int err;
    char msg[256];
    struct job *next;
};

struct wp_writer {
    pthread_t thread;
    wp_store *st;
    char *data_dir, *db_url;
    pthread_mutex_t mu;
    pthread_cond_t work; /* a job arrived, the hold was lifted, or stop */
    pthread_cond_t done; /* some jobs finished, or a job was queued (for wait_queued) */
    struct job *head, **tail;
    size_t queued, queued_bytes;
    size_t max_batches, max_bytes; /* the queue's bounds (wp_writer__limits) */
    uint64_t refused;              /* batches turned away because the queue was full */
    const char *hold_file;         /* test hook: merging waits while this file exists */
    int stop, hold, fail_commits;
    int running; /* the thread was started and has not left its loop */
    uint64_t merged_tx, batches, retried_alone;
    uint64_t commit_us_sum, commit_le[WP_INGEST_COMMIT_BUCKETS + 1];
};

static const uint64_t commit_bounds_us[WP_INGEST_COMMIT_BUCKETS] = WP_INGEST_COMMIT_BUCKETS_US;

static void finish(struct job *j, int err)
{
    j->err = err;
    if (err < 0)
        snprintf(j->msg, sizeof j->msg, "%s", wp_error_last());
}

/* A connection that failed (PostgreSQL restarted, say) is replaced before batches are retried
 * alone. The old one is kept if a new one cannot be opened: the retry then reports the error. */
static void reconnect(struct wp_writer *w)
{
    wp_store *st = NULL;
    if (wp_store_open(&st, w->data_dir, w->db_url) == 0) {
        (void)wp_store_writer_tune(st); /* a cache size: without it slower, no less right */
        wp_store_free(w->st);
        w->st = st;
    }
}

static int apply_alone(struct wp_writer *w, struct job *j)
{
    int err;
    if ((err = wp_store_begin(w->st)) < 0)
        return err;
    if ((err = wp_store_events_apply(w->st, j->b)) < 0) {
        wp_store_rollback(w->st);
        return err;
    }
    return wp_store_commit(w->st);
}

/* Every job in one transaction without a savepoint each (they cost about a quarter of the
 * writer's time): usually all succeed. If one fails, nothing of the round is stored and the
 * caller redoes it with a savepoint per batch, where that one fails alone. */
static int apply_merged(struct wp_writer *w, struct job *jobs)
{
    wp_event_batch *b[MERGE_MAX_BATCHES];
    size_t n = 0, failed;
    int err;
    for (struct job *j = jobs; j; j = j->next)
        b[n++] = j->b;
    if ((err = wp_store_events_apply_many(w->st, b, n, &failed)) < 0)
        return err;
    for (struct job *j = jobs; j; j = j->next)
        j->err = 0;
    return 0;
}

/* One round: every job in the list, merged; then, if the commit failed, each alone.
 * *alone gets how many batches were retried alone. */
static void write_round(struct wp_writer *w, struct job *jobs, int fail_commit, uint64_t *alone)
{
    int err;

    *alone = 0;
    if (!jobs->next && !fail_commit) {
        /* One batch: its own transaction (the store opens one), no savepoint to pay for. */
        jobs->err = wp_store_events_apply(w->st, jobs->b);
        if (jobs->err == WP_EIO || jobs->err == WP_EUNAVAIL) {
            reconnect(w);
            (*alone)++;
            jobs->err = apply_alone(w, jobs);
        }
        if (jobs->err < 0)
            finish(jobs, jobs->err);
        return;
    }
    if (!fail_commit && apply_merged(w, jobs) == 0)
        return;
    if ((err = wp_store_begin(w->st)) == 0) {
        for (struct job *j = jobs; j; j = j->next) {
            /* A failing batch is rolled back to its own savepoint; the others go on. */
            j->err = wp_store_events_apply(w->st, j->b);
            if (j->err < 0)
                finish(j, j->err);
        }
        if (fail_commit) {
            wp_store_rollback(w->st);
            err = wp_error_set(WP_EIO, "commit failed (test hook)");
        } else {
            err = wp_store_commit(w->st);
        }
    }
    if (err == 0) {
        /* Batches that failed with an I/O error inside the merged transaction get one more
         * chance alone; invalid or unauthorized ones would only fail again. */
        for (struct job *j = jobs; j; j = j->next)
            if (j->err == WP_EIO || j->err == WP_EUNAVAIL) {
                (*alone)++;
                finish(j, apply_alone(w, j));
            }
        return;
    }
    /* The merged transaction is lost: nothing of it is stored. Each batch alone. */
    if (err == WP_EIO || err == WP_EUNAVAIL)
        reconnect(w);
    for (struct job *j = jobs; j; j = j->next) {
        (*alone)++;
        finish(j, apply_alone(w, j));
    }
}

/* The test hook WORKPHONE_TEST_WRITER_HOLD: 1 while its file exists. */
static int held_by_file(const struct wp_writer *w)
{
    return w->hold_file && access(w->hold_file, F_OK) == 0;
}

static void *writer_main(void *arg)
{
    struct wp_writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->stop && (!w->head || w->hold || held_by_file(w))) {
            if (!w->hold_file) {
                pthread_cond_wait(&w->work, &w->mu);
                continue;
            }
            /* the hook's file is looked at again every 20 ms */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 20 * 1000000;
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&w->work, &w->mu, &ts);
        }
        if (!w->head) /* stopping, and everything queued is written */
            break;
        /* take jobs up to the event cap (always at least one) */
        struct job *jobs = w->head, *last = w->head;
        size_t events = last->b->n;
        size_t batches = 1;
        while (last->next && events + last->next->b->n <= MERGE_MAX_EVENTS &&
               batches < MERGE_MAX_BATCHES) {
            last = last->next;
            events += last->b->n;
            batches++;
        }
        w->head = last->next;
        if (!w->head)
            w->tail = &w->head;
        last->next = NULL;
        uint64_t n = 0, alone = 0;
        for (struct job *j = jobs; j; j = j->next, n++) {
            w->queued--;
            w->queued_bytes -= j->bytes;
        }
        int fail_commit = w->fail_commits > 0;
        if (fail_commit)
            w->fail_commits--;
        pthread_mutex_unlock(&w->mu);

        int64_t t0 = wp_time_now_us();
        write_round(w, jobs, fail_commit, &alone);
        uint64_t took = (uint64_t)(wp_time_now_us() - t0);
        size_t k = 0;
        while (k < WP_INGEST_COMMIT_BUCKETS && took > commit_bounds_us[k])
            k++;

        pthread_mutex_lock(&w->mu);
        w->commit_us_sum += took;
        w->commit_le[k]++;
        w->merged_tx++;
        w->batches += n;
        w->retried_alone += alone;
        for (struct job *j = jobs, *next; j; j = next) {
            next = j->next; /* the waiter may free j as soon as done is set */
            j->done = 1;
        }
        pthread_cond_broadcast(&w->done);
    }
    w->running = 0;
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int wp_writer__running(struct wp_writer *w)
{
    pthread_mutex_lock(&w->mu);
    int yes = w->running && !w->stop;
    pthread_mutex_unlock(&w->mu);
    return yes;
}

int wp_writer__start(struct wp_writer **out, wp_store *st, const char *data_dir, const char *db_url)
{
    struct wp_writer *w = calloc(1, sizeof *w);
    if (!w)
        return wp_error_set(WP_ENOMEM, "out of memory");
    if ((data_dir && !(w->data_dir = strdup(data_dir))) ||
        (db_url && !(w->db_url = strdup(db_url)))) {
        free(w->data_dir);
        free(w);
        return wp_error_set(WP_ENOMEM, "out of memory");
    }
    w->st = st;
    (void)wp_store_writer_tune(st); /* a cache size: without it slower, no less right */
    w->tail = &w->head;
    w->max_batches = WP_INGEST_QUEUE_BATCHES_DEFAULT;
    w->max_bytes = WP_INGEST_QUEUE_BYTES_DEFAULT;
    const wp_test_hooks *th = wp_test_hooks_get();
    w->hold_file = th->on ? th->writer_hold_file : NULL;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->work, NULL);
    pthread_cond_init(&w->done, NULL);
    w->running = 1; /* before the thread: a probe right after start sees it running */
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        pthread_cond_destroy(&w->done);
        pthread_cond_destroy(&w->work);
        pthread_mutex_destroy(&w->mu);
        free(w->data_dir);
        free(w->db_url);
        free(w);
        return wp_error_set(WP_ENOMEM, "cannot start the writer thread");
    }
    *out = w;
    return 0;
}

void wp_writer__stop(struct wp_writer *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    w->hold = 0;
    pthread_cond_broadcast(&w->work);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    wp_store_free(w->st);
    pthread_cond_destroy(&w->done);
    pthread_cond_destroy(&w->work);
    pthread_mutex_destroy(&w->mu);
    free(w->data_dir);
    free(w->db_url);
    free(w);
}

void wp_writer__limits(struct wp_writer *w, size_t max_batches, size_t max_bytes)
{
    pthread_mutex_lock(&w->mu);
    w->max_batches = max_batches ? max_batches : WP_INGEST_QUEUE_BATCHES_DEFAULT;
    w->max_bytes = max_bytes ? max_bytes : WP_INGEST_QUEUE_BYTES_DEFAULT;
    pthread_mutex_unlock(&w->mu);
}

int wp_writer__submit(struct wp_writer *w, wp_event_batch *b, size_t bytes)
{
    struct job j;
    memset(&j, 0, sizeof j);
    j.b = b;
    j.bytes = bytes;
    pthread_mutex_lock(&w->mu);
    if (w->stop) {
        pthread_mutex_unlock(&w->mu);
        return wp_error_set(WP_EIO, "the writer is stopping");
    }
    /* Bounded in batches and in bytes; a batch larger than the byte bound alone still goes in
     * when the queue is empty (the body limit bounds it), else nothing that big could pass. */
    if (w->queued >= w->max_batches || (w->queued && w->queued_bytes + bytes > w->max_bytes)) {
        w->refused++;
        pthread_mutex_unlock(&w->mu);
        return wp_error_set(WP_EOVERLOAD,
                            "the ingest queue is full; send the same events again after "
                            "Retry-After");
    }
    *w->tail = &j;
    w->tail = &j.next;
    w->queued++;
    w->queued_bytes += bytes;
    pthread_cond_signal(&w->work);
    pthread_cond_broadcast(&w->done); /* wait_queued watches the count */
    while (!j.done)
        pthread_cond_wait(&w->done, &w->mu);
    pthread_mutex_unlock(&w->mu);
    if (j.err < 0)
        return wp_error_set(j.err, "%s", j.msg);
    return 0;
}

void wp_writer__hold(struct wp_writer *w, int hold)
{
    pthread_mutex_lock(&w->mu);
    w->hold = hold;
    pthread_cond_broadcast(&w->work);
    pthread_mutex_unlock(&w->mu);
}

void wp_writer__wait_queued(struct wp_writer *w, size_t n)
{
    pthread_mutex_lock(&w->mu);
    while (w->queued < n)
        pthread_cond_wait(&w->done, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

void wp_writer__fail_commits(struct wp_writer *w, int n)
{
    pthread_mutex_lock(&w->mu);
    w->fail_commits = n;
    pthread_mutex_unlock(&w->mu);
}

void wp_writer__stats(struct wp_writer *w, uint64_t *merged_tx, uint64_t *batches,
                      uint64_t *retried_alone)
{
    pthread_mutex_lock(&w->mu);
    *merged_tx = w->merged_tx;
    *batches = w->batches;
    *retried_alone = w->retried_alone;
    pthread_mutex_unlock(&w->mu);
}

void wp_writer__stats_fill(struct wp_writer *w, wp_ingest_stats *out)
{
    pthread_mutex_lock(&w->mu);
    out->transactions = w->merged_tx;
    out->batches = w->batches;
    out->retried_alone = w->retried_alone;
    out->queue_depth = w->queued;
    out->queue_bytes = w->queued_bytes;
    out->queue_refused = w->refused;
    out->commit_count = w->merged_tx;
    out->commit_us_sum = w->commit_us_sum;
    memcpy(out->commit_le, w->commit_le, sizeof out->commit_le);
    pthread_mutex_unlock(&w->mu);
}
