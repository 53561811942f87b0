/* SPDX-License-Identifier: MIT */
/* Many nodes on one PostgreSQL: the jobs' leader lock, the change notices and their listener.
 * PostgreSQL's own SQL lives here rather than in db_pg.c, which is the statement layer only;
 * on SQLite each entry point is a no-op (one node). */
#include "store/cluster.h"
#include "store/db.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/log.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 8000
#define PAYLOAD_MAX 128

int wp_store_cluster_lead(wp_store *st, int64_t key, int *leading)
{
    struct wp_stmt *s = NULL;
    int err;
    *leading = 0;
    if (wp_store_backend(st) != WP_STORE_PG) {
        *leading = 1;
        return 0;
    }
    /* held by this session already (a second pg_try_advisory_lock would count it twice), else
     * try: a session that replaced a lost one takes it only when nobody else has */
    if ((err = wp_db_prepare(st, &s,
                             "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_locks WHERE locktype ="
                             " 'advisory' AND pid = pg_backend_pid() AND granted AND objsubid = 1"
                             " AND ((classid::bigint << 32) | objid::bigint) = CAST(? AS BIGINT))"
                             " THEN 1 WHEN pg_try_advisory_lock(CAST(? AS BIGINT)) THEN 1"
                             " ELSE 0 END")) < 0)
        return err;
    wp_db_bind_int64(s, 1, key);
    wp_db_bind_int64(s, 2, key);
    if ((err = wp_db_step(s)) == WP_DB_ROW) {
        *leading = wp_db_col_int64(s, 0) == 1;
        err = 0;
    } else if (err == WP_DB_DONE) {
        err = wp_error_set(WP_EIO, "the leader lock's query gave no row");
    }
    wp_db_done(s);
    return err;
}

int wp_store__notify(wp_store *st, const char *tenant_id, const char *what)
{
    char payload[PAYLOAD_MAX];
    if (wp_store_backend(st) != WP_STORE_PG)
        return 0;
    snprintf(payload, sizeof payload, "%s:%s", tenant_id, what);
    return wp_db_run(st, "SELECT pg_notify('" WP_CLUSTER_CHANNEL "', CAST(? AS TEXT))", "t",
                     payload);
}

/* --- the listener ------------------------------------------------------------------------- */

struct wp_store_listener {
    char *conninfo;
    int log_fd;
    wp_store_change_fn fn;
    void *arg;
    int stop_pipe[2]; /* a byte on [1] ends the thread's poll() */
    pthread_t thread;
    _Atomic int up, stop;
    _Atomic uint64_t notices;
};

static void log_line(wp_store_listener *l, const char *level, const char *state, const char *msg)
{
    wp_buf line;
    if (l->log_fd < 0)
        return;
    wp_log_start(&line, level, "cluster_listen");
    wp_log_add(&line, "state", state);
    if (msg)
        wp_log_addn(&line, "error_msg", msg, 200);
    wp_log_end(&line, l->log_fd);
}

/* Wait ms or until stopped. 1 when stopped. */
static int nap(wp_store_listener *l, int ms)
{
    struct pollfd p = {.fd = l->stop_pipe[0], .events = POLLIN};
    if (poll(&p, 1, ms) > 0 || atomic_load(&l->stop))
        return 1;
    return 0;
}

/* The first line of libpq's message. */
static void conn_error(char *out, size_t cap, PGconn *c)
{
    const char *m = c ? PQerrorMessage(c) : "out of memory";
    snprintf(out, cap, "%.*s", (int)strcspn(m, "\n"), m);
}

