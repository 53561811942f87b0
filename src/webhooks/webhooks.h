/* SPDX-License-Identifier: MIT */
/* Events out (issue 16): what an alert or a handover says to an integration (signed JSON) or a
 * group robot (WeCom, DingTalk, Feishu: in Chinese, masked as a manager sees it), which urls
 * may be reached (no loopback or private network unless allowed), and the task that turns the
 * store's outbox into events and sends the delivery queue. docs/internals/webhooks.md. */
#ifndef WP_WEBHOOKS_H
#define WP_WEBHOOKS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "scan/scan.h"
#include "store/store.h"
#include "store/webhooks.h"
#include "util/buf.h"

/* --- what may be subscribed (render.c) ------------------------------------------------------ */

/* 1 when format is json, wecom, dingtalk or feishu. */
int wp_webhooks_format_ok(const char *format);

/* 1 for an event a webhook may subscribe to: alert.raised, customer.deleted,
 * customer.blocked, customer.collision, handover.completed. */
int wp_webhooks_event_ok(const char *event);

/* The subscribable events, NULL-terminated. Borrowed; static. */
const char *const *wp_webhooks_events(void);

/* --- urls (url.c) ------------------------------------------------------------------------- */

/* Check a webhook's url before it is stored: http or https, a host, no user or password, no
 * fragment, at most WP_WEBHOOK_URL_MAX bytes; then, unless allow_private, the host must
 * resolve and every address it resolves to must be public (wp_webhooks_addr_public).
 * field names the body's field in messages ("url").
 * @return 0; WP_EINVAL with the reason: "'url': 127.0.0.1 is a loopback address (set
 *         allow_private to send there)", "'url': host 'x.invalid' does not resolve", ... */
int wp_webhooks_url_check(const char *field, const char *url, int allow_private);

/* 1 when a webhook may reach sa without allow_private; else 0 and *why (static) names the
 * kind of address: "loopback", "private", "link-local", "multicast", "unspecified",
 * "reserved", "shared (carrier-grade NAT)", "unique local", "documentation". IPv4 inside IPv6
 * (mapped, NAT64, 6to4) is judged as IPv4. */
int wp_webhooks_addr_public(const struct sockaddr *sa, const char **why);

/* The url as the API shows it: the host and the path's shape, every token-like run (16 or
 * more letters, digits, '-' or '_': a robot's key or access_token) cut to its first 4
 * characters and "****". Always NUL-terminated. */
void wp_webhooks_url_shown(char *out, size_t cap, const char *url);

/* --- signatures (sign.c) -------------------------------------------------------------------- */

#define WP_WEBHOOKS_SIG_MAX 160

/* The json delivery's header value: "t=<t>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>". */
void wp_webhooks_sign_json(char out[WP_WEBHOOKS_SIG_MAX], const char *secret, int64_t t,
                           const char *body, size_t len);

/* DingTalk's robot: base64(HMAC-SHA256(key secret, "<timestamp ms>\n<secret>")), not yet
 * URL-encoded. */
void wp_webhooks_sign_dingtalk(char out[WP_WEBHOOKS_SIG_MAX], const char *secret, int64_t ts_ms);

/* Feishu's robot: base64(HMAC-SHA256(key "<timestamp s>\n<secret>", "")). */
void wp_webhooks_sign_feishu(char out[WP_WEBHOOKS_SIG_MAX], const char *secret, int64_t ts_s);

/* --- what the events say (render.c) --------------------------------------------------------- */

/* A robot's message for an event: the request body (without a signature) that format's robot
 * takes, in Chinese, from view (the event's data as a manager sees it). console_url ("" or
 * NULL: none) makes the link to the console. @return 0; WP_EINVAL (not a robot format);
 * WP_ENOMEM; WP_ELIMIT */
int wp_webhooks_render(wp_buf *out, const char *format, const char *event,
                       const json_t *view, const char *console_url, int64_t ts_us);

/* Whether an event may go to a webhook: insider alerts (mass_unmask, mass_export: for admins
 * and auditors) go only to json webhooks of the whole tenant. */
int wp_webhooks_may_carry(const wp_webhook *hook, const char *alert_kind);

/* --- the task: the outbox into events, the queue sent (task.c, send.c) ---------------------- */

#define WP_WEBHOOKS_RETRY_S (24 * 3600)    /* a delivery fails this long before it is dead */
#define WP_WEBHOOKS_BACKOFF_FIRST_S 30     /* the first retry within 15-30 s */
#define WP_WEBHOOKS_BACKOFF_MAX_S 3600     /* then doubling, at most an hour apart */
#define WP_WEBHOOKS_KEEP_S (30 * 24 * 3600) /* deliveries done, and their events, kept this long */

/* The seconds before retry n (1: after the first failure), before jitter: 30 s doubling, at
 * most an hour; the delay used is a uniform draw in [d/2, d]. */
int64_t wp_webhooks_backoff_s(int64_t n);

/* The tenant's scanner that masks what a manager may not see (the lexicon's mask entries and
 * the detectors). *out gets a reference the caller drops, or NULL for the detectors alone. */
typedef int (*wp_webhooks_scanner_fn)(void *arg, wp_store *st, const char *tenant_id,
                                      wp_scanner **out);

typedef struct wp_webhooks wp_webhooks;

typedef struct wp_webhooks_options {
    wp_webhooks_scanner_fn scanner; /* NULL: the detectors alone */
    void *scanner_arg;
    unsigned parallel;   /* transfers at once; 0: 8 */
    unsigned timeout_ms; /* of one attempt; 0: 10 s (connecting: at most 5 s) */
    unsigned batch;      /* deliveries a run sends at most; 0: 64 */
} wp_webhooks_options;

#define WP_WEBHOOKS_OPTIONS_INIT {0}

/* The state of the task (the options, and when it last pruned). Caller owns *out; release with
 * wp_webhooks_free(). @return 0; WP_ENOMEM; WP_EIO (libcurl) */
int wp_webhooks_new(wp_webhooks **out, const wp_webhooks_options *o);
void wp_webhooks_free(wp_webhooks *w); /* NULL is a no-op */

/* The task, a wp_jobs_fn (src/jobs; arg: the wp_webhooks): makes the outbox's rows into events
 * and deliveries, each row in one transaction, then sends the deliveries due (at most batch,
 * parallel at once) and records each attempt; prunes once an hour. note gets
 * "events= sent= failed= dead=" when anything happened. Runs on one thread. */
int wp_webhooks_run(wp_store *st, void *w, int64_t now_us, wp_buf *note);

/* The test event of one webhook, queued to it alone in st's transaction (the caller's):
 * event "webhook.test". @return 0 or the store's error */
int wp_webhooks_test_event(wp_store *st, char event_id[WP_ID_LEN + 1],
                           char delivery_id[WP_ID_LEN + 1], const char *tenant_id,
                           const wp_webhook *hook, int64_t now_us);

#endif
