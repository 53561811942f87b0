/* SPDX-License-Identifier: MIT */
/* The notice the employee is told (issue 20): read from the offline policy, acknowledged to
 * the server (POST /api/v1/device/notice-ack), the acknowledged version kept in meta; and the
 * notes for the server that are not events (that acknowledgement, an automatic first message
 * sent), sent at once or kept in the notes table for the next sync when offline. */
#include "agent/agent_int.h"
#include "util/json.h"

#include "util/clock.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A meta value (text, or NULL when absent), malloc'ed. Under mu. */
static int meta_get(wp_agent *a, const char *key, char **out)
{
    sqlite3_stmt *s = NULL;
    int err = 0;
    *out = NULL;
    if (sqlite3_prepare_v2(a->db, "SELECT v FROM meta WHERE k = ?", -1, &s, NULL) != SQLITE_OK)
        return wp_agent__db_fail(a, "cannot read the agent's state");
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0)) {
        const char *v = (const char *)sqlite3_column_text(s, 0);
        if (!(*out = strdup(v)))
            err = wp_agent__fail(a, WP_AGENT_ENOMEM, "out of memory");
    }
    sqlite3_finalize(s);
    return err;
}

int wp_agent_notice(wp_agent *a, char **out_text, int64_t *out_version, int *out_acknowledged,
                    char **out_auto_message)
{
    char *policy = NULL, *acked = NULL, *text = NULL, *am = NULL;
    json_t *j = NULL;
    int err;

    pthread_mutex_lock(&a->mu);
    if ((err = meta_get(a, "policy_json", &policy)) == 0)
        err = meta_get(a, "notice_acked", &acked);
    pthread_mutex_unlock(&a->mu);
    if (err < 0)
        goto out;
    j = policy ? json_loads(policy, 0, NULL) : NULL;
    json_t *n = json_object_get(j, "notice");
    json_t *t = json_object_get(n, "text"), *v = json_object_get(n, "version");
    json_t *m = json_object_get(json_object_get(j, "settings"), "auto_message");
    if (!json_is_string(t) || !json_is_integer(v)) {
        err = wp_agent__fail(a, WP_AGENT_ENOPOLICY, "no notice: no policy with one yet");
        goto out;
    }
    if (!(text = strdup(json_string_value(t))) ||
        (out_auto_message && json_is_string(m) && !(am = strdup(json_string_value(m))))) {
        err = wp_agent__fail(a, WP_AGENT_ENOMEM, "out of memory");
        goto out;
    }
    *out_text = text;
    text = NULL;
    *out_version = json_integer_value(v);
    if (out_acknowledged)
        *out_acknowledged = acked && strtoll(acked, NULL, 10) == json_integer_value(v);
    if (out_auto_message) {
        *out_auto_message = am;
        am = NULL;
    }
out:
    json_decref(j);
    free(policy);
    free(acked);
    free(text);
    free(am);
    return err;
}

/* --- notes: what the server must hear that is not an event ------------------------------ */

/* Keep a note; *id gets its row. Under mu. */
static int note_keep(wp_agent *a, int64_t *id, const char *path, const char *body)
{
    sqlite3_stmt *s = NULL;
    int err = 0;
    if (sqlite3_prepare_v2(a->db, "INSERT INTO notes (path, body) VALUES (?, ?)", -1, &s,
                           NULL) != SQLITE_OK)
        return wp_agent__db_fail(a, "cannot keep a note for the server");
    sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, body, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE)
        err = wp_agent__db_fail(a, "cannot keep a note for the server");
    else
        *id = sqlite3_last_insert_rowid(a->db);
    sqlite3_finalize(s);
    return err;
}

/* Drop a note (sent, or refused); refused counts it. Under mu. */
static int note_drop(wp_agent *a, int64_t id, int refused)
{
    sqlite3_stmt *s = NULL;
    int err = 0;
    if (sqlite3_prepare_v2(a->db, "DELETE FROM notes WHERE id = ?", -1, &s, NULL) != SQLITE_OK)
        return wp_agent__db_fail(a, "cannot update the notes");
    sqlite3_bind_int64(s, 1, id);
    if (sqlite3_step(s) != SQLITE_DONE)
        err = wp_agent__db_fail(a, "cannot update the notes");
    sqlite3_finalize(s);
    if (err == 0 && refused) {
        char *v = NULL;
        if ((err = meta_get(a, "notes_refused", &v)) == 0)
            err = wp_agent__meta_set_int(a, "notes_refused", (v ? strtoll(v, NULL, 10) : 0) + 1);
        free(v);
    }
    return err;
}

