/* SPDX-License-Identifier: MIT */
/* Talking to the server (CONTRACT §4): enrollment, batches of events with acked_seq, media by
 * hash, the policy with ETags, and the retry loop with exponential backoff and jitter. */
#include "agent/agent_int.h"
#include "util/json.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

struct wp_agent_response {
    int status;
    unsigned retry_after_s;   /* its Retry-After in seconds (an HTTP-date is not used); 0: none */
    int err;                  /* set by wp_agent_response_error */
    char why[160];            /* its reason */
    char etag[WP_AGENT_ETAG_MAX];
    wp_buf body;
};

int wp_agent_response_status(wp_agent_response *r, int http_status)
{
    r->status = http_status;
    return 0;
}

int wp_agent_response_header(wp_agent_response *r, const char *name, const char *value)
{
    if (name && value && !strcasecmp(name, "ETag"))
        snprintf(r->etag, sizeof r->etag, "%s", value);
    if (name && value && !strcasecmp(name, "Retry-After")) {
        unsigned long s = 0;
        const char *p = value;
        while (*p == ' ' || *p == '\t')
            p++;
        for (; *p >= '0' && *p <= '9'; p++)
            if ((s = s * 10 + (unsigned long)(*p - '0')) > WP_AGENT_RETRY_AFTER_MAX_S)
                s = WP_AGENT_RETRY_AFTER_MAX_S;
        r->retry_after_s = (unsigned)s;
    }
    return 0;
}

int wp_agent_response_body(wp_agent_response *r, const void *data, size_t len)
{
    if (wp_buf_add(&r->body, data, len) < 0)
        return wp_agent_response_error(r, WP_AGENT_EPROTO, "the answer is too large");
    return 0;
}

int wp_agent_response_error(wp_agent_response *r, int code, const char *why)
{
    r->err = code;
    snprintf(r->why, sizeof r->why, "%s", why ? why : "");
    return code;
}

static void response_init(wp_agent_response *r)
{
    memset(r, 0, sizeof *r);
    wp_buf_init(&r->body, WP_AGENT_REPLY_MAX);
}

/* One request to <server><path>. Returns 0 with r filled for any HTTP status the caller
 * expects (2xx, 304); maps the others: 401/403 → EAUTH; 5xx, 408, 429, no answer → ENET
 * (with a Retry-After, the least wait before the next attempt); other 4xx → EPROTO, with the
 * server's error message. */
static int http(wp_agent *a, wp_agent_response *r, const char *method, const char *path,
                const char *ctype, const void *body, size_t len, const char *file,
                const char *if_none_match)
{
    char url[1024], auth[160], ct[96], inm[WP_AGENT_ETAG_MAX + 32];
    const char *headers[3];
    size_t nh = 0;
    int n;

    pthread_mutex_lock(&a->mu);
    n = snprintf(url, sizeof url, "%s%s", a->server, path);
    if (a->token[0]) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", a->token);
        headers[nh++] = auth;
    }
    pthread_mutex_unlock(&a->mu);
    if (n < 0 || (size_t)n >= sizeof url)
        return wp_agent__fail(a, WP_AGENT_EINVAL, "server url is too long");
    if (ctype) {
        snprintf(ct, sizeof ct, "Content-Type: %s", ctype);
        headers[nh++] = ct;
    }
    if (if_none_match && *if_none_match) {
        snprintf(inm, sizeof inm, "If-None-Match: %s", if_none_match);
        headers[nh++] = inm;
    }
    wp_agent_request req = {method, url, headers, nh, body, file, len, a->o.timeout_ms};
    int err = a->tr.send(a->tr.ctx, &req, r);
    sodium_memzero(auth, sizeof auth);
    if (err < 0 || r->err < 0) {
        if (err >= 0)
            err = r->err;
        return wp_agent__fail(a, err, "%s %s: %s", method, path,
                              r->why[0] ? r->why : wp_agent_strerror(err));
    }
    if ((r->status >= 200 && r->status < 300) || r->status == 304)
        return 0;
    /* the server's {"error": {"message"}}, when there is one */
    json_t *j = json_loadb(r->body.buf, r->body.len, 0, NULL);
    const char *msg = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    char why[200];
    snprintf(why, sizeof why, "%s", msg ? msg : "no explanation");
    json_decref(j);
    if (r->status == 401 || r->status == 403)
        err = WP_AGENT_EAUTH;
    else if (r->status >= 500 || r->status == 408 || r->status == 429 || r->status == 0)
        err = WP_AGENT_ENET;
    else
        err = WP_AGENT_EPROTO;
    /* a server that says when to come back (503 of a full disk, 429) is not asked before */
    if (err == WP_AGENT_ENET && r->retry_after_s) {
        pthread_mutex_lock(&a->mu);
        a->server_wait_ms = r->retry_after_s * 1000u;
        pthread_mutex_unlock(&a->mu);
    }
    return wp_agent__fail(a, err, "%s %s: HTTP %d: %s", method, path, r->status, why);
}

