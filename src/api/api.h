/* SPDX-License-Identifier: MIT */
/* The API handlers (one file per resource), the application state they share, and the one
 * rights check that runs before any of them. */
#ifndef WP_API_H
#define WP_API_H

#include "http/http.h"
#include "ingest/ingest.h"
#include "store/access.h"
#include "store/audit.h"
#include "store/customers.h"
#include "store/devices.h"
#include "store/messages.h"
#include "store/org.h"
#include "store/people.h"
#include "store/pool.h"
#include "store/scope.h"
#include "store/store.h"
#include "store/workhours.h"
#include "store/tags.h"

/* What every handler can reach through ctx->app. Set up once by `workphone serve` before the
 * server starts and read-only afterwards, so threads share it without locks. */
typedef struct wp_app {
    const char *version;           /* of this binary, for /api/v1/health */
    const char *data_dir;          /* media and keys live here */
    const char *db_url;            /* NULL: the SQLite file in data_dir */
    enum wp_store_backend backend; /* the store the server opened at start */
    wp_ingest *ingest; /* device protocol; NULL: only public routes answer */
    wp_store_connpool *pool; /* the store connections handlers borrow (api_store_acquire) */
    unsigned char audit_key[WP_AUDIT_KEY_LEN]; /* keys/audit.key of data_dir */
    struct api_audit_worker *audit_worker; /* reads are buffered here; NULL: written at once */
    /* asks the webhooks task to run soon (a test event, a redelivery): serve kicks it; NULL:
     * the next regular run sends them */
    void (*webhooks_wake)(void *ctx);
    void *webhooks_wake_ctx;
    struct wp_wecom_archiver *wecom_archive; /* the WeCom chat archive (src/wecom): kicked when
                                              * its settings change; checks sdk_path. NULL: no
                                              * sdk_path is allowed */
    struct wp_wecom *wecom; /* WeCom customer contact (src/wecom); NULL: its routes answer 404 */
    /* /metrics: 1 while this node runs the periodic jobs (the group's leader), 1 while it
     * listens for other nodes' changes (docs/internals/cluster.md); NULL: not told */
    int (*jobs_leading)(void *ctx);
    void *jobs_leading_ctx;
    int (*changes_listening)(void *ctx, uint64_t *notices);
    void *changes_listening_ctx;
} wp_app;

/* The route table of workphone (src/api/routes.c): every endpoint with its handler and the
 * right it needs, for wp_http_options.routes. *n gets its length. Borrowed; static. */
const wp_http_route *api_routes(size_t *n);

/* The ingest series of /metrics (src/api/metrics.c), for wp_http_options.metrics. */
int api_metrics(void *app, wp_buf *out);

/* --- who is calling (src/api/auth.c) ----------------------------------------------------- */

#define API_SESSION_COOKIE "wp_session"
#define API_SESSION_TTL_S (12 * 3600)
#define API_CSRF_HEADER "X-CSRF-Token"

/* Failed logins: past USER_MAX for one account or CLIENT_MAX from one address within the
 * window, logins are refused with 429 until the oldest of them leaves the window. */
#define API_LOGIN_WINDOW_S (15 * 60)
#define API_LOGIN_USER_MAX 5
#define API_LOGIN_CLIENT_MAX 30

#define API_KEY_PREFIX "wpk_"

enum api_caller_kind { API_CALLER_DEVICE = 1, API_CALLER_EMPLOYEE, API_CALLER_KEY };

/* The authenticated caller of a request, made by api_authorize() in the request's arena. */
typedef struct api_caller {
    enum api_caller_kind kind;
    const char *tenant_id; /* points into device or employee */
    wp_device device;      /* API_CALLER_DEVICE */
    wp_employee employee;  /* API_CALLER_EMPLOYEE */
    wp_api_key key;        /* API_CALLER_KEY */
    char session_hash[65]; /* API_CALLER_EMPLOYEE: the SHA-256 of its session token */
    char csrf_token[65];   /* ... and the CSRF token that goes with it */
    int64_t session_expires_us;
    int via_cookie; /* the session came in the cookie, not an Authorization header */
    wp_role_setting rs; /* employee or key: its role's settings in the tenant, read once here */
    wp_scanner *scanner;         /* a caller without view_pii: its tenant's scanner, which
                                 * masks its replies (src/api/view.c); released at the end */
    int reveal; /* this request's reply is an audited unmasking: api_reply_revealed() */
} api_caller;

/* The wp_http_options.authorize hook: the one place where a route's right is checked.
 * device: a device token (wp_ingest_device_auth); the others: a session token as
 * `Authorization: Bearer wps_...` or the wp_session cookie, or an API key as `Authorization:
 * Bearer wpk_...`, then the role's rights (api_role_allows);
 * a cookie-authenticated request other than GET/HEAD must carry X-CSRF-Token (the csrf_token of
 * the login reply). No or bad credentials: WP_EAUTH (401). Known caller without the right, or
 * a missing CSRF token: replies 403 itself. On success ctx->auth is an api_caller. */
int api_authorize(wp_http_ctx *ctx);

