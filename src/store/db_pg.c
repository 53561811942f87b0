/* SPDX-License-Identifier: MIT */
/* The PostgreSQL backend of the statement layer: one libpq connection, text parameters. */
#include "store/db.h"
#include "store/migrations.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/testhooks.h"

#include <assert.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Any fixed key works; it only has to be the same on every node ("wpmigrat"). */
#define MIGRATION_LOCK "SELECT pg_advisory_xact_lock(8606223364413415796)"
#define MAX_PARAMS 64
#define WP_PG_CONNECT_TIMEOUT_S "10"

/* A connection the server dropped (a restart, pg_terminate_backend, a network cut) is marked
 * broken by the failure that found it, or before a statement outside a transaction (see
 * revive()), and reset by the next statement that does not belong to a transaction begun on
 * the lost session. Inside a transaction every call fails until the caller's ROLLBACK (which
 * succeeds: the server rolled the transaction back when the session ended), so a transaction is
 * never silently continued on a new session. gen counts sessions: a statement prepared on an
 * earlier one is prepared again before it runs. */
struct wp_pg {
    struct wp_store super;
    PGconn *conn;
    unsigned next_name;
    unsigned gen;
    int in_tx, broken;
};

struct pg_stmt {
    struct wp_stmt super;
    struct wp_pg *pg;
    char name[16];
    char *sql; /* rewritten to $n, to prepare it again on a new session */
    unsigned gen;
    int nparams;
    const char **vals; /* borrowed text or ints[i]; NULL is SQL NULL */
    char (*ints)[24];  /* storage for bound integers */
    PGresult *res;
    int row, nrows;
    int executed;
};

static PGconn *conn_of(wp_store *st)
{
    return ((struct wp_pg *)st)->conn;
}

/* The first line of libpq's message, without the "ERROR:  " the server puts in front. */
static void first_line(char *out, size_t cap, const char *msg)
{
    if (!msg)
        msg = "";
    if (strncmp(msg, "ERROR:  ", 8) == 0)
        msg += 8;
    size_t n = strcspn(msg, "\n");
    snprintf(out, cap, "%.*s", (int)n, msg);
}

/* Map a failed result (or the connection's error when res is NULL) to a WP_E*. Only the
 * primary message is kept: the detail may hold row values (a password hash, say). */
static int fail(PGconn *conn, const PGresult *res)
{
    char msg[300];
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (primary)
        snprintf(msg, sizeof msg, "%s", primary);
    else
        first_line(msg, sizeof msg, PQerrorMessage(conn));
    if (!state)
        state = "";
    /* the session is gone or the server is stopping (class 08: connection exception; 57P01..3:
     * admin or crash shutdown, cannot connect now): not the request's fault, try again later */
    if (PQstatus(conn) == CONNECTION_BAD || strncmp(state, "08", 2) == 0 ||
        strncmp(state, "57P0", 4) == 0)
        return wp_error_set(WP_EUNAVAIL, "postgresql is unavailable: %s", msg);
    if (strcmp(state, "23505") == 0)
        return wp_error_set(WP_EEXISTS, "postgresql: %s", msg);
    if (strcmp(state, "23503") == 0)
        return wp_error_set(WP_ENOTFOUND, "postgresql: %s", msg);
    if (strcmp(state, "23514") == 0 || strcmp(state, "23502") == 0 || strncmp(state, "22", 2) == 0)
        return wp_error_set(WP_EINVAL, "postgresql: %s", msg);
    return wp_error_set(WP_EIO, "postgresql: %s", msg);
}

static void pg_close(wp_store *st)
{
    PQfinish(conn_of(st));
    free(st);
}

/* After a failure: whether it was the connection's. */
static void check_broken(struct wp_pg *pg)
{
    if (PQstatus(pg->conn) == CONNECTION_BAD)
        pg->broken = 1;
}

