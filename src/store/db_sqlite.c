/* SPDX-License-Identifier: MIT */
/* The SQLite backend of the statement layer: one connection to <data dir>/workphone.db. */
#include "store/db.h"
#include "store/migrations.h"
#include "store/store.h"
#include "util/error.h"
#include "util/testhooks.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BUSY_TIMEOUT_MS 5000
/* WAL pages (4 KiB) after which a commit asks for a checkpoint (SQLite's default), and after
 * which the committing connection checkpoints itself, in case the checkpointer lags. */
#define CHECKPOINT_FRAMES 1000
#define CHECKPOINT_FRAMES_SELF 64000

/* One checkpointer thread per database file the process has open, with its own connection.
 * SQLite's automatic checkpoint runs in the thread whose commit crossed the threshold: for
 * ingest, the group-commit writer, which is the bottleneck (about 10% of its time went to
 * copying the WAL back and syncing). Here commits only signal; the checkpoint (PASSIVE, so it
 * never waits for readers or the writer) runs beside them. */
struct checkpointer {
    char *path;
    int refs;
    int pending, stop;
    pthread_t thread;
    pthread_cond_t cond;
    struct checkpointer *next;
};

static pthread_mutex_t checkpointers_mu = PTHREAD_MUTEX_INITIALIZER;
static struct checkpointer *checkpointers;

struct wp_sqlite {
    struct wp_store super;
    sqlite3 *db;
    struct checkpointer *ckpt;
    int tx;   /* a BEGIN succeeded; no COMMIT or ROLLBACK yet */
    int lost; /* 0, or the WP_E* of the error with which SQLite rolled that transaction back */
    int64_t began_us; /* when the open transaction got the write lock (monotonic) */
    int64_t held_us;  /* a background connection: the lock's time since its last pause */
    int64_t ended_us; /* when its last write transaction ended */
};

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A write transaction of w ended: on a background connection that has held the lock long
 * enough, leave it free for a while (wp_store_set_background). */
static void tx_ended(struct wp_sqlite *w)
{
    if (!w->began_us)
        return;
    w->ended_us = mono_us();
    w->held_us += w->ended_us - w->began_us;
    w->began_us = 0;
    if (w->super.background && w->held_us >= WP_STORE_YIELD_HOLD_MS * INT64_C(1000)) {
        w->held_us = 0;
        struct timespec pause = {0, WP_STORE_YIELD_PAUSE_MS * 1000000L};
        while (nanosleep(&pause, &pause) < 0 && errno == EINTR)
            ;
    }
}

struct sqlite_stmt {
    struct wp_stmt super;
    sqlite3_stmt *stmt;
    sqlite3 *db;
    struct wp_sqlite *owner;
};

static sqlite3 *db_of(wp_store *st)
{
    return ((struct wp_sqlite *)st)->db;
}

/* Map the connection's last error to a WP_E* and its message. */
static int fail(sqlite3 *db, int rc)
{
    const char *msg = sqlite3_errmsg(db);
    switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
        return wp_error_set(WP_EEXISTS, "sqlite: %s", msg);
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        return wp_error_set(WP_ENOTFOUND, "sqlite: %s", msg);
    case SQLITE_CONSTRAINT_CHECK:
    case SQLITE_CONSTRAINT_NOTNULL:
    case SQLITE_CONSTRAINT_DATATYPE:
        return wp_error_set(WP_EINVAL, "sqlite: %s", msg);
    case SQLITE_NOMEM:
        return wp_error_set(WP_ENOMEM, "out of memory");
    case SQLITE_FULL:
        return wp_error_set(WP_EFULL, "sqlite: %s", msg);
    }
    /* Another connection (the jobs, a backup, another process) held the write lock past the
     * busy timeout: nothing of this statement was done and the store is fine, it cannot take
     * the write now. A 503 store_unavailable with Retry-After, not a 500 (docs/internals/
     * store.md, "A busy store"). */
    if ((rc & 0xff) == SQLITE_BUSY)
        return wp_error_set(WP_EUNAVAIL, "sqlite: %s (locked past the busy timeout)", msg);
    /* A write to the WAL or its index that found no space may come as an I/O error (the
     * WAL-index grows by writes, SQLITE_IOERR_SHMSIZE); the errno tells it is a full disk. */
    if ((rc & 0xff) == SQLITE_IOERR && wp_error_errno_code(sqlite3_system_errno(db)) == WP_EFULL)
        return wp_error_set(WP_EFULL, "sqlite: %s: disk full", msg);
    return wp_error_set(WP_EIO, "sqlite: %s", msg);
}

