/* SPDX-License-Identifier: MIT */
/* WeCom (企业微信), customer contact (客户联系, CONTRACT §6): the callback's crypto and XML, the
 * callback itself (contact changes become workphone's contact events, alerts and customers),
 * and the client of WeCom's API (an access token per tenant, the contact list, the transfer
 * of customers on a handover) with the two jobs that use it. Knows nothing of HTTP serving:
 * src/api/wecom.c maps its answers to replies. docs/internals/wecom.md has the design. */
#ifndef WP_WECOM_H
#define WP_WECOM_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "ingest/ingest.h"
#include "store/pool.h"
#include "store/store.h"
#include "store/wecom.h"
#include "util/buf.h"

#define WP_WECOM_BODY_MAX (64u * 1024)      /* bytes of a callback's body */
#define WP_WECOM_XML_FIELD_MAX (16u * 1024) /* bytes of one field of a callback's XML */
#define WP_WECOM_WINDOW_S 300 /* a callback's timestamp within this of the server's time */
#define WP_WECOM_ANSWER_MAX (8u * 1024 * 1024) /* bytes of an answer of WeCom's API */
#define WP_WECOM_TRANSFER_BATCH 100 /* external userids in one transfer call (WeCom's limit) */

/* --- crypto (crypto.c), as WeCom documents its callbacks -------------------------------------- */

/* The callback signature: the lowercase hex SHA-1 of token, timestamp, nonce and the encrypted
 * message sorted as byte strings and joined. */
void wp_wecom_signature(char out[41], const char *token, const char *timestamp, const char *nonce,
                        const char *encrypted);

/* 1 when sig (40 hex digits, any case) is that signature; constant time. */
int wp_wecom_signature_ok(const char *sig, const char *token, const char *timestamp,
                          const char *nonce, const char *encrypted);

/* Decrypt a callback's message: b64 is base64 of AES-256-CBC (key: the 43-character
 * EncodingAESKey + "=" decoded, IV its first 16 bytes, PKCS#7 padding to 32-byte blocks) over
 * 16 random bytes, the message's length (4 bytes, network order), the message, and the
 * receiver id (the corp id).
 * @param[out] out      the message, NUL-terminated, *len bytes; untouched on failure
 * @param[out] receiver the receiver id found (NUL-terminated, cut at WP_WECOM_ID_MAX bytes)
 * @return 0; WP_EINVAL (a bad key, base64, padding or length) with wp_error_last() saying which
 * Caller owns *out (free). */
int wp_wecom_decrypt(char **out, size_t *len, char receiver[WP_WECOM_ID_MAX + 1],
                     const char *aes_key, const char *b64);

/* The other way (tests, fuzzing, replies WeCom would take): random16 the 16 random bytes.
 * Caller owns *out (free), base64 text. */
int wp_wecom_encrypt(char **out, const char *aes_key, const char *msg, size_t len,
                     const char *receiver, const unsigned char random16[16]);

/* --- XML (xml.c) ------------------------------------------------------------------------------ */

/* The text of the root element's children named in names (n of them), as WeCom's callbacks
 * carry them (<xml><ToUserName><![CDATA[...]]></ToUserName>...</xml>): values[i] malloc'ed,
 * NULL when absent. Deeper elements are ignored; a document type, an entity declaration,
 * more than WP_WECOM_BODY_MAX bytes or a field past WP_WECOM_XML_FIELD_MAX is WP_EINVAL.
 * On failure every values[i] is NULL. Caller frees each (wp_wecom_xml_free). */
int wp_wecom_xml_fields(char **values, const char *const *names, size_t n, const char *xml,
                        size_t len);
void wp_wecom_xml_free(char **values, size_t n);

/* A customer-contact event (change_external_contact) as the callback's decrypted XML says it. */
typedef struct wp_wecom_event {
    char to_user[WP_WECOM_ID_MAX + 1];  /* ToUserName: the corp id */
    char msg_type[33], event[65], change_type[65];
    char user_id[WP_WECOM_ID_MAX + 1];          /* UserID: the employee */
    char external_user_id[WP_WECOM_ID_MAX + 1]; /* ExternalUserID: the customer */
    char fail_reason[65];                       /* transfer_fail: FailReason */
    int64_t create_time;                        /* CreateTime, unix seconds; 0 when absent */
} wp_wecom_event;

/* Parse a decrypted callback message. WP_EINVAL when it is not XML, a field is longer than its
 * place above, or CreateTime is not a number. */
int wp_wecom_event_parse(wp_wecom_event *out, const char *xml, size_t len);

/* --- the module's object ------------------------------------------------------------------ */

