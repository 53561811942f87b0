/* SPDX-License-Identifier: MIT */
/* The audit log's reads: buffered by handlers, appended in batches by a flush that the jobs'
 * scheduler runs every second, or as soon as rows wait (src/cli/cmd_serve.c wires the two). */
#include "api/api.h"
#include "store/audit.h"
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

#define QUEUE_MAX 20000   /* reads waiting; past it a handler waits for room */
#define BATCH_MAX 500     /* rows of one tenant in one transaction */
#define PUSH_WAIT_MS 5000 /* how long a handler waits for room before failing */

/* One buffered row; its strings live in one allocation after it. */
struct item {
    int64_t ts_us;
    const char *tenant_id, *actor, *action, *target, *details, *client;
};

struct api_audit_worker {
    void (*wake)(void *ctx);
    void *wake_ctx;
    unsigned char key[WP_AUDIT_KEY_LEN];
    pthread_mutex_t lock;
    pthread_cond_t done; /* handlers: rows were written (room, or a sync reached) */
    struct item **q;     /* the queue, oldest first */
    size_t n;
    struct item **taken; /* the flush's own: rows taken from the queue, not written yet */
    size_t n_taken;
    uint64_t pushed, written; /* rows ever queued; rows written (or given up) */
    unsigned failed;          /* batch writes failed by WORKPHONE_TEST_AUDIT_FAIL_BATCHES */
};

/* Ask for a flush soon. Called without the lock: the scheduler takes its own. */
static void wake(const api_audit_worker *w)
{
    if (w->wake)
        w->wake(w->wake_ctx);
}

static struct item *item_new(const wp_audit_entry *e)
{
    const char *s[6] = {e->tenant_id, e->actor, e->action, e->target, e->details, e->client};
    size_t len[6], total = sizeof(struct item);
    for (int i = 0; i < 6; i++) {
        len[i] = s[i] ? strlen(s[i]) + 1 : 0;
        total += len[i];
    }
    struct item *it = malloc(total);
    if (!it)
        return NULL;
    char *p = (char *)(it + 1);
    const char **dst[6] = {&it->tenant_id, &it->actor,   &it->action,
                           &it->target,    &it->details, &it->client};
    for (int i = 0; i < 6; i++) {
        *dst[i] = NULL;
        if (s[i]) {
            memcpy(p, s[i], len[i]);
            *dst[i] = p;
            p += len[i];
        }
    }
    it->ts_us = e->ts_us ? e->ts_us : wp_time_now_us();
    return it;
}