/* After a failed statement: SQLite undoes the whole transaction itself on some errors
 * (SQLITE_FULL or an I/O error in a statement without a statement journal, or in COMMIT).
 * The statements that follow would then each commit on their own, outside the transaction
 * the caller believes open: until the caller's ROLLBACK they are refused with that error. */
static int failed_in_tx(struct wp_sqlite *w, int err)
{
    if (w->tx && !w->lost && sqlite3_get_autocommit(w->db))
        w->lost = err;
    return err;
}

static int lost_error(struct wp_sqlite *w)
{
    return wp_error_set(w->lost, "sqlite: the transaction was rolled back by an earlier error");
}

static void *checkpointer_main(void *arg)
{
    struct checkpointer *c = arg;
    sqlite3 *db = NULL;
    pthread_mutex_lock(&checkpointers_mu);
    for (;;) {
        while (!c->pending && !c->stop)
            pthread_cond_wait(&c->cond, &checkpointers_mu);
        if (c->stop)
            break;
        c->pending = 0;
        pthread_mutex_unlock(&checkpointers_mu);
        /* synchronous FULL as every connection: the checkpoint syncs the WAL before copying
         * it back and the database before the WAL can be reused */
        if (!db && (sqlite3_open_v2(c->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                                    NULL) != SQLITE_OK ||
                    sqlite3_exec(db, "PRAGMA synchronous = FULL", NULL, NULL, NULL) != SQLITE_OK)) {
            sqlite3_close(db); /* the committing connections' backstop checkpoints instead */
            db = NULL;
        }
        if (db)
            sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_lock(&checkpointers_mu);
    }
    pthread_mutex_unlock(&checkpointers_mu);
    sqlite3_close(db);
    return NULL;
}

/* The checkpointer of path, started if it is the first connection to it (NULL if a thread
 * cannot be started: the connection then checkpoints itself, as SQLite does by default). */
static struct checkpointer *checkpointer_get(const char *path)
{
    struct checkpointer *c;
    pthread_mutex_lock(&checkpointers_mu);
    for (c = checkpointers; c && strcmp(c->path, path) != 0; c = c->next)
        ;
    if (c) {
        c->refs++;
    } else if ((c = calloc(1, sizeof *c)) && (c->path = strdup(path))) {
        pthread_cond_init(&c->cond, NULL);
        if (pthread_create(&c->thread, NULL, checkpointer_main, c) == 0) {
            c->refs = 1;
            c->next = checkpointers;
            checkpointers = c;
        } else {
            pthread_cond_destroy(&c->cond);
            free(c->path);
            free(c);
            c = NULL;
        }
    } else {
        free(c);
        c = NULL;
    }
    pthread_mutex_unlock(&checkpointers_mu);
    return c;
}

static void checkpointer_put(struct checkpointer *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&checkpointers_mu);
    if (--c->refs > 0) {
        pthread_mutex_unlock(&checkpointers_mu);
        return;
    }
    for (struct checkpointer **p = &checkpointers; *p; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            break;
        }
    }
    c->stop = 1;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&checkpointers_mu);
    pthread_join(c->thread, NULL);
    pthread_cond_destroy(&c->cond);
    free(c->path);
    free(c);
}

/* After each commit (SQLite's wal hook, which replaces its automatic checkpoint). */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    struct checkpointer *c = arg;
    if (frames >= CHECKPOINT_FRAMES_SELF || (!c && frames >= CHECKPOINT_FRAMES)) {
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    } else if (frames >= CHECKPOINT_FRAMES) {
        pthread_mutex_lock(&checkpointers_mu);
        c->pending = 1;
        pthread_cond_signal(&c->cond);
        pthread_mutex_unlock(&checkpointers_mu);
    }
    return SQLITE_OK;
}

static void lite_close(wp_store *st)
{
    sqlite3_close(db_of(st));
    checkpointer_put(((struct wp_sqlite *)st)->ckpt);
    free(st);
}

static int lite_exec(wp_store *st, const char *script)
{
    struct wp_sqlite *w = (struct wp_sqlite *)st;
    int rollback = strcmp(script, "ROLLBACK") == 0;
    if (rollback && w->tx && sqlite3_get_autocommit(w->db)) {
        w->tx = w->lost = 0; /* SQLite rolled it back already */
        tx_ended(w);
        return 0;
    }
    if (w->lost && !rollback)
        return lost_error(w);
    int err = wp_test_hooks_store_op(script);
    if (err < 0)
        return err;
    char *msg = NULL;
    int rc = sqlite3_exec(w->db, script, NULL, NULL, &msg);
    sqlite3_free(msg); /* sqlite3_errmsg() still has it */
    if (rc != SQLITE_OK)
        return failed_in_tx(w, fail(w->db, sqlite3_extended_errcode(w->db)));
    if (!strcmp(script, "BEGIN IMMEDIATE")) {
        w->tx = 1;
        w->began_us = mono_us();
        if (w->began_us - w->ended_us >= WP_STORE_YIELD_PAUSE_MS * INT64_C(1000))
            w->held_us = 0; /* the lock was free long enough since: a new count */
    } else if (rollback || !strcmp(script, "COMMIT")) {
        w->tx = w->lost = 0;
        tx_ended(w);
    }
    return 0;
}

