/* SPDX-License-Identifier: MIT */
/* The audit log's background work in `serve`: reads buffered by handlers, appended in batches
 * every second, and signed checkpoints of every chain written to the server log. */
#include "api/api.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

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
#define LINE_MAX_ 512

/* One buffered row; its strings live in one allocation after it. */
struct item {
    int64_t ts_us;
    const char *tenant_id, *actor, *action, *target, *details, *client;
};

/* The last checkpoint logged of a chain, not to log the same again. */
struct mark {
    char tenant_id[WP_ID_LEN + 1];
    int64_t seq;
};

struct api_audit_worker {
    api_audit_worker_config c;
    unsigned char key[WP_AUDIT_KEY_LEN], seed[WP_AUDIT_SIGN_SEED_LEN];
    int signs; /* a seed was given */
    wp_store *st;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake; /* the thread: rows are waiting, a flush is wanted, or stop */
    pthread_cond_t done; /* handlers: rows were written (room, or a sync reached) */
    struct item **q;     /* the queue, oldest first */
    size_t n;
    struct item **taken; /* the thread's: rows taken from the queue, not written yet */
    size_t n_taken;
    uint64_t pushed, written; /* rows ever queued; rows written (or given up) */
    int flush_now, stop;
    struct mark *marks;
    size_t n_marks;
};

/* A line "event=E error=..." (and tenant= when given) about what went wrong. */
static void log_error(const api_audit_worker *w, const char *event, const char *key,
                      const char *value)
{
    wp_buf b;
    wp_log_start(&b, "error", event);
    if (key)
        wp_log_addn(&b, key, value, 64);
    wp_log_addn(&b, "error", wp_error_last(), 300);
    wp_log_end(&b, w->c.log_fd);
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
    int err = 0;
    if (!it)
        return wp_error_set(WP_ENOMEM, "out of memory");
    pthread_mutex_lock(&w->lock);
    deadline(&until, PUSH_WAIT_MS);
    /* full: the store is slow or down. Wait for room rather than drop a read unrecorded. */
    while (w->n >= QUEUE_MAX && !w->stop) {
        w->flush_now = 1;
        pthread_cond_signal(&w->wake);
        if (pthread_cond_timedwait(&w->done, &w->lock, &until) == ETIMEDOUT)
            break;
    }
    if (w->stop || w->n >= QUEUE_MAX) {
        err = wp_error_set(WP_EIO, "the audit log cannot keep up: the read is refused");
        free(it);
    } else {
        w->q[w->n++] = it;
        w->pushed++;
        if (w->n >= BATCH_MAX)
            pthread_cond_signal(&w->wake);
    }
    pthread_mutex_unlock(&w->lock);
    return err;
}

int api_audit_worker_sync(api_audit_worker *w, unsigned timeout_ms)
{
    struct timespec until;
    int err = 0;
    pthread_mutex_lock(&w->lock);
    uint64_t want = w->pushed;
    deadline(&until, timeout_ms);
    while (w->written < want && !w->stop) {
        w->flush_now = 1;
        pthread_cond_signal(&w->wake);
        if (pthread_cond_timedwait(&w->done, &w->lock, &until) == ETIMEDOUT) {
            err = wp_error_set(WP_EIO, "the audit log's buffered reads are not written yet");
            break;
        }
    }
    pthread_mutex_unlock(&w->lock);
    return err;
}

/* Append v[0..n) (one tenant) in one transaction. */
static int write_batch(api_audit_worker *w, struct item **v, size_t n)
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
    if ((err = wp_store_begin(w->st)) < 0)
        return err;
    if ((err = wp_store_audit_append_batch(w->st, w->key, e, n, NULL)) == 0)
        return wp_store_commit(w->st);
    wp_store_rollback(w->st);
    return err;
}

/* Write what was taken from the queue, tenant by tenant in the order the rows came. On a store
 * error the rows not written stay in v, in order (*n their number), for the next round; a row
 * the store refuses as invalid is logged and dropped. */
