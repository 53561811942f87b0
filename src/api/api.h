/* SPDX-License-Identifier: MIT */
/* The API handlers (one file per resource), the application state they share, and the one
 * rights check that runs before any of them. */
#ifndef WP_API_H
#define WP_API_H

#include "http/http.h"
#include "ingest/ingest.h"
#include "store/store.h"

/* What every handler can reach through ctx->app. Set up once by `workphone serve` before the
 * server starts and read-only afterwards, so threads share it without locks. */
typedef struct wp_app {
    const char *version;           /* of this binary, for /api/v1/health */
    const char *data_dir;          /* media and keys live here */
    const char *db_url;            /* NULL: the SQLite file in data_dir */
    enum wp_store_backend backend; /* the store the server opened at start */
    wp_ingest *ingest; /* device protocol and the store pool; NULL: only public routes answer */
    unsigned char audit_key[WP_AUDIT_KEY_LEN]; /* keys/audit.key of data_dir */
    struct api_audit_worker *audit_worker; /* reads are buffered here; NULL: written at once */
} wp_app;

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
} api_caller;

/* The wp_http_options.authorize hook: the one place where a route's right is checked.
 * device: a device token (wp_ingest_device_auth); the others: a session token as
 * `Authorization: Bearer wps_...` or the wp_session cookie, or an API key as `Authorization:
 * Bearer wpk_...`, then the role's rights (api_role_allows);
 * a cookie-authenticated request other than GET/HEAD must carry X-CSRF-Token (the csrf_token of
 * the login reply). No or bad credentials: WP_EAUTH (401). Known caller without the right, or
 * a missing CSRF token: replies 403 itself. On success ctx->auth is an api_caller. */
int api_authorize(wp_http_ctx *ctx);

/* Whether a role has a right: session (employees only, not API keys), read (every role),
 * write (admin, manager, sales: within their scope), audit (admin, auditor), admin (admin). */
int api_role_allows(enum wp_role role, enum wp_http_right right);

/* The caller of a request that passed api_authorize(); NULL on public routes. Borrowed. */
const api_caller *api_caller_of(const wp_http_ctx *ctx);

/* --- what a console caller may see ------------------------------------------------------- */

/* The part of the tenant a console caller sees. Every console list handler gets its filter's
 * scope from api_scope_for(), and a single-object handler asks api_scope_allows_*(); an object
 * outside the scope is answered 404, as if it did not exist (CONTRACT §5). */
typedef struct api_scope {
    int all;                 /* admin and auditor: the whole tenant */
    const char *org_path;    /* manager: employees of this org subtree (materialized path) */
    const char *employee_id; /* sales: its own customers and messages */
    const char *unit_id;     /* the caller's own org unit ("" for API keys) */
    int see_phone;           /* unmasked phone numbers and other personal data */
    int may_unmask;          /* may unmask one record at a time (audited) */
} api_scope;

/* Fill *out for the caller of ctx (strings in ctx->arena).
 * @return 0; WP_EAUTH when the caller is no employee; store errors */
int api_scope_for(wp_http_ctx *ctx, wp_store *st, api_scope *out);

/* 0 when the customer is in the scope (for changing it, too), else WP_ENOTFOUND named like a
 * missing one. */
int api_scope_allows_customer(wp_http_ctx *ctx, wp_store *st, const api_scope *scope,
                              const wp_customer *c);

/* The same for reading it: also a customer a salesperson handed over in a transfer that kept
 * its read access (customer_read_grants). */
int api_scope_reads_customer(wp_http_ctx *ctx, wp_store *st, const api_scope *scope,
                             const wp_customer *c);

/* 0 when the employee is in the scope (admin/auditor: all; manager: its unit's subtree; sales:
 * itself), else WP_ENOTFOUND named like a missing one. */
int api_scope_allows_employee(wp_http_ctx *ctx, wp_store *st, const api_scope *scope,
                              const wp_employee *e);

/* 0 when the org unit is in the scope (manager: its subtree; sales: its own unit), else
 * WP_ENOTFOUND named like a missing one. */
int api_scope_allows_org_unit(const api_scope *scope, const wp_org_unit *u);

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

/* --- the audit log's background work (src/api/audit_worker.c) ------------------------------ */

#define API_AUDIT_FLUSH_MS 1000     /* buffered reads are appended at least this often */
#define API_AUDIT_CHECKPOINT_S 600  /* a signed checkpoint of each chain that moved */

typedef struct api_audit_worker api_audit_worker;