/* Whether a role has a right, given its settings in the tenant (rs, borrowed): the one place
 * where rights are decided, for the route table's rows. session (employees only, not API
 * keys: api_authorize() refuses keys itself), read (every role), write (admin, manager, sales:
 * within their scope), manage (admin, manager: deciding for others within their scope),
 * unmask (roles whose rs->unmask or rs->view_pii is set: admins, managers and auditors by
 * default), handle_alerts (every role but sales whose rs->handle_alerts is set: admins,
 * managers and auditors by default), audit (admin, auditor), admin (admin). Which objects a
 * right reaches is the scope's (api_scope_*). */
int api_role_allows(enum wp_role role, const wp_role_setting *rs, enum wp_http_right right);

/* The caller of a request that passed api_authorize(); NULL on public routes. Borrowed. */
const api_caller *api_caller_of(const wp_http_ctx *ctx);

/* --- what a caller sees and may act on: its scope (src/api/scope.c) ---------------------- */

/* Rights (what a role may do) are the route table's and api_role_allows()'s; which *objects* a
 * caller reaches is its scope, decided here only: a customer outside its subtree is 404, an
 * employee it is not over 403.
 *
 * The part of the tenant a console caller sees. Every console list handler gets its filter's
 * scope from api_scope_for(), and a single-object handler asks api_scope_allows_*(); an object
 * outside the scope is answered 404, as if it did not exist (CONTRACT §5). */
typedef struct api_scope {
    int all;             /* admin and auditor: the whole tenant */
    wp_scope store;      /* a manager: its org subtree (store.org_path); a salesperson: itself,
                          * its own customers and what it said (store.employee_id); as every
                          * store filter takes it */
    const char *unit_id; /* the caller's own org unit ("" for API keys) */
    int see_phone;       /* unmasked phone numbers and other personal data */
} api_scope;

/* Fill *out for the caller of ctx (strings in ctx->arena).
 * @return 0; WP_EAUTH when the caller is no employee; store errors */
int api_scope_for(wp_http_ctx *ctx, wp_store *st, api_scope *out);

/* 0 when the customer is in the scope (for changing it, too), else WP_ENOTFOUND named like a
 * missing one. */
int api_scope_allows_customer(wp_http_ctx *ctx, wp_store *st, const api_scope *scope,
                              const wp_customer *c);

/* How much of a customer a reader sees. */
enum api_access {
    API_ACCESS_NONE = 0,
    API_ACCESS_MET,    /* its device (or one in its subtree) met the customer: the record and
                        * those conversations, not the owner's CRM events */
    API_ACCESS_RECORD, /* owner in scope, or a transfer kept its read access: the record whole */
};

/* The reader's access to a customer: *out, and 0; WP_ENOTFOUND (named like a missing one)
 * when it has none. Which conversations it reads is the store's scope either way. */
int api_scope_customer_access(wp_http_ctx *ctx, wp_store *st, const api_scope *scope,
                              const wp_customer *c, enum api_access *out);

/* api_scope_customer_access() without the level: 0 when the reader sees the record. */
int api_scope_reads_customer(wp_http_ctx *ctx, wp_store *st, const api_scope *scope,
                             const wp_customer *c);

/* 0 when the reader sees a row of what people said (a message, a call, a recording) that
 * employee_id had with customer_id (may be NULL): the employee is in scope, or an explicit act
 * handed that history to someone in scope. Else WP_ENOTFOUND. */
int api_scope_sees_history(wp_http_ctx *ctx, wp_store *st, const api_scope *scope,
                           const char *tenant_id, const char *employee_id,
                           const char *customer_id);

/* 0 when the employee is in the scope (admin/auditor: all; manager: its unit's subtree; sales:
 * itself), else WP_ENOTFOUND named like a missing one. */
int api_scope_allows_employee(wp_http_ctx *ctx, wp_store *st, const api_scope *scope,
                              const wp_employee *e);

/* 0 when the org unit is in the scope (manager: its subtree; sales: its own unit), else
 * WP_ENOTFOUND named like a missing one. */
int api_scope_allows_org_unit(const api_scope *scope, const wp_org_unit *u);

/* The employee a caller acts as: itself, or for an API key the employee who made it (a key
 * acts for its creator). "" for a key of no known creator, NULL for a device. Borrowed. */
const char *api_caller_employee_id(const api_caller *c);

enum api_manage_flags {
    API_MANAGE_SELF = 1 << 0,   /* the act may be on the caller itself (renaming oneself) */
    API_MANAGE_ALERTS = 1 << 1, /* handling an alert about e: auditors may too (the route
                                 * checked their handle_alerts) */
};

/* Whether the caller may act on employee e as someone over it: hand it over, change,
 * deactivate it or reset its password, handle the alerts about it. Admins may act on anyone;
 * a manager (or manager key) on the salespeople of its unit's subtree and the managers of
 * the units strictly below its own, never on admins and auditors; nobody on itself (an API
 * key acts for its creator) unless flags allow it. what names the act in the refusal ("hand
 * over", "change", ...). @return 0; WP_ENOTFOUND (not replied) when e is outside the scope;
 * else replies 403 forbidden itself and returns WP_EINVAL. */
int api_scope_may_manage_employee_or_reply(wp_http_ctx *ctx, wp_store *st,
                                           const api_scope *scope, const wp_employee *e,
                                           unsigned flags, const char *what);