int wp_agent__post_json(wp_agent *a, const char *path, const char *body)
{
    wp_agent_response r;
    response_init(&r);
    int err = http(a, &r, "POST", path, "application/json", body, strlen(body), NULL, NULL);
    wp_buf_release(&r.body);
    return err;
}

/* --- policy -------------------------------------------------------------------------------- */

static int policy_refresh(wp_agent *a)
{
    wp_agent_response r;
    char etag[WP_AGENT_ETAG_MAX];
    struct wp_agent_field field = {0};
    json_t *j = NULL;
    int err;

    /* No If-None-Match without a scanner: the cached lexicon did not compile at open (an older
     * engine's), so the same version must be fetched again, not confirmed. */
    pthread_mutex_lock(&a->check_mu);
    int have = a->scanner != NULL;
    pthread_mutex_unlock(&a->check_mu);
    pthread_mutex_lock(&a->mu);
    snprintf(etag, sizeof etag, "%s", have ? a->etag : "");
    pthread_mutex_unlock(&a->mu);
    response_init(&r);
    if ((err = http(a, &r, "GET", "/api/v1/device/policy", NULL, NULL, 0, NULL, etag)) < 0)
        goto out;
    if (r.status == 304)
        goto out;
    j = json_loadb(r.body.buf, r.body.len, 0, NULL);
    json_t *lex = json_object_get(j, "lexicon");
    json_t *ver = json_object_get(j, "version");
    if (!json_is_object(j) || !json_is_string(lex) || !json_is_integer(ver)) {
        err = wp_agent__fail(a, WP_AGENT_EPROTO, "the policy is not {\"version\", \"lexicon\"}");
        goto out;
    }
    if ((err = wp_agent__policy_install(a, json_string_value(lex), json_string_length(lex))) < 0) {
        char msg[WP_AGENT_MSG_MAX];
        wp_agent_last_error(a, msg, sizeof msg);
        err = wp_agent__fail(a, err == WP_AGENT_ENOMEM ? err : WP_AGENT_EPROTO,
                             "the policy's lexicon does not compile: %s", msg);
        goto out;
    }
    if (!r.etag[0])
        snprintf(r.etag, sizeof r.etag, "\"%lld\"", (long long)json_integer_value(ver));
    if (wp_agent__field_parse(&field, r.body.buf, r.body.len) < 0) {
        err = wp_agent__fail(a, WP_AGENT_ENOMEM, "out of memory");
        goto out;
    }
    pthread_mutex_lock(&a->mu);
    if ((err = wp_agent__begin(a)) == 0 &&
        (err = wp_agent__meta_set_text(a, "policy_lexicon", json_string_value(lex))) == 0 &&
        (err = wp_agent__meta_set_text(a, "policy_etag", r.etag)) == 0 &&
        (err = wp_agent__meta_set_text(a, "policy_json", r.body.buf)) == 0 &&
        (err = wp_agent__meta_set_int(a, "policy_version", json_integer_value(ver))) == 0 &&
        (err = wp_agent__commit(a)) == 0) {
        snprintf(a->etag, sizeof a->etag, "%s", r.etag);
        a->policy_version = json_integer_value(ver);
        wp_agent__field_install(a, &field);
    }
    wp_agent__rollback(a);
    pthread_mutex_unlock(&a->mu);
out:
    wp_agent__field_release(&field);
    json_decref(j);
    wp_buf_release(&r.body);
    return err;
}