/* What every session needs before the first statement. */
static int session_setup(struct wp_pg *pg)
{
    PGresult *res;
    int err = 0;
    if (PQsetClientEncoding(pg->conn, "UTF8") != 0)
        return wp_error_set(WP_EIO, "postgresql: cannot set client encoding utf8");
    /* Literals in the migrations are standard SQL: backslashes are plain characters. */
    res = PQexec(pg->conn, "SET standard_conforming_strings = on");
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        err = fail(pg->conn, res);
    PQclear(res);
    return err;
}

/* Before a statement: a broken connection is reset, unless a transaction was open on it.
 * Outside a transaction the socket is read first, without waiting: a session the server ended
 * while it sat idle (a restart, pg_terminate_backend) has left its last message and the end of
 * the stream there, so the statement goes to a new session instead of failing. A statement
 * that fails because the connection broke under it is not sent again: it may have run. */
static int revive(struct wp_pg *pg)
{
    int err;
    for (int i = 0; i < 4 && !pg->in_tx && PQstatus(pg->conn) == CONNECTION_OK; i++) {
        struct pollfd p = {.fd = PQsocket(pg->conn), .events = POLLIN};
        if (p.fd < 0 || poll(&p, 1, 0) <= 0 || !PQconsumeInput(pg->conn))
            break; /* nothing waiting (or the end of the stream, read just now) */
    }
    check_broken(pg);
    if (!pg->broken)
        return 0;
    if (pg->in_tx)
        return wp_error_set(WP_EUNAVAIL, "postgresql: the connection was lost in a transaction");
    PQreset(pg->conn);
    if (PQstatus(pg->conn) != CONNECTION_OK) {
        char msg[300];
        first_line(msg, sizeof msg, PQerrorMessage(pg->conn));
        return wp_error_set(WP_EUNAVAIL,
                            "postgresql: the connection was lost and cannot be reopened: %s", msg);
    }
    pg->broken = 0;
    pg->gen++;
    if ((err = session_setup(pg)) < 0)
        check_broken(pg);
    return err;
}

static int pg_exec(wp_store *st, const char *script)
{
    struct wp_pg *pg = (struct wp_pg *)st;
    int end = strcmp(script, "COMMIT") == 0 || strcmp(script, "ROLLBACK") == 0;
    int err = 0;
    if (pg->broken && strcmp(script, "ROLLBACK") == 0) {
        /* the server ended the transaction with the session: nothing to roll back */
        pg->in_tx = 0;
        revive(pg);
        return 0;
    }
    if ((err = wp_test_hooks_store_op(script)) < 0 || (err = revive(pg)) < 0)
        return err;
    PGresult *res = PQexec(pg->conn, script);
    ExecStatusType status = PQresultStatus(res);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        err = fail(pg->conn, res);
        check_broken(pg);
    } else if (strcmp(script, "COMMIT") == 0 && strcmp(PQcmdStatus(res), "ROLLBACK") == 0) {
        /* COMMIT of a transaction that an error aborted "succeeds" as a ROLLBACK */
        err = wp_error_set(WP_EIO, "postgresql: the transaction was rolled back");
    }
    PQclear(res);
    if (end)
        pg->in_tx = 0;
    else if (err == 0 && strcmp(script, "BEGIN") == 0)
        pg->in_tx = 1;
    return err;
}

static int pg_begin(wp_store *st)
{
    return pg_exec(st, "BEGIN");
}

static int pg_lock_migrations(wp_store *st)
{
    return pg_exec(st, MIGRATION_LOCK);
}

/* Rewrite the portable `?` placeholders to $1..$n, leaving string literals, quoted names and
 * comments alone. PostgreSQL's own `?` operators (jsonb) cannot be used in portable SQL. */