/* IMMEDIATE takes the write lock at once (waiting up to the busy timeout), so a transaction
 * never fails halfway when it turns from reading to writing. */
static int lite_begin(wp_store *st)
{
    return lite_exec(st, "BEGIN IMMEDIATE");
}

static int lite_lock_migrations(wp_store *st)
{
    return 0; /* BEGIN IMMEDIATE holds the database's one write lock already */
}

static int lite_prepare(wp_store *st, struct wp_stmt **out, const char *sql)
{
    sqlite3 *db = db_of(st);
    sqlite3_stmt *stmt = NULL;
    const char *tail = NULL;
    int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
    if (rc != SQLITE_OK)
        return fail(db, sqlite3_extended_errcode(db));
    if (!stmt) {
        return wp_error_set(WP_EIO, "sqlite: empty statement");
    }
    while (tail && *tail && strchr(" \t\r\n;", *tail))
        tail++;
    if (tail && *tail) {
        sqlite3_finalize(stmt);
        return wp_error_set(WP_EIO, "sqlite: more than one statement in a prepare");
    }
    struct sqlite_stmt *s = calloc(1, sizeof *s);
    if (!s) {
        sqlite3_finalize(stmt);
        return wp_error_set(WP_ENOMEM, "out of memory");
    }
    s->stmt = stmt;
    s->db = db;
    s->owner = (struct wp_sqlite *)st;
    *out = &s->super;
    return 0;
}

static void lite_finalize(struct wp_stmt *st)
{
    struct sqlite_stmt *s = (struct sqlite_stmt *)st;
    sqlite3_finalize(s->stmt);
    free(s);
}

static void bound(struct sqlite_stmt *s, int rc)
{
    if (rc != SQLITE_OK && s->super.err == 0) {
        assert(rc != SQLITE_RANGE && "bind index out of range");
        s->super.err = fail(s->db, rc);
    }
}

static void lite_bind_text(struct wp_stmt *st, int idx, const char *v)
{
    struct sqlite_stmt *s = (struct sqlite_stmt *)st;
    bound(s, sqlite3_bind_text(s->stmt, idx, v, -1, SQLITE_STATIC));
}

static void lite_bind_int64(struct wp_stmt *st, int idx, int64_t v)
{
    struct sqlite_stmt *s = (struct sqlite_stmt *)st;
    bound(s, sqlite3_bind_int64(s->stmt, idx, v));
}

static void lite_bind_null(struct wp_stmt *st, int idx)
{
    struct sqlite_stmt *s = (struct sqlite_stmt *)st;
    bound(s, sqlite3_bind_null(s->stmt, idx));
}

static int lite_step(struct wp_stmt *st)
{
    struct sqlite_stmt *s = (struct sqlite_stmt *)st;
    if (s->owner->lost)
        return lost_error(s->owner);
    int err = wp_test_hooks_store_op(NULL);
    if (err < 0)
        return err;
    int rc = sqlite3_step(s->stmt);
    if (rc == SQLITE_ROW)
        return WP_DB_ROW;
    if (rc == SQLITE_DONE)
        return WP_DB_DONE;
    return failed_in_tx(s->owner, fail(s->db, sqlite3_extended_errcode(s->db)));
}

static const char *lite_col_text(struct wp_stmt *st, int col)
{
    struct sqlite_stmt *s = (struct sqlite_stmt *)st;
    return (const char *)sqlite3_column_text(s->stmt, col);
}

static int64_t lite_col_int64(struct wp_stmt *st, int col)
{
    struct sqlite_stmt *s = (struct sqlite_stmt *)st;
    return sqlite3_column_int64(s->stmt, col);
}

static int lite_col_isnull(struct wp_stmt *st, int col)
{
    struct sqlite_stmt *s = (struct sqlite_stmt *)st;
    return sqlite3_column_type(s->stmt, col) == SQLITE_NULL;
}

static void lite_reset(struct wp_stmt *st)
{
    struct sqlite_stmt *s = (struct sqlite_stmt *)st;
    sqlite3_reset(s->stmt); /* repeats the step's error, reported already */
    sqlite3_clear_bindings(s->stmt);
}