/* --- what a caller may see of people's text (src/api/view.c) ------------------------------- */

/* Personal data reaches a caller without the right to see it (view_pii) only masked, and the
 * masking happens in one place: api_view_reply() is the server's reply_filter, through which
 * every JSON answer passes. Every string is masked (the personal-data detectors and the
 * tenant lexicon's mask entries, one '*' per character) except the values of keys that are the
 * system's own words (ids, times, states, kinds, hashes: a fixed list in view.c) and values that
 * are references ("customer:<id>"); "phone" keys and "phone:" identities show 138****8000.
 * Devices and callers with view_pii see everything. Non-JSON answers (CSV) mask each cell with
 * api_view_text(); tests/lint.sh allows raw bytes out of src/api only where listed. */
int api_view_reply(wp_http_ctx *ctx, json_t *body);

/* The wp_http_options.release hook: drops what authorization took for the request. */
void api_view_release(wp_http_ctx *ctx);

/* 1 when the caller sees personal data unmasked (a device, or view_pii). */
int api_view_clear(const wp_http_ctx *ctx);

/* text as the caller sees it: *out is text itself when nothing is masked, else a copy in
 * ctx->arena. Masking a masked text changes nothing. */
int api_view_text(wp_http_ctx *ctx, const char **out, size_t *out_len, const char *text,
                  size_t len);

/* The same into out (for the store's searches: wp_text_view); *changed says if it masked. */
int api_view_mask_buf(const wp_http_ctx *ctx, wp_buf *out, int *changed, const char *text,
                      size_t len);

/* *out: a store view (wp_text_view) that shows texts as the caller of ctx sees them, or NULL
 * for a caller who sees everything (no work for the store). Borrowed from ctx's arena.
 * @return 0 or WP_ENOMEM */
int api_view_for_store(wp_http_ctx *ctx, const wp_text_view **out);

/* A text field written back by a caller who sees current masked: the masked form itself means
 * unchanged (*value becomes NULL), and a value that keeps a run of stars of a hidden part is
 * refused (WP_EINVAL naming field) rather than stored over the data. */
int api_view_edit(wp_http_ctx *ctx, const char *field, const char *current, const char **value);

/* A phone number as people without the right to see it get it: 138****8000. */
void api_mask_phone(char *out, size_t cap, const char *phone);

/* Reply body unmasked: only after the audited act of unmasking one object (the audit row has
 * committed). tests/lint.sh allows it in the unmask handlers only. */
int api_reply_revealed(wp_http_ctx *ctx, unsigned status, json_t *body);

/* --- the audit log (src/api/audit.c) -------------------------------------------------------- */

/* Append an audit row for the caller of ctx (actor "employee:<id>", "apikey:<id>" or
 * "device:<id>"; client its address), inside st's transaction when one is open, so the row
 * commits with the change it records. target may be NULL; details (borrowed, may be NULL) is
 * a JSON object. @return 0 or a WP_E* (the caller fails the request: no unaudited write). */
int api_audit(wp_http_ctx *ctx, wp_store *st, const char *action, const char *target,
              const json_t *details);

/* The same for a request without an authenticated caller (a login): actor given. */
int api_audit_as(wp_http_ctx *ctx, wp_store *st, const char *tenant_id, const char *actor,
                 const char *action, const char *target, const json_t *details);

/* A HEAD request appends nothing through either: it runs a GET handler, but no data leaves.
 * api_audit() then counts unmaskings and exports for the insider alerts
 * (wp_store_insider_check), in the same transaction. */

/* Record that the caller read something (a conversation, a search, a timeline): one audit row,
 * like api_audit()'s but buffered (api_audit_worker_push) and appended within a second by the
 * audit thread, so a read costs no write of its own. Call it with no store connection held,
 * before replying: when the buffer cannot take it (the store is down for seconds) it fails and
 * so must the read. target may be NULL; details (borrowed, may be NULL) is a JSON object. */
int api_audit_read(wp_http_ctx *ctx, const char *action, const char *target,
                   const json_t *details);

/* api_audit_read() of one customer's data (target "customer:<id>"), e.g. "timeline.read". */
int api_audit_customer_read(wp_http_ctx *ctx, const char *action, const char *customer_id);

/* api_audit_read() of a page of GET /api/v1/messages: "messages.search" with "q" in the
 * details when f->q is set, else "messages.read"; target the customer or employee read by. */
int api_audit_messages_read(wp_http_ctx *ctx, const wp_message_filter *f,
                            const wp_message_page *page);

/* --- the audit log's buffered reads (src/api/audit_worker.c) ------------------------------- */

#define API_AUDIT_FLUSH_MS 1000 /* buffered reads are appended at least this often */

typedef struct api_audit_worker api_audit_worker;

typedef struct api_audit_worker_config {
    const unsigned char *audit_key; /* WP_AUDIT_KEY_LEN bytes, copied */
    /* asks for api_audit_worker_flush() to run soon (rows wait, or a handler waits for them):
     * serve kicks the flush task of its scheduler. Called from handlers, without a lock of the
     * buffer held. NULL: rows wait for the next regular flush. */
    void (*wake)(void *ctx);
    void *wake_ctx;
} api_audit_worker_config;