static int rewrite(wp_buf *b, int *nparams, const char *sql)
{
    int n = 0, err = 0;
    const char *p = sql;
    while (*p && err == 0) {
        if (*p == '\'' || *p == '"') {
            const char *end = strchr(p + 1, *p);
            end = end ? end + 1 : p + strlen(p); /* a doubled quote is two literals back to back */
            err = wp_buf_add(b, p, (size_t)(end - p));
            p = end;
        } else if (p[0] == '-' && p[1] == '-') {
            size_t len = strcspn(p, "\n");
            err = wp_buf_add(b, p, len);
            p += len;
        } else if (p[0] == '/' && p[1] == '*') {
            const char *end = strstr(p + 2, "*/");
            end = end ? end + 2 : p + strlen(p);
            err = wp_buf_add(b, p, (size_t)(end - p));
            p = end;
        } else if (*p == '?') {
            err = wp_buf_addf(b, "$%d", ++n);
            p++;
        } else {
            err = wp_buf_addc(b, *p);
            p++;
        }
    }
    *nparams = n;
    return err;
}

static int pg_prepare(wp_store *st, struct wp_stmt **out, const char *sql)
{
    struct wp_pg *pg = (struct wp_pg *)st;
    struct pg_stmt *s = NULL;
    PGresult *res = NULL;
    wp_buf b;
    int nparams = 0, err;

    wp_buf_init(&b, 64 * 1024);
    if ((err = rewrite(&b, &nparams, sql)) < 0)
        goto out;
    if (nparams > MAX_PARAMS) {
        err = wp_error_set(WP_ELIMIT, "postgresql: more than %d parameters", MAX_PARAMS);
        goto out;
    }
    if (!(s = calloc(1, sizeof *s)) ||
        (nparams && (!(s->vals = calloc((size_t)nparams, sizeof *s->vals)) ||
                     !(s->ints = calloc((size_t)nparams, sizeof *s->ints))))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    if (!(s->sql = strdup(b.buf))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    snprintf(s->name, sizeof s->name, "wp_%u", pg->next_name++);
    if ((err = revive(pg)) < 0)
        goto out;
    res = PQprepare(pg->conn, s->name, b.buf, nparams, NULL);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        err = fail(pg->conn, res);
        check_broken(pg);
        goto out;
    }
    s->gen = pg->gen;
    s->pg = pg;
    s->nparams = nparams;
    *out = &s->super;
    s = NULL;
out:
    PQclear(res);
    if (s) {
        free(s->sql);
        free(s->vals);
        free(s->ints);
        free(s);
    }
    wp_buf_release(&b);
    return err;
}

static void pg_finalize(struct wp_stmt *st)
{
    struct pg_stmt *s = (struct pg_stmt *)st;
    /* The server forgets prepared statements with the session; nothing to DEALLOCATE. */
    PQclear(s->res);
    free(s->sql);
    free(s->vals);
    free(s->ints);
    free(s);
}

static int slot(struct pg_stmt *s, int idx)
{
    if (idx < 1 || idx > s->nparams) {
        assert(!"bind index out of range");
        if (s->super.err == 0)
            s->super.err = wp_error_set(WP_EIO, "postgresql: bind index %d out of range", idx);
        return -1;
    }
    return idx - 1;
}

static void pg_bind_text(struct wp_stmt *st, int idx, const char *v)
{
    struct pg_stmt *s = (struct pg_stmt *)st;
    int i = slot(s, idx);
    if (i >= 0)
        s->vals[i] = v;
}

static void pg_bind_int64(struct wp_stmt *st, int idx, int64_t v)
{
    struct pg_stmt *s = (struct pg_stmt *)st;
    int i = slot(s, idx);
    if (i >= 0) {
        snprintf(s->ints[i], sizeof s->ints[i], "%" PRId64, v);
        s->vals[i] = s->ints[i];
    }
}

static void pg_bind_null(struct wp_stmt *st, int idx)
{
    struct pg_stmt *s = (struct pg_stmt *)st;
    int i = slot(s, idx);
    if (i >= 0)
        s->vals[i] = NULL;
}

/* The first step runs the statement and keeps the whole result; later steps walk its rows. */
static int pg_step(struct wp_stmt *st)
{
    struct pg_stmt *s = (struct pg_stmt *)st;
    int injected = wp_test_hooks_store_op(NULL);
    if (injected < 0)
        return injected;
    if (!s->executed) {
        struct wp_pg *pg = s->pg;
        int err;
        s->executed = 1;
        s->nrows = 0;
        if ((err = revive(pg)) < 0)
            return err;
        if (s->gen != pg->gen) { /* prepared on a session that is gone */
            PGresult *res = PQprepare(pg->conn, s->name, s->sql, s->nparams, NULL);
            if (PQresultStatus(res) != PGRES_COMMAND_OK) {
                err = fail(pg->conn, res);
                check_broken(pg);
                PQclear(res);
                return err;
            }
            PQclear(res);
            s->gen = pg->gen;
        }
        s->res = PQexecPrepared(pg->conn, s->name, s->nparams, s->vals, NULL, NULL, 0);
        ExecStatusType status = PQresultStatus(s->res);
        if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
            err = fail(pg->conn, s->res);
            check_broken(pg);
            PQclear(s->res);
            s->res = NULL;
            return err;
        }
        s->nrows = status == PGRES_TUPLES_OK ? PQntuples(s->res) : 0;
        s->row = -1;
    }
    if (s->row + 1 >= s->nrows) {
        s->row = s->nrows;
        return WP_DB_DONE;
    }
    s->row++;
    return WP_DB_ROW;
}