/* --- enrollment ---------------------------------------------------------------------------- */

static int set_server(wp_agent *a, const char *server)
{
    size_t n = server ? strlen(server) : 0;
    while (n && server[n - 1] == '/')
        n--;
    if (!n || n >= sizeof a->server ||
        (strncmp(server, "http://", 7) != 0 && strncmp(server, "https://", 8) != 0))
        return wp_agent__fail(a, WP_AGENT_EINVAL, "server must be an http:// or https:// url");
    snprintf(a->server, sizeof a->server, "%.*s", (int)n, server);
    return 0;
}

int wp_agent_set_server(wp_agent *a, const char *server)
{
    int err;
    pthread_mutex_lock(&a->mu);
    if (!a->token[0])
        err = wp_agent__fail(a, WP_AGENT_ENOTENROLLED, "not enrolled");
    else if ((err = set_server(a, server)) == 0)
        err = wp_agent__meta_set_text(a, "server", a->server);
    pthread_mutex_unlock(&a->mu);
    return err;
}

int wp_agent_enroll(wp_agent *a, const char *server, const char *code, const char *serial,
                    const char *model)
{
    wp_agent_response r;
    json_t *j = NULL;
    char *body = NULL;
    int err;

    if (!code || !*code)
        return wp_agent__fail(a, WP_AGENT_EINVAL, "no enrollment code");
    pthread_mutex_lock(&a->net_mu);
    response_init(&r);
    pthread_mutex_lock(&a->mu);
    if (a->token[0])
        err = wp_agent__fail(a, WP_AGENT_EEXISTS, "already enrolled as device '%s'",
                             a->device_id);
    else
        err = set_server(a, server);
    pthread_mutex_unlock(&a->mu);
    if (err < 0)
        goto out;
    j = json_pack("{s:s,s:s,s:s}", "code", code, "serial", serial && *serial ? serial : "unknown",
                  "model", model && *model ? model : "unknown");
    body = j ? wp_json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    j = NULL;
    if (!body) {
        /* json_pack refuses strings that are not UTF-8 as it refuses to allocate */
        err = wp_agent__fail(a, WP_AGENT_EINVAL, "code, serial and model must be utf-8 text");
        goto out;
    }
    if ((err = http(a, &r, "POST", "/api/v1/device/enroll", "application/json", body,
                    strlen(body), NULL, NULL)) < 0)
        goto out;
    j = json_loadb(r.body.buf, r.body.len, 0, NULL);
    const char *id = json_string_value(json_object_get(j, "device_id"));
    const char *token = json_string_value(json_object_get(j, "token"));
    if (!id || !token || strlen(id) >= sizeof a->device_id || strlen(token) >= sizeof a->token) {
        err = wp_agent__fail(a, WP_AGENT_EPROTO, "the enrollment answer has no device_id and token");
        goto out;
    }
    pthread_mutex_lock(&a->mu);
    if ((err = wp_agent__begin(a)) == 0 &&
        (err = wp_agent__meta_set_text(a, "device_id", id)) == 0 &&
        (err = wp_agent__meta_set_text(a, "token", token)) == 0 &&
        (err = wp_agent__meta_set_text(a, "server", a->server)) == 0 &&
        (err = wp_agent__commit(a)) == 0) {
        snprintf(a->device_id, sizeof a->device_id, "%s", id);
        snprintf(a->token, sizeof a->token, "%s", token);
    }
    wp_agent__rollback(a);
    pthread_mutex_unlock(&a->mu);
    if (err < 0)
        goto out;
    /* Best effort: check works offline from the first message when this succeeds, and the
     * next sync fetches it otherwise. */
    (void)policy_refresh(a);
    err = 0;
out:
    if (j)
        sodium_memzero(r.body.buf, r.body.len); /* held the token */
    json_decref(j);
    free(body);
    wp_buf_release(&r.body);
    pthread_mutex_unlock(&a->net_mu);
    return err;
}

/* --- media --------------------------------------------------------------------------------- */