/* What the customer-contact side needs of a tenant's WeCom settings (CONTRACT §6), opened
 * from the settings the chat archive's PUT /api/v1/integrations/wecom writes (settings.h).
 * Fields not set are "". */
typedef struct wp_wecom_config {
    char corp_id[WP_WECOM_ID_MAX + 1];
    char callback_token[WP_WECOM_SECRET_MAX + 1];
    char encoding_aes_key[WP_WECOM_AES_KEY_LEN + 1];
    char contact_secret[WP_WECOM_SECRET_MAX + 1];
    char api_base[WP_WECOM_URL_MAX + 1]; /* WP_WECOM_API_BASE_DEFAULT when not set */
    int64_t updated_us;
} wp_wecom_config;

typedef struct wp_wecom wp_wecom;

typedef struct wp_wecom_options {
    wp_ingest *ingest;        /* borrowed, required: contact events go through it */
    wp_store_connpool *pool;  /* borrowed, required: the callback's short store work */
    const unsigned char *audit_key; /* WP_AUDIT_KEY_LEN bytes, copied, required: opens the
                                     * settings' sealed secrets (settings.h) */
    unsigned timeout_ms;      /* one call to WeCom's API; 0: 15000 */
    unsigned attempts;        /* tries of one call (transport errors, 5xx, rate limits); 0: 4 */
    unsigned backoff_ms;      /* the first wait after a rate limit; doubled each time; 0: 500 */
    unsigned poll_s;          /* a waiting transfer is asked about again after; 0: 600 */
    /* asks serve's scheduler to run a task of this module soon ("wecom_transfers",
     * "wecom_contacts"); NULL: they wait for their next time */
    void (*kick)(void *ctx, const char *task);
    void *kick_ctx;
} wp_wecom_options;

/* @return 0; WP_EINVAL (no ingest or pool); WP_ENOMEM. Caller owns *out (wp_wecom_free). */
int wp_wecom_new(wp_wecom **out, const wp_wecom_options *o);
void wp_wecom_free(wp_wecom *w); /* NULL is a no-op */

/* Ask for a task to run soon (the options' kick). */
void wp_wecom_kick(wp_wecom *w, const char *task);

/* --- the callback (callback.c) --------------------------------------------------------------- */

/* Why a callback was refused: each a 4xx of its own (src/api/wecom.c). */
enum wp_wecom_refusal {
    WP_WECOM_OK = 0,
    WP_WECOM_NOT_CONFIGURED, /* the tenant has no callback token or EncodingAESKey: 404 */
    WP_WECOM_BAD_REQUEST,    /* a parameter missing or malformed, the XML or base64 bad: 400 */
    WP_WECOM_BAD_SIGNATURE,  /* 403 */
    WP_WECOM_STALE,          /* timestamp outside WP_WECOM_WINDOW_S: 403 */
    WP_WECOM_REPLAYED,       /* timestamp and nonce seen within the window: 409 */
    WP_WECOM_WRONG_RECEIVER, /* the message is for another corp: 403 */
};

typedef struct wp_wecom_request {
    const char *tenant_id;
    const char *msg_signature, *timestamp, *nonce; /* the query's */
    const char *echostr;                           /* GET: the query's */
    const char *body;                              /* POST: the XML envelope */
    size_t body_len;
    int64_t now_us;
} wp_wecom_request;

typedef struct wp_wecom_outcome {
    enum wp_wecom_refusal refused; /* WP_WECOM_OK: accepted */
    char *echo;                    /* GET: the decrypted echostr to answer (malloc) */
    const char *what;   /* POST: "stored", "duplicate", "ignored", "transfer_fail" */
    const char *why;    /* "ignored": why (a static string) */
    json_t *alerts;     /* POST, stored: the alerts raised (as wp_ingest_events' reply) */
} wp_wecom_outcome;

void wp_wecom_outcome_release(wp_wecom_outcome *o);

/* GET: verify the URL (WeCom's check when the admin saves the callback URL): the signature
 * over echostr, then echostr decrypted into o->echo. A refusal is 0 with o->refused set.
 * @return 0 or a store error */
int wp_wecom_callback_verify(wp_wecom *w, wp_wecom_outcome *o, const wp_wecom_request *r);