static int on_row(struct pg_stmt *s, int col)
{
    return s->res && s->row >= 0 && s->row < s->nrows && col >= 0 && col < PQnfields(s->res);
}

static const char *pg_col_text(struct wp_stmt *st, int col)
{
    struct pg_stmt *s = (struct pg_stmt *)st;
    assert(on_row(s, col));
    if (!on_row(s, col) || PQgetisnull(s->res, s->row, col))
        return NULL;
    return PQgetvalue(s->res, s->row, col);
}

static int64_t pg_col_int64(struct wp_stmt *st, int col)
{
    const char *v = pg_col_text(st, col);
    return v ? strtoll(v, NULL, 10) : 0;
}

static int pg_col_isnull(struct wp_stmt *st, int col)
{
    return pg_col_text(st, col) == NULL;
}

static void pg_reset(struct wp_stmt *st)
{
    struct pg_stmt *s = (struct pg_stmt *)st;
    PQclear(s->res);
    s->res = NULL;
    s->executed = 0;
    s->row = -1;
    s->nrows = 0;
    for (int i = 0; i < s->nparams; i++)
        s->vals[i] = NULL;
}

static const struct wp_db_ops pg_ops = {
    .backend = WP_STORE_PG,
    .migrations = wp_migrations_pg,
    .close = pg_close,
    .exec = pg_exec,
    .begin = pg_begin,
    .lock_migrations = pg_lock_migrations,
    .prepare = pg_prepare,
    .finalize = pg_finalize,
    .bind_text = pg_bind_text,
    .bind_int64 = pg_bind_int64,
    .bind_null = pg_bind_null,
    .step = pg_step,
    .col_text = pg_col_text,
    .col_int64 = pg_col_int64,
    .col_isnull = pg_col_isnull,
    .reset = pg_reset,
};

/* Library code never prints: drop the server's notices ("relation exists, skipping"). */
static void quiet(void *arg, const char *message)
{
}

/* libpq's connection errors can quote parts of the conninfo: blank out the password. */
static void redact(char *msg, const char *password)
{
    size_t n = password ? strlen(password) : 0;
    if (n == 0)
        return;
    for (char *p = strstr(msg, password); p; p = strstr(p + n, password))
        memset(p, '*', n);
}

