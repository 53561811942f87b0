/* SPDX-License-Identifier: MIT */
/* The store: the operations the rest of workphone needs, over SQLite (default, a file in the
 * data dir) or PostgreSQL (libpq). Callers never see SQL. Every row belongs to a tenant.
 * One wp_store is one connection: use it from one thread at a time (open one per thread).
 * This header opens and closes it, runs transactions and holds what every concern shares; the
 * operations are declared by concern, one header each (org.h, people.h, customers.h, ...). */
#ifndef WP_STORE_H
#define WP_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/id.h"

typedef struct wp_store wp_store;

/* What a reader may see of a stored text: a search matches, highlights and returns texts as
 * the view gives them (personal data masked), never the stored bytes behind. fn appends the
 * text as seen to out and sets *changed when it differs. */
typedef struct wp_text_view {
    int (*fn)(void *arg, wp_buf *out, int *changed, const char *text, size_t len);
    void *arg;
} wp_text_view;

enum wp_store_backend { WP_STORE_SQLITE = 1, WP_STORE_PG = 2 };

/* Open the store: PostgreSQL when db_url is non-NULL (postgresql://... or a libpq conninfo),
 * else the SQLite file <data_dir>/workphone.db (created if missing; WAL, busy timeout,
 * foreign keys on). Pending migrations are applied, each in one transaction.
 * @return 0; WP_EIO (cannot open or connect); WP_ESCHEMA (the store's schema is newer than
 *         this binary knows and lacks one of its migrations: nothing is changed). A newer
 *         schema that holds all of this binary's migrations opens (wp_store_schema_ahead()).
 * Caller owns *out; release with wp_store_free(). */
int wp_store_open(wp_store **out, const char *data_dir, const char *db_url);

/* Close the connection. NULL is a no-op. */
void wp_store_free(wp_store *st);

enum wp_store_backend wp_store_backend(const wp_store *st);

/* Make st fit for the ingest's writer, which stores rounds of batches on it: on SQLite, a
 * page cache of WP_STORE_WRITER_CACHE_KIB instead of SQLite's 2 MB, so that a round's dirty
 * pages are not spilled to the WAL before its commit and the hot pages of the messages
 * indexes stay in memory between rounds (docs/internals/ingest.md, "Where the time goes").
 * Nothing on PostgreSQL. Durability is unchanged. @return 0 or WP_EIO. */
#define WP_STORE_WRITER_CACHE_KIB 16384
int wp_store_writer_tune(wp_store *st);

/* Bytes SQLite holds in this process now, all its connections together (page caches,
 * statements, schema): sqlite3_memory_used(). 0 when only PostgreSQL is in use. /metrics. */
int64_t wp_store_sqlite_memory(void);

/* Mark st as a background connection (the jobs'): on SQLite, once its write transactions have
 * held the database's one write lock for WP_STORE_YIELD_HOLD_MS in all since its last pause
 * (or since a gap of WP_STORE_YIELD_PAUSE_MS between two of them),
 * the COMMIT (or ROLLBACK) that ends one sleeps WP_STORE_YIELD_PAUSE_MS with the lock free,
 * longer than SQLite's busy handler sleeps between two tries, so a writer waiting for the
 * lock (the ingest writer) gets it. Without it, a job that commits a chunk and begins the
 * next at once holds the lock for its whole run. No effect on PostgreSQL (row locks).
 * docs/internals/jobs.md, "Sharing the write lock". For the connection's life; st stays the
 * caller's. */
#define WP_STORE_YIELD_HOLD_MS 200
#define WP_STORE_YIELD_PAUSE_MS 120
void wp_store_set_background(wp_store *st);

/* PostgreSQL's settings that decide whether a commit survives a crash of its host: out gets
 * "" when fsync and synchronous_commit are both on (and always on SQLite, whose open refuses a
 * connection not at synchronous FULL), else what is off, "fsync=off synchronous_commit=off". */
int wp_store_durability_off(wp_store *st, char *out, size_t cap);

/* A trivial query (SELECT 1) on st: whether the store answers, for the readiness probe.
 * @return 0, or the query's error (WP_EUNAVAIL when PostgreSQL is gone, WP_EIO, ...) */
int wp_store_ping(wp_store *st);

/* The schema version the store is at, and the newest this binary knows. */
int wp_store_schema_version(wp_store *st, int *out);
int wp_store_schema_latest(void);
/* How many versions the store's schema is ahead of this binary (0: not ahead). A store open
 * with a newer schema holds every migration this binary knows (else wp_store_open() refused
 * it with WP_ESCHEMA): a newer node migrated it, and serve warns (docs/deploy.md). */
int wp_store_schema_ahead(wp_store *st, int *out);

/* Transactions. Operations outside begin/commit run in their own implicit transaction. */
int wp_store_begin(wp_store *st);
int wp_store_commit(wp_store *st);
int wp_store_rollback(wp_store *st); /* harmless when no transaction is open */

/* Sizes the archive's rows share (devices, customers, messages, alerts, analytics), and the
 * pages of every list: lists are newest first with an opaque cursor. */
#define WP_ARCHIVE_FIELD_MAX 256        /* bytes: ids, names, channels, chats, msgtypes, ... */
#define WP_ARCHIVE_TEXT_MAX (64 * 1024) /* bytes of text in one message */
#define WP_ARCHIVE_PHONE_MAX 32         /* bytes of a normalized phone number */
#define WP_ARCHIVE_WORD_MAX 32          /* bytes: grade, stage, alert kind and status */
#define WP_ARCHIVE_CURSOR_MAX 64        /* bytes of a cursor, with its NUL */
#define WP_PAGE_DEFAULT 50
#define WP_PAGE_MAX 200

/* The direction of a message or a call, as devices report it. */
enum wp_direction { WP_DIR_NONE = 0, WP_DIR_IN, WP_DIR_OUT };
const char *wp_direction_name(enum wp_direction d); /* "in", "out", NULL */

#endif
