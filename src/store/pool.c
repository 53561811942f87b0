/* SPDX-License-Identifier: MIT */
/* The pool of store connections (pool.h): idle connections kept for the next borrower, new ones
 * opened outside the lock, at most max open at once. */
#include "store/pool.h"
#include "store/store.h"
#include "util/error.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct wp_store_connpool {
    char *data_dir, *db_url;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    wp_store **idle; /* max slots */
    size_t n_idle, n_open, max;
};

int wp_store_connpool_new(wp_store_connpool **out, const char *data_dir, const char *db_url,
                          unsigned max)
{
    wp_store_connpool *p = calloc(1, sizeof *p);
    if (!p)
        return wp_error_set(WP_ENOMEM, "out of memory");
    p->max = max ? max : WP_STORE_CONNPOOL_DEFAULT;
    if ((data_dir && !(p->data_dir = strdup(data_dir))) ||
        (db_url && *db_url && !(p->db_url = strdup(db_url))) ||
        !(p->idle = calloc(p->max, sizeof *p->idle))) {
        free(p->data_dir);
        free(p->db_url);
        free(p);
        return wp_error_set(WP_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    *out = p;
    return 0;
}

void wp_store_connpool_free(wp_store_connpool *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_idle; i++)
        wp_store_free(p->idle[i]);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->idle);
    free(p->data_dir);
    free(p->db_url);
    free(p);
}

int wp_store_connpool_acquire(wp_store_connpool *p, wp_store **out)
{
    pthread_mutex_lock(&p->mu);
    while (p->n_idle == 0 && p->n_open >= p->max)
        pthread_cond_wait(&p->cv, &p->mu);
    if (p->n_idle) {
        *out = p->idle[--p->n_idle];
        pthread_mutex_unlock(&p->mu);
        return 0;
    }
    p->n_open++; /* reserve the slot, connect outside the lock */
    pthread_mutex_unlock(&p->mu);
    int err = wp_store_open(out, p->data_dir, p->db_url);
    if (err < 0) {
        pthread_mutex_lock(&p->mu);
        p->n_open--;
        pthread_cond_signal(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    return err;
}

void wp_store_connpool_release(wp_store_connpool *p, wp_store *st)
{
    if (!st)
        return;
    wp_store_rollback(st);
    pthread_mutex_lock(&p->mu);
    p->idle[p->n_idle++] = st; /* idle has max slots and n_idle < n_open <= max */
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}