int wp_db__pg_open(wp_store **out, const char *conninfo)
{
    struct wp_pg *st = NULL;
    PGconn *conn = NULL;
    PQconninfoOption *opts = NULL;
    char *parse_err = NULL;
    const char *password = NULL;
    char msg[300];
    int err = 0;

    /* Parse first so a malformed url is reported without echoing any of it. */
    if (!(opts = PQconninfoParse(conninfo, &parse_err))) {
        err = wp_error_set(parse_err ? WP_EINVAL : WP_ENOMEM,
                           parse_err ? "invalid postgresql url" : "out of memory");
        goto out;
    }
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (strcmp(o->keyword, "password") == 0)
            password = o->val;

    /* A bound on connecting (and on each PQreset, which reuses these options) unless the url
     * sets its own: a host that takes the packets but never answers must not hold a request,
     * or the jobs thread, for ever; it is answered 503 like a refused connection. Later
     * keywords win, so the url's expansion comes last. */
    static const char *const keys[] = {"connect_timeout", "dbname", NULL};
    const char *vals[] = {WP_PG_CONNECT_TIMEOUT_S, conninfo, NULL};
    conn = PQconnectdbParams(keys, vals, 1);
    if (!conn) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        first_line(msg, sizeof msg, PQerrorMessage(conn));
        redact(msg, password);
        err = wp_error_set(WP_EUNAVAIL, "cannot connect to postgresql: %s", msg);
        goto out;
    }
    PQsetNoticeProcessor(conn, quiet, NULL);
    if (!(st = calloc(1, sizeof *st))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    st->super.ops = &pg_ops;
    st->conn = conn;
    conn = NULL;
    if ((err = session_setup(st)) < 0)
        goto out;
    *out = &st->super;
    st = NULL;
out:
    if (st)
        pg_close(&st->super);
    PQfinish(conn);
    PQconninfoFree(opts);
    PQfreemem(parse_err);
    return err;
}

/* --- COPY, for backup and restore (backup.c) ------------------------------------------- */

int wp_db__pg_copy_out(wp_store *st, const char *sql, int (*data)(void *ctx, const char *p, size_t n),
                       void *ctx, int64_t *rows)
{
    PGconn *conn = conn_of(st);
    PGresult *res = PQexec(conn, sql);
    int err = 0;
    *rows = 0;
    if (PQresultStatus(res) != PGRES_COPY_OUT) {
        err = fail(conn, res);
        PQclear(res);
        return err;
    }
    PQclear(res);
    for (;;) {
        char *row = NULL;
        int n = PQgetCopyData(conn, &row, 0);
        if (n == -1)
            break;
        if (n < 0) {
            err = fail(conn, NULL);
            break;
        }
        if (err == 0) {
            (*rows)++;
            err = data(ctx, row, (size_t)n);
        }
        PQfreemem(row);
    }
    while ((res = PQgetResult(conn)) != NULL) {
        if (err == 0 && PQresultStatus(res) != PGRES_COMMAND_OK)
            err = fail(conn, res);
        PQclear(res);
    }
    return err;
}

int wp_db__pg_copy_in(wp_store *st, const char *sql, long (*read)(void *ctx, char *buf, size_t cap),
                      void *ctx)
{
    PGconn *conn = conn_of(st);
    PGresult *res = PQexec(conn, sql);
    char buf[65536];
    int err = 0;
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        err = fail(conn, res);
        PQclear(res);
        return err;
    }
    PQclear(res);
    for (;;) {
        long n = read(ctx, buf, sizeof buf);
        if (n < 0) {
            err = (int)n;
            break;
        }
        if (n == 0)
            break;
        if (PQputCopyData(conn, buf, (int)n) != 1) {
            err = fail(conn, NULL);
            break;
        }
    }
    if (PQputCopyEnd(conn, err < 0 ? "restore aborted" : NULL) != 1 && err == 0)
        err = fail(conn, NULL);
    while ((res = PQgetResult(conn)) != NULL) {
        if (err == 0 && PQresultStatus(res) != PGRES_COMMAND_OK)
            err = fail(conn, res);
        PQclear(res);
    }
    return err;
}
