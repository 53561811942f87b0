/* SPDX-License-Identifier: MIT */
/* libwpagent's handle: opening the directory and its database, errors, meta state, status. */
#include "agent/agent_int.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/testhooks.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The outbox schema. seq is assigned from meta.next_seq, never from MAX(seq): a seq is never
 * reused, also after its row is deleted. event_media links an event to the media it names, so
 * sync uploads those first and keeps each file until no waiting event names it. */
static const char schema[] =
    "CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, body TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS media (hex TEXT PRIMARY KEY, size INTEGER NOT NULL,"
    " uploaded INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS event_media (seq INTEGER NOT NULL, hex TEXT NOT NULL,"
    " PRIMARY KEY (seq, hex)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS event_media_hex ON event_media (hex);"
    /* what the server must hear that is not an event (notice.c): kept until it is sent */
    "CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " path TEXT NOT NULL, body TEXT NOT NULL);";

const char *wp_agent_strerror(int code)
{
    switch (code) {
    case WP_AGENT_OK: return "success";
    case WP_AGENT_EINVAL: return "invalid argument";
    case WP_AGENT_ENOMEM: return "out of memory";
    case WP_AGENT_EIO: return "local storage failure";
    case WP_AGENT_ENET: return "server unreachable";
    case WP_AGENT_EAUTH: return "refused by the server";
    case WP_AGENT_EFULL: return "outbox full";
    case WP_AGENT_ENOTENROLLED: return "not enrolled";
    case WP_AGENT_EEXISTS: return "already enrolled";
    case WP_AGENT_ENOPOLICY: return "no policy yet";
    case WP_AGENT_EPROTO: return "unexpected answer from the server";
    default: return "unknown error";
    }
}

int wp_agent__fail(wp_agent *a, int code, const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&a->err_mu);
    va_start(ap, fmt);
    vsnprintf(a->msg, sizeof a->msg, fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&a->err_mu);
    return code;
}

int wp_agent__from_wp(wp_agent *a, int wp_err)
{
    int code;
    switch (wp_err) {
    case WP_ENOMEM: code = WP_AGENT_ENOMEM; break;
    case WP_EIO: code = WP_AGENT_EIO; break;
    case WP_EAUTH: code = WP_AGENT_EAUTH; break;
    default: code = WP_AGENT_EINVAL; break;
    }
    return wp_agent__fail(a, code, "%s", wp_error_last());
}

int wp_agent__db_fail(wp_agent *a, const char *what)
{
    int ec = sqlite3_errcode(a->db);
    int code = ec == SQLITE_FULL ? WP_AGENT_EFULL : ec == SQLITE_NOMEM ? WP_AGENT_ENOMEM
                                                                       : WP_AGENT_EIO;
    return wp_agent__fail(a, code, "%s: %s", what, sqlite3_errmsg(a->db));
}

size_t wp_agent_last_error(wp_agent *a, char *buf, size_t size)
{
    pthread_mutex_lock(&a->err_mu);
    int n = snprintf(buf, size, "%s", a->msg);
    pthread_mutex_unlock(&a->err_mu);
    return n < 0 ? 0 : (size_t)n;
}

void wp_agent_string_free(char *s)
{
    free(s);
}