static PGconn *listen_conn(wp_store_listener *l, char *why, size_t cap)
{
    /* named, so that an operator (or a test) can tell each node's listener in pg_stat_activity */
    char name[64];
    snprintf(name, sizeof name, "workphone listener %ld", (long)getpid());
    const char *keys[] = {"dbname", "application_name", NULL};
    const char *vals[] = {l->conninfo, name, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        conn_error(why, cap, c);
        PQfinish(c);
        return NULL;
    }
    PGresult *r = PQexec(c, "LISTEN " WP_CLUSTER_CHANNEL);
    int ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) {
        conn_error(why, cap, c);
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* Hand each notice received to fn. */
static void deliver(wp_store_listener *l, PGconn *c)
{
    PGnotify *n;
    while ((n = PQnotifies(c))) {
        char tenant[PAYLOAD_MAX];
        const char *colon = strchr(n->extra, ':');
        if (colon && (size_t)(colon - n->extra) < sizeof tenant) {
            memcpy(tenant, n->extra, (size_t)(colon - n->extra));
            tenant[colon - n->extra] = '\0';
            l->fn(l->arg, tenant, colon + 1);
        }
        atomic_fetch_add(&l->notices, 1);
        PQfreemem(n);
    }
}

static void *listen_loop(void *arg)
{
    wp_store_listener *l = arg;
    int backoff = BACKOFF_MIN_MS, lost_logged = 0;
    char why[300];

    while (!atomic_load(&l->stop)) {
        PGconn *c = listen_conn(l, why, sizeof why);
        if (!c) {
            if (!lost_logged)
                log_line(l, "error", "down", why);
            lost_logged = 1;
            if (nap(l, backoff))
                break;
            backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
            continue;
        }
        backoff = BACKOFF_MIN_MS;
        lost_logged = 0;
        atomic_store(&l->up, 1);
        log_line(l, "info", "listening", NULL);
        l->fn(l->arg, NULL, NULL); /* notices may have been missed before this session */
        for (;;) {
            struct pollfd p[2] = {{.fd = PQsocket(c), .events = POLLIN},
                                  {.fd = l->stop_pipe[0], .events = POLLIN}};
            int r = poll(p, 2, 5000);
            if (atomic_load(&l->stop) || p[1].revents)
                break;
            if (r < 0 && errno == EINTR)
                continue;
            if (r == 0) {
                /* quiet: make sure the session is still there (a cut network says nothing) */
                PGresult *res = PQexec(c, "SELECT 1");
                int ok = res && PQresultStatus(res) == PGRES_TUPLES_OK;
                PQclear(res);
                if (!ok)
                    break;
                deliver(l, c);
                continue;
            }
            if (r < 0 || !PQconsumeInput(c) || PQstatus(c) != CONNECTION_OK)
                break;
            deliver(l, c);
        }
        atomic_store(&l->up, 0);
        if (!atomic_load(&l->stop)) {
            conn_error(why, sizeof why, c);
            log_line(l, "error", "lost", why);
            lost_logged = 1;
        }
        PQfinish(c);
    }
    return NULL;
}

int wp_store_listener_new(wp_store_listener **out, const char *db_url, int log_fd,
                          wp_store_change_fn fn, void *arg)
{
    *out = NULL;
    if (!db_url || !*db_url)
        return 0;
    wp_store_listener *l = calloc(1, sizeof *l);
    if (!l || !(l->conninfo = strdup(db_url))) {
        free(l);
        return wp_error_set(WP_ENOMEM, "out of memory");
    }
    l->log_fd = log_fd;
    l->fn = fn;
    l->arg = arg;
    if (pipe(l->stop_pipe) != 0) {
        free(l->conninfo);
        free(l);
        return wp_error_set(WP_EIO, "cannot make the listener's pipe: %s", strerror(errno));
    }
    fcntl(l->stop_pipe[0], F_SETFD, FD_CLOEXEC);
    fcntl(l->stop_pipe[1], F_SETFD, FD_CLOEXEC);
    if (pthread_create(&l->thread, NULL, listen_loop, l) != 0) {
        close(l->stop_pipe[0]);
        close(l->stop_pipe[1]);
        free(l->conninfo);
        free(l);
        return wp_error_set(WP_EIO, "cannot start the listener's thread");
    }
    *out = l;
    return 0;
}

int wp_store_listener_up(wp_store_listener *l)
{
    return l && atomic_load(&l->up);
}

uint64_t wp_store_listener_notices(wp_store_listener *l)
{
    return l ? atomic_load(&l->notices) : 0;
}

void wp_store_listener_free(wp_store_listener *l)
{
    if (!l)
        return;
    atomic_store(&l->stop, 1);
    ssize_t w = write(l->stop_pipe[1], "x", 1);
    (void)w;
    pthread_join(l->thread, NULL);
    close(l->stop_pipe[0]);
    close(l->stop_pipe[1]);
    free(l->conninfo);
    free(l);
}