/* POST: a customer-contact event. After the signature, the time window, the decryption and
 * the receiver, the (timestamp, nonce) pair is noted in the store's replay cache; a
 * change_external_contact event of an employee found by its wecom_userid becomes a contact
 * event on channel "wecom" with the external userid as the peer id (add_external_contact,
 * add_half_external_contact: added; del_external_contact: deleted, a customer_deleted alert;
 * del_follow_user: blocked, a customer_blocked alert; edit_external_contact: renamed), through
 * wp_ingest_source_events; transfer_fail marks the transfer refused. The same event sent again
 * under another nonce is a duplicate (stored once). Anything else is accepted and ignored.
 * @return 0 (o->refused says whether it was refused); a store or ingest error (nothing kept:
 *         WeCom sends it again) */
int wp_wecom_callback_event(wp_wecom *w, wp_wecom_outcome *o, const wp_wecom_request *r);

/* --- WeCom's API (client.c) ------------------------------------------------------------------ */

/* One call of WeCom's API for the tenant of cfg: path under /cgi-bin/ ("externalcontact/
 * transfer_customer"), body a JSON object (POST) or NULL (GET). The access token (gettoken with
 * corp_id and contact_secret) is cached per tenant and fetched again 5 minutes before it
 * expires and when WeCom calls it invalid or expired (40014, 42001, 40001); rate limits
 * (45009, 45033, -1) and transport failures are tried again after a wait that doubles, up to
 * the options' attempts. *out is the answer; *errcode its errcode (0: done).
 * @return 0 (whatever errcode); WP_EINVAL (no contact_secret); WP_EIO (no answer after every
 *         attempt, or not JSON). Caller owns *out. */
int wp_wecom_api(wp_wecom *w, json_t **out, int64_t *errcode, const char *tenant_id,
                 const wp_wecom_config *cfg, const char *path, const json_t *body);

/* Parsers of WeCom's answers, kept apart for the fuzzers. Each takes the answer's text. */

/* gettoken: {"errcode":0,"access_token":"...","expires_in":7200}. *token malloc'ed. WP_EINVAL
 * when it is not that; WP_EAUTH with errcode set when WeCom refused. */
int wp_wecom_parse_token(char **token, int64_t *expires_in, int64_t *errcode, const char *text,
                         size_t len);

/* One customer of a transfer answer ({"customer":[{"external_userid","errcode"}]}) or a
 * transfer_result answer ({"customer":[{"external_userid","status","takeover_time"}],
 * "next_cursor"}): value is errcode or status. */
typedef struct wp_wecom_customer_result {
    char external_userid[WP_WECOM_ID_MAX + 1];
    int64_t value;
} wp_wecom_customer_result;

/* The "customer" array of an answer, at most max items (the rest ignored); next_cursor (may be
 * NULL) gets "next_cursor" ("" when none, cut at 255 bytes). status: read "status" rather than
 * "errcode". Items without an external userid are skipped. */
int wp_wecom_parse_customers(wp_wecom_customer_result *v, size_t *n, size_t max,
                             char next_cursor[256], const json_t *answer, int status);

/* One external contact of batch/get_by_user as workphone uses it. */
typedef struct wp_wecom_contact {
    char external_userid[WP_WECOM_ID_MAX + 1];
    char userid[WP_WECOM_ID_MAX + 1]; /* follow_info.userid: the employee */
    char name[WP_ARCHIVE_FIELD_MAX + 1];
    char phone[WP_ARCHIVE_PHONE_MAX + 1]; /* the first of follow_info.remark_mobiles, or "" */
    int64_t createtime;                   /* follow_info.createtime, unix seconds */
} wp_wecom_contact;

/* The external_contact_list of a batch/get_by_user answer, at most max (the rest ignored);
 * items missing an id are skipped, long names cut on a character. */
int wp_wecom_parse_contacts(wp_wecom_contact *v, size_t *n, size_t max, char next_cursor[256],
                            const json_t *answer);

/* --- the jobs (transfer.c, sync.c): tasks with src/jobs' signature (wp_jobs_fn) ------------- */

/* Send the pending transfers of every tenant to WeCom (transfer_customer for transfers,
 * resigned/transfer_customer for departures, up to WP_WECOM_TRANSFER_BATCH a call) and ask
 * transfer_result about the waiting ones, moving each customer's state (store/wecom.h). arg is
 * the wp_wecom. note: sent= waiting= accepted= refused= failed=. */
int wp_wecom_transfers_run(wp_store *st, void *arg, int64_t now_us, wp_buf *note);

/* Read every tenant's external contacts per employee (batch/get_by_user, the employees with a
 * wecom_userid) and make the ones workphone lacks into "added" contact events of their
 * employee (a customer created, or linked by its phone or external userid); a customer still
 * named by its external userid takes WeCom's name. note: contacts= added= named=. */
int wp_wecom_contacts_run(wp_store *st, void *arg, int64_t now_us, wp_buf *note);

#endif