/* The buffer of reads. It runs no thread of its own: api_audit_worker_flush() writes it, as a
 * task of the jobs' scheduler (src/jobs, which api does not include: serve registers it every
 * API_AUDIT_FLUSH_MS and at a graceful stop). Caller owns *out; release with
 * api_audit_worker_free(). @return 0; WP_ENOMEM */
int api_audit_worker_new(api_audit_worker **out, const api_audit_worker_config *c);

/* The flush, with the signature of a task of src/jobs (wp_jobs_fn; arg: the buffer): appends the
 * rows buffered so far, tenant by tenant in the order they came, each batch (up to 500 rows)
 * in one transaction on st. Runs on one thread at a time. On a store error the rows not
 * written wait for the next run ("rows_waiting=N" in note) and the error is returned; a row the
 * store refuses is dropped ("dropped=N") and that refusal returned. */
int api_audit_worker_flush(wp_store *st, void *w, int64_t now_us, wp_buf *note);

/* Rows buffered and not written: after the last flush, the reads a stop loses. */
size_t api_audit_worker_waiting(api_audit_worker *w);

/* NULL is a no-op. Only once nothing pushes or flushes any more (the server and the
 * scheduler stopped); rows still buffered are lost. */
void api_audit_worker_free(api_audit_worker *w);

/* Buffer a row (copied). WP_EIO when the buffer stays full for 5 s. */
int api_audit_worker_push(api_audit_worker *w, const wp_audit_entry *e);

/* Wait (up to timeout_ms) until every row pushed before the call is appended: the audit list
 * shows this node's reads so far. WP_EIO on timeout. */
int api_audit_worker_sync(api_audit_worker *w, unsigned timeout_ms);

/* --- shared helpers (src/api/common.c) ---------------------------------------------------- */

/* A store connection from the server's pool (app->pool), for this handler only: pair with
 * api_store_release(). @return 0, WP_EIO when the server has no store */
int api_store_acquire(wp_http_ctx *ctx, wp_store **out);
void api_store_release(wp_http_ctx *ctx, wp_store *st);

/* ?limit=: absent → WP_PAGE_DEFAULT; 1..WP_PAGE_MAX else WP_EINVAL naming it. */
int api_query_limit(const wp_http_ctx *ctx, unsigned *out);

/* ?name= as an RFC 3339 time: absent or empty → *out = 0; WP_EINVAL naming it. */
int api_query_time(const wp_http_ctx *ctx, const char *name, int64_t *out);

/* 1 when s has the shape of an id (WP_ID_LEN lowercase hex digits); 0 for anything else or
 * NULL. */
int api_is_id(const char *s);

/* ?name= as an id: absent or empty → NULL; not id-shaped → WP_EINVAL naming it. */
int api_query_id(const wp_http_ctx *ctx, const char *name, const char **out);

/* A JSON string for s, null for NULL (and for "" when empty_is_null). Invalid UTF-8 bytes
 * become U+FFFD rather than failing the reply. New reference; NULL only when out of memory. */
json_t *api_jstr(const char *s, int empty_is_null);

/* The JSON value a stored text holds (json_loads with flags), telling a text that is not JSON
 * from a failed allocation: jansson 2.14's lexer drops a character it cannot keep, so a failed
 * allocation gives bad syntax or, worse, a value with a character missing (an id one digit
 * short). The text is read twice: two reads that disagree (one fails, or the values differ)
 * mean an allocation failed. Costs a second parse of each stored text shown.
 * @param[out] out  the value, or NULL when text is NULL or not JSON; untouched on failure
 * @return 0, or WP_ENOMEM. Caller owns *out. */
int api_jparse(json_t **out, const char *text, size_t flags);

/* An RFC 3339 time in UTC ("2026-11-22T02:00:00Z"), or null for 0. New reference. */
json_t *api_jtime(int64_t us);

/* Reply 200 {"items": items, "next_cursor": cursor or null}. Takes ownership of items. */
int api_reply_page(wp_http_ctx *ctx, json_t *items, const char *next_cursor);

/* api_reply_page() of the n items of size bytes at v, each made JSON by to_json(item, arg). */
int api_reply_items(wp_http_ctx *ctx, const void *v, size_t n, size_t size,
                    json_t *(*to_json)(const void *item, const void *arg), const void *arg,
                    const char *next_cursor);

/* WP_EINVAL naming the first member of body that is not in allowed (NULL-terminated). */
int api_body_check_fields(json_t *body, const char *const *allowed);

/* A store error about a value of the body (a unit that does not exist, a bad name) becomes a
 * bad request naming its field; other errors pass through. */
int api_field_error(int err, const char *field);

enum api_field_flags {
    API_FIELD_REQUIRED = 1 << 0, /* absent (or null) is WP_EINVAL "'x' is required" */
    API_FIELD_NOT_NULL = 1 << 1, /* null is not a string either, even for an optional field:
                                  * where null would mean nothing, it is refused, not ignored */
};

/* body[field] as a string (borrowed from body), or NULL when absent or null; a value of
 * another type is WP_EINVAL "'x' must be a string". flags: enum api_field_flags. */
