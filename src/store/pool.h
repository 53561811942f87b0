/* SPDX-License-Identifier: MIT */
/* One pool of store connections (pool.c), which the request handlers and ingest's calls on the
 * caller's thread borrow for short work. A thread that works on the store for its whole life
 * (the group-commit writer, a job thread) keeps a connection of its own instead. Its name is
 * wp_store_connpool: wp_store_pool_* are the operations of the customers' public pool (公海,
 * customers.h). */
#ifndef WP_STORE_POOL_H
#define WP_STORE_POOL_H

#include "store/store.h"

typedef struct wp_store_connpool wp_store_connpool;

#define WP_STORE_CONNPOOL_DEFAULT 8 /* connections, when the caller does not say */

/* A pool of at most max connections (0: WP_STORE_CONNPOOL_DEFAULT) to the store wp_store_open()
 * opens for data_dir and db_url (NULL or "": the SQLite file in data_dir). Nothing is
 * connected yet: a connection is opened when one is borrowed and none is idle, and kept for
 * the next borrower. data_dir and db_url are copied.
 * @return 0; WP_ENOMEM. Caller owns *out; release with wp_store_connpool_free(). */
int wp_store_connpool_new(wp_store_connpool **out, const char *data_dir, const char *db_url,
                          unsigned max);

/* Close every connection. None may be lent out. NULL is a no-op. */
void wp_store_connpool_free(wp_store_connpool *pool);

/* Borrow a connection for the calling thread, waiting while all max are lent out.
 * @return 0; the errors of wp_store_open() when a new connection cannot be opened.
 * Borrowed; valid until given back with wp_store_connpool_release(). */
int wp_store_connpool_acquire(wp_store_connpool *pool, wp_store **out);

/* Give a borrowed connection back; a transaction left open is rolled back. NULL is a no-op. */
void wp_store_connpool_release(wp_store_connpool *pool, wp_store *st);

#endif
