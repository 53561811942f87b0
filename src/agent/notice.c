/* SPDX-License-Identifier: MIT */
/* The notice the employee is told (issue 20): read from the offline policy, acknowledged to
 * the server (POST /api/v1/device/notice-ack), the acknowledged version kept in meta. */
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

int wp_agent_notice_ack(wp_agent *a, int64_t version)
{
    char body[64];
    int err;
    if (version < 0)
        return wp_agent__fail(a, WP_AGENT_EINVAL, "a notice version is >= 0");
    pthread_mutex_lock(&a->mu);
    int enrolled = a->token[0] != '\0';
    pthread_mutex_unlock(&a->mu);
    if (!enrolled)
        return wp_agent__fail(a, WP_AGENT_ENOTENROLLED, "not enrolled");
    snprintf(body, sizeof body, "{\"version\":%lld}", (long long)version);
    pthread_mutex_lock(&a->net_mu);
    err = wp_agent__post_json(a, "/api/v1/device/notice-ack", body);
    pthread_mutex_unlock(&a->net_mu);
    if (err < 0)
        return err;
    pthread_mutex_lock(&a->mu);
    err = wp_agent__meta_set_int(a, "notice_acked", version);
    pthread_mutex_unlock(&a->mu);
    return err;
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
    pthread_mutex_lock(&a->net_mu);
    err = wp_agent__post_json(a, "/api/v1/device/consents", body);
    pthread_mutex_unlock(&a->net_mu);
    free(body);
    return err;
}