int api_body_str(json_t *body, const char *field, unsigned flags, const char **out);


/* The details of an audit row that has none, for api_audit_commit(): its NULL details are
 * a json_pack() that failed (out of memory), never a row written without the details its
 * caller meant. */
extern const json_t api_audit__no_details;
#define API_AUDIT_NO_DETAILS (&api_audit__no_details)

/* Finish a write begun with wp_store_begin(): unless err is set already, audit action on
 * target "<kind>:<id>" with details (API_AUDIT_NO_DETAILS: none; NULL: out of memory, nothing
 * is written) and commit; on any error roll back.
 * @return 0 or the first error */
int api_audit_commit(wp_http_ctx *ctx, wp_store *st, int err, const char *action, const char *kind,
                     const char *id, const json_t *details);

/* api_audit_commit() with body as the details, then release st and reply status with body
 * (204: no body; body NULL otherwise: out of memory). Takes ownership of body and of st. */
int api_write_reply(wp_http_ctx *ctx, wp_store *st, int err, const char *action, const char *kind,
                    const char *id, json_t *body, int status);

/* api_write_reply() with details (as api_audit_commit() takes them) other than the body: audit
 * action with details, make body the reply (wp_http_ready_json: serialized and masked before
 * the commit, so nothing can fail after it), commit, release st and send the reply. 204: no
 * body; body NULL otherwise: out of memory. Takes ownership of body and of st, not of details. */
int api_audit_reply(wp_http_ctx *ctx, wp_store *st, int err, const char *action, const char *kind,
                    const char *id, const json_t *details, json_t *body, int status);

/* DELETE .../{id}: del(st, tenant, id) in a transaction, audited as action on "<kind>:<id>",
 * then 204. */
int api_delete_audited(wp_http_ctx *ctx,
                       int (*del)(wp_store *st, const char *tenant_id, const char *id),
                       const char *action, const char *kind);

/* --- what the CRM handlers share (src/api/crm.c) ------------------------------------------ */

/* The caller as a CRM actor; buf (64 bytes) holds the actor string. */
void api_crm_actor(const wp_http_ctx *ctx, wp_crm_actor *out, char buf[64]);

/* A customer with its CRM fields as JSON (owner null in the pool); personal data is masked at
 * the reply boundary. New reference; NULL when out of memory. */
json_t *api_crm_customer_json(const wp_customer_crm *c, const api_scope *scope);

/* Tags as [{"id","name","color"}]. New reference; NULL when out of memory. */
json_t *api_tags_json(const wp_tag *v, size_t n);

/* A customer's tags as api_tags_json(), read through st; NULL on a store error or out of
 * memory. New reference. */
json_t *api_customer_tags_json(wp_store *st, const char *tenant_id, const char *customer_id);

/* --- handlers ----------------------------------------------------------------------------- */

/* GET /api/v1/health: {"status":"ok","version":"...","store":"sqlite"|"postgresql"}. */
int api_health_get(wp_http_ctx *ctx);
int api_ready_get(wp_http_ctx *ctx);

/* auth.c: POST /api/v1/auth/login, POST /api/v1/auth/logout, GET /api/v1/auth/session */
int api_auth_login(wp_http_ctx *ctx);
int api_auth_logout(wp_http_ctx *ctx);
int api_auth_session(wp_http_ctx *ctx);

/* device.c: the device protocol of CONTRACT §4 */
int api_device_enroll(wp_http_ctx *ctx);
int api_device_events(wp_http_ctx *ctx);
int api_device_check(wp_http_ctx *ctx);
int api_device_policy(wp_http_ctx *ctx);
int api_device_media_put(wp_http_ctx *ctx); /* a WP_ROUTE_STREAM_BODY route */

/* integrations.c: GET/PUT /api/v1/integrations/wecom (CONTRACT §6), the chat archive's held
 * records (GET .../wecom/archive/held) and a retry of them (POST .../wecom/archive/retry) */
int api_integrations_wecom_get(wp_http_ctx *ctx);
int api_integrations_wecom_put(wp_http_ctx *ctx);
int api_integrations_wecom_held(wp_http_ctx *ctx);
int api_integrations_wecom_retry(wp_http_ctx *ctx);

/* enroll.c: POST /api/v1/employees/{id}/enrollment-codes */
int api_enrollment_codes_create(wp_http_ctx *ctx);

/* devices.c: GET /api/v1/devices; POST /api/v1/devices/{id}/revoke (for good) and PATCH
 * /api/v1/devices/{id} {"disabled"} (for a while), by those over the device's employee */
int api_devices_list(wp_http_ctx *ctx);
int api_devices_revoke(wp_http_ctx *ctx);
int api_devices_update(wp_http_ctx *ctx);

/* messages.c: GET /api/v1/messages, POST /api/v1/messages/{id}/unmask (audited) */
int api_messages_list(wp_http_ctx *ctx);
int api_messages_unmask(wp_http_ctx *ctx);

/* alerts.c: GET /api/v1/alerts, PATCH /api/v1/alerts/{id} */
int api_alerts_list(wp_http_ctx *ctx);
int api_alerts_update(wp_http_ctx *ctx);