typedef struct api_audit_worker_config {
    const char *data_dir, *db_url;   /* its own store connection */
    const unsigned char *audit_key;  /* WP_AUDIT_KEY_LEN bytes, copied */
    const unsigned char *sign_seed;  /* WP_AUDIT_SIGN_SEED_LEN bytes, copied; NULL: none */
    unsigned flush_ms;               /* 0: API_AUDIT_FLUSH_MS */
    unsigned checkpoint_s;           /* 0: API_AUDIT_CHECKPOINT_S */
    /* the server log: one line "... level=L event=E REST" (REST in logfmt) */
    void (*log)(const char *level, const char *event, const char *rest);
} api_audit_worker_config;

/* Start the thread: every flush_ms (or 500 rows) it appends the buffered reads, tenant by
 * tenant, each batch in one transaction; once the server is up and then every checkpoint_s it
 * logs a signed checkpoint (event=audit_checkpoint) of each chain that moved. */
int api_audit_worker_new(api_audit_worker **out, const api_audit_worker_config *c);

/* Stop it: it appends what is buffered and logs a last checkpoint first. NULL is a no-op.
 * Only once no handler can push any more (after the server stopped). */
void api_audit_worker_free(api_audit_worker *w);

/* Buffer a row (copied). WP_EIO when the buffer stays full for 5 s or the thread stopped. */
int api_audit_worker_push(api_audit_worker *w, const wp_audit_entry *e);

/* Wait (up to timeout_ms) until every row pushed before the call is appended: the audit list
 * shows this node's reads so far. WP_EIO on timeout. */
int api_audit_worker_sync(api_audit_worker *w, unsigned timeout_ms);

/* --- shared helpers (src/api/common.c) ---------------------------------------------------- */

/* A store connection from the ingest pool, for this handler only: pair with
 * api_store_release(). @return 0, WP_EIO when the server has no store */
int api_store_acquire(wp_http_ctx *ctx, wp_store **out);
void api_store_release(wp_http_ctx *ctx, wp_store *st);

/* ?limit=: absent → WP_PAGE_DEFAULT; 1..WP_PAGE_MAX else WP_EINVAL naming it. */
int api_query_limit(const wp_http_ctx *ctx, unsigned *out);

/* ?name= as an RFC 3339 time: absent or empty → *out = 0; WP_EINVAL naming it. */
int api_query_time(const wp_http_ctx *ctx, const char *name, int64_t *out);

/* ?name= as an id: absent or empty → NULL; not id-shaped → WP_EINVAL naming it. */
int api_query_id(const wp_http_ctx *ctx, const char *name, const char **out);

/* A JSON string for s, null for NULL (and for "" when empty_is_null). Invalid UTF-8 bytes
 * become U+FFFD rather than failing the reply. New reference; NULL only when out of memory. */
json_t *api_jstr(const char *s, int empty_is_null);

/* An RFC 3339 time in UTC ("2026-11-22T02:00:00Z"), or null for 0. New reference. */
json_t *api_jtime(int64_t us);

/* Reply 200 {"items": items, "next_cursor": cursor or null}. Takes ownership of items. */
int api_reply_page(wp_http_ctx *ctx, json_t *items, const char *next_cursor);

/* api_reply_page() of the n items of size bytes at v, each made JSON by to_json(item, arg). */
int api_reply_items(wp_http_ctx *ctx, const void *v, size_t n, size_t size,
                    json_t *(*to_json)(const void *item, const void *arg), const void *arg,
                    const char *next_cursor);

/* Text as people without the right to see personal data get it: every mobile number, ID
 * card, bank card and e-mail address found by the scan engine's detectors replaced by one '*'
 * per character. *out is text itself when nothing was found, else a copy in ctx->arena. */
int api_mask_pii(wp_http_ctx *ctx, const char **out, size_t *out_len, const char *text,
                 size_t len);

/* WP_EINVAL naming the first member of body that is not in allowed (NULL-terminated). */
int api_body_check_fields(json_t *body, const char *const *allowed);

/* A store error about a value of the body (a unit that does not exist, a bad name) becomes a
 * bad request naming its field; other errors pass through. */
int api_field_error(int err, const char *field);

/* body[field] as a string; absent: *out NULL, or WP_EINVAL when required. */
int api_body_str(json_t *body, const char *field, int required, const char **out);

/* A phone number as people without the right to see it get it: 138****8000. */
void api_mask_phone(char *out, size_t cap, const char *phone);

/* Finish a write begun with wp_store_begin(): unless err is set already, audit action on
 * target "<kind>:<id>" with details (may be NULL) and commit; on any error roll back.
 * @return 0 or the first error */