static const struct wp_db_ops sqlite_ops = {
    .backend = WP_STORE_SQLITE,
    .migrations = wp_migrations_sqlite,
    .close = lite_close,
    .exec = lite_exec,
    .begin = lite_begin,
    .lock_migrations = lite_lock_migrations,
    .prepare = lite_prepare,
    .finalize = lite_finalize,
    .bind_text = lite_bind_text,
    .bind_int64 = lite_bind_int64,
    .bind_null = lite_bind_null,
    .step = lite_step,
    .col_text = lite_col_text,
    .col_int64 = lite_col_int64,
    .col_isnull = lite_col_isnull,
    .reset = lite_reset,
};

/* The store holds password hashes: create the file private. SQLite gives its -wal and -shm
 * files the database file's mode. */
static int create_private(const char *path)
{
    /* O_EXCL: never open (and so close) an existing store file here, because closing any
     * descriptor of a file drops every POSIX lock this process holds on it, the locks of the
     * other SQLite connections included. */
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno == EEXIST
                   ? 0
                   : wp_error_set(WP_EIO, "cannot open store '%s': %s", path, strerror(errno));
    close(fd);
    return 0;
}

static int open_fail(sqlite3 *db, const char *path)
{
    return wp_error_set(WP_EIO, "cannot open store '%s': %s", path, sqlite3_errmsg(db));
}

int64_t wp_store_sqlite_memory(void)
{
    return (int64_t)sqlite3_memory_used();
}

int wp_db__sqlite_open(wp_store **out, const char *path)
{
    struct wp_sqlite *st = NULL;
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    int err;

    if ((err = create_private(path)) < 0)
        goto out;
    /* NOMUTEX: a connection belongs to one thread at a time (store.h). */
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        err = db ? open_fail(db, path)
                 : wp_error_set(WP_EIO, "cannot open store '%s': %s", path, sqlite3_errstr(rc));
        goto out;
    }
    sqlite3_extended_result_codes(db, 1);
    unsigned busy_ms = wp_test_hooks_get()->sqlite_busy_ms;
    if (!busy_ms)
        busy_ms = BUSY_TIMEOUT_MS;
    sqlite3_busy_timeout(db, (int)busy_ms);
    /* Turning a new file to WAL needs its lock for a moment; sqlite answers BUSY at once, not
     * through the busy handler, when another node is doing the same: try again meanwhile. */
    if (sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &stmt, NULL) != SQLITE_OK) {
        err = open_fail(db, path);
        goto out;
    }
    for (int waited = 0; (rc = sqlite3_step(stmt)) != SQLITE_ROW; waited += 10) {
        if ((rc & 0xff) != SQLITE_BUSY || waited >= (int)busy_ms) {
            err = open_fail(db, path);
            goto out;
        }
        sqlite3_reset(stmt);
        sqlite3_sleep(10);
    }
    const char *mode = (const char *)sqlite3_column_text(stmt, 0);
    if (!mode || strcmp(mode, "wal") != 0) {
        err = wp_error_set(WP_EIO, "cannot open store '%s': journal mode stays '%s', not wal", path,
                           mode ? mode : "");
        goto out;
    }
    /* FULL, not NORMAL: in WAL mode NORMAL may lose the last commits on power loss, and
     * the device protocol acks events only once they are durable (CONTRACT). */
    if (sqlite3_exec(db, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON", NULL, NULL, NULL) !=
        SQLITE_OK) {
        err = open_fail(db, path);
        goto out;
    }
    if (wp_test_hooks_get()->sqlite_not_full &&
        sqlite3_exec(db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) != SQLITE_OK) {
        err = open_fail(db, path);
        goto out;
    }
    /* Asserted, not assumed: read it back (a build or a pragma elsewhere could leave it off). */
    sqlite3_finalize(stmt);
    stmt = NULL;
    if (sqlite3_prepare_v2(db, "PRAGMA synchronous", -1, &stmt, NULL) != SQLITE_OK ||
        sqlite3_step(stmt) != SQLITE_ROW) {
        err = open_fail(db, path);
        goto out;
    }
    if (sqlite3_column_int(stmt, 0) != 2) {
        err = wp_error_set(WP_EIO,
                           "cannot open store '%s': PRAGMA synchronous reads back %d, not 2 "
                           "(FULL): acknowledged writes could be lost on a power cut",
                           path, sqlite3_column_int(stmt, 0));
        goto out;
    }
    if (!(st = calloc(1, sizeof *st))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    st->super.ops = &sqlite_ops;
    st->ckpt = checkpointer_get(path);
    sqlite3_wal_hook(db, wal_hook, st->ckpt);
    st->db = db;
    db = NULL;
    *out = &st->super;
out:
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return err;
}