/* customers.c: GET /api/v1/customers, GET /api/v1/customers/{id} */
int api_customers_list(wp_http_ctx *ctx);
int api_customers_get(wp_http_ctx *ctx);

/* The limits of POST /api/v1/lexicon/check (422 limit_exceeded, details.limit naming which):
 * a draft as large as PUT /api/v1/lexicon takes, its "re:" lines, and the text tried. */
#define API_LEXICON_CHECK_BYTES_MAX WP_INGEST_LEXICON_MAX /* "lexicon_bytes" */
#define API_LEXICON_CHECK_REGEX_MAX 2000                  /* "regex_entries" */
#define API_LEXICON_CHECK_TEXT_MAX WP_ARCHIVE_TEXT_MAX    /* "text_bytes" */

/* lexicon.c: GET/PUT /api/v1/lexicon (text), GET/PUT /api/v1/settings */
int api_lexicon_get(wp_http_ctx *ctx);
int api_lexicon_put(wp_http_ctx *ctx);
int api_lexicon_check(wp_http_ctx *ctx); /* POST /api/v1/lexicon/check: the console's test box */
/* notice and consent, employee transparency (src/api/privacy.c, issue 20) */
int api_consents_list(wp_http_ctx *ctx);
int api_consents_create(wp_http_ctx *ctx);
int api_me_privacy(wp_http_ctx *ctx);
int api_me_viewers(wp_http_ctx *ctx);
int api_notice_get(wp_http_ctx *ctx);
int api_notice_put(wp_http_ctx *ctx);
int api_notice_acks(wp_http_ctx *ctx);
int api_device_notice_ack(wp_http_ctx *ctx);
int api_device_consents_create(wp_http_ctx *ctx);
int api_settings_get(wp_http_ctx *ctx);
int api_settings_put(wp_http_ctx *ctx);

/* lexicons.c: lexicons of org units (GET/PUT /api/v1/lexicon?unit=, GET /api/v1/lexicons) */
/* 0 when id names an org unit in the caller's scope; WP_EINVAL (not an id), WP_ENOTFOUND. */
int api_lexicon_unit_check(wp_http_ctx *ctx, const char *id);
/* The unit's own lexicon as text, or with ?view=effective the union its phones get. */
int api_unit_lexicon_get(wp_http_ctx *ctx, const char *unit);
/* Replace the unit's own lexicon (the raw body), audited as lexicon.put on "org_unit:<id>". */
int api_unit_lexicon_put(wp_http_ctx *ctx, const char *unit);
int api_lexicons_list(wp_http_ctx *ctx);
/* The test box for a unit (body {"text", "lexicon"?, "unit"}, its limits checked): the
 * verdict under the union of the unit's path, with the draft as the unit's own lexicon. */
int api_unit_lexicon_check(wp_http_ctx *ctx, json_t *body, const char *unit);

/* org.c: the org tree (CONTRACT §5) */
int api_org_units_list(wp_http_ctx *ctx);
int api_org_units_create(wp_http_ctx *ctx);
int api_org_units_get(wp_http_ctx *ctx);
int api_org_units_update(wp_http_ctx *ctx); /* rename, move */
int api_org_units_delete(wp_http_ctx *ctx);

/* employees.c: employees and their accounts (CONTRACT §5) */
int api_employees_list(wp_http_ctx *ctx);
int api_employees_create(wp_http_ctx *ctx);
int api_employees_get(wp_http_ctx *ctx);
int api_employees_update(wp_http_ctx *ctx); /* name, unit, role, active */
int api_employees_password_reset(wp_http_ctx *ctx);

/* audit.c: GET /api/v1/audit, GET /api/v1/audit/verify */
int api_audit_list(wp_http_ctx *ctx);
int api_audit_verify(wp_http_ctx *ctx);

/* keys.c: API keys for integrations */
int api_keys_list(wp_http_ctx *ctx);
int api_keys_create(wp_http_ctx *ctx);
int api_keys_revoke(wp_http_ctx *ctx);
/* keys.c: end the live keys that creator_id (NULL: anyone) made and no longer holds, after a
 * change of its role, unit or state in st's open transaction, with an audit row
 * api_key.revoke {"reason", "creator", "name", "role"} per key. *n (may be NULL) gets how
 * many ended. @return 0 or a WP_E* (the caller fails the change). */
int api_keys_end_unheld(wp_http_ctx *ctx, wp_store *st, const char *creator_id, int64_t *n);
/* The same audit rows for keys the store ended already (a departure). */
int api_keys_audit_ended(wp_http_ctx *ctx, wp_store *st, const wp_api_key_end *v, size_t n);

/* roles.c: what each role may see of personal data */
int api_roles_get(wp_http_ctx *ctx);
int api_roles_put(wp_http_ctx *ctx);

/* media.c: GET /api/v1/media/{ref}: a recording or attachment in the caller's scope (audited) */
int api_media_get(wp_http_ctx *ctx);

/* customers.c: POST /api/v1/customers/{id}/assign (an owned customer to another employee) */
int api_customers_assign(wp_http_ctx *ctx);

/* customers.c: POST /api/v1/customers/{id}/unmask (audited) */
int api_customers_unmask(wp_http_ctx *ctx);