static int exec(wp_agent *a, const char *sql, const char *what)
{
    return sqlite3_exec(a->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : wp_agent__db_fail(a, what);
}

int wp_agent__begin(wp_agent *a)
{
    return exec(a, "BEGIN IMMEDIATE", "cannot start a transaction");
}

int wp_agent__commit(wp_agent *a)
{
    int err = exec(a, "COMMIT", "cannot commit");
    if (err < 0)
        wp_agent__rollback(a);
    return err;
}

void wp_agent__rollback(wp_agent *a)
{
    if (!sqlite3_get_autocommit(a->db))
        sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
}

static int meta_set(wp_agent *a, const char *key, const char *text, int64_t num, int is_text)
{
    sqlite3_stmt *s = NULL;
    int err = 0;
    if (sqlite3_prepare_v2(a->db, "INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)", -1, &s,
                           NULL) != SQLITE_OK)
        return wp_agent__db_fail(a, "cannot write the agent's state");
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    if (is_text)
        sqlite3_bind_text(s, 2, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(s, 2, num);
    if (sqlite3_step(s) != SQLITE_DONE)
        err = wp_agent__db_fail(a, "cannot write the agent's state");
    sqlite3_finalize(s);
    return err;
}

int wp_agent__meta_set_text(wp_agent *a, const char *key, const char *value)
{
    return meta_set(a, key, value, 0, 1);
}

int wp_agent__meta_set_int(wp_agent *a, const char *key, int64_t value)
{
    return meta_set(a, key, NULL, value, 0);
}

int wp_agent__media_path(wp_agent *a, char *out, size_t size, const char *hex)
{
    int n = snprintf(out, size, "%s/media/%s", a->dir, hex);
    if (n < 0 || (size_t)n >= size)
        return wp_agent__fail(a, WP_AGENT_EINVAL, "directory name '%s' is too long", a->dir);
    return 0;
}

/* Load the meta table and the counters into the handle. */
static int load_state(wp_agent *a, char **lexicon, size_t *lexicon_len,
                      struct wp_agent_field *policy)
{
    sqlite3_stmt *s = NULL;
    int err = 0;
    a->next_seq = 1;
    if (sqlite3_prepare_v2(a->db, "SELECT k, v FROM meta", -1, &s, NULL) != SQLITE_OK)
        return wp_agent__db_fail(a, "cannot read the agent's state");
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(s, 0);
        const char *v = (const char *)sqlite3_column_text(s, 1);
        int64_t n = sqlite3_column_int64(s, 1);
        if (!k)
            continue;
        if (!strcmp(k, "next_seq"))
            a->next_seq = n;
        else if (!strcmp(k, "acked_seq"))
            a->acked_seq = n;
        else if (!strcmp(k, "rejected"))
            a->rejected = (uint64_t)n;
        else if (!strcmp(k, "failures"))
            a->failures = (unsigned)n;
        else if (!strcmp(k, "retry_after_ms"))
            a->retry_after_ms = n > 0 && n <= UINT32_MAX ? (unsigned)n : 0;
        else if (!strcmp(k, "policy_version"))
            a->policy_version = n;
        else if (!strcmp(k, "device_id") && v)
            snprintf(a->device_id, sizeof a->device_id, "%s", v);
        else if (!strcmp(k, "token") && v)
            snprintf(a->token, sizeof a->token, "%s", v);
        else if (!strcmp(k, "server") && v)
            snprintf(a->server, sizeof a->server, "%s", v);
        else if (!strcmp(k, "fence_state"))
            a->field.state = n >= WP_AGENT_FENCE_UNKNOWN && n <= WP_AGENT_FENCE_OUTSIDE ? (int)n : 0;
        else if (!strcmp(k, "fence_since_us"))
            a->field.since_us = n;
        else if (!strcmp(k, "fence_id") && v)
            snprintf(a->field.fence_id, sizeof a->field.fence_id, "%s", v);
        else if (!strcmp(k, "fence_name") && v)
            snprintf(a->field.fence_name, sizeof a->field.fence_name, "%s", v);
        else if (!strcmp(k, "fence_last_in_id") && v)
            snprintf(a->field.last_in_id, sizeof a->field.last_in_id, "%s", v);
        else if (!strcmp(k, "fence_last_in_name") && v)
            snprintf(a->field.last_in_name, sizeof a->field.last_in_name, "%s", v);
        else if (!strcmp(k, "policy_json") && v) {
            /* the field part of the offline policy: fences, hours, the off-duty rule */
            struct wp_agent_field nf;
            if (wp_agent__field_parse(&nf, v, (size_t)sqlite3_column_bytes(s, 1)) == 0)
                *policy = nf;
        } else if (!strcmp(k, "policy_etag") && v)
            snprintf(a->etag, sizeof a->etag, "%s", v);
        else if (!strcmp(k, "policy_lexicon") && v && !*lexicon) {
            size_t len = (size_t)sqlite3_column_bytes(s, 1);
            if (!(*lexicon = malloc(len + 1))) {
                err = wp_agent__fail(a, WP_AGENT_ENOMEM, "out of memory");
                break;
            }
            memcpy(*lexicon, v, len + 1);
            *lexicon_len = len;
        }
    }
    sqlite3_finalize(s);
    if (err < 0)
        return err;
    s = NULL;
    if (sqlite3_prepare_v2(a->db,
                           "SELECT (SELECT COUNT(*) FROM outbox),"
                           " (SELECT COALESCE(SUM(LENGTH(CAST(body AS BLOB))), 0) FROM outbox),"
                           " (SELECT COALESCE(SUM(size), 0) FROM media),"
                           " (SELECT COUNT(*) FROM media WHERE uploaded = 0),"
                           " (SELECT COALESCE(MAX(seq), 0) FROM outbox)",
                           -1, &s, NULL) != SQLITE_OK ||
        sqlite3_step(s) != SQLITE_ROW) {
        err = wp_agent__db_fail(a, "cannot count the outbox");
    } else {
        a->outbox_events = (uint64_t)sqlite3_column_int64(s, 0);
        a->outbox_bytes = (uint64_t)sqlite3_column_int64(s, 1) + (uint64_t)sqlite3_column_int64(s, 2);
        a->media_pending = (uint64_t)sqlite3_column_int64(s, 3);
        /* Counters a damaged, restored or hand-edited file holds are not believed past what
         * the outbox shows: a seq is never handed out twice (the next event would collide
         * with a stored one and every record fail), nor below 1. */
        int64_t max_seq = sqlite3_column_int64(s, 4);
        if (a->acked_seq < 0)
            a->acked_seq = 0;
        if (a->acked_seq >= WP_AGENT_SEQ_MAX || max_seq >= WP_AGENT_SEQ_MAX ||
            a->next_seq > WP_AGENT_SEQ_MAX) {
            err = wp_agent__fail(a, WP_AGENT_EIO,
                                 "the agent's state is damaged: a seq past %lld (the server's"
                                 " largest)",
                                 (long long)WP_AGENT_SEQ_MAX);
        } else {
            if (a->next_seq <= a->acked_seq)
                a->next_seq = a->acked_seq + 1;
            if (a->next_seq <= max_seq)
                a->next_seq = max_seq + 1;
        }
    }
    sqlite3_finalize(s);
    return err;
}

/* mkdir -p for the agent's directory and its media/ (0700: the token lives there). */
static int make_dirs(wp_agent *a)
{
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/media", a->dir);
    if (n < 0 || (size_t)n >= sizeof path)
        return wp_agent__fail(a, WP_AGENT_EINVAL, "directory name '%s' is too long", a->dir);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0700) < 0 && errno != EEXIST)
            return wp_agent__fail(a, WP_AGENT_EIO, "cannot create '%s': %s", path,
                                  strerror(errno));
        *p = '/';
    }
    if (mkdir(path, 0700) < 0 && errno != EEXIST)
        return wp_agent__fail(a, WP_AGENT_EIO, "cannot create '%s': %s", path, strerror(errno));
    return 0;
}