/* Delete the copies that are uploaded and named by no waiting event. Under mu. */
static int media_cleanup(wp_agent *a)
{
    sqlite3_stmt *s = NULL;
    char path[4096];
    int err = 0;
    if (sqlite3_prepare_v2(a->db,
                           "DELETE FROM media WHERE uploaded = 1 AND hex NOT IN"
                           " (SELECT hex FROM event_media) RETURNING hex, size",
                           -1, &s, NULL) != SQLITE_OK)
        return wp_agent__db_fail(a, "cannot clean up media");
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *hex = (const char *)sqlite3_column_text(s, 0);
        uint64_t size = (uint64_t)sqlite3_column_int64(s, 1);
        /* The row goes first (autocommit, at the statement's end); a crash in between leaves
         * a file no row names, which costs disk, never an upload. */
        if (hex && wp_agent__media_path(a, path, sizeof path, hex) == 0)
            unlink(path);
        a->outbox_bytes = a->outbox_bytes > size ? a->outbox_bytes - size : 0;
    }
    if (rc != SQLITE_DONE)
        err = wp_agent__db_fail(a, "cannot clean up media");
    sqlite3_finalize(s);
    return err;
}

static int media_mark(wp_agent *a, const char *hex, int lost)
{
    sqlite3_stmt *s = NULL;
    int err = 0;
    pthread_mutex_lock(&a->mu);
    if (sqlite3_prepare_v2(a->db, "UPDATE media SET uploaded = 1 WHERE hex = ? AND uploaded = 0",
                           -1, &s, NULL) != SQLITE_OK) {
        err = wp_agent__db_fail(a, "cannot mark media uploaded");
    } else {
        sqlite3_bind_text(s, 1, hex, -1, SQLITE_STATIC);
        if (sqlite3_step(s) != SQLITE_DONE)
            err = wp_agent__db_fail(a, "cannot mark media uploaded");
        else if (sqlite3_changes(a->db) > 0 && a->media_pending)
            a->media_pending--;
    }
    sqlite3_finalize(s);
    if (err == 0 && lost) {
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(a->db,
                               "INSERT INTO meta (k, v) VALUES ('media_lost', 1) ON CONFLICT (k)"
                               " DO UPDATE SET v = v + 1",
                               -1, &q, NULL) != SQLITE_OK ||
            sqlite3_step(q) != SQLITE_DONE)
            err = wp_agent__db_fail(a, "cannot count lost media");
        sqlite3_finalize(q);
    }
    if (err == 0)
        err = media_cleanup(a);
    pthread_mutex_unlock(&a->mu);
    return err;
}

/* PUT one media file by its hash. */
static int media_upload(wp_agent *a, const char *hex, uint64_t size)
{
    char path[4096], url_path[96];
    wp_agent_response r;
    int err;
    if ((err = wp_agent__media_path(a, path, sizeof path, hex)) < 0)
        return err;
    if (access(path, R_OK) < 0) {
        /* Deleted behind the agent's back: nothing can bring it back, and waiting for it would
         * stop every later event. The events go without it; status counts it (media_lost). */
        return media_mark(a, hex, 1);
    }
    snprintf(url_path, sizeof url_path, "/api/v1/device/media/sha256:%s", hex);
    response_init(&r);
    err = http(a, &r, "PUT", url_path, "application/octet-stream", NULL, (size_t)size, path, NULL);
    wp_buf_release(&r.body);
    return err < 0 ? err : media_mark(a, hex, 0);
}

/* Upload the media not yet uploaded: those named by events seq first..last, or every one when
 * last is 0. */