static void write_all(api_audit_worker *w, struct item **v, size_t *n)
{
    struct item *batch[BATCH_MAX];
    size_t at[BATCH_MAX], kept = 0;
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
        int err = write_batch(w, batch, k);
        if (err == WP_EINVAL) { /* one bad row must not stop the others: one at a time */
            for (size_t i = 0; i < k; i++)
                if (write_batch(w, &batch[i], 1) < 0)
                    log_error(w, "audit_read_dropped", "action", batch[i]->action);
            err = 0;
        }
        if (err < 0) {
            log_error(w, "audit_reads_not_written", NULL, NULL);
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
}

static struct mark *mark_of(api_audit_worker *w, const char *tenant_id)
{
    for (size_t i = 0; i < w->n_marks; i++)
        if (!strcmp(w->marks[i].tenant_id, tenant_id))
            return &w->marks[i];
    struct mark *m = realloc(w->marks, (w->n_marks + 1) * sizeof *m);
    if (!m)
        return NULL;
    w->marks = m;
    m = &w->marks[w->n_marks++];
    snprintf(m->tenant_id, sizeof m->tenant_id, "%s", tenant_id);
    m->seq = -1;
    return m;
}

/* A signed checkpoint of every chain that moved since its last one, one log line each. */
static void checkpoints(api_audit_worker *w)
{
    char(*ids)[WP_ID_LEN + 1] = NULL, line[LINE_MAX_];
    size_t n = 0;
    if (!w->signs)
        return;
    if (wp_store_audit_chains(w->st, &ids, &n) < 0) {
        log_error(w, "audit_checkpoint_failed", NULL, NULL);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        wp_audit_checkpoint cp;
        struct mark *m = mark_of(w, ids[i]);
        int err = wp_store_audit_checkpoint(w->st, &cp, w->key, w->seed, ids[i], wp_time_now_us());
        if (err == WP_ENOTFOUND || (err == 0 && m && m->seq == cp.seq))
            continue;
        if (err < 0) {
            log_error(w, "audit_checkpoint_failed", "tenant", ids[i]);
            continue;
        }
        if (wp_audit_checkpoint_format(line, sizeof line, &cp) == 0) {
            /* the line's own "event=audit_checkpoint" goes after the log's ts= and level= */
            wp_buf b;
            wp_log_start(&b, "info", "audit_checkpoint");
            wp_log_add_fields(&b, line + strlen("event=audit_checkpoint "));
            wp_log_end(&b, w->c.log_fd);
        }
        if (m)
            m->seq = cp.seq;
    }
    free(ids);
}

static void *worker_main(void *arg)
{
    api_audit_worker *w = arg;
    int64_t next_cp = wp_time_now_us(); /* a first checkpoint once the server is up */
    struct timespec until;

    pthread_mutex_lock(&w->lock);
    for (;;) {
        deadline(&until, w->c.flush_ms);
        while (!w->stop && !w->flush_now && w->n < BATCH_MAX &&
               pthread_cond_timedwait(&w->wake, &w->lock, &until) != ETIMEDOUT) {
        }
        int stopping = w->stop;
        w->flush_now = 0;
        /* take the queue behind what is left of the last round; QUEUE_MAX in all at most */
        size_t take = w->n < QUEUE_MAX - w->n_taken ? w->n : QUEUE_MAX - w->n_taken;
        memcpy(w->taken + w->n_taken, w->q, take * sizeof *w->q);
        memmove(w->q, w->q + take, (w->n - take) * sizeof *w->q);
        w->n -= take;
        w->n_taken += take;
        pthread_mutex_unlock(&w->lock);
        if (w->n_taken)
            write_all(w, w->taken, &w->n_taken);
        if (stopping || wp_time_now_us() >= next_cp) {
            checkpoints(w);
            next_cp = wp_time_now_us() + (int64_t)w->c.checkpoint_s * 1000000;
        }
        pthread_mutex_lock(&w->lock);
        if (stopping)
            break;
    }
    /* what could not be written by the stop is lost: say how much */
    size_t lost = w->n_taken + w->n;
    pthread_mutex_unlock(&w->lock);
    if (lost) {
        wp_buf b;
        wp_log_start(&b, "error", "audit_reads_lost");
        wp_log_addf(&b, "rows", "%zu", lost);
        wp_log_end(&b, w->c.log_fd);
    }
    return NULL;
}

int api_audit_worker_new(api_audit_worker **out, const api_audit_worker_config *c)
{
    api_audit_worker *w = calloc(1, sizeof *w);
    pthread_condattr_t ca;
    int err;
    if (!w || !(w->q = malloc(QUEUE_MAX * sizeof *w->q)) ||
        !(w->taken = malloc(QUEUE_MAX * sizeof *w->taken))) {
        if (w)
            free(w->q);
        free(w);
        return wp_error_set(WP_ENOMEM, "out of memory");
    }
    w->c = *c;
    if (!w->c.flush_ms)
        w->c.flush_ms = API_AUDIT_FLUSH_MS;
    if (!w->c.checkpoint_s)
        w->c.checkpoint_s = API_AUDIT_CHECKPOINT_S;
    memcpy(w->key, c->audit_key, sizeof w->key);
    if (c->sign_seed) {
        memcpy(w->seed, c->sign_seed, sizeof w->seed);
        w->signs = 1;
    }
    if ((err = wp_store_open(&w->st, c->data_dir, c->db_url)) < 0) {
        free(w->q);
        free(w->taken);
        sodium_memzero(w, sizeof *w);
        free(w);
        return err;
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->wake, &ca);
    pthread_cond_init(&w->done, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        w->stop = 1; /* nothing to join */
        api_audit_worker_free(w);
        return wp_error_set(WP_EIO, "cannot start the audit thread");
    }
    *out = w;
    return 0;
}

void api_audit_worker_free(api_audit_worker *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    int started = !w->stop;
    w->stop = 1;
    pthread_cond_signal(&w->wake);
    pthread_cond_broadcast(&w->done);
    pthread_mutex_unlock(&w->lock);
    if (started)
        pthread_join(w->thread, NULL); /* it writes what is buffered and checkpoints first */
    for (size_t i = 0; i < w->n; i++)
        free(w->q[i]);
    for (size_t i = 0; i < w->n_taken; i++)
        free(w->taken[i]);
    free(w->q);
    free(w->taken);
    free(w->marks);
    wp_store_free(w->st);
    pthread_cond_destroy(&w->wake);
    pthread_cond_destroy(&w->done);
    pthread_mutex_destroy(&w->lock);
    sodium_memzero(w->key, sizeof w->key);
    sodium_memzero(w->seed, sizeof w->seed);
    free(w);
}