static void deadline(struct timespec *ts, unsigned ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

int api_audit_worker_push(api_audit_worker *w, const wp_audit_entry *e)
{
    struct item *it = item_new(e);
    struct timespec until;
    int err = 0, batch = 0;
    if (!it)
        return wp_error_set(WP_ENOMEM, "out of memory");
    pthread_mutex_lock(&w->lock);
    deadline(&until, PUSH_WAIT_MS);
    /* full: the store is slow or down. Wait for room rather than drop a read unrecorded. */
    while (w->n >= QUEUE_MAX) {
        pthread_mutex_unlock(&w->lock);
        wake(w);
        pthread_mutex_lock(&w->lock);
        if (w->n < QUEUE_MAX || pthread_cond_timedwait(&w->done, &w->lock, &until) == ETIMEDOUT)
            break;
    }
    if (w->n >= QUEUE_MAX) {
        err = wp_error_set(WP_EIO, "the audit log cannot keep up: the read is refused");
        free(it);
    } else {
        w->q[w->n++] = it;
        w->pushed++;
        batch = w->n == BATCH_MAX; /* a whole batch waits: no need to wait for the second */
    }
    pthread_mutex_unlock(&w->lock);
    if (batch)
        wake(w);
    return err;
}

int api_audit_worker_sync(api_audit_worker *w, unsigned timeout_ms)
{
    struct timespec until;
    int err = 0;
    pthread_mutex_lock(&w->lock);
    uint64_t want = w->pushed;
    deadline(&until, timeout_ms);
    while (w->written < want) {
        pthread_mutex_unlock(&w->lock);
        wake(w);
        pthread_mutex_lock(&w->lock);
        if (w->written >= want)
            break;
        if (pthread_cond_timedwait(&w->done, &w->lock, &until) == ETIMEDOUT) {
            err = wp_error_set(WP_EIO, "the audit log's buffered reads are not written yet");
            break;
        }
    }
    pthread_mutex_unlock(&w->lock);
    return err;
}

/* Append v[0..n) (one tenant) in one transaction. */
static int write_batch(api_audit_worker *w, wp_store *st, struct item **v, size_t n)
{
    wp_audit_entry e[BATCH_MAX];
    int err;
    for (size_t i = 0; i < n; i++)
        e[i] = (wp_audit_entry){.tenant_id = v[i]->tenant_id,
                                .ts_us = v[i]->ts_us,
                                .actor = v[i]->actor,
                                .action = v[i]->action,
                                .target = v[i]->target,
                                .details = v[i]->details,
                                .client = v[i]->client};
    /* a test hook (WORKPHONE_TEST_HOOKS=1 only): the first N batches fail as a store would;
     * only the flush writes, so the count needs no lock */
    if (w->failed < wp_test_hooks_get()->audit_fail_batches) {
        w->failed++;
        return wp_error_set(WP_EIO,
                            "audit batch %u of %u failed by "
                            "WORKPHONE_TEST_AUDIT_FAIL_BATCHES (a test hook)",
                            w->failed, wp_test_hooks_get()->audit_fail_batches);
    }
    if ((err = wp_store_begin(st)) < 0)
        return err;
    if ((err = wp_store_audit_append_batch(st, w->key, e, n, NULL)) == 0)
        return wp_store_commit(st);
    wp_store_rollback(st);
    return err;
}

/* Write what was taken from the queue, tenant by tenant in the order the rows came. On a store
 * error the rows not written stay in v, in order (*n their number), for the next round, and the
 * error is returned. A row the store refuses as invalid is dropped (it would be refused again)
 * and counted in *dropped; the last such refusal is returned when nothing worse happened. */
static int write_all(api_audit_worker *w, wp_store *st, struct item **v, size_t *n,
                     size_t *dropped)
{
    struct item *batch[BATCH_MAX];
    size_t at[BATCH_MAX], kept = 0;
    char drop_msg[400] = "";
    int err = 0, drop_err = 0;
    for (;;) {
        /* the first row's tenant: its rows, in order, up to BATCH_MAX */
        const char *t = NULL;
        size_t k = 0;
        for (size_t i = 0; i < *n && k < BATCH_MAX; i++) {
            if (!v[i] || (t && strcmp(v[i]->tenant_id, t) != 0))
                continue;
            t = v[i]->tenant_id;
            batch[k] = v[i];
            at[k++] = i;
            v[i] = NULL;
        }
        if (k == 0)
            break;
        err = write_batch(w, st, batch, k);
        if (err == WP_EINVAL) { /* one bad row must not stop the others: one at a time */
            for (size_t i = 0; i < k; i++) {
                int e1 = write_batch(w, st, &batch[i], 1);
                if (e1 < 0) {
                    (*dropped)++;
                    drop_err = e1;
                    snprintf(drop_msg, sizeof drop_msg, "a read (%.64s) was dropped: %s",
                             batch[i]->action, wp_error_last());
                }
            }
            err = 0;
        }
        if (err < 0) {
            for (size_t i = 0; i < k; i++)
                v[at[i]] = batch[i]; /* back where they were: tried again next round */
            break;
        }
        for (size_t i = 0; i < k; i++)
            free(batch[i]);
        pthread_mutex_lock(&w->lock);
        w->written += k;
        pthread_cond_broadcast(&w->done);
        pthread_mutex_unlock(&w->lock);
    }
    for (size_t i = 0; i < *n; i++)
        if (v[i])
            v[kept++] = v[i];
    *n = kept;
    if (err < 0)
        return err;
    return *dropped ? wp_error_set(drop_err, "%s", drop_msg) : 0;
}

int api_audit_worker_flush(wp_store *st, void *arg, int64_t now_us, wp_buf *note)
{
    api_audit_worker *w = arg;
    size_t dropped = 0;
    int err = 0;
    (void)now_us; /* each row keeps the time of its read */
    pthread_mutex_lock(&w->lock);
    /* take the queue behind what is left of the last round; QUEUE_MAX in all at most */
    size_t take = w->n < QUEUE_MAX - w->n_taken ? w->n : QUEUE_MAX - w->n_taken;
    memcpy(w->taken + w->n_taken, w->q, take * sizeof *w->q);
    memmove(w->q, w->q + take, (w->n - take) * sizeof *w->q);
    w->n -= take;
    w->n_taken += take;
    pthread_mutex_unlock(&w->lock);
    if (w->n_taken && (err = write_all(w, st, w->taken, &w->n_taken, &dropped)) < 0) {
        if (dropped)
            wp_log_addf(note, "dropped", "%zu", dropped);
        if (w->n_taken) /* the store failed: they wait for the next round */
            wp_log_addf(note, "rows_waiting", "%zu", w->n_taken);
    }
    return err;
}

int api_audit_worker_new(api_audit_worker **out, const api_audit_worker_config *c)
{
    api_audit_worker *w = calloc(1, sizeof *w);
    pthread_condattr_t ca;
    if (!w || !(w->q = malloc(QUEUE_MAX * sizeof *w->q)) ||
        !(w->taken = malloc(QUEUE_MAX * sizeof *w->taken))) {
        if (w)
            free(w->q);
        free(w);
        return wp_error_set(WP_ENOMEM, "out of memory");
    }
    w->wake = c->wake;
    w->wake_ctx = c->wake_ctx;
    memcpy(w->key, c->audit_key, sizeof w->key);
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->done, &ca);
    pthread_condattr_destroy(&ca);
    *out = w;
    return 0;
}

size_t api_audit_worker_waiting(api_audit_worker *w)
{
    pthread_mutex_lock(&w->lock);
    size_t n = w->n + w->n_taken;
    pthread_mutex_unlock(&w->lock);
    return n;
}

void api_audit_worker_free(api_audit_worker *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n; i++)
        free(w->q[i]);
    for (size_t i = 0; i < w->n_taken; i++)
        free(w->taken[i]);
    free(w->q);
    free(w->taken);
    pthread_cond_destroy(&w->done);
    pthread_mutex_destroy(&w->lock);
    sodium_memzero(w->key, sizeof w->key);
    free(w);
}
