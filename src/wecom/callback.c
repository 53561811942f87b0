/* SPDX-License-Identifier: MIT */
/* The customer-contact callback (CONTRACT §6): verify, decrypt, and turn contact changes into
 * workphone's contact events through ingest. */
#include "wecom/wecom_int.h"
#include "ingest/ingest.h"
#include "store/wecom.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/id.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PARAM_MAX 128           /* bytes of a signature, timestamp or nonce */
#define ECHOSTR_MAX (4u * 1024) /* bytes of GET's echostr */
#define EVENT_SEEN_S (24 * 3600) /* the same event again within this is a duplicate */

void wp_wecom_outcome_release(wp_wecom_outcome *o)
{
    if (!o)
        return;
    free(o->echo);
    json_decref(o->alerts);
    memset(o, 0, sizeof *o);
}

static int refuse(wp_wecom_outcome *o, enum wp_wecom_refusal why, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Set o->refused and the message the reply shows; 0, so a caller returns it. */
static int refuse(wp_wecom_outcome *o, enum wp_wecom_refusal why, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    o->refused = why;
    wp_error_set(WP_EINVAL, "%s", msg);
    return 0;
}

/* The query's parameters: present, short, and the timestamp a number of seconds. */
static int params_ok(wp_wecom_outcome *o, const wp_wecom_request *r, int64_t *ts)
{
    const char *need[3] = {r->msg_signature, r->timestamp, r->nonce};
    static const char *const names[3] = {"msg_signature", "timestamp", "nonce"};
    for (int i = 0; i < 3; i++)
        if (!need[i] || !*need[i] || strlen(need[i]) > PARAM_MAX) {
            refuse(o, WP_WECOM_BAD_REQUEST, "'%s' is missing or too long", names[i]);
            return 0;
        }
    size_t n = strlen(r->timestamp);
    if (n > 12 || strspn(r->timestamp, "0123456789") != n) {
        refuse(o, WP_WECOM_BAD_REQUEST, "'%s' is not a number of seconds", "timestamp");
        return 0;
    }
    *ts = strtoll(r->timestamp, NULL, 10);
    return 1;
}

/* The tenant's settings, with a token and a key to check callbacks. */
static int config(wp_wecom *w, wp_wecom_outcome *o, wp_wecom_config *cfg, const char *tenant_id)
{
    int err = wp_wecom__config(w, cfg, tenant_id);
    if (err == WP_ENOTFOUND || (err == 0 && (!cfg->callback_token[0] ||
                                              !cfg->encoding_aes_key[0]))) {
        refuse(o, WP_WECOM_NOT_CONFIGURED, "tenant '%s' has no WeCom callback settings",
               tenant_id);
        return 0;
    }
    return err;
}

/* Signature, time window, decryption and receiver of enc; *plain on success (o->refused 0). */
static int open_message(wp_wecom_outcome *o, char **plain, size_t *len, const wp_wecom_config *cfg,
                        const wp_wecom_request *r, int64_t ts, const char *enc)
{
    char receiver[WP_WECOM_ID_MAX + 1];
    int64_t now_s = r->now_us / 1000000;
    if (!wp_wecom_signature_ok(r->msg_signature, cfg->callback_token, r->timestamp, r->nonce,
                               enc))
        return refuse(o, WP_WECOM_BAD_SIGNATURE, "%s", "msg_signature does not match");
    if (ts < now_s - WP_WECOM_WINDOW_S || ts > now_s + WP_WECOM_WINDOW_S)
        return refuse(o, WP_WECOM_STALE, "%s",
                      "timestamp is outside the accepted window of 300 seconds");
    int err = wp_wecom_decrypt(plain, len, receiver, cfg->encoding_aes_key, enc);
    if (err == WP_ENOMEM)
        return err;
    if (err < 0)
        return refuse(o, WP_WECOM_BAD_REQUEST, "%s", wp_error_last());
    if (strcmp(receiver, cfg->corp_id) != 0) {
        free(*plain);
        *plain = NULL;
        return refuse(o, WP_WECOM_WRONG_RECEIVER, "%s", "the message is for another corp");
    }
    return 0;
}

int wp_wecom_callback_verify(wp_wecom *w, wp_wecom_outcome *o, const wp_wecom_request *r)
{
    wp_wecom_config cfg;
    char *plain = NULL;
    size_t len = 0;
    int64_t ts;
    int err;

    memset(o, 0, sizeof *o);
    if (!params_ok(o, r, &ts))
        return 0;
    if (!r->echostr || !*r->echostr || strlen(r->echostr) > ECHOSTR_MAX)
        return refuse(o, WP_WECOM_BAD_REQUEST, "'%s' is missing or too long", "echostr");
    if ((err = config(w, o, &cfg, r->tenant_id)) < 0 || o->refused)
        return err;
    if ((err = open_message(o, &plain, &len, &cfg, r, ts, r->echostr)) < 0 || o->refused)
        return err;
    o->echo = plain;
    return 0;
}

/* The contact action of a ChangeType; NULL for one that is no contact change. */
static const char *action_of(const char *change_type)
{
    static const char *const map[][2] = {
        {"add_external_contact", "added"},      {"add_half_external_contact", "added"},
        {"del_external_contact", "deleted"},    {"del_follow_user", "blocked"},
        {"edit_external_contact", "renamed"},
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (!strcmp(change_type, map[i][0]))
            return map[i][1];
    return NULL;
}

/* "e:<sha256 of the event's facts>": one event sent again under another nonce. */
static void event_key(char out[80], const wp_wecom_event *e)
{
    char facts[512], hex[65];
    snprintf(facts, sizeof facts, "%s\n%s\n%s\n%lld\n%s", e->change_type, e->user_id,
             e->external_user_id, (long long)e->create_time, e->fail_reason);
    wp_token_hash(hex, facts);
    snprintf(out, 80, "e:%s", hex);
}

static void unsee(wp_wecom *w, const char *tenant_id, const char *k1, const char *k2)
{
    wp_store *st = NULL;
    if (wp_store_connpool_acquire(w->o.pool, &st) < 0)
        return;
    (void)wp_store_wecom_unsee(st, tenant_id, k1);
    if (k2)
        (void)wp_store_wecom_unsee(st, tenant_id, k2);
    wp_store_connpool_release(w->o.pool, st);
}

static int ignore(wp_wecom_outcome *o, const char *why)
{
    o->what = "ignored";
    o->why = why;
    return 0;
}

/* The event's facts after the replay check: *stored_key set to the event key noted. */
static int handle(wp_wecom *w, wp_wecom_outcome *o, const wp_wecom_request *r,
                  const wp_wecom_event *e, char ekey[80], int *noted)
{
    char employee[WP_ID_LEN + 1], ts[40];
    const char *action = NULL;
    wp_store *st = NULL;
    json_t *events = NULL, *reply = NULL;
    int err, active = 0;

    if (strcmp(e->msg_type, "event") || strcmp(e->event, "change_external_contact"))
        return ignore(o, "not a customer-contact event");
    if (!e->user_id[0] || !e->external_user_id[0])
        return ignore(o, "no UserID or ExternalUserID");
    if ((err = wp_store_connpool_acquire(w->o.pool, &st)) < 0)
        return err;
    event_key(ekey, e);
    if ((err = wp_store_wecom_seen(st, r->tenant_id, ekey, r->now_us + EVENT_SEEN_S * 1000000LL,
                                   r->now_us)) == WP_EEXISTS) {
        wp_store_connpool_release(w->o.pool, st);
        o->what = "duplicate";
        return 0;
    }
    *noted = err == 0;
    if (err == 0 && !strcmp(e->change_type, "transfer_fail")) {
        /* UserID is the takeover: the customer refused, or the takeover has too many */
        const char *why = !strcmp(e->fail_reason, "customer_refused") ? "customer refused"
                          : !strcmp(e->fail_reason, "customer_limit_exceed")
                              ? "the successor has too many customers"
                              : "WeCom: transfer failed";
        err = wp_store_wecom_transfer_refused(st, NULL, r->tenant_id, e->user_id,
                                              e->external_user_id, why, r->now_us);
        wp_store_connpool_release(w->o.pool, st);
        if (err == 0)
            o->what = "transfer_fail";
        return err;
    }
    if (err == 0 && !(action = action_of(e->change_type))) {
        wp_store_connpool_release(w->o.pool, st);
        return ignore(o, "change type not handled");
    }
    if (err == 0)
        err = wp_store_wecom_employee(st, employee, &active, r->tenant_id, e->user_id);
    wp_store_connpool_release(w->o.pool, st);
    if (err == WP_ENOTFOUND)
        return ignore(o, "no employee has this UserID");
    if (err < 0)
        return err;
    if (!active)
        return ignore(o, "the employee is inactive");
    wp_time_format(ts, e->create_time ? e->create_time * 1000000 : r->now_us, 0);
    if (!(events = json_pack("[{s:s,s:s,s:s,s:s,s:{s:s}}]", "type", "contact", "ts", ts,
                             "channel", "wecom", "action", action, "peer", "id",
                             e->external_user_id)))
        return wp_error_set(WP_ENOMEM, "out of memory");
    err = wp_ingest_source_events(w->o.ingest, &reply, r->tenant_id, employee, "wecom", events);
    json_decref(events);
    if (err == WP_EAUTH) /* the employee left meanwhile: its sources are revoked */
        return ignore(o, "the employee is inactive");
    if (err < 0)
        return err;
    o->what = "stored";
    o->alerts = json_incref(json_object_get(reply, "alerts"));
    json_decref(reply);
    return 0;
}

int wp_wecom_callback_event(wp_wecom *w, wp_wecom_outcome *o, const wp_wecom_request *r)
{
    static const char *const env_names[] = {"ToUserName", "Encrypt"};
    wp_wecom_config cfg;
    wp_wecom_event ev;
    wp_store *st = NULL;
    char *env[2] = {NULL, NULL}, *plain = NULL, nkey[PARAM_MAX * 2 + 8], ekey[80] = "";
    size_t len = 0;
    int64_t ts;
    int err, noted = 0;

    memset(o, 0, sizeof *o);
    if (!params_ok(o, r, &ts))
        return 0;
    if (!r->body || r->body_len == 0)
        return refuse(o, WP_WECOM_BAD_REQUEST, "%s", "the body is empty");
    if ((err = config(w, o, &cfg, r->tenant_id)) < 0 || o->refused)
        return err;
    if ((err = wp_wecom_xml_fields(env, env_names, 2, r->body, r->body_len)) == WP_ENOMEM)
        return err;
    if (err < 0 || !env[1] || !*env[1]) {
        wp_wecom_xml_free(env, 2);
        return refuse(o, WP_WECOM_BAD_REQUEST, "%s", err < 0 ? wp_error_last()
                                                             : "the body has no Encrypt");
    }
    err = open_message(o, &plain, &len, &cfg, r, ts, env[1]);
    wp_wecom_xml_free(env, 2);
    if (err < 0 || o->refused)
        return err;
    if ((err = wp_wecom_event_parse(&ev, plain, len)) < 0) {
        free(plain);
        return err == WP_ENOMEM ? err : refuse(o, WP_WECOM_BAD_REQUEST, "%s", wp_error_last());
    }
    free(plain);
    /* only a request that proved itself takes a place in the replay cache */
    snprintf(nkey, sizeof nkey, "n:%s:%s", r->timestamp, r->nonce);
    if ((err = wp_store_connpool_acquire(w->o.pool, &st)) < 0)
        return err;
    err = wp_store_wecom_seen(st, r->tenant_id, nkey,
                              r->now_us + 2LL * WP_WECOM_WINDOW_S * 1000000, r->now_us);
    wp_store_connpool_release(w->o.pool, st);
    if (err == WP_EEXISTS)
        return refuse(o, WP_WECOM_REPLAYED, "%s", "timestamp and nonce were seen before");
    if (err < 0)
        return err;
    if ((err = handle(w, o, r, &ev, ekey, &noted)) < 0) {
        unsee(w, r->tenant_id, nkey, noted ? ekey : NULL);
        json_decref(o->alerts);
        o->alerts = NULL;
        o->what = NULL;
    }
    return err;
}