static int media_upload_pending(wp_agent *a, int64_t first, int64_t last)
{
    struct item {
        char hex[65];
        uint64_t size;
    } *items = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *s = NULL;
    int err = 0, rc;

    pthread_mutex_lock(&a->mu);
    if (sqlite3_prepare_v2(a->db,
                           last ? "SELECT DISTINCT m.hex, m.size FROM event_media e JOIN media m"
                                  " ON m.hex = e.hex WHERE e.seq BETWEEN ? AND ? AND m.uploaded = 0"
                                : "SELECT hex, size FROM media WHERE uploaded = 0",
                           -1, &s, NULL) != SQLITE_OK) {
        err = wp_agent__db_fail(a, "cannot list media");
        goto unlock;
    }
    if (last) {
        sqlite3_bind_int64(s, 1, first);
        sqlite3_bind_int64(s, 2, last);
    }
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == cap) {
            size_t c = cap ? 2 * cap : 8;
            struct item *v = realloc(items, c * sizeof *v);
            if (!v) {
                err = wp_agent__fail(a, WP_AGENT_ENOMEM, "out of memory");
                break;
            }
            items = v;
            cap = c;
        }
        snprintf(items[n].hex, sizeof items[n].hex, "%s", sqlite3_column_text(s, 0));
        items[n++].size = (uint64_t)sqlite3_column_int64(s, 1);
    }
    if (err == 0 && rc != SQLITE_DONE)
        err = wp_agent__db_fail(a, "cannot list media");
unlock:
    sqlite3_finalize(s);
    pthread_mutex_unlock(&a->mu);
    for (size_t i = 0; i < n && err == 0; i++)
        err = media_upload(a, items[i].hex, items[i].size);
    free(items);
    return err;
}

/* --- events -------------------------------------------------------------------------------- */

/* A stored event is what wp_agent_record() wrote: a JSON object without a "seq". Anything
 * else (a torn or hand-edited row) would make the whole batch unreadable to the server.
 * Returns its number of members, or -1 for such a row. */
static long stored_event_members(const char *ev, size_t len)
{
    json_t *j = json_loadb(ev, len, JSON_REJECT_DUPLICATES, NULL);
    long n = json_is_object(j) && !json_object_get(j, "seq") ? (long)json_object_size(j) : -1;
    json_decref(j);
    return n;
}

/* The next batch: {"events":[...]} from the oldest waiting events, at most batch_max of them
 * and WP_AGENT_BATCH_BYTES of body (one event at least). *n is 0 when the outbox is empty. */
static int batch_load(wp_agent *a, wp_buf *body, size_t *n, int64_t *first, int64_t *last)
{
    sqlite3_stmt *s = NULL;
    int err = 0, rc;
    *n = 0;
    wp_buf_reset(body);
    pthread_mutex_lock(&a->mu);
    if (sqlite3_prepare_v2(a->db, "SELECT seq, body FROM outbox ORDER BY seq LIMIT ?", -1, &s,
                           NULL) != SQLITE_OK) {
        err = wp_agent__db_fail(a, "cannot read the outbox");
        goto out;
    }
    sqlite3_bind_int(s, 1, (int)a->o.batch_max);
    if ((err = wp_buf_adds(body, "{\"events\":[")) < 0)
        goto nomem;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(s, 0);
        const char *ev = (const char *)sqlite3_column_text(s, 1);
        size_t len = (size_t)sqlite3_column_bytes(s, 1);
        long members = ev && len >= 2 && ev[0] == '{' ? stored_event_members(ev, len) : -1;
        if (members < 0) {
            err = wp_agent__fail(a, WP_AGENT_EIO, "outbox row %lld is damaged", (long long)seq);
            goto out;
        }
        if (*n && body->len + len + 32 > WP_AGENT_BATCH_BYTES)
            break;
        /* the stored object without its seq: the seq goes in front of its first member */
        if ((err = wp_buf_addf(body, "%s{\"seq\":%lld%s", *n ? "," : "", (long long)seq,
                               members ? "," : "")) < 0 ||
            (err = wp_buf_add(body, ev + 1, len - 1)) < 0)
            goto nomem;
        if (!*n)
            *first = seq;
        *last = seq;
        ++*n;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        err = wp_agent__db_fail(a, "cannot read the outbox");
        goto out;
    }
    if ((err = wp_buf_adds(body, "]}")) < 0)
        goto nomem;
    goto out;
nomem:
    err = wp_agent__fail(a, WP_AGENT_ENOMEM, "out of memory");
out:
    sqlite3_finalize(s);
    pthread_mutex_unlock(&a->mu);
    return err;
}