int api_audit_commit(wp_http_ctx *ctx, wp_store *st, int err, const char *action, const char *kind,
                     const char *id, const json_t *details);

/* api_audit_commit() with body as the details, then release st and reply status with body
 * (204: no body; body NULL otherwise: out of memory). Takes ownership of body and of st. */
int api_write_reply(wp_http_ctx *ctx, wp_store *st, int err, const char *action, const char *kind,
                    const char *id, json_t *body, int status);

/* DELETE .../{id}: del(st, tenant, id) in a transaction, audited as action on "<kind>:<id>",
 * then 204. */
int api_delete_audited(wp_http_ctx *ctx,
                       int (*del)(wp_store *st, const char *tenant_id, const char *id),
                       const char *action, const char *kind);

/* --- handlers ----------------------------------------------------------------------------- */

/* GET /api/v1/health: {"status":"ok","version":"...","store":"sqlite"|"postgresql"}. */
int api_health_get(wp_http_ctx *ctx);

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

/* enroll.c: POST /api/v1/employees/{id}/enrollment-codes */
int api_enrollment_codes_create(wp_http_ctx *ctx);

/* devices.c: GET /api/v1/devices */
int api_devices_list(wp_http_ctx *ctx);

/* messages.c: GET /api/v1/messages */
int api_messages_list(wp_http_ctx *ctx);

/* alerts.c: GET /api/v1/alerts, PATCH /api/v1/alerts/{id} */
int api_alerts_list(wp_http_ctx *ctx);
int api_alerts_update(wp_http_ctx *ctx);

/* customers.c: GET /api/v1/customers, GET /api/v1/customers/{id} */
int api_customers_list(wp_http_ctx *ctx);
int api_customers_get(wp_http_ctx *ctx);

/* lexicon.c: GET/PUT /api/v1/lexicon (text), GET/PUT /api/v1/settings */
int api_lexicon_get(wp_http_ctx *ctx);
int api_lexicon_put(wp_http_ctx *ctx);
int api_lexicon_check(wp_http_ctx *ctx); /* POST /api/v1/lexicon/check: the console's test box */
int api_settings_get(wp_http_ctx *ctx);
int api_settings_put(wp_http_ctx *ctx);

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

/* pool.c: the public pool, and CRM pieces shared by the customer handlers */
int api_pool_list(wp_http_ctx *ctx);
int api_pool_claim(wp_http_ctx *ctx);
int api_pool_assign(wp_http_ctx *ctx);
int api_pool_settings_get(wp_http_ctx *ctx);
int api_pool_settings_put(wp_http_ctx *ctx);
int api_customers_release(wp_http_ctx *ctx); /* POST /api/v1/customers/{id}/release */
/* The caller as a CRM actor; buf (64 bytes) holds the actor string. */
void api_crm_actor(const wp_http_ctx *ctx, wp_crm_actor *out, char buf[64]);
/* A customer with its CRM fields as JSON (owner null in the pool), phone masked by scope. */
json_t *api_crm_customer_json(const wp_customer_crm *c, const api_scope *scope);
/* WP_EINVAL "unknown field 'x'" unless every key of body is in allowed (NULL-terminated). */
int api_crm_check_fields(json_t *body, const char *const *allowed);
/* body[field] as a string (borrowed) or NULL when absent or null; WP_EINVAL naming it. */
int api_crm_body_str(json_t *body, const char *field, int required, const char **out);
int api_crm_is_id(const char *s); /* 1 when s has the shape of an id */

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

/* tags.c: GET/POST /api/v1/tags and /api/v1/tag-groups, PATCH/DELETE .../{id} (the pattern
 * tells tags from groups), PUT /api/v1/customers/{id}/tags */
int api_tags_list(wp_http_ctx *ctx);
int api_tags_create(wp_http_ctx *ctx);
int api_tags_update(wp_http_ctx *ctx);
int api_tags_delete(wp_http_ctx *ctx);
int api_customers_tags_put(wp_http_ctx *ctx);
/* A tag (group 0) or tag group as JSON; tags as [{"id","name","color"}]. New references. */
json_t *api_tag_json(const wp_tag *t, int group);
json_t *api_tags_json(const wp_tag *v, size_t n);
/* A customer's tags as api_tags_json(); NULL on a store error or out of memory. */
json_t *api_customer_tags_json(wp_store *st, const char *tenant_id, const char *customer_id);
/* 0 for an admin or a manager (employee or API key), else replies 403 itself. */
int api_crm_require_manager(wp_http_ctx *ctx);

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

#endif