/* auth.c: POST /api/v1/auth/password (change one's own) */
int api_auth_password(wp_http_ctx *ctx);

/* --- customer asset protection (issue 7) ---------------------------------------------------- */

/* pool.c: the public pool */
int api_pool_list(wp_http_ctx *ctx);
int api_pool_claim(wp_http_ctx *ctx);
int api_pool_assign(wp_http_ctx *ctx);
int api_pool_settings_get(wp_http_ctx *ctx);
int api_pool_settings_put(wp_http_ctx *ctx);
int api_customers_release(wp_http_ctx *ctx); /* POST /api/v1/customers/{id}/release */

/* handovers.c: POST/GET /api/v1/handovers, GET /api/v1/handovers/{id} (?format=csv) */
int api_handovers_create(wp_http_ctx *ctx);
int api_handovers_list(wp_http_ctx *ctx);
int api_handovers_get(wp_http_ctx *ctx);

/* timeline.c: GET /api/v1/customers/{id}/timeline */
int api_customers_timeline(wp_http_ctx *ctx);

/* customers.c: PATCH /api/v1/customers/{id}, POST /api/v1/customers/{id}/follow-ups */
int api_customers_update(wp_http_ctx *ctx);
int api_customers_follow_up(wp_http_ctx *ctx);

/* --- the dashboard (issue 9) ------------------------------------------------------------------ */

/* analytics.c: GET /api/v1/analytics/{activity,response-times,alerts,funnel,conversion}, each
 * scoped by api_scope_for(), over local days (?from=&to=&tz=, ?by=employee|unit|none). */
int api_analytics_activity(wp_http_ctx *ctx);
int api_analytics_response_times(wp_http_ctx *ctx);
int api_analytics_alerts(wp_http_ctx *ctx);
int api_analytics_funnel(wp_http_ctx *ctx);
int api_analytics_conversion(wp_http_ctx *ctx);

/* --- customer rules (issue 7): tags, follow-up SOP, grading, scripts ------------------------ */

/* tags.c: GET/POST /api/v1/tag-groups and /api/v1/tags, PATCH/DELETE .../{id},
 * PUT /api/v1/customers/{id}/tags */
int api_tag_groups_list(wp_http_ctx *ctx);
int api_tag_groups_create(wp_http_ctx *ctx);
int api_tag_groups_update(wp_http_ctx *ctx);
int api_tag_groups_delete(wp_http_ctx *ctx);
int api_tags_list(wp_http_ctx *ctx);
int api_tags_create(wp_http_ctx *ctx);
int api_tags_update(wp_http_ctx *ctx);
int api_tags_delete(wp_http_ctx *ctx);
int api_customers_tags_put(wp_http_ctx *ctx);

/* rules.c: /api/v1/sop-rules (admin), GET /api/v1/reminders, POST /api/v1/reminders/{id}/done */
int api_sop_rules_list(wp_http_ctx *ctx);
int api_sop_rules_create(wp_http_ctx *ctx);
int api_sop_rules_update(wp_http_ctx *ctx);
int api_sop_rules_delete(wp_http_ctx *ctx);
int api_reminders_list(wp_http_ctx *ctx);
int api_reminders_done(wp_http_ctx *ctx);
/* rules.c: /api/v1/grade-rules (admin writes; every role reads) */
int api_grade_rules_list(wp_http_ctx *ctx);
int api_grade_rules_create(wp_http_ctx *ctx);
int api_grade_rules_update(wp_http_ctx *ctx);
int api_grade_rules_delete(wp_http_ctx *ctx);
/* scripts.c: /api/v1/scripts (admins and managers write; every role lists and searches) */
int api_scripts_list(wp_http_ctx *ctx);
int api_scripts_create(wp_http_ctx *ctx);
int api_scripts_update(wp_http_ctx *ctx);
int api_scripts_delete(wp_http_ctx *ctx);
/* merge.c: POST /api/v1/customers/{id}/merge {"from": id} */
int api_customers_merge(wp_http_ctx *ctx);

/* --- import and export (issue 15; docs/internals/importexport.md) --------------------------- */

/* customers.c: POST /api/v1/customers (one customer, by a CRM or a person; 409 when its phone
 * or channel id names a customer already) */
int api_customers_create(wp_http_ctx *ctx);
/* The bounds of an import (each refused as a whole: 413 body_too_large for the bytes, 422
 * limit_exceeded naming "rows", "columns", "cell_bytes" or "part_bytes" else). */
#define API_IMPORT_BYTES_MAX (8u * 1024 * 1024)       /* the file */
#define API_IMPORT_ROWS_MAX 5000                      /* data rows, the header not counted */
#define API_IMPORT_COLUMNS_MAX 32                     /* a filled cell past column AF */
#define API_IMPORT_CELL_BYTES_MAX 16384               /* one cell's text */
#define API_IMPORT_PART_BYTES_MAX (64u * 1024 * 1024) /* an XLSX part once inflated */
/* import.c: POST /api/v1/customers/import and /api/v1/employees/import (?mode=dry_run|apply),
 * a CSV or XLSX file as the body (WP_ROUTE_STREAM_BODY, at most API_IMPORT_BYTES_MAX) */