/* The server has stored every event up to acked: forget them, durably. */
static int batch_acked(wp_agent *a, int64_t acked, uint64_t rejected)
{
    sqlite3_stmt *s = NULL;
    int err;
    pthread_mutex_lock(&a->mu);
    if ((err = wp_agent__begin(a)) < 0)
        goto out;
    uint64_t rows = 0, bytes = 0;
    if (sqlite3_prepare_v2(a->db,
                           "SELECT COUNT(*), COALESCE(SUM(LENGTH(CAST(body AS BLOB))), 0)"
                           " FROM outbox WHERE seq <= ?",
                           -1, &s, NULL) != SQLITE_OK) {
        err = wp_agent__db_fail(a, "cannot update the outbox");
        goto out;
    }
    sqlite3_bind_int64(s, 1, acked);
    if (sqlite3_step(s) == SQLITE_ROW) {
        rows = (uint64_t)sqlite3_column_int64(s, 0);
        bytes = (uint64_t)sqlite3_column_int64(s, 1);
    }
    sqlite3_finalize(s);
    s = NULL;
    static const char *const del[] = {"DELETE FROM outbox WHERE seq <= ?",
                                      "DELETE FROM event_media WHERE seq <= ?"};
    for (size_t i = 0; i < 2; i++) {
        if (sqlite3_prepare_v2(a->db, del[i], -1, &s, NULL) != SQLITE_OK) {
            err = wp_agent__db_fail(a, "cannot update the outbox");
            goto out;
        }
        sqlite3_bind_int64(s, 1, acked);
        if (sqlite3_step(s) != SQLITE_DONE) {
            err = wp_agent__db_fail(a, "cannot update the outbox");
            goto out;
        }
        sqlite3_finalize(s);
        s = NULL;
    }
    int64_t new_acked = acked > a->acked_seq ? acked : a->acked_seq;
    if ((err = wp_agent__meta_set_int(a, "acked_seq", new_acked)) < 0 ||
        (err = wp_agent__meta_set_int(a, "rejected", (int64_t)(a->rejected + rejected))) < 0 ||
        (err = wp_agent__commit(a)) < 0)
        goto out;
    a->acked_seq = new_acked;
    a->rejected += rejected;
    /* progress: the backoff counts failures in a row without any */
    a->failures = 0;
    a->outbox_events -= rows <= a->outbox_events ? rows : a->outbox_events;
    a->outbox_bytes -= bytes <= a->outbox_bytes ? bytes : a->outbox_bytes;
    err = media_cleanup(a);
out:
    sqlite3_finalize(s);
    wp_agent__rollback(a);
    pthread_mutex_unlock(&a->mu);
    return err;
}

/* Send one batch and apply the answer. */
static int batch_send(wp_agent *a, const wp_buf *body, int64_t first, int64_t last)
{
    wp_agent_response r;
    json_t *j = NULL;
    int err;
    response_init(&r);
    if ((err = http(a, &r, "POST", "/api/v1/device/events", "application/json", body->buf,
                    body->len, NULL, NULL)) < 0)
        goto out;
    j = json_loadb(r.body.buf, r.body.len, 0, NULL);
    json_t *acked = json_object_get(j, "acked_seq");
    json_t *rejected = json_object_get(j, "rejected");
    if (!json_is_integer(acked) || (rejected && !json_is_array(rejected))) {
        err = wp_agent__fail(a, WP_AGENT_EPROTO, "the events answer has no acked_seq");
        goto out;
    }
    /* Only events of this batch may be rejected-and-handled; the server moves acked_seq over
     * them. An answer that acknowledges none of the batch would make sync send it forever. */
    if (json_integer_value(acked) < first) {
        err = wp_agent__fail(a, WP_AGENT_EPROTO,
                             "the server acknowledged seq %lld, below the batch's %lld..%lld",
                             (long long)json_integer_value(acked), (long long)first,
                             (long long)last);
        goto out;
    }
    err = batch_acked(a, json_integer_value(acked), json_array_size(rejected));
out:
    json_decref(j);
    wp_buf_release(&r.body);
    return err;
}

/* One attempt: every waiting event in batches (their media first), the other media, then the
 * policy. Progress is durable after each batch: a failure loses nothing already acknowledged. */