static int open_db(wp_agent *a)
{
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/agent.db", a->dir);
    if (n < 0 || (size_t)n >= sizeof path)
        return wp_agent__fail(a, WP_AGENT_EINVAL, "directory name '%s' is too long", a->dir);
    /* Created 0600 before SQLite opens it: SQLite gives its -wal and -shm files the database
     * file's mode, and the token lives in it. No umask games: a library must not touch them. */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return wp_agent__fail(a, WP_AGENT_EIO, "cannot open '%s': %s", path, strerror(errno));
    close(fd);
    if (sqlite3_open_v2(path, &a->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK)
        return wp_agent__fail(a, WP_AGENT_EIO, "cannot open '%s': %s", path,
                              a->db ? sqlite3_errmsg(a->db) : "out of memory");
    sqlite3_busy_timeout(a->db, 10000);
    sqlite3_stmt *s = NULL;
    const char *mode = NULL;
    if (sqlite3_prepare_v2(a->db, "PRAGMA journal_mode=WAL", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        mode = (const char *)sqlite3_column_text(s, 0);
    int wal = mode && !strcmp(mode, "wal");
    sqlite3_finalize(s);
    if (!wal)
        return wp_agent__db_fail(a, "cannot switch the outbox to WAL mode");
    /* FULL: in WAL mode NORMAL may lose the last commits on power loss; an event the app was
     * told is recorded must survive it. */
    int err = exec(a, "PRAGMA synchronous=FULL; PRAGMA journal_size_limit=4194304;",
                   "cannot set up the outbox");
    if (err < 0)
        return err;
    if (wp_test_hooks_get()->sqlite_not_full &&
        (err = exec(a, "PRAGMA synchronous=NORMAL", "cannot set up the outbox")) < 0)
        return err;
    /* Asserted, not assumed: read it back. The message is also the thread's last error, as
     * the handle is gone once wp_agent_new fails. */
    int level = -1;
    if (sqlite3_prepare_v2(a->db, "PRAGMA synchronous", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        level = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    if (level != 2) {
        wp_error_set(WP_EIO,
                     "'%s': PRAGMA synchronous reads back %d, not 2 (FULL): recorded events "
                     "could be lost on a power cut",
                     path, level);
        return wp_agent__fail(a, WP_AGENT_EIO, "%s", wp_error_last());
    }
    return exec(a, schema, "cannot create the outbox");
}

int wp_agent_new(wp_agent **out, const wp_agent_options *opts)
{
    wp_agent_transport tr = {0};
    char *lexicon = NULL;
    size_t lexicon_len = 0;
    struct wp_agent_field field = {0};
    int err;

    if (opts && opts->transport)
        tr = *opts->transport;
    wp_agent *a = calloc(1, sizeof *a);
    if (!a) {
        if (tr.free)
            tr.free(tr.ctx);
        return WP_AGENT_ENOMEM;
    }
    pthread_mutex_init(&a->net_mu, NULL);
    pthread_mutex_init(&a->mu, NULL);
    pthread_mutex_init(&a->check_mu, NULL);
    pthread_mutex_init(&a->err_mu, NULL);
    wp_scan_result_init(&a->result);
    wp_buf_init(&a->masked, 4 * (size_t)WP_AGENT_TEXT_MAX + 16);
    a->tr = tr;
    if (!opts || !opts->dir || !*opts->dir) {
        err = WP_AGENT_EINVAL;
        goto out;
    }
    a->o = *opts;
    a->o.transport = NULL;
    a->o.dir = NULL;
    if (!a->o.max_outbox_bytes)
        a->o.max_outbox_bytes = 64u << 20;
    if (!a->o.batch_max)
        a->o.batch_max = 100;
    if (!a->o.max_attempts)
        a->o.max_attempts = 5;
    if (!a->o.backoff_base_ms)
        a->o.backoff_base_ms = 500;
    if (!a->o.backoff_max_ms)
        a->o.backoff_max_ms = 300000;
    if (!a->o.timeout_ms)
        a->o.timeout_ms = 30000;
    if (a->o.batch_max > WP_AGENT_BATCH_LIMIT || a->o.backoff_base_ms > a->o.backoff_max_ms) {
        err = WP_AGENT_EINVAL;
        goto out;
    }
    if (!(a->dir = strdup(opts->dir))) {
        err = WP_AGENT_ENOMEM;
        goto out;
    }
    if (!a->tr.send && (err = wp_agent_transport_curl(&a->tr)) < 0)
        goto out;
    if ((err = make_dirs(a)) < 0 || (err = open_db(a)) < 0 ||
        (err = load_state(a, &lexicon, &lexicon_len, &field)) < 0)
        goto out;
    if (field.have_policy)
        wp_agent__field_install(a, &field); /* after the state: it keeps it */
    /* A cached policy that no longer compiles (an older engine's lexicon) leaves check without a
     * scanner until the next sync fetches one: check answers ENOPOLICY, recording goes on. */
    if (lexicon)
        (void)wp_agent__policy_install(a, lexicon, lexicon_len);
    err = 0;
out:
    free(lexicon);
    wp_agent__field_release(&field);
    if (err < 0) {
        wp_agent_free(a);
        return err;
    }
    *out = a;
    return 0;
}

void wp_agent_free(wp_agent *a)
{
    if (!a)
        return;
    if (a->db)
        sqlite3_close_v2(a->db);
    if (a->tr.free)
        a->tr.free(a->tr.ctx);
    wp_scanner_unref(a->scanner);
    wp_scan_result_release(&a->result);
    wp_buf_release(&a->masked);
    wp_agent__field_release(&a->field);
    /* the token is a secret: do not leave it in freed memory */
    memset(a->token, 0, sizeof a->token);
    pthread_mutex_destroy(&a->net_mu);
    pthread_mutex_destroy(&a->mu);
    pthread_mutex_destroy(&a->check_mu);
    pthread_mutex_destroy(&a->err_mu);
    free(a->dir);
    free(a);
}

int wp_agent_status_get(wp_agent *a, wp_agent_status *out)
{
    sqlite3_stmt *s = NULL;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&a->mu);
    out->enrolled = a->token[0] != '\0';
    snprintf(out->device_id, sizeof out->device_id, "%s", a->device_id);
    snprintf(out->server, sizeof out->server, "%s", a->server);
    out->next_seq = a->next_seq;
    out->acked_seq = a->acked_seq;
    out->outbox_events = a->outbox_events;
    out->outbox_bytes = a->outbox_bytes;
    out->media_pending = a->media_pending;
    out->rejected = a->rejected;
    out->policy_version = a->policy_version;
    out->failures = a->failures;
    out->retry_after_ms = a->retry_after_ms;
    const struct wp_agent_field *f = &a->field;
    snprintf(out->locations_off_duty, sizeof out->locations_off_duty, "%s",
             f->keep ? "keep" : "drop");
    out->on_duty = f->have_hours ? wp_agent__field_on_duty(f, wp_time_now_us()) : -1;
    snprintf(out->time_zone, sizeof out->time_zone, "%s", f->have_hours ? f->zone : "");
    out->fences = (unsigned)f->n;
    out->fence_state = f->state;
    out->fence_since_us = f->state ? f->since_us : 0;
    snprintf(out->fence_id, sizeof out->fence_id, "%s", f->fence_id);
    snprintf(out->fence_name, sizeof out->fence_name, "%s", f->fence_name);
    if (sqlite3_prepare_v2(a->db, "SELECT v FROM meta WHERE k = 'last_error'", -1, &s, NULL) ==
            SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
        snprintf(out->last_error, sizeof out->last_error, "%s", sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    s = NULL;
    if (sqlite3_prepare_v2(a->db,
                           "SELECT (SELECT count(*) FROM notes),"
                           " (SELECT v FROM meta WHERE k = 'notes_refused')",
                           -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW) {
        out->notes_pending = (uint64_t)sqlite3_column_int64(s, 0);
        out->notes_refused = (uint64_t)sqlite3_column_int64(s, 1);
    }
    sqlite3_finalize(s);
    pthread_mutex_unlock(&a->mu);
    return 0;
}