int api_import_customers(wp_http_ctx *ctx);
int api_import_employees(wp_http_ctx *ctx);
/* export.c: XLSX (or ?format=csv) of a list as the caller sees it, audited as an export */
int api_export_customers(wp_http_ctx *ctx); /* GET /api/v1/customers/export */
int api_export_alerts(wp_http_ctx *ctx);    /* GET /api/v1/alerts/export */
int api_export_messages(wp_http_ctx *ctx);  /* GET /api/v1/messages/export */
int api_export_timeline(wp_http_ctx *ctx);  /* GET /api/v1/customers/{id}/timeline/export */
int api_export_audit(wp_http_ctx *ctx);     /* GET /api/v1/audit/export */

/* --- events out (issue 16) ---------------------------------------------------------------- */

/* webhooks.c: /api/v1/webhooks (admin; CONTRACT §6), the test event, delivery history, the
 * dead letters (GET /api/v1/webhook-deliveries?status=dead) and their redelivery */
int api_webhooks_list(wp_http_ctx *ctx);
int api_webhooks_create(wp_http_ctx *ctx);
int api_webhooks_get(wp_http_ctx *ctx);
int api_webhooks_update(wp_http_ctx *ctx);
int api_webhooks_delete(wp_http_ctx *ctx);
int api_webhooks_test(wp_http_ctx *ctx);
int api_webhooks_deliveries(wp_http_ctx *ctx);
int api_webhook_deliveries_list(wp_http_ctx *ctx);
int api_webhook_deliveries_redeliver(wp_http_ctx *ctx);

/* What people see (issue 15). alerts.c: GET /api/v1/alerts/count (the open-alert badge, and
 * what arrived since the last look); workhours.c: GET/PUT /api/v1/working-hours (the tenant's
 * zone, hours and units' overrides), GET /api/v1/employees/{id}/working-hours?at= */
int api_alerts_count(wp_http_ctx *ctx);
int api_working_hours_get(wp_http_ctx *ctx);
/* {"days": [1..7], "from": "HH:MM", "to": "HH:MM"}: parse (WP_EINVAL naming field) and print
 * (workhours.c; geofences' schedules share the shape). */
int api_hours_parse(wp_workhours *out, json_t *o, const char *field);
json_t *api_hours_json(const wp_workhours *h);
/* /api/v1/geofences (geofences.c) */
int api_geofences_list(wp_http_ctx *ctx);
int api_geofences_create(wp_http_ctx *ctx);
int api_geofences_get(wp_http_ctx *ctx);
int api_geofences_update(wp_http_ctx *ctx);
int api_geofences_delete(wp_http_ctx *ctx);
int api_working_hours_put(wp_http_ctx *ctx);
int api_employee_working_hours(wp_http_ctx *ctx);
/* track.c: GET /api/v1/employees/{id}/track?from=&to= (issue 18, CONTRACT §7) */
int api_employee_track(wp_http_ctx *ctx);

/* checkins.c: GET /api/v1/checkins, GET /api/v1/attendance (issue 18, CONTRACT §7) */
int api_checkins_list(wp_http_ctx *ctx);
int api_attendance(wp_http_ctx *ctx);
int api_export_attendance(wp_http_ctx *ctx); /* GET /api/v1/attendance/export */
/* track.c: GET /api/v1/locations/latest?unit= (issue 18): the map's positions of today */
int api_locations_latest(wp_http_ctx *ctx);
/* messages.c: the fields of a message beyond its text (media, file, link, amounts, recall) set
 * on o, for the archive and the timeline alike. @return 0, or -1 when out of memory */
int api_message_fields(json_t *o, const wp_message *m);
/* --- WeCom customer contact (issue 16, src/api/wecom.c) ------------------------------------- */

/* GET|POST /api/v1/wecom/callback/{tenant_id} (public: WeCom's signature is the credential;
 * POST is a WP_ROUTE_STREAM_BODY route, capped at WP_WECOM_BODY_MAX) */
int api_wecom_callback_get(wp_http_ctx *ctx);
int api_wecom_callback_post(wp_http_ctx *ctx);
/* POST /api/v1/integrations/wecom/contacts/sync (admin): the WeCom jobs now */
int api_wecom_sync(wp_http_ctx *ctx);

/* retention.c (issue 20): GET/PUT /api/v1/retention (the rules), GET/POST
 * /api/v1/legal-holds, DELETE /api/v1/legal-holds/{id} (lift, with a reason); admins only */
int api_retention_get(wp_http_ctx *ctx);
int api_retention_put(wp_http_ctx *ctx);
int api_legal_holds_list(wp_http_ctx *ctx);
int api_legal_holds_create(wp_http_ctx *ctx);
int api_legal_holds_lift(wp_http_ctx *ctx);

/* a customer's data request and erasure, admins only (src/api/pipl.c; docs/internals/pipl.md) */
/* WP_EBUSY (409) for an erased customer, whose record is a tombstone nobody edits; else 0. */
int api_customer_not_erased(const wp_customer *c);
int api_customers_data_export(wp_http_ctx *ctx);
int api_customers_erase(wp_http_ctx *ctx);

#endif
