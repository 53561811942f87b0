/* SPDX-License-Identifier: MIT */
/* Many nodes on one PostgreSQL: the jobs' leader lock and the change notices
 * (docs/internals/cluster.md). SQLite is one node by nature: there each is a no-op. */
#ifndef WP_STORE_CLUSTER_H
#define WP_STORE_CLUSTER_H

#include "store/store.h"

#include <stdint.h>

/* The channel every node LISTENs on; a notice's payload is "<tenant_id>:<what>". */
#define WP_CLUSTER_CHANNEL "workphone_changes"

/* What a notice names (the caches a node drops). */
#define WP_CLUSTER_POLICY "policy"       /* the policy row: lexicon, settings, its version */
#define WP_CLUSTER_LEXICON "lexicon"     /* an org unit's lexicon */
#define WP_CLUSTER_GEOFENCES "geofences" /* the tenant's fences */
#define WP_CLUSTER_HOURS "hours"         /* the tenant's zone or working hours */
#define WP_CLUSTER_KEYS "keys" /* the wrapped keys were rewrapped (tenant ""): keys.c */

/* The advisory lock of the jobs' leader ("wpjobled"): the same on every node. */
#define WP_CLUSTER_JOBS_LOCK INT64_C(8606223364413415780)

/* Keep or take the session-level advisory lock key on st (a connection of its own: the lock
 * lives as long as its session).
 * @param[out] leading  1 when st's session holds the lock now, else 0: another session holds
 *                      it, or the session that held it is gone (a new session of st takes it
 *                      again only when nobody else has it)
 * @return 0, or the store's error (the connection is lost: *leading is 0). SQLite: *leading
 *         is 1, always. */
int wp_store_cluster_lead(wp_store *st, int64_t key, int *leading);

/* Inside the caller's transaction: tell every node, at its commit, that what of tenant_id
 * changed (pg_notify; nothing when the transaction rolls back). SQLite: a no-op. */
int wp_store__notify(wp_store *st, const char *tenant_id, const char *what);

/* Called on the listener's thread for each notice; tenant_id NULL: drop everything (the
 * listener (re)connected and may have missed notices). Must be quick and thread-safe. */
typedef void (*wp_store_change_fn)(void *arg, const char *tenant_id, const char *what);

typedef struct wp_store_listener wp_store_listener;

/* A thread that LISTENs on WP_CLUSTER_CHANNEL on a connection of its own to db_url, polls its
 * socket, and calls fn for each notice; a lost connection is made again with a backoff of
 * 0.25 s doubling up to 8 s, and fn(arg, NULL, NULL) follows each (re)connect. Nothing is
 * started for an empty db_url (SQLite).
 * @param log_fd  a line on each loss and reconnect; -1: none
 * @return 0; WP_EIO (no thread); WP_ENOMEM. *out is NULL for SQLite.
 * Caller owns *out; release with wp_store_listener_free(). arg is borrowed: it must outlive
 * the listener. */
int wp_store_listener_new(wp_store_listener **out, const char *db_url, int log_fd,
                          wp_store_change_fn fn, void *arg);

/* 1 while connected and listening. */
int wp_store_listener_up(wp_store_listener *l);

/* Notices received since the start (each passed to fn once). */
uint64_t wp_store_listener_notices(wp_store_listener *l);

/* Stop the thread, close the connection. NULL is a no-op. */
void wp_store_listener_free(wp_store_listener *l);

#endif