static int sync_pass(wp_agent *a)
{
    wp_buf body;
    size_t n;
    int64_t first = 0, last = 0;
    int err;
    wp_buf_init(&body, WP_AGENT_BATCH_BYTES + WP_AGENT_EVENT_MAX + 64);
    for (;;) {
        if ((err = batch_load(a, &body, &n, &first, &last)) < 0 || n == 0)
            break;
        if ((err = media_upload_pending(a, first, last)) < 0 ||
            (err = batch_send(a, &body, first, last)) < 0)
            break;
    }
    wp_buf_release(&body);
    if (err == 0)
        err = media_upload_pending(a, 0, 0);
    if (err == 0) /* after the events: they make known what a note names */
        err = wp_agent__notes_flush(a);
    if (err == 0)
        err = policy_refresh(a);
    return err;
}

/* The delay before attempt failures + 1: base * 2^(failures-1), capped, of which the upper
 * half is random ("equal jitter"), so a fleet that lost the server together does not come
 * back together, and no delay is shorter than half its step. */
static unsigned backoff_ms(const wp_agent *a, unsigned failures)
{
    uint64_t d = a->o.backoff_base_ms;
    for (unsigned i = 1; i < failures && d < a->o.backoff_max_ms; i++)
        d *= 2;
    if (d > a->o.backoff_max_ms)
        d = a->o.backoff_max_ms;
    uint32_t half = (uint32_t)(d / 2);
    return (unsigned)(d - half) + (half ? randombytes_uniform(half + 1) : 0);
}

static void sleep_default(void *ctx, unsigned ms)
{
    (void)ctx;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Remember how the attempt went, on disk too: `workphone agent status` is another process. */
static void note_attempt(wp_agent *a, int err)
{
    char msg[WP_AGENT_MSG_MAX];
    if (err < 0)
        wp_agent_last_error(a, msg, sizeof msg);
    pthread_mutex_lock(&a->mu);
    if (err < 0) {
        a->failures++;
        a->retry_after_ms = backoff_ms(a, a->failures);
        /* the server's Retry-After, when it said one, is the least wait */
        if (a->server_wait_ms > a->retry_after_ms)
            a->retry_after_ms = a->server_wait_ms;
    } else {
        a->failures = 0;
        a->retry_after_ms = 0;
    }
    a->server_wait_ms = 0;
    /* Failing to note it (a full disk) changes nothing of the outcome: the caller gets err
     * either way. */
    if (wp_agent__begin(a) == 0 &&
        wp_agent__meta_set_text(a, "last_error", err < 0 ? msg : "") == 0 &&
        wp_agent__meta_set_int(a, "failures", a->failures) == 0 &&
        wp_agent__meta_set_int(a, "retry_after_ms", a->retry_after_ms) == 0)
        (void)wp_agent__commit(a);
    wp_agent__rollback(a);
    pthread_mutex_unlock(&a->mu);
    if (err < 0)
        wp_agent__fail(a, err, "%s", msg); /* the note's own statements may have replaced it */
}

int wp_agent_sync(wp_agent *a)
{
    int err = 0;
    pthread_mutex_lock(&a->net_mu);
    pthread_mutex_lock(&a->mu);
    int enrolled = a->token[0] != '\0';
    pthread_mutex_unlock(&a->mu);
    if (!enrolled) {
        err = wp_agent__fail(a, WP_AGENT_ENOTENROLLED, "not enrolled: enroll with a code first");
        goto out;
    }
    for (unsigned attempt = 1;; attempt++) {
        err = sync_pass(a);
        note_attempt(a, err);
        if (err == 0 || (err != WP_AGENT_ENET && err != WP_AGENT_EPROTO) ||
            attempt >= a->o.max_attempts)
            break;
        pthread_mutex_lock(&a->mu);
        unsigned delay = a->retry_after_ms;
        pthread_mutex_unlock(&a->mu);
        if (a->o.sleep_ms)
            a->o.sleep_ms(a->o.sleep_ctx, delay);
        else
            sleep_default(NULL, delay);
    }
out:
    pthread_mutex_unlock(&a->net_mu);
    return err;
}