/* The oldest note: *id 0 when there is none; *path and *body malloc'ed. Under mu. */
static int note_oldest(wp_agent *a, int64_t *id, char **path, char **body)
{
    sqlite3_stmt *s = NULL;
    int err = 0;
    *id = 0;
    *path = *body = NULL;
    if (sqlite3_prepare_v2(a->db, "SELECT id, path, body FROM notes ORDER BY id LIMIT 1", -1,
                           &s, NULL) != SQLITE_OK)
        return wp_agent__db_fail(a, "cannot read the notes");
    if (sqlite3_step(s) == SQLITE_ROW) {
        const char *p = (const char *)sqlite3_column_text(s, 1);
        const char *b = (const char *)sqlite3_column_text(s, 2);
        if (!p || !b || !(*path = strdup(p)) || !(*body = strdup(b))) {
            free(*path);
            *path = NULL;
            err = wp_agent__fail(a, WP_AGENT_ENOMEM, "out of memory");
        } else {
            *id = sqlite3_column_int64(s, 0);
        }
    }
    sqlite3_finalize(s);
    return err;
}

int wp_agent__notes_flush(wp_agent *a)
{
    for (;;) {
        int64_t id;
        char *path, *body;
        pthread_mutex_lock(&a->mu);
        int err = note_oldest(a, &id, &path, &body);
        pthread_mutex_unlock(&a->mu);
        if (err < 0 || id == 0)
            return err;
        err = wp_agent__post_json(a, path, body);
        free(path);
        free(body);
        if (err < 0 && err != WP_AGENT_EPROTO)
            return err; /* not reached, or not allowed: it waits */
        pthread_mutex_lock(&a->mu);
        err = note_drop(a, id, err == WP_AGENT_EPROTO);
        pthread_mutex_unlock(&a->mu);
        if (err < 0)
            return err;
    }
}

/* Send a note now when nothing recorded before it waits (events, earlier notes); else, or when
 * the server cannot be reached, keep it for the next sync. remember (may be NULL) makes the
 * note's change on the phone, once the server took it or it is kept.
 * @return 0 (sent or kept), or the server's refusal (nothing kept, nothing remembered) */
static int note(wp_agent *a, const char *path, const char *body,
                int (*remember)(wp_agent *a, int64_t arg), int64_t arg)
{
    int64_t id = 0;
    char *p = NULL, *b = NULL;
    int err;
    pthread_mutex_lock(&a->net_mu);
    pthread_mutex_lock(&a->mu);
    int waiting = a->outbox_events > 0;
    if ((err = note_oldest(a, &id, &p, &b)) == 0 && !waiting && id == 0) {
        pthread_mutex_unlock(&a->mu);
        err = wp_agent__post_json(a, path, body);
        pthread_mutex_lock(&a->mu);
        if (err == WP_AGENT_ENET)
            waiting = 1; /* kept below */
        else if (err == 0 && remember)
            err = remember(a, arg);
    } else if (err == 0) {
        waiting = 1;
    }
    if (waiting && (err == 0 || err == WP_AGENT_ENET)) {
        err = wp_agent__begin(a);
        if (err == 0 && (err = note_keep(a, &id, path, body)) == 0 &&
            (!remember || (err = remember(a, arg)) == 0))
            err = wp_agent__commit(a);
        if (err < 0)
            wp_agent__rollback(a);
    }
    pthread_mutex_unlock(&a->mu);
    pthread_mutex_unlock(&a->net_mu);
    free(p);
    free(b);
    return err;
}

static int remember_ack(wp_agent *a, int64_t version)
{
    return wp_agent__meta_set_int(a, "notice_acked", version);
}

int wp_agent_notice_ack(wp_agent *a, int64_t version)
{
    char body[64];
    if (version < 0)
        return wp_agent__fail(a, WP_AGENT_EINVAL, "a notice version is >= 0");
    pthread_mutex_lock(&a->mu);
    int enrolled = a->token[0] != '\0';
    pthread_mutex_unlock(&a->mu);
    if (!enrolled)
        return wp_agent__fail(a, WP_AGENT_ENOTENROLLED, "not enrolled");
    snprintf(body, sizeof body, "{\"version\":%lld}", (long long)version);
    return note(a, "/api/v1/device/notice-ack", body, remember_ack, version);
}

int wp_agent_auto_message_sent(wp_agent *a, const char *channel, const char *peer_id,
                               const char *phone, int64_t ts_us)
{
    char at[40];
    int err;
    if (!(phone && *phone) && !(channel && *channel && peer_id && *peer_id))
        return wp_agent__fail(a, WP_AGENT_EINVAL, "name the customer: a phone, or a channel "
                                                  "and its peer id");
    pthread_mutex_lock(&a->mu);
    int enrolled = a->token[0] != '\0';
    pthread_mutex_unlock(&a->mu);
    if (!enrolled)
        return wp_agent__fail(a, WP_AGENT_ENOTENROLLED, "not enrolled");
    wp_time_format(at, ts_us ? ts_us : wp_time_now_us(), 0);
    json_t *j = phone && *phone ? json_pack("{s:s,s:s}", "phone", phone, "at", at)
                                : json_pack("{s:s,s:s,s:s}", "channel", channel, "peer_id",
                                            peer_id, "at", at);
    char *body = j ? wp_json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!body) /* json_pack refuses strings that are not UTF-8 as it refuses to allocate */
        return wp_agent__fail(a, WP_AGENT_EINVAL, "channel, peer id and phone must be utf-8");
    err = note(a, "/api/v1/device/consents", body, NULL, 0);
    free(body);
    return err;
}
