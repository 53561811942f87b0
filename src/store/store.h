/* SPDX-License-Identifier: MIT */
/* The store: the operations the rest of workphone needs, over SQLite (default, a file in the
 * data dir) or PostgreSQL (libpq). Callers never see SQL. Every row belongs to a tenant.
 * One wp_store is one connection: use it from one thread at a time (open one per thread). */
#ifndef WP_STORE_H
#define WP_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/id.h"

typedef struct wp_store wp_store;

/* What a reader may see of a stored text: a search matches, highlights and returns texts as
 * the view gives them (personal data masked), never the stored bytes behind. fn appends the
 * text as seen to out and sets *changed when it differs. */
typedef struct wp_text_view {
    int (*fn)(void *arg, wp_buf *out, int *changed, const char *text, size_t len);
    void *arg;
} wp_text_view;

enum wp_store_backend { WP_STORE_SQLITE = 1, WP_STORE_PG = 2 };

/* Open the store: PostgreSQL when db_url is non-NULL (postgresql://... or a libpq conninfo),
 * else the SQLite file <data_dir>/workphone.db (created if missing; WAL, busy timeout,
 * foreign keys on). Pending migrations are applied, each in one transaction.
 * @return 0; WP_EIO (cannot open or connect); WP_ESCHEMA (the store's schema is newer than
 *         this binary knows: nothing is changed).
 * Caller owns *out; release with wp_store_free(). */
int wp_store_open(wp_store **out, const char *data_dir, const char *db_url);

/* Close the connection. NULL is a no-op. */
void wp_store_free(wp_store *st);

enum wp_store_backend wp_store_backend(const wp_store *st);

/* The schema version the store is at, and the newest this binary knows. */
int wp_store_schema_version(wp_store *st, int *out);
int wp_store_schema_latest(void);

/* Transactions. Operations outside begin/commit run in their own implicit transaction. */
int wp_store_begin(wp_store *st);
int wp_store_commit(wp_store *st);
int wp_store_rollback(wp_store *st); /* harmless when no transaction is open */

/* --- tenants ------------------------------------------------------------------------- */

#define WP_TENANT_NAME_MAX 100 /* characters */

/* Create a tenant; WP_EEXISTS when the name is taken. out gets its id. */
int wp_store_tenant_create(wp_store *st, char out[WP_ID_LEN + 1], const char *name);

/* Find a tenant by name; WP_ENOTFOUND. */
int wp_store_tenant_find(wp_store *st, char out[WP_ID_LEN + 1], const char *name);

int wp_store_tenant_count(wp_store *st, int64_t *out);

/* --- org units ----------------------------------------------------------------------- */

enum wp_org_kind { WP_ORG_HQ = 1, WP_ORG_REGION, WP_ORG_STORE, WP_ORG_TEAM };

typedef struct wp_org_unit {
    char id[WP_ID_LEN + 1];
    char parent_id[WP_ID_LEN + 1]; /* "" for the top */
    char name[404];                /* UTF-8, at most 100 characters */
    enum wp_org_kind kind;
    char path[1024]; /* materialized path: "/<root id>/.../<own id>/" */
} wp_org_unit;

const char *wp_org_kind_name(enum wp_org_kind k);
int wp_org_kind_parse(enum wp_org_kind *out, const char *s); /* WP_EINVAL */

/* Create a unit under parent_id (NULL or "" for the top). WP_ENOTFOUND when the parent is
 * not in this tenant; WP_ELIMIT when the tree is too deep (32 levels). */
int wp_store_org_unit_create(wp_store *st, wp_org_unit *out, const char *tenant_id,
                             const char *parent_id, const char *name, enum wp_org_kind kind);

int wp_store_org_unit_get(wp_store *st, wp_org_unit *out, const char *tenant_id, const char *id);

/* The ids of the unit and every unit below it (through the materialized path).
 * *out_ids is a malloc'ed array of *out_n ids; caller frees it with free(). */
int wp_store_org_unit_subtree(wp_store *st, char (**out_ids)[WP_ID_LEN + 1], size_t *out_n,
                              const char *tenant_id, const char *id);

/* Its level in the tree: 1 for a top unit (from the path). */
int wp_org_unit_depth(const wp_org_unit *u);

/* The tenant's top unit (the oldest unit without a parent; `workphone init` makes it).
 * WP_ENOTFOUND. */
int wp_store_org_unit_top(wp_store *st, wp_org_unit *out, const char *tenant_id);

/* Rename a unit; out gets it as it is now. WP_ENOTFOUND; WP_EINVAL (the name). */
int wp_store_org_unit_rename(wp_store *st, wp_org_unit *out, const char *tenant_id,
                             const char *id, const char *name);

/* Move a unit with its whole subtree under new_parent_id, atomically: the path and depth of
 * every unit below it are rewritten; ids, and so employees' units, stay. Moving a unit to the
 * parent it has changes nothing. out gets the moved unit.
 * @return 0; WP_ENOTFOUND (unit or parent not in the tenant); WP_EINVAL (the parent is the
 *         unit itself or below it); WP_ELIMIT (the tree would be deeper than 32 levels) */
int wp_store_org_unit_move(wp_store *st, wp_org_unit *out, const char *tenant_id, const char *id,
                           const char *new_parent_id);

/* Delete a unit. WP_EBUSY when it has child units or employees, active or not (their history
 * refers to it) or anything else refers to it; WP_ENOTFOUND. */
int wp_store_org_unit_delete(wp_store *st, const char *tenant_id, const char *id);

typedef struct wp_org_unit_filter {
    const char *tenant_id;
    const char *scope_org_path; /* NULL: any; else the units of that subtree (a path) */
    const char *scope_unit_id;  /* NULL: any; else that unit only */
    const char *cursor;         /* NULL or "": first page; else a next_cursor */
    unsigned limit;             /* 0: WP_PAGE_DEFAULT; at most WP_PAGE_MAX */
} wp_org_unit_filter;

typedef struct wp_org_unit_page {
    wp_org_unit *items;
    size_t n;
    char next_cursor[WP_ID_LEN + 1]; /* "" on the last page */
} wp_org_unit_page;

/* Units in tree order (by path: each parent before its children). WP_EINVAL for a bad cursor
 * or scope. Release the page with wp_org_unit_page_release(). */
int wp_store_org_units_list(wp_store *st, wp_org_unit_page *out, const wp_org_unit_filter *f);
void wp_org_unit_page_release(wp_org_unit_page *p);

/* --- employees and accounts ---------------------------------------------------------- */

enum wp_role { WP_ROLE_ADMIN = 1, WP_ROLE_MANAGER, WP_ROLE_AUDITOR, WP_ROLE_SALES };

const char *wp_role_name(enum wp_role r);
int wp_role_parse(enum wp_role *out, const char *s); /* WP_EINVAL */

typedef struct wp_employee {
    char id[WP_ID_LEN + 1];
    char tenant_id[WP_ID_LEN + 1];
    char org_unit_id[WP_ID_LEN + 1];
    char name[404];
    char username[65];
    enum wp_role role;
    int active;
    int64_t created_us;
} wp_employee;

/* Create an employee with a login account. password_hash is an argon2id string (or NULL for
 * an employee without a login). WP_EEXISTS when the username is taken in the tenant;
 * WP_ENOTFOUND when the org unit is not in the tenant. */
int wp_store_employee_create(wp_store *st, wp_employee *out, const char *tenant_id,
                             const char *org_unit_id, const char *name, const char *username,
                             enum wp_role role, const char *password_hash);

int wp_store_employee_get(wp_store *st, wp_employee *out, const char *tenant_id, const char *id);

/* Find an account by tenant and username; *out_hash (malloc'ed, caller frees) gets the
 * password hash. WP_ENOTFOUND. */
int wp_store_employee_find_login(wp_store *st, wp_employee *out, char **out_hash,
                                 const char *tenant_id, const char *username);

/* Fields to change; NULL, 0 or -1 leave one as it is. */
typedef struct wp_employee_change {
    const char *name;
    const char *org_unit_id;
    int role;   /* 0 or an enum wp_role */
    int active; /* -1, 0 or 1 */
} wp_employee_change;
#define WP_EMPLOYEE_CHANGE_INIT {NULL, NULL, 0, -1}

/* Change an employee, atomically; out gets it as it is now. The tenant keeps at least one
 * active admin: a change that would leave none is refused with WP_EBUSY (the check holds
 * against concurrent changes: the tenant's row is locked first). Sessions are not touched:
 * the caller revokes them on deactivation (wp_store_sessions_revoke_employee).
 * @return 0; WP_ENOTFOUND (employee, or the new org unit, not in the tenant); WP_EINVAL;
 *         WP_EBUSY */
int wp_store_employee_update(wp_store *st, wp_employee *out, const char *tenant_id,
                             const char *id, const wp_employee_change *c);

/* Set the password hash (an argon2id string) of an employee. WP_ENOTFOUND; WP_EINVAL. */
int wp_store_employee_set_password(wp_store *st, const char *tenant_id, const char *id,
                                   const char *password_hash);

/* How many active admins the tenant has. */
int wp_store_employee_count_admins(wp_store *st, int64_t *out, const char *tenant_id);

enum wp_active_filter { WP_ACTIVE_ANY = 0, WP_ACTIVE_ONLY, WP_ACTIVE_NOT };

#define WP_EMPLOYEE_CURSOR_MAX 64 /* bytes of a next_cursor, with its NUL */

typedef struct wp_employee_filter {
    const char *tenant_id;
    const char *scope_org_path;    /* NULL: any; else employees of units in that subtree */
    const char *scope_employee_id; /* NULL: any; else that employee only */
    const char *org_path;          /* NULL: any; else (a filter) units in that subtree too */
    int role;                      /* 0: any; else an enum wp_role */
    int active;                    /* enum wp_active_filter */
    const char *q;      /* NULL or "": any; else a substring of the name or the username
                         * (ASCII letters in any case) */
    const char *cursor; /* NULL or "": first page; else a next_cursor */
    unsigned limit;     /* 0: WP_PAGE_DEFAULT; at most WP_PAGE_MAX */
} wp_employee_filter;

typedef struct wp_employee_page {
    wp_employee *items;
    size_t n;
    char next_cursor[WP_EMPLOYEE_CURSOR_MAX]; /* "" on the last page */
} wp_employee_page;

/* Employees, newest first. WP_EINVAL for a bad cursor, scope or filter. Release the page with
 * wp_employee_page_release(). */
int wp_store_employees_list(wp_store *st, wp_employee_page *out, const wp_employee_filter *f);
void wp_employee_page_release(wp_employee_page *p);

/* ===== archive (migration 0002; owner: the ingest issue) ===================================
 * Devices and their enrollment codes, customers and their identities, everything devices
 * report (messages, calls, contact events, locations), alerts, quarantine, media, lexicons and
 * the tenant policy. src/ingest writes through wp_store_events_apply(); the console reads
 * through the *_list/_get functions. Lists are newest first with an opaque cursor. */

#define WP_ARCHIVE_FIELD_MAX 256        /* bytes: ids, names, channels, chats, msgtypes, ... */
#define WP_ARCHIVE_TEXT_MAX (64 * 1024) /* bytes of text in one message */
#define WP_ARCHIVE_PHONE_MAX 32         /* bytes of a normalized phone number */
#define WP_ARCHIVE_WORD_MAX 32          /* bytes: grade, stage, alert kind and status */
#define WP_ARCHIVE_CURSOR_MAX 64        /* bytes of a cursor, with its NUL */
#define WP_PAGE_DEFAULT 50
#define WP_PAGE_MAX 200
#define WP_MONEY_ALERT_DEFAULT_FEN 500000 /* 5,000 yuan */
/* bytes of a rejected event's raw JSON that the quarantine keeps (cut on a character), beside
 * the whole event's length and SHA-256: a device cannot fill the store through rejects */
#define WP_QUARANTINE_RAW_MAX 4096

/* --- devices and enrollment codes ---------------------------------------------------------- */

typedef struct wp_device {
    char id[WP_ID_LEN + 1];
    char tenant_id[WP_ID_LEN + 1];
    char employee_id[WP_ID_LEN + 1];
    char serial[WP_ARCHIVE_FIELD_MAX + 1];
    char model[WP_ARCHIVE_FIELD_MAX + 1];
    int64_t acked_seq; /* every event up to it is stored */
    int revoked;
    int64_t created_us, last_seen_us; /* last_seen_us 0: never reported */
} wp_device;

/* Store an enrollment code for an employee, by its hash (wp_token_hash of the code), valid
 * until expires_us. WP_ENOTFOUND when the employee is not in the tenant; WP_EINVAL when it is
 * inactive; WP_EEXISTS on a hash collision (make a new code). */
int wp_store_enrollment_code_create(wp_store *st, const char *tenant_id, const char *employee_id,
                                    const char code_hash[65], int64_t expires_us);

/* In one transaction: consume the code (unused, unexpired at now_us, employee active), revoke
 * the tenant's earlier devices with the same serial (a re-enrolled phone restarts its seq), and
 * create the device with the token's hash. WP_EAUTH when the code is unknown, used or expired
 * or its employee inactive (one message for all, so a caller cannot probe codes); WP_EINVAL
 * for a bad serial or model. out gets the new device. */
int wp_store_device_enroll(wp_store *st, wp_device *out, const char code_hash[65],
                           const char *serial, const char *model, const char token_hash[65],
                           int64_t now_us);

/* The device holding the token with this hash. WP_EAUTH when none, when it is revoked or when
 * its employee is inactive (an employee who left stops working at once). */
int wp_store_device_auth(wp_store *st, wp_device *out, const char token_hash[65]);

int wp_store_device_get(wp_store *st, wp_device *out, const char *tenant_id, const char *id);

/* Revoke a device (its token stops working). WP_ENOTFOUND. */
int wp_store_device_revoke(wp_store *st, const char *tenant_id, const char *id);

typedef struct wp_device_filter {
    const char *tenant_id;
    const char *employee_id; /* NULL: all */
    const char *cursor;      /* NULL or "": first page */
    unsigned limit;          /* 0: WP_PAGE_DEFAULT; at most WP_PAGE_MAX */
    const char *scope_org_path; /* NULL: any; else devices of employees in that subtree */
} wp_device_filter;

typedef struct wp_device_page {
    wp_device *items;
    size_t n;
    char next_cursor[WP_ARCHIVE_CURSOR_MAX]; /* "" on the last page */
} wp_device_page;

/* Devices, newest enrolled first. Release the page with wp_device_page_release(). */
int wp_store_devices_list(wp_store *st, wp_device_page *out, const wp_device_filter *f);
void wp_device_page_release(wp_device_page *p);

/* --- storage usage and limits per tenant (migration 0015; issue 13) ---------------------------
 * Counted in the transactions that store the bytes, so every node agrees; enforced there too:
 * what would pass a limit is not stored. A tenant without a row has used nothing. */

enum wp_usage_kind {
    WP_USAGE_ARCHIVE = 0, /* raw JSON of stored events, plus message texts */
    WP_USAGE_MEDIA,       /* sizes of the tenant's media files */
    WP_USAGE_QUARANTINE,  /* the kept slices of rejected events (WP_QUARANTINE_RAW_MAX each) */
    WP_USAGE_KINDS
};

/* Default limits, generous for what a tenant means to keep and small for what nobody should
 * send (docs/internals/ingest.md, "Storage limits"): 100 GiB of archive, 1 TiB of media,
 * 256 MiB of quarantine (65,536 full 4 KiB slices). */
#define WP_USAGE_ARCHIVE_DEFAULT (100LL << 30)
#define WP_USAGE_MEDIA_DEFAULT (1LL << 40)
#define WP_USAGE_QUARANTINE_DEFAULT (256LL << 20)
#define WP_USAGE_LIMIT_MAX 9007199254740991LL /* 2^53 - 1: exact in JSON */

/* "archive", "media", "quarantine" */
const char *wp_usage_kind_name(enum wp_usage_kind k);

typedef struct wp_usage {
    int64_t used[WP_USAGE_KINDS];  /* bytes */
    int64_t limit[WP_USAGE_KINDS]; /* in force: the admin's, or the default */
    int is_set[WP_USAGE_KINDS];    /* 1: an admin's value; 0: the default */
} wp_usage;

int wp_store_usage_get(wp_store *st, wp_usage *out, const char *tenant_id);

/* Set one limit (0..WP_USAGE_LIMIT_MAX bytes), or limit -1 to go back to the default. A limit
 * below what is used refuses new bytes of that kind; nothing stored is removed. WP_EINVAL. */
int wp_store_usage_set_limit(wp_store *st, const char *tenant_id, enum wp_usage_kind k,
                             int64_t limit);

/* What passed a limit: its kind, what was used, the limit, and what the write needed. */
typedef struct wp_usage_refusal {
    enum wp_usage_kind kind;
    int64_t used, limit, needed;
} wp_usage_refusal;

/* Set WP_EQUOTA with a message naming the limit and the numbers ("the tenant's archive limit
 * is reached: 10 of 12 bytes used, this needs 5 more; an admin can raise
 * 'archive_limit_bytes' in the settings"), and remember r as the calling thread's last
 * refusal. Returns WP_EQUOTA. */
int wp_usage_refuse(const wp_usage_refusal *r);
/* The calling thread's last refusal (what its last WP_EQUOTA was about). Borrowed; valid
 * until the thread's next wp_usage_refuse(). */
const wp_usage_refusal *wp_usage_refusal_last(void);

/* --- what devices report: the writer's one operation ----------------------------------------- */

enum wp_event_type {
    WP_EVENT_REJECTED = 0, /* failed validation: quarantined with its reason, its raw JSON
                            * bounded (WP_QUARANTINE_RAW_MAX) */
    WP_EVENT_MESSAGE,
    WP_EVENT_CALL,
    WP_EVENT_CONTACT,
    WP_EVENT_LOCATION,
};

enum wp_direction { WP_DIR_NONE = 0, WP_DIR_IN, WP_DIR_OUT };
const char *wp_direction_name(enum wp_direction d); /* "in", "out", NULL */

/* The other party of an event, as the device saw it; any field may be NULL. */
typedef struct wp_peer {
    const char *id;    /* channel id (wxid_..., a WeCom userid, an e-mail address) */
    const char *name;  /* display name */
    const char *phone; /* normalized by the validator (wp_ingest: digits, optional leading +) */
} wp_peer;

/* An alert an event raises, decided by src/ingest before the write. */
typedef struct wp_alert_draft {
    const char *kind;     /* "sensitive_word", "customer_deleted", "customer_blocked", "money" */
    const char *category; /* lexicon category; money: the msgtype; NULL otherwise */
    const char *pattern;  /* sensitive_word: the lexicon pattern; NULL otherwise */
    const char *action;   /* sensitive_word: "alert" | "block"; NULL otherwise */
    const char *matched;  /* sensitive_word: the original slice of the text; NULL otherwise */
    size_t matched_len;
    int64_t start, end;     /* byte offsets of matched in the text; -1 when none */
    char id[WP_ID_LEN + 1]; /* out: set when the alert is stored */
} wp_alert_draft;

/* One validated event. Every pointer is borrowed (from the parsed request) for the call. */
typedef struct wp_event {
    int64_t seq; /* 0 when the event had no usable seq (rejected only) */
    enum wp_event_type type;
    const char *reason; /* WP_EVENT_REJECTED: why, one line */
    const char *raw;    /* the event as JSON text, kept on every row; never NULL */
    int64_t ts_us;
    const char *channel; /* message, contact; calls: "phone" */
    enum wp_direction direction;
    wp_peer peer;
    /* message */
    const char *chat, *group_id, *group_name;
    const char *msgtype, *msgid, *text, *media, *filename, *url, *title, *memo;
    int64_t size, amount_fen; /* -1 when absent */
    int64_t revoked_seq;      /* revoke: 0 when absent */
    const char *revoked_msgid;
    /* call */
    int64_t duration_s; /* -1 when absent */
    const char *recording;
    /* contact */
    const char *action;
    /* location: degrees * 1e7 and centimetres, so both backends store exact integers */
    int64_t lat_e7, lon_e7, accuracy_cm; /* accuracy_cm -1 when absent */
    wp_alert_draft *alerts;
    size_t n_alerts;
    /* out, set by wp_store_events_apply() */
    int applied; /* 1: stored now; 0: skipped (seq <= acked_seq, or the batch refused) */
    char id[WP_ID_LEN + 1];          /* the row's id ("" when skipped) */
    char customer_id[WP_ID_LEN + 1]; /* the peer's customer ("" when none) */
} wp_event;

typedef struct wp_event_batch {
    const char *tenant_id, *device_id, *employee_id;
    wp_event *events; /* in the order received */
    size_t n;
    int64_t now_us;
    int64_t acked_seq; /* out: the device's acked_seq after the batch */
    /* out: 1 when the batch would pass one of the tenant's storage limits: nothing of it is
     * stored, acked_seq did not move, and refusal says which limit (see wp_usage_refuse) */
    int refused;
    wp_usage_refusal refusal;
} wp_event_batch;

/* Store one batch atomically (inside the caller's transaction: a savepoint). What it adds
 * counts in the tenant's usage (archive: raw JSON and message texts; quarantine: the kept
 * slices), in the same transaction; a batch that would pass a limit is refused whole (refused,
 * and 0 returned; events resent with seq <= acked_seq need no room). The device row is
 * locked (PostgreSQL: FOR UPDATE semantics via UPDATE ... RETURNING) and its acked_seq read;
 * events with seq <= acked_seq are skipped; each peer is resolved to a customer (phone
 * identity, else channel-id identity, within the tenant; created on first sight owned by
 * employee_id; identities learned later are added); rows, alerts and quarantine rows are
 * inserted; a revoke marks its target recalled; acked_seq moves to the highest seq handled.
 * WP_EAUTH when the device is revoked; WP_EIO (nothing stored) otherwise. */
int wp_store_events_apply(wp_store *st, wp_event_batch *b);

/* Store n batches as one operation, as wp_store_events_apply() each but without a savepoint
 * per batch (SQLite: their search grams go to the index together, after all rows). All or
 * nothing: if a batch fails, nothing of any is stored, *failed gets its index, and the error
 * is returned; the caller can then apply the batches one by one. */
int wp_store_events_apply_many(wp_store *st, wp_event_batch **b, size_t n, size_t *failed);

/* --- customers ---------------------------------------------------------------------------- */

typedef struct wp_customer {
    char id[WP_ID_LEN + 1];
    char tenant_id[WP_ID_LEN + 1];
    char name[WP_ARCHIVE_FIELD_MAX + 1];
    char phone[WP_ARCHIVE_PHONE_MAX + 1]; /* "" when unknown; unmasked: the caller masks */
    char owner_employee_id[WP_ID_LEN + 1];
    char grade[WP_ARCHIVE_WORD_MAX + 1]; /* "" when unset */
    char stage[WP_ARCHIVE_WORD_MAX + 1]; /* "" when unset */
    int64_t created_us, last_contact_us; /* last_contact_us 0: never */
    int in_pool; /* in the public pool: owner_employee_id is its last owner (migration 0008) */
} wp_customer;

enum wp_customer_sort { WP_CUSTOMER_SORT_CREATED = 0, WP_CUSTOMER_SORT_LAST_CONTACT };

/* Customers in the public pool and records merged into another are left out (the pool has its
 * own list). */
typedef struct wp_customer_filter {
    const char *tenant_id;
    const char *owner_employee_id; /* NULL: any owner */
    const char *scope_org_path;    /* NULL: any; else owners in that org subtree (a path) */
    const char *q;                 /* NULL: any; else a substring of the name, phone, company
                                    * or notes */
    const char *cursor;
    unsigned limit;
    const char *unit_path;       /* NULL: any; else owners in that org subtree (a filter) */
    const char *tag_id;          /* NULL: any; else customers with that tag */
    const char *grade, *stage;   /* NULL: any; "" : unset */
    int64_t contact_before_us;   /* 0: any; else last contact before (never counts as before) */
    int64_t contact_after_us;    /* 0: any; else last contact at or after */
    enum wp_customer_sort sort;  /* newest created first, or most recent contact first */
    const char *scope_employee_id; /* NULL: any; else a salesperson's: its own customers and
                                    * those it keeps read access to after a transfer */
    const wp_text_view *view; /* NULL: q meets the texts as stored; else as the view shows
                               * them (a hit inside a masked span is none) */
} wp_customer_filter;

typedef struct wp_customer_page {
    wp_customer *items;
    size_t n;
    char next_cursor[WP_ARCHIVE_CURSOR_MAX];
} wp_customer_page;

/* Customers, newest created first. Release with wp_customer_page_release(). */
int wp_store_customers_list(wp_store *st, wp_customer_page *out, const wp_customer_filter *f);
void wp_customer_page_release(wp_customer_page *p);

int wp_store_customer_get(wp_store *st, wp_customer *out, const char *tenant_id, const char *id);

/* The identities of a customer, as "kind:value" strings ("phone:13800138000",
 * "wechat:wxid_k2"). *out is a malloc'ed array of *n malloc'ed strings; release with
 * wp_strings_free(). */
int wp_store_customer_identities(wp_store *st, char ***out, size_t *n, const char *tenant_id,
                                 const char *id);
void wp_strings_free(char **v, size_t n);

/* --- messages and search ------------------------------------------------------------------- */

typedef struct wp_message {
    char id[WP_ID_LEN + 1];
    char device_id[WP_ID_LEN + 1];
    char employee_id[WP_ID_LEN + 1];
    char customer_id[WP_ID_LEN + 1]; /* "" when none */
    int64_t seq, ts_us;
    enum wp_direction direction;
    /* NULL when absent; owned by the page */
    const char *channel, *chat, *group_id, *group_name, *peer_id, *peer_name;
    const char *msgtype, *msgid, *text, *media, *filename, *url, *title, *memo;
    int64_t size, amount_fen; /* -1 when absent */
    int recalled;
    int64_t recalled_us; /* 0 when not recalled */
    /* with a query: byte offsets [start, end) in text of each occurrence of q, in order */
    size_t (*highlights)[2];
    size_t n_highlights;
} wp_message;

typedef struct wp_message_filter {
    const char *tenant_id;
    const char *q;                 /* NULL or "": any; else a substring of the text (ASCII and
                                    * Unicode simple case folded), one character included */
    const char *customer_id;       /* NULL: any */
    const char *employee_id;       /* NULL: any */
    const char *channel;           /* NULL: any */
    int64_t from_us, to_us;        /* ts range [from, to); 0: open */
    const char *scope_org_path;    /* NULL: any; else the employee's org unit in that subtree */
    const char *scope_employee_id; /* NULL: any; else the employee's own or its customers' */
    const char *cursor;
    unsigned limit;
    const wp_text_view *view; /* NULL: texts as stored; else q is matched in the text as seen,
                               * and the page holds that text */
    const char *id;           /* NULL: any; else that one message */
} wp_message_filter;

typedef struct wp_message_page {
    wp_message *items;
    size_t n;
    char next_cursor[WP_ARCHIVE_CURSOR_MAX];
    void *mem; /* private: where the items' strings live */
} wp_message_page;

/* Messages, newest first (ts, then id), cursor = the last row's (ts, id). With q, candidates
 * come from the gram index and an exact substring test keeps real hits only, so both backends
 * answer the same rows. WP_EINVAL for a bad cursor or filter. Release with
 * wp_message_page_release(). */
int wp_store_messages_search(wp_store *st, wp_message_page *out, const wp_message_filter *f);
void wp_message_page_release(wp_message_page *p);

/* --- alerts ------------------------------------------------------------------------------ */

enum wp_alert_status { WP_ALERT_OPEN = 1, WP_ALERT_ACKNOWLEDGED, WP_ALERT_RESOLVED };
const char *wp_alert_status_name(enum wp_alert_status s);
int wp_alert_status_parse(enum wp_alert_status *out, const char *s); /* WP_EINVAL */

typedef struct wp_alert {
    char id[WP_ID_LEN + 1];
    int64_t ts_us; /* of the event that raised it */
    char kind[WP_ARCHIVE_WORD_MAX + 1];
    enum wp_alert_status status;
    char employee_id[WP_ID_LEN + 1];
    char device_id[WP_ID_LEN + 1];                     /* "" when none */
    char customer_id[WP_ID_LEN + 1];                   /* "" when none */
    char message_id[WP_ID_LEN + 1];                    /* "" when not raised by a message */
    const char *category, *pattern, *action, *matched; /* NULL when none; owned by the page */
    int64_t start, end; /* of matched in the message text; -1 when none */
    const char *comment;    /* the last handler's comment; NULL when none (owned by the page) */
    const char *handled_by; /* its actor ("employee:<id>", "apikey:<id>"); NULL when none */
    int64_t updated_us;     /* of the last status change */
    char other_employee_id[WP_ID_LEN + 1]; /* a collision: the customer's owner; "" else */
} wp_alert;

typedef struct wp_alert_filter {
    const char *tenant_id;
    const char *kind;        /* NULL: any */
    int status;              /* 0: any; else enum wp_alert_status */
    const char *employee_id; /* NULL: any */
    const char *customer_id; /* NULL: any */
    int64_t from_us, to_us;
    const char *scope_org_path;
    const char *scope_employee_id;
    const char *cursor;
    unsigned limit;
} wp_alert_filter;

typedef struct wp_alert_page {
    wp_alert *items;
    size_t n;
    char next_cursor[WP_ARCHIVE_CURSOR_MAX];
    void *mem;
} wp_alert_page;

/* Alerts, newest first. Release with wp_alert_page_release(). */
int wp_store_alerts_list(wp_store *st, wp_alert_page *out, const wp_alert_filter *f);
void wp_alert_page_release(wp_alert_page *p);

/* The employee an alert is about, and the other one it names ("" when none: a collision's
 * owner), for scope checks (ops_access.c). WP_ENOTFOUND. */
int wp_store_alert_employee(wp_store *st, char out[WP_ID_LEN + 1], char other[WP_ID_LEN + 1],
                            const char *tenant_id, const char *id);

/* Move an alert to a status. WP_ENOTFOUND. */
int wp_store_alert_set_status(wp_store *st, const char *tenant_id, const char *id,
                              enum wp_alert_status status);

#define WP_ALERT_COMMENT_MAX 1000 /* characters */

/* The same, with who did it (an actor string) and an optional comment (NULL: none; it replaces
 * the last one). WP_ENOTFOUND; WP_EINVAL (comment too long or not text). */
int wp_store_alert_handle(wp_store *st, const char *tenant_id, const char *id,
                          enum wp_alert_status status, const char *comment, const char *actor);

/* --- media ------------------------------------------------------------------------------- */

/* Record that the tenant has the media file with this hex SHA-256 and that device_id uploaded
 * it (migration 0014). *created is 0 when this device had uploaded it before, else 1 (also
 * when another device had: the answer tells nothing of other devices). A file new to the
 * tenant counts its size in the tenant's media usage, in the same transaction; WP_EQUOTA
 * (wp_usage_refuse) and nothing recorded when that would pass the media limit. */
int wp_store_media_add(wp_store *st, int *created, const char *tenant_id, const char *device_id,
                       const char sha256[65], int64_t size);

/* WP_ENOTFOUND unless the tenant has it; *size gets its size. */
int wp_store_media_get(wp_store *st, int64_t *size, const char *tenant_id, const char sha256[65]);

/* Who a stored media file belongs to: the (employee, customer) of up to max messages and calls
 * that name ref ("sha256:<hex>") and whose own device uploaded it (media_uploads: naming a
 * hash one's device never sent gives no way to the file), for scope checks of console
 * downloads (ops_access.c; migration 0011 indexes them). customer "" when none. *n gets how
 * many. */
typedef struct wp_media_ref {
    char employee_id[WP_ID_LEN + 1];
    char customer_id[WP_ID_LEN + 1];
} wp_media_ref;

int wp_store_media_refs(wp_store *st, wp_media_ref *out, size_t max, size_t *n,
                        const char *tenant_id, const char *ref);

/* --- lexicons and the tenant policy ----------------------------------------------------------- */

/* The tenant's policy: its version moves on every change of the lexicon or the settings, so it
 * is a stable ETag. WP_ENOTFOUND when the tenant has no policy row yet (see _policy_init). */
typedef struct wp_policy_row {
    int64_t version;
    int64_t lexicon_version; /* the version of the lexicon in force */
    int64_t money_alert_fen;
    int64_t updated_us;
} wp_policy_row;

int wp_store_policy_get(wp_store *st, wp_policy_row *out, const char *tenant_id);

/* Create the tenant's policy with version 1 and this lexicon as lexicon version 1, unless it
 * has one (then nothing changes; either way 0). */
int wp_store_policy_init(wp_store *st, const char *tenant_id, const char *lexicon, size_t len);

/* Store a new lexicon text and move the policy version; *version gets the new version (which
 * is also the lexicon's). The caller has validated the text. */
int wp_store_lexicon_put(wp_store *st, int64_t *version, const char *tenant_id, const char *text,
                         size_t len);

/* The lexicon in force: *text malloc'ed (caller frees), NUL-terminated, *len bytes. */
int wp_store_lexicon_get(wp_store *st, int64_t *version, char **text, size_t *len,
                         const char *tenant_id);

/* Move the policy version because something else it carries changed (the scripts library),
 * so agents fetch it again. *version (may be NULL) gets the new version, 0 when the tenant has
 * no policy yet (nothing to move). */
int wp_store_policy_touch(wp_store *st, int64_t *version, const char *tenant_id);

/* Set the money alert threshold (fen, >= 0) and move the policy version. */
int wp_store_policy_set_money_alert(wp_store *st, int64_t *version, const char *tenant_id,
                                    int64_t fen);

/* ===== end of archive ====================================================================== */

/* ===== console sessions (migration 0003; ops_session.c) ================================= */

/* A live session and the employee it logs in. */
typedef struct wp_session {
    wp_employee employee;
    int64_t created_us, expires_us;
} wp_session;

/* Record a session by the SHA-256 (wp_token_hash) of its token, valid until expires_us.
 * client (the peer address, for audits) may be NULL. Sessions expired for a day are deleted
 * on the way, so the table does not grow without end.
 * @return 0; WP_ENOTFOUND (employee not in tenant); WP_EEXISTS (hash collision: make a new
 *         token); WP_EINVAL; WP_EIO */
int wp_store_session_create(wp_store *st, const char *tenant_id, const char *employee_id,
                            const char token_hash[65], const char *client, int64_t now_us,
                            int64_t expires_us);

/* The session with this token hash and its employee. WP_EAUTH, with one message for every
 * case, when there is none, it is revoked, it expired at now_us, or the employee is inactive
 * (an employee who leaves is logged out at once). out is the caller's. */
int wp_store_session_auth(wp_store *st, wp_session *out, const char token_hash[65],
                          int64_t now_us);

/* End one session (logout). 0 also when it was already revoked or unknown: logging out twice
 * is not an error. */
int wp_store_session_revoke(wp_store *st, const char token_hash[65], int64_t now_us);

/* End every session of an employee (departure, password change). *n (may be NULL) gets how
 * many were live. */
int wp_store_sessions_revoke_employee(wp_store *st, int64_t *n, const char *tenant_id,
                                      const char *employee_id, int64_t now_us);

/* The id of the only tenant of the deployment, for logins that do not name one.
 * @return 0; WP_ENOTFOUND (no tenant); WP_EINVAL "tenant is required" (more than one) */
int wp_store_tenant_sole(wp_store *st, char out[WP_ID_LEN + 1]);

/* ===== access: API keys, login throttling, role settings (migration 0005; ops_access.c) == */

#define WP_API_KEY_NAME_MAX 100 /* characters */
#define WP_API_KEY_PREFIX_LEN 12 /* "wpk_" and 8 characters, shown in lists */

/* An integration's credential. It acts with a role (admin, manager or auditor), a manager
 * key within the subtree of org_unit_id. The key itself is never stored, only its SHA-256. */
typedef struct wp_api_key {
    char id[WP_ID_LEN + 1];
    char tenant_id[WP_ID_LEN + 1];
    char name[404];
    enum wp_role role;
    char org_unit_id[WP_ID_LEN + 1]; /* "" unless role is manager */
    char prefix[WP_API_KEY_PREFIX_LEN + 1];
    char created_by[WP_ID_LEN + 1]; /* the employee; "" when unknown */
    int64_t created_us, last_used_us, revoked_us; /* 0: never */
} wp_api_key;

/* Record a key by the hash of its secret. WP_EINVAL (name, role sales, manager without an
 * org unit); WP_ENOTFOUND (org unit not in tenant); WP_EEXISTS (hash collision). */
int wp_store_api_key_create(wp_store *st, wp_api_key *out, const char *tenant_id,
                            const char *name, enum wp_role role, const char *org_unit_id,
                            const char *prefix, const char token_hash[65],
                            const char *created_by, int64_t now_us);

/* The live key with this hash; its last_used_us moves to now_us (written at most once a
 * minute, so a busy integration does not write on every call). A key acts for its creator
 * (created_by), so it is live only while the creator is active and holds what the key
 * carries: an admin any key, an auditor an auditor key, a manager a manager key of a unit of
 * its subtree; a key of no known creator is never live. WP_EAUTH for every failure. */
int wp_store_api_key_auth(wp_store *st, wp_api_key *out, const char token_hash[65],
                          int64_t now_us);

/* The tenant's keys, revoked ones included, newest first, at most WP_PAGE_MAX. *out is
 * malloc'ed (caller frees). */
int wp_store_api_keys_list(wp_store *st, wp_api_key **out, size_t *n, const char *tenant_id);

/* Revoke a key (0 also when it was revoked already). WP_ENOTFOUND. */
int wp_store_api_key_revoke(wp_store *st, const char *tenant_id, const char *id,
                            int64_t now_us);

/* A key that _end_unheld() revoked, and why: "creator_inactive", "creator_role" (no longer
 * the key's role nor admin), "creator_unit" (a manager no longer over the key's unit). */
typedef struct wp_api_key_end {
    wp_api_key key;
    const char *reason; /* static */
} wp_api_key_end;

/* Revoke, at now_us, the live keys that creator_id made (NULL: anyone, keys of no known
 * creator left alone) and no longer holds (see _api_key_auth), in the caller's transaction
 * if one is open: call it after any change of an employee's role, unit or state, and audit
 * each key it ends. *out (malloc'ed, caller frees; NULL when none) gets them, oldest first. */
int wp_store_api_keys_end_unheld(wp_store *st, wp_api_key_end **out, size_t *n,
                                 const char *tenant_id, const char *creator_id, int64_t now_us);

/* Failed logins within a window, per account (tenant + username) and per client address. */
typedef struct wp_login_throttle {
    int64_t user_failures, client_failures;
    int64_t user_unlock_us, client_unlock_us; /* when the count drops under the max; 0: not
                                               * at the max */
} wp_login_throttle;

/* Take a login attempt's place among the failures before its password is checked: count the
 * account's (tenant_id "" when the login named no known tenant) and the address's failures
 * within the window and, when both are under their max, record the attempt as a failure, in
 * one step that holds across connections and nodes (PostgreSQL: advisory locks per account
 * and per address; SQLite: the writer's lock). A good password then settles it with
 * wp_store_login_failures_clear(); a wrong one leaves it counted. Rows past the window go on
 * the way. Run it outside a transaction (inside one, PostgreSQL keeps its locks to the end).
 * @return 0; out->user_unlock_us or out->client_unlock_us non-zero when the attempt is
 *         refused, and then nothing was recorded; WP_EINVAL */
int wp_store_login_attempt(wp_store *st, wp_login_throttle *out, const char *tenant_id,
                           const char *username, const char *client, int64_t now_us,
                           int64_t window_us, int user_max, int client_max);

/* Forget an account's failures (after a good login or a password reset). */
int wp_store_login_failures_clear(wp_store *st, const char *tenant_id, const char *username);

/* What a role may see of personal data, and whether it handles alerts. Defaults (no row):
 * admin view_pii and unmask; manager and auditor unmask; sales neither; every role but sales
 * handle_alerts (which sales never has: _put refuses it with WP_EINVAL). */
typedef struct wp_role_setting {
    enum wp_role role;
    int view_pii; /* sees phone numbers and other personal data unmasked */
    int unmask;   /* may unmask one record at a time, audited */
    int handle_alerts; /* acknowledges and resolves alerts (migration 0014) */
    int64_t updated_us; /* 0: the default */
} wp_role_setting;

/* The settings of one role. */
int wp_store_role_setting_get(wp_store *st, wp_role_setting *out, const char *tenant_id,
                              enum wp_role role);

int wp_store_role_setting_put(wp_store *st, const char *tenant_id, const wp_role_setting *s,
                              int64_t now_us);

/* ===== customers: edits, timeline, pool, handovers (migration 0008; ops_customer.c,
 * ops_handover.c) ===========================================================================
 * A customer in the public pool (公海) has no owner: its row keeps in_pool = 1, its last owner
 * in owner_employee_id (so the archive's reads keep working) and when and why it left. Every
 * change of owner, pool move, stage, grade or note is a customer event (the timeline), written
 * in the same transaction as the change. docs/internals/crm.md has the rules. */

#define WP_CRM_CLAIM_DAILY_MAX_DEFAULT 20 /* claims per employee in any 24 hours */
#define WP_CRM_COOLDOWN_DAYS_DEFAULT 7    /* before the last owner may claim it back */
#define WP_CRM_RECLAIM_DAYS_DEFAULT 30    /* no contact or follow-up for this long: pool */
#define WP_CRM_DAYS_MAX 3650
#define WP_CRM_CLAIMS_MAX 10000
#define WP_CRM_TEXT_MAX 4000 /* characters of notes, a follow-up or a reason */
#define WP_CRM_COMPANY_MAX 100 /* characters */
#define WP_CRM_DETAILS_MAX (16 * 1024) /* bytes of an event's details */

/* The pool rules of a tenant. */
typedef struct wp_crm_settings {
    int claim_daily_max;       /* 0: no claims at all */
    int cooldown_days;         /* 0: none */
    int reclaim_inactive_days; /* 0: the inactivity rule is off */
    int64_t updated_us;        /* 0: the defaults (no row) */
} wp_crm_settings;

int wp_store_crm_settings_get(wp_store *st, wp_crm_settings *out, const char *tenant_id);

/* WP_EINVAL when a value is out of its range (0..WP_CRM_DAYS_MAX, 0..WP_CRM_CLAIMS_MAX). */
int wp_store_crm_settings_put(wp_store *st, const char *tenant_id, const wp_crm_settings *s,
                              int64_t now_us);

/* A customer with its CRM fields. */
typedef struct wp_customer_crm {
    wp_customer base; /* base.owner_employee_id: in the pool, the last owner */
    char company[404];
    char *notes; /* malloc'ed; NULL when none */
    int in_pool;
    int64_t pooled_us; /* 0 unless in the pool */
    char pool_reason[WP_ARCHIVE_WORD_MAX + 1]; /* "manual", "inactive", "owner_left"; "" */
    int64_t owner_since_us, last_follow_up_us, stage_us; /* 0: never */
} wp_customer_crm;

/* WP_ENOTFOUND. Release with wp_customer_crm_release(). */
int wp_store_customer_crm_get(wp_store *st, wp_customer_crm *out, const char *tenant_id,
                              const char *id);
void wp_customer_crm_release(wp_customer_crm *c);

/* Who makes a change: the audit log's actor string, and the employee behind it (NULL for an
 * API key or the system). Borrowed for the call. */
typedef struct wp_crm_actor {
    const char *actor;       /* "employee:<id>", "apikey:<id>", "system" */
    const char *employee_id; /* NULL when no employee */
} wp_crm_actor;

/* Record a timeline fact about a customer. details: a JSON object as text (NULL: {}).
 * out_id may be NULL. WP_ENOTFOUND (customer); WP_EINVAL. */
int wp_store_customer_event_add(wp_store *st, char out_id[WP_ID_LEN + 1], const char *tenant_id,
                                const char *customer_id, const char *kind,
                                const wp_crm_actor *who, const char *details, int64_t now_us);

/* Fields to change; NULL leaves one as it is ("" clears company and notes). */
typedef struct wp_customer_edit {
    const char *name, *company, *notes;
    const char *stage; /* lead, contacted, intent, deal, lost */
    const char *grade; /* A, B, C, D */
} wp_customer_edit;

/* Change a customer; each field that really changes is one customer event ("edited",
 * "stage_changed", "grade_changed" with from/to). *changed gets how many. Runs in the caller's
 * transaction when one is open. WP_ENOTFOUND; WP_EINVAL naming the field. */
int wp_store_customer_edit(wp_store *st, int *changed, const char *tenant_id, const char *id,
                           const wp_customer_edit *e, const wp_crm_actor *who, int64_t now_us);

/* A follow-up note: an event "follow_up" with the text, and the customer's last follow-up
 * time (the inactivity rule counts it as contact). out_id gets the event's id. */
int wp_store_customer_follow_up(wp_store *st, char out_id[WP_ID_LEN + 1], const char *tenant_id,
                                const char *id, const char *text, const wp_crm_actor *who,
                                int64_t now_us);

/* Whether employee_id was granted read access to a customer (a transfer that kept it).
 * *out 1 or 0. */
int wp_store_customer_read_granted(wp_store *st, int *out, const char *tenant_id,
                                   const char *customer_id, const char *employee_id);

/* --- who met a customer (migration 0013; ops_history.c) ----------------------------------
 * A customer is one record of the company with one owner. Its conversations are seen through
 * the employee who had them (the org tree above that employee) or through a history grant an
 * explicit act handed on (handover, transfer, assign, a claim, a merge), never because another
 * device reported the same number or id. Each employee whose device met the customer may read
 * the record; a second employee meeting an owned customer raises a customer_collision alert. */

/* *out = 1 when an employee in scope met the customer: employee_id itself, or (employee_id
 * NULL) anyone in the org subtree org_path. Both NULL: 0. */
int wp_store_customer_met(wp_store *st, int *out, const char *tenant_id, const char *customer_id,
                          const char *employee_id, const char *org_path);

/* *out = 1 when source_employee_id's conversations with the customer were handed (history
 * grants) to employee_id, or (employee_id NULL) to anyone in the org subtree org_path. */
int wp_store_history_granted(wp_store *st, int *out, const char *tenant_id,
                             const char *customer_id, const char *source_employee_id,
                             const char *employee_id, const char *org_path);

typedef struct wp_customer_contact {
    char employee_id[WP_ID_LEN + 1];
    char employee_name[404]; /* who, by name: the managers over the other side must tell */
    int64_t first_us;        /* when its device first reported the customer */
} wp_customer_contact;

/* The employees who met a customer, first met first, at most 200. Caller frees *out. */
int wp_store_customer_contacts(wp_store *st, wp_customer_contact **out, size_t *n,
                               const char *tenant_id, const char *customer_id);

/* --- the pool ------------------------------------------------------------------------------ */

enum wp_pool_refusal {
    WP_POOL_OK = 0,
    WP_POOL_NOT_IN_POOL, /* claim/assign of a customer that has an owner (WP_EBUSY) */
    WP_POOL_IN_POOL,     /* release of a customer already in the pool (WP_EBUSY) */
    WP_POOL_COOLDOWN,    /* its last owner, within the cooldown (WP_EBUSY) */
    WP_POOL_DAILY_LIMIT, /* the claimer's claims in 24 hours reached the max (WP_ELIMIT) */
    WP_POOL_OWNER_INACTIVE, /* claim or assign to an inactive employee (WP_EINVAL) */
};

/* One move into or out of the pool. */
typedef struct wp_pool_move {
    const char *tenant_id, *customer_id;
    const char *employee_id; /* claim/assign: the new owner */
    const char *reason;      /* release: "manual", "inactive", "owner_left" */
    const char *note;        /* NULL or a text of at most WP_CRM_TEXT_MAX characters */
    int claim;               /* take: 1 applies the claim rules (daily max, cooldown) */
    wp_crm_actor who;
    int64_t now_us;
    /* out */
    enum wp_pool_refusal refused;
    int64_t retry_after_us; /* WP_POOL_COOLDOWN, WP_POOL_DAILY_LIMIT: when it would pass */
    char previous_owner[WP_ID_LEN + 1];
    char event_id[WP_ID_LEN + 1];
} wp_pool_move;

/* Put a customer into the pool, with an event "pooled". WP_ENOTFOUND; WP_EBUSY
 * (m->refused says why); WP_EINVAL. */
int wp_store_pool_release(wp_store *st, wp_pool_move *m);

/* Take a customer out of the pool for m->employee_id (claim or assign), with an event
 * "claimed" (whose actor employee is the claimer: the daily max counts these) or "assigned". WP_ENOTFOUND (customer or employee); WP_EBUSY, WP_ELIMIT, WP_EINVAL
 * with m->refused saying why. The checks and the move are one atomic step: two claims of one
 * customer cannot both win, nor can an employee pass the daily max by claiming in parallel
 * (on PostgreSQL the claimer's employee row is locked for the step). */
int wp_store_pool_take(wp_store *st, wp_pool_move *m);

typedef struct wp_pool_filter {
    const char *tenant_id;
    const char *reason;         /* NULL: any */
    const char *scope_org_path; /* NULL: any; else last owners in that subtree */
    const char *cursor;
    unsigned limit;
} wp_pool_filter;

typedef struct wp_pool_page {
    wp_customer_crm *items; /* notes are not read: NULL */
    size_t n;
    char next_cursor[WP_ARCHIVE_CURSOR_MAX];
} wp_pool_page;

/* Customers in the pool, the most recently pooled first. Release with wp_pool_page_release. */
int wp_store_pool_list(wp_store *st, wp_pool_page *out, const wp_pool_filter *f);
void wp_pool_page_release(wp_pool_page *p);

/* Give an owned customer to another (active) employee: the console's reassignment and bulk
 * assign, one customer at a time, with an "owner_changed" event (reason "assigned"). *changed
 * is 0 when it was theirs already. WP_ENOTFOUND; WP_EINVAL (inactive employee); WP_EBUSY (in
 * the pool — assign it there — or merged). Inside the caller's transaction when one is open. */
int wp_store_customer_assign(wp_store *st, int *changed, const char *tenant_id, const char *id,
                             const char *to_employee_id, const wp_crm_actor *who, int64_t now_us);

/* What the reclaim job did. */
typedef struct wp_reclaim_result {
    int64_t owner_left, inactive; /* customers moved to the pool, by reason */
} wp_reclaim_result;

/* The reclaim rules of every tenant at now_us: customers of inactive owners go to the pool
 * (reason owner_left), and, when the tenant's reclaim_inactive_days is not 0, customers with
 * no contact, follow-up or change of owner for that long (reason inactive). Each move is its
 * own transaction with its event and an audit row (actor "system", action "pool.reclaim",
 * signed with audit_key, WP_AUDIT_KEY_LEN bytes), so a crash loses no move and a rerun
 * repeats none. *out adds up the moves. */
int wp_store_pool_reclaim(wp_store *st, wp_reclaim_result *out, const unsigned char *audit_key,
                          int64_t now_us);

/* --- the timeline -------------------------------------------------------------------------- */

enum wp_timeline_kind {
    WP_TL_EVENT = 1, /* a customer event: kind, actor, details */
    WP_TL_CALL,      /* a call */
    WP_TL_CONTACT,   /* a contact event (added, deleted, blocked, ...) */
    WP_TL_ALERT,     /* an alert about the customer */
};

/* One fact of a customer's timeline other than a message (messages come from
 * wp_store_messages_search and are merged by the caller on (ts, id)). */
typedef struct wp_timeline_item {
    enum wp_timeline_kind type;
    char id[WP_ID_LEN + 1];
    int64_t ts_us;
    char employee_id[WP_ID_LEN + 1]; /* call, contact, alert: the employee; event: the
                                      * employee actor ("" when none) */
    /* NULL when absent; owned by the page:
     * event: kind, actor, details (JSON object text)
     * call: direction, recording; num = duration_s (-1 when absent)
     * contact: kind = action, channel
     * alert: kind, status, category, message_id */
    const char *kind, *actor, *details, *direction, *recording, *channel, *status, *category,
        *message_id;
    int64_t num;
} wp_timeline_item;

typedef struct wp_timeline_filter {
    const char *tenant_id, *customer_id;
    const char *cursor; /* "<ts>.<id>": items strictly older than (ts, id) */
    unsigned limit;
    /* the reader's scope (NULL, NULL: all): calls, contact events and alerts of a salesperson
     * (scope_employee_id) or of an org subtree's employees, or handed to them (history grants) */
    const char *scope_org_path, *scope_employee_id;
    int no_events; /* leave the CRM events out: a reader that only met the customer */
} wp_timeline_filter;

typedef struct wp_timeline_page {
    wp_timeline_item *items;
    size_t n;
    char next_cursor[WP_ARCHIVE_CURSOR_MAX]; /* "" on the last page */
    void *mem;
} wp_timeline_page;

/* Newest first by (ts, id). Release with wp_timeline_page_release(). */
int wp_store_customer_timeline(wp_store *st, wp_timeline_page *out, const wp_timeline_filter *f);
void wp_timeline_page_release(wp_timeline_page *p);

/* --- handovers ----------------------------------------------------------------------------- */

#define WP_HANDOVER_TO_MAX 50 /* successors of one handover */
#define WP_HANDOVER_KEY_MAX 128 /* bytes of an idempotency key */

typedef struct wp_handover_request {
    const char *tenant_id, *from_employee_id;
    const char *const *to_employee_ids; /* 1..WP_HANDOVER_TO_MAX, distinct, active, != from */
    size_t n_to;
    const unsigned *weights; /* NULL: an even split; else one per successor, 1..100: each gets
                              * a share in proportion, dealt in turn (smooth weighted round
                              * robin, oldest customer first) */
    int departure;        /* 1: departure (the leaver stops at once); 0: transfer */
    int keep_read_access; /* transfer: the former owner keeps read access */
    const char *idempotency_key; /* NULL: none */
    wp_crm_actor who;
    int64_t now_us;
    unsigned fail_after; /* tests: fail with WP_EIO after this many moves; 0: never */
    /* optional out (NULL: not wanted): on departure, the API keys that ended with the leaver
     * (wp_store_api_keys_end_unheld), for the caller's audit rows; malloc'ed, caller frees */
    wp_api_key_end **keys_ended;
    size_t *n_keys_ended;
} wp_handover_request;

typedef struct wp_handover {
    char id[WP_ID_LEN + 1];
    char from_employee_id[WP_ID_LEN + 1];
    char to_employees[WP_HANDOVER_TO_MAX * (WP_ID_LEN + 3) + 3]; /* a JSON array of ids */
    int departure, keep_read_access;
    char idempotency_key[WP_HANDOVER_KEY_MAX + 1]; /* "" when none */
    char actor[257]; /* as the audit log's actor */
    int64_t customers_moved, sessions_revoked, devices_revoked, api_keys_revoked;
    int64_t created_us;
} wp_handover;

/* Hand the customers of from_employee_id over, in one transaction (the caller's when one is
 * open: then on failure the caller must roll it back): customers owned by it (not those in
 * the pool) move to the successors, round-robin in the order they were created, each with an
 * "owner_changed" event and a report row; on departure the employee is deactivated and its
 * sessions, devices and the API keys it created are revoked. A request repeating one
 * already done changes nothing and *replayed = 1 with out that handover: the same
 * idempotency_key, or (without one) a departure of an employee already inactive with no
 * customer left, or a transfer of an employee with no customer left, answering its latest
 * handover of that reason when there is one.
 * @return 0; WP_ENOTFOUND (an employee not in the tenant); WP_EINVAL (successors: none,
 *         too many, repeated, the leaver itself, inactive; key too long); WP_EBUSY (the last
 *         active admin cannot leave; the key was used for another request); WP_EIO */
int wp_store_handover_run(wp_store *st, wp_handover *out, int *replayed,
                          const wp_handover_request *r);

int wp_store_handover_get(wp_store *st, wp_handover *out, const char *tenant_id,
                          const char *id);

typedef struct wp_handover_filter {
    const char *tenant_id;
    const char *from_employee_id; /* NULL: any */
    const char *scope_org_path;   /* NULL: any; else leavers in that subtree */
    const char *cursor;
    unsigned limit;
} wp_handover_filter;

typedef struct wp_handover_page {
    wp_handover *items;
    size_t n;
    char next_cursor[WP_ARCHIVE_CURSOR_MAX];
} wp_handover_page;

/* Handovers, newest first. Release with wp_handover_page_release(). */
int wp_store_handovers_list(wp_store *st, wp_handover_page *out, const wp_handover_filter *f);
void wp_handover_page_release(wp_handover_page *p);

/* One line of a handover's report. */
typedef struct wp_handover_item {
    char customer_id[WP_ID_LEN + 1];
    char customer_name[WP_ARCHIVE_FIELD_MAX + 1];
    char to_employee_id[WP_ID_LEN + 1];
} wp_handover_item;

/* The report's customers in customer id order, after after_customer_id (NULL or "": from
 * the start), at most limit (1..WP_HANDOVER_ITEMS_MAX). *out malloc'ed (caller frees). */
#define WP_HANDOVER_ITEMS_MAX 1000
int wp_store_handover_items(wp_store *st, wp_handover_item **out, size_t *n,
                            const char *tenant_id, const char *handover_id,
                            const char *after_customer_id, unsigned limit);

/* ===== analytics (migration 0009; ops_analytics.c) ========================================
 * What the dashboard shows, from hourly rollups that a job folds in after a watermark
 * (messages by rid, calls and alerts by the time they were stored), plus the raw rows past
 * the watermark, so every answer is exact whatever the job has done. Days are local days:
 * the caller splits its range into spans of one UTC offset, whole hours (an hour bucket then
 * never straddles a day). docs/internals/analytics.md defines each number. */

#define WP_ANALYTICS_SPANS_MAX 64      /* offset changes in one range */
#define WP_ANALYTICS_RANGE_MAX_DAYS 400 /* days of one range */
#define WP_ANALYTICS_BINS 1107         /* reply-time histogram bins */

/* A reply time as the histograms keep it: exact below 2 minutes, then rounded down to 10 s
 * (below 10 min), 1 min (below 2 h), 10 min (below 24 h), 1 h (below 30 days); 30 days and
 * more are one bin. wp_analytics_bin() maps seconds (>= 0) to a bin, _bin_floor() back. */
int wp_analytics_bin(int64_t seconds);
int64_t wp_analytics_bin_floor(int bin);

/* One stretch of the range: [from_us, to_us) on whole UTC hours, whose rows fall on the local
 * day floor((t + offset_s) / 86400); offset_s is whole hours within +-48 h (a day longer than
 * 24 hours, at the end of summer time, takes two spans: the extra hours with 24 h less). */
typedef struct wp_analytics_span {
    int64_t from_us, to_us;
    int offset_s;
} wp_analytics_span;

enum wp_analytics_by { WP_ANALYTICS_ALL = 0, WP_ANALYTICS_EMPLOYEE, WP_ANALYTICS_UNIT };

typedef struct wp_analytics_filter {
    const char *tenant_id;
    const wp_analytics_span *spans; /* 1..WP_ANALYTICS_SPANS_MAX, each starting where the one
                                     * before ends */
    size_t n_spans;
    enum wp_analytics_by by;        /* group by the employee, or by its (current) org unit */
    const char *scope_org_path;     /* NULL: any; else employees of that subtree */
    const char *scope_employee_id;  /* NULL: any; else that employee only */
    int raw;                        /* 1: from the raw rows only, ignoring the rollups (the
                                     * reference the tests and the benchmark compare with) */
} wp_analytics_filter;

/* A result row. day: the local day as days since 1970-01-01 in its span's offset (0 where a
 * result is not per day); group: the employee or org unit id ("" for WP_ANALYTICS_ALL). */
typedef struct wp_analytics_row {
    int64_t day;
    char group[WP_ID_LEN + 1];
    const char *name; /* the group's name; NULL for "" (owned by the result) */
    char kind[WP_ARCHIVE_WORD_MAX + 1];      /* alerts: the alert kind; funnel: the stage */
    char category[WP_ARCHIVE_FIELD_MAX + 1]; /* alerts: the category ("" for none) */
    /* activity: messages in, out, calls, call seconds
     * response times: turns, answered, median s, p90 s (-1 when nothing answered)
     * alerts: count
     * funnel: customers at that stage
     * conversion: customers created in the range, of them at deal, at lost; deals closed in
     *             the range (stage deal, stage changed in the range), whatever their age */
    int64_t v[4];
} wp_analytics_row;

typedef struct wp_analytics_result {
    wp_analytics_row *rows; /* by day, then group (then kind, category) */
    size_t n;
    void *mem; /* private: where the names live */
} wp_analytics_result;

/* Messages and calls per local day (and group). */
int wp_store_analytics_activity(wp_store *st, wp_analytics_result *out,
                                const wp_analytics_filter *f);

/* First-reply times of customer turns that began in the range, per group (day 0): a turn is
 * a customer's inbound message in a one-to-one chat whose previous message was not inbound;
 * its reply is the employee's next outbound message in that chat, in the order the device
 * recorded them. Turns not (yet) answered count in turns but not in answered. */
int wp_store_analytics_replies(wp_store *st, wp_analytics_result *out,
                               const wp_analytics_filter *f);

/* Alerts per local day (and group), kind and category, by the time of the event. The
 * results of these functions name each group (row.name). */
int wp_store_analytics_alerts(wp_store *st, wp_analytics_result *out,
                              const wp_analytics_filter *f);

/* Customers not in the pool, by owner scope and group, by stage (kind: lead, contacted,
 * intent, deal, lost; no stage counts as lead), today (day 0, ignoring the range). */
int wp_store_analytics_funnel(wp_store *st, wp_analytics_result *out,
                              const wp_analytics_filter *f);

/* Conversion per group (day 0): see wp_analytics_row.v. */
int wp_store_analytics_conversion(wp_store *st, wp_analytics_result *out,
                                  const wp_analytics_filter *f);

void wp_analytics_result_release(wp_analytics_result *r); /* NULL rows is fine */

/* What one run of the rollup job did. */
typedef struct wp_analytics_rollup_result {
    int64_t messages, calls, alerts; /* rows folded in */
    int more;                        /* 1: stopped at max_rows; run again */
} wp_analytics_rollup_result;

/* Fold the rows stored since the last run into the rollups, every tenant, in transactions of
 * at most a few thousand rows (so a crash loses nothing and repeats nothing: rollups and
 * watermark commit together), at most max_rows messages in all (0: no limit). Calls and
 * alerts stored in the last WP_ANALYTICS_LAG_S are left for the next run (their only order
 * is the time they were stored); messages on PostgreSQL up to the last run's newest row once
 * every transaction then running has ended. Safe beside the server and beside another run
 * (they serialize on each tenant's watermark row). */
#define WP_ANALYTICS_LAG_S 300
int wp_store_analytics_rollup(wp_store *st, wp_analytics_rollup_result *out, int64_t now_us,
                              int64_t max_rows);

/* ===== audit log (migration 0006; ops_audit.c, audit_key.c) ============================
 * One row per write, login (and failed login), unmasking and export, never updated or
 * deleted by workphone. Each tenant's rows form a chain: row n carries seq n and the keyed
 * BLAKE2b of a canonical encoding of its fields and of row n-1's hash, so editing, removing
 * or inserting a row breaks the chain at that row. The key lives in the data dir
 * (keys/audit.key), not in the database: whoever can write the database alone cannot forge a
 * chain. */

#define WP_AUDIT_KEY_LEN 32
#define WP_AUDIT_HASH_HEX 64
#define WP_AUDIT_FIELD_MAX 256           /* bytes of an actor or a target */
#define WP_AUDIT_DETAILS_MAX (16 * 1024) /* bytes of details */

/* Read <data_dir>/keys/audit.key, creating it (0600 in a 0700 dir, random) when create is
 * set and it is missing. A key file others may read, or of the wrong size, is refused.
 * @return 0; WP_ENOTFOUND (missing and !create); WP_EIO. key is untouched on failure. */
int wp_audit_key_load(unsigned char key[WP_AUDIT_KEY_LEN], const char *data_dir, int create);

typedef struct wp_audit_entry {
    const char *tenant_id;
    int64_t ts_us;
    const char *actor;   /* "employee:<id>", "apikey:<id>", "device:<id>", "system" */
    const char *action;  /* dotted verb: "auth.login", "auth.login_failed", "employee.create",
                          * "customer.unmask", "lexicon.put", ... */
    const char *target;  /* "employee:<id>", "customer:<id>", ...; NULL or "" when none */
    const char *details; /* a JSON object as text; NULL for {} */
    const char *client;  /* the caller's address; NULL when none */
} wp_audit_entry;

/* Append one row to the tenant's chain, inside the caller's transaction when there is one (so
 * the row and the change it records commit together). ts_us 0 is now. The tenant's row stays
 * locked until that transaction ends: appends of one tenant are serialized, also across server
 * nodes on PostgreSQL (a transaction that appends and locks the tenant row itself must lock
 * it first, before its append). out_id (may be NULL) gets its id.
 * @return 0; WP_EINVAL (a field too long or with control characters, an action not of
 *         a-z 0-9 . _, details not a JSON object); WP_ENOTFOUND (no such tenant); WP_EIO */
int wp_store_audit_append(wp_store *st, const unsigned char key[WP_AUDIT_KEY_LEN],
                          const wp_audit_entry *e, char out_id[WP_ID_LEN + 1]);

/* Append n rows of one tenant (v[i].tenant_id all the same, else WP_EINVAL) as
 * wp_store_audit_append() does one, in order, with one lock and one move of the chain's end:
 * how buffered rows (reads) are written. out_id (may be NULL) gets the last row's id. */
int wp_store_audit_append_batch(wp_store *st, const unsigned char key[WP_AUDIT_KEY_LEN],
                                const wp_audit_entry *v, size_t n, char out_id[WP_ID_LEN + 1]);

typedef struct wp_audit_row {
    char id[WP_ID_LEN + 1];
    int64_t seq, ts_us;
    const char *actor, *action, *target, *details, *client; /* owned by the page */
    char prev_hash[WP_AUDIT_HASH_HEX + 1], hash[WP_AUDIT_HASH_HEX + 1];
} wp_audit_row;

typedef struct wp_audit_filter {
    const char *tenant_id;
    const char *actor, *action, *target; /* NULL: any; action "auth." matches a prefix */
    /* NULL: any; else rows about this customer: target "customer:<id>", and reads of
     * messages (messages.read, messages.search) whose details list it among "customers" */
    const char *customer_id;
    int64_t from_us, to_us;
    const char *cursor;
    unsigned limit;
} wp_audit_filter;

typedef struct wp_audit_page {
    wp_audit_row *items;
    size_t n;
    char next_cursor[WP_ARCHIVE_CURSOR_MAX];
    void *mem;
} wp_audit_page;

/* Rows, newest (highest seq) first, as stored. WP_EINVAL for a bad cursor or a filter
 * longer than WP_AUDIT_FIELD_MAX. Release with wp_audit_page_release(). */
int wp_store_audit_list(wp_store *st, wp_audit_page *out, const wp_audit_filter *f);
void wp_audit_page_release(wp_audit_page *p);

typedef struct wp_audit_verdict {
    int ok;            /* 1: every chain intact */
    int64_t rows;      /* rows checked */
    char tenant_id[WP_ID_LEN + 1]; /* when !ok: the chain that broke */
    int64_t bad_seq;   /* ... the first row that does not fit (for a removed row: the row after
                        * the gap) */
    char bad_id[WP_ID_LEN + 1];    /* "" when that row is gone */
    char why[160];     /* "row altered", "row 41 removed", "row inserted", ... */
    int notes;         /* chains that verified with a reservation: no length record yet */
    char note[240];    /* the first of them, naming its tenant; "" when none */
} wp_audit_verdict;

/* *any = 1 when the store holds at least one audit row, of any tenant (a lost key must not be
 * silently replaced then: every row would verify as altered). */
int wp_store_audit_any(wp_store *st, int *any);

/* Walk the chain of one tenant (or of every chain in the store, in tenant id order, when
 * tenant_id is NULL) from its first row, and compare its end with the head row. Stops at the
 * first row that does not fit: one whose contents do not hash to its hash ("row altered"),
 * one the chain goes around or that repeats a seq or lies past the head ("row inserted"),
 * a genuine row after a gap ("row N removed"), a head past the last row ("... removed from
 * the end"). Runs beside appends: it needs no snapshot. docs/internals/audit.md says what a
 * chain cannot show.
 * @return 0 with *out filled (a broken chain is not an error); WP_EIO; WP_ENOMEM */
int wp_store_audit_verify(wp_store *st, const unsigned char key[WP_AUDIT_KEY_LEN],
                          const char *tenant_id, wp_audit_verdict *out);

/* --- the end of the chain, and signed checkpoints (migration 0016) ---------------------------
 * An append also moves two records of where the chain ends, both keyed with the audit key: the
 * head's MAC (audit_heads.mac over tenant, seq, hash) and the tenant's length record
 * (tenants.audit_seq, audit_hash, audit_mac), so rows cut off the end are found even when the
 * head is set back or deleted. Verify reports such a record forged, missing, set back, or a log
 * deleted whole. A chain written before migration 0016 has neither until its next append:
 * verify passes it with a note. Whoever holds the audit key can rewrite all of that; a
 * checkpoint, signed with an Ed25519 key of its own and kept outside the database (the server
 * log), shows that the log still holds the rows it had then. */

#define WP_AUDIT_SIGN_SEED_LEN 32 /* an Ed25519 seed: keys/checkpoint.key */
#define WP_AUDIT_SIGN_PUB_LEN 32
#define WP_AUDIT_CHECKPOINT_LINE_MAX 400

/* Read <data_dir>/keys/checkpoint.key (the seed checkpoints are signed with), creating it when
 * create is set and it is missing, with the rules of wp_audit_key_load(). */
int wp_audit_sign_key_load(unsigned char seed[WP_AUDIT_SIGN_SEED_LEN], const char *data_dir,
                           int create);

/* The public key of a seed: what a checkpoint is checked with. */
void wp_audit_sign_public(unsigned char pub[WP_AUDIT_SIGN_PUB_LEN],
                          const unsigned char seed[WP_AUDIT_SIGN_SEED_LEN]);

/* A tenant's chain as it stood: its length (the last seq), that row's hash, when, and the
 * Ed25519 signature over those (domain "workphone.audit.checkpoint.v1"). */
typedef struct wp_audit_checkpoint {
    char tenant_id[WP_ID_LEN + 1];
    int64_t seq;
    char hash[WP_AUDIT_HASH_HEX + 1];
    int64_t ts_us;
    char key_id[17]; /* the first 16 hex digits of the public key that signed it */
    char sig[129];   /* hex */
} wp_audit_checkpoint;

/* Sign where tenant_id's chain ends now (made at now_us). The head is checked first (its MAC,
 * and the row it names): a head that does not verify is not signed.
 * @return 0; WP_ENOTFOUND (the tenant has no audit row yet, or only rows from before
 *         migration 0016 and no append since); WP_EIO (a head that does not verify, or store
 *         errors) */
int wp_store_audit_checkpoint(wp_store *st, wp_audit_checkpoint *out,
                              const unsigned char key[WP_AUDIT_KEY_LEN],
                              const unsigned char seed[WP_AUDIT_SIGN_SEED_LEN],
                              const char *tenant_id, int64_t now_us);

/* One logfmt line: "event=audit_checkpoint tenant=<id> seq=<n> hash=<hex> time_us=<n>
 * key=<16 hex> sig=<128 hex>". @return 0; WP_EINVAL when cap is too small */
int wp_audit_checkpoint_format(char *out, size_t cap, const wp_audit_checkpoint *cp);

/* The fields of such a line, wherever it is in a longer logfmt line (other keys are skipped).
 * @return 0; WP_EINVAL naming what is missing, repeated or malformed */
int wp_audit_checkpoint_parse(wp_audit_checkpoint *out, const char *line);

/* Whether the store still holds what cp signed: the signature checks with pub, the tenant's
 * chain verifies (as wp_store_audit_verify), and its row cp->seq is there with cp->hash.
 * A log rewritten with the audit key after the checkpoint, shorter or not, fails here.
 * @return 0 with *out filled (not ok: why); WP_EIO; WP_ENOMEM */
int wp_store_audit_verify_checkpoint(wp_store *st, const unsigned char key[WP_AUDIT_KEY_LEN],
                                     const unsigned char pub[WP_AUDIT_SIGN_PUB_LEN],
                                     const wp_audit_checkpoint *cp, wp_audit_verdict *out);

/* The tenants that have a chain (a head row), in id order: what serve checkpoints. Caller
 * frees *out (NULL when none). */
int wp_store_audit_chains(wp_store *st, char (**out)[WP_ID_LEN + 1], size_t *n);

/* --- insider alerts (migration 0016; ops_insider.c) -----------------------------------------
 * Unmasking or exporting (handover.export, media.download) many customers in a short time
 * raises one alert for the admins, counted from the audit log: per actor, within a sliding
 * window; at most one alert per employee, kind and window. */

#define WP_INSIDER_UNMASK_PER_HOUR_DEFAULT 20 /* customer.unmask by one employee in 60 min */
#define WP_INSIDER_EXPORT_PER_DAY_DEFAULT 100 /* exports by one employee in 24 h */
#define WP_INSIDER_MAX 1000000
#define WP_INSIDER_UNMASK_WINDOW_S 3600
#define WP_INSIDER_EXPORT_WINDOW_S 86400

typedef struct wp_insider_settings {
    int64_t unmask_per_hour; /* 0: never alert */
    int64_t export_per_day;  /* 0: never alert */
    int64_t updated_us;      /* 0: the defaults, never set */
} wp_insider_settings;

/* The tenant's thresholds; the defaults when none were set. */
int wp_store_insider_settings_get(wp_store *st, wp_insider_settings *out, const char *tenant_id);

/* Set both thresholds (0..WP_INSIDER_MAX, else WP_EINVAL). */
int wp_store_insider_settings_put(wp_store *st, const char *tenant_id,
                                  const wp_insider_settings *s);

typedef struct wp_insider_result {
    int64_t count; /* the actor's actions of that kind in the window, this one included; 0 when
                    * the action does not count */
    int64_t limit; /* the threshold in force (0: off) */
    char alert_id[WP_ID_LEN + 1]; /* the alert raised now; "" when none */
} wp_insider_result;

/* After an audit row of action by actor was appended in st's transaction: count the actor's
 * unmaskings (mass_unmask, per hour) or exports (mass_export, per day) in the window, and past
 * the threshold raise an open alert about employee_id (kind mass_unmask or mass_export,
 * category "insider", pattern the actor, text the count), with its own audit row (actor
 * "system", action "alert.raise"), unless one of that kind about that employee is already in
 * the window. employee_id NULL or "" (an API key nobody is known to have made): counted, no
 * alert. Run it after the append, in the same transaction: the append's lock on the tenant
 * serializes the counts, so two requests never both raise. Actions that do not count: 0. */
int wp_store_insider_check(wp_store *st, wp_insider_result *out,
                           const unsigned char key[WP_AUDIT_KEY_LEN], const char *tenant_id,
                           const char *actor, const char *employee_id, const char *action);

/* The kind of an alert ("sensitive_word", "mass_unmask", ...). WP_ENOTFOUND. */
int wp_store_alert_kind(wp_store *st, char out[WP_ARCHIVE_WORD_MAX + 1], const char *tenant_id,
                        const char *id);

/* 1 for the kinds only admins and auditors see (mass_unmask, mass_export). */
int wp_alert_kind_is_insider(const char *kind);

/* ===== customer rules: tags, follow-up SOP, grading, scripts (migration 0010; ops_tags.c,
 * ops_rules.c) ================================================================================
 * Every change to a customer (its tags, a grade a rule gives) is a customer event, written in
 * the same transaction. docs/internals/crm.md has the rules. */

#define WP_TAGS_MAX 1000         /* tags (and tag groups) of a tenant; lists answer all */
#define WP_TAG_NAME_MAX 50       /* characters */
#define WP_TAG_COLOR_DEFAULT "#8c8c8c"
#define WP_CUSTOMER_TAGS_MAX 100 /* tags of one customer, and ids of one change */

typedef struct wp_tag {
    char id[WP_ID_LEN + 1];
    char group_id[WP_ID_LEN + 1]; /* "" for a tag group itself, and for a tag in none */
    char name[WP_TAG_NAME_MAX * 4 + 1];
    char color[8]; /* "#rrggbb", lowercase */
    int64_t created_us;
} wp_tag;

/* Tag groups (group 1) or tags (group 0) of a tenant, by name; tags of one group when
 * group_id is not NULL ("" for tags in no group). *out malloc'ed (caller frees). */
int wp_store_tags_list(wp_store *st, wp_tag **out, size_t *n, const char *tenant_id, int group,
                       const char *group_id);

int wp_store_tag_get(wp_store *st, wp_tag *out, const char *tenant_id, int group, const char *id);

/* Create a tag group (group 1; group_id ignored) or a tag (in group_id, NULL or "" for none).
 * color NULL: WP_TAG_COLOR_DEFAULT. WP_EINVAL (name, color); WP_EEXISTS (the name is taken in
 * that group); WP_ENOTFOUND (the group); WP_ELIMIT (WP_TAGS_MAX). */
int wp_store_tag_create(wp_store *st, wp_tag *out, const char *tenant_id, int group,
                        const char *group_id, const char *name, const char *color, int64_t now_us);

/* Rename, recolor, (a tag) move to another group: NULL leaves a field; group_id "" moves a
 * tag out of its group. out gets the result. Same errors as create. */
int wp_store_tag_update(wp_store *st, wp_tag *out, const char *tenant_id, int group,
                        const char *id, const char *name, const char *color,
                        const char *group_id);

/* Delete a tag group (WP_EBUSY while it holds tags) or a tag: the customers that had it lose
 * it, each with an event "tags_changed" by who; *untagged gets how many (may be NULL). */
int wp_store_tag_delete(wp_store *st, int64_t *untagged, const char *tenant_id, int group,
                        const char *id, const wp_crm_actor *who, int64_t now_us);

/* A customer's tags, by name. *out malloc'ed (caller frees). */
int wp_store_customer_tags(wp_store *st, wp_tag **out, size_t *n, const char *tenant_id,
                           const char *customer_id);

/* Change a customer's tags: with set (set_given 1) its tags become exactly set; then add and
 * remove. Unknown tag ids: WP_EINVAL naming the id. One event "tags_changed" with the added
 * and removed tags (their ids and names) when anything changed; *changed gets how many tags
 * came or went. Runs in the caller's transaction when one is open. WP_ENOTFOUND (customer);
 * WP_ELIMIT (more than WP_CUSTOMER_TAGS_MAX). */
int wp_store_customer_tags_change(wp_store *st, int *changed, const char *tenant_id,
                                  const char *customer_id, int set_given,
                                  const char *const *set, size_t n_set, const char *const *add,
                                  size_t n_add, const char *const *remove, size_t n_remove,
                                  const wp_crm_actor *who, int64_t now_us);

/* The customers that have a tag, by id, after after_id (NULL or "": from the start), at most
 * limit (1..WP_PAGE_MAX). For the customer list's tag filter. *out malloc'ed (caller frees). */
int wp_store_customers_with_tag(wp_store *st, char (**out)[WP_ID_LEN + 1], size_t *n,
                                const char *tenant_id, const char *tag_id,
                                const char *after_id, unsigned limit);

/* --- follow-up SOP (ops_rules.c) ----------------------------------------------------------- */

#define WP_RULES_MAX 200          /* SOP or grading rules of a tenant */
#define WP_SOP_HOURS_MAX (365 * 24)

/* Customers not in the pool whose grade and stage match ("" = any) are due interval_h after
 * their base — the latest of creation, change of owner and follow-up — and overdue grace_h
 * after that. */
typedef struct wp_sop_rule {
    char id[WP_ID_LEN + 1];
    char name[404];
    char grade[WP_ARCHIVE_WORD_MAX + 1], stage[WP_ARCHIVE_WORD_MAX + 1];
    int interval_h, grace_h; /* 1..WP_SOP_HOURS_MAX, 0..WP_SOP_HOURS_MAX */
    int active;
    int64_t created_us, updated_us;
} wp_sop_rule;

/* All of a tenant's rules, oldest first. *out malloc'ed (caller frees). */
int wp_store_sop_rules_list(wp_store *st, wp_sop_rule **out, size_t *n, const char *tenant_id);
int wp_store_sop_rule_get(wp_store *st, wp_sop_rule *out, const char *tenant_id, const char *id);
/* Create (r->id "" or not id-shaped: a new id, written back) or replace rule r->id.
 * WP_EINVAL naming the field; WP_ENOTFOUND (update of a missing rule); WP_ELIMIT. */
int wp_store_sop_rule_put(wp_store *st, wp_sop_rule *r, const char *tenant_id, int create,
                          int64_t now_us);
/* Delete a rule and its reminders (alerts it raised stay). WP_ENOTFOUND. */
int wp_store_sop_rule_delete(wp_store *st, const char *tenant_id, const char *id);

typedef struct wp_reminder {
    char id[WP_ID_LEN + 1];
    char rule_id[WP_ID_LEN + 1], customer_id[WP_ID_LEN + 1], employee_id[WP_ID_LEN + 1];
    char rule_name[404], customer_name[WP_ARCHIVE_FIELD_MAX + 1];
    int64_t base_us, due_us, overdue_us, created_us;
    int64_t done_us; /* 0: open */
    char alert_id[WP_ID_LEN + 1]; /* the followup_overdue alert; "" when none */
} wp_reminder;

enum wp_reminder_state { WP_REMINDER_OPEN = 0, WP_REMINDER_OVERDUE, WP_REMINDER_DONE,
                         WP_REMINDER_ANY };

typedef struct wp_reminder_filter {
    const char *tenant_id;
    const char *employee_id;    /* NULL: any */
    const char *scope_org_path; /* NULL: any; else employees of that subtree */
    enum wp_reminder_state state; /* open: not done (a follow-up since its base makes one
                                   * done); overdue: open and past overdue_us at now_us */
    int64_t now_us;
    const char *cursor;
    unsigned limit;
} wp_reminder_filter;

typedef struct wp_reminder_page {
    wp_reminder *items;
    size_t n;
    char next_cursor[WP_ARCHIVE_CURSOR_MAX];
} wp_reminder_page;

/* Reminders by due time, earliest first. Release with free(p->items). */
int wp_store_reminders_list(wp_store *st, wp_reminder_page *out, const wp_reminder_filter *f);
int wp_store_reminder_get(wp_store *st, wp_reminder *out, const char *tenant_id, const char *id);
/* Mark a reminder done at now_us (a done one stays as it was). WP_ENOTFOUND. */
int wp_store_reminder_done(wp_store *st, const char *tenant_id, const char *id, int64_t now_us);

/* --- automatic grading (ops_rules.c) ------------------------------------------------------- */

/* A grading rule: when every condition that is set holds, the customer's grade becomes grade.
 * Rules are tried by position (then age); the first that holds wins, none: the grade stays.
 * A customer whose latest grade change was made by a person (not "rule:<id>") is pinned:
 * rules leave it alone. */
typedef struct wp_grade_rule {
    char id[WP_ID_LEN + 1];
    int position;
    char grade[WP_ARCHIVE_WORD_MAX + 1];
    char stage[WP_ARCHIVE_WORD_MAX + 1]; /* "": any */
    int min_messages, messages_days;     /* -1: not checked; at least min messages (either way)
                                          * in the last messages_days days */
    int contact_within_days;             /* -1: not checked; last contact at most this old */
    int no_contact_days;                 /* -1: not checked; no contact for at least this long */
    char tag_id[WP_ID_LEN + 1];          /* "": not checked; has this tag */
    int active;
    int64_t created_us, updated_us;
} wp_grade_rule;

int wp_store_grade_rules_list(wp_store *st, wp_grade_rule **out, size_t *n,
                              const char *tenant_id);
int wp_store_grade_rule_get(wp_store *st, wp_grade_rule *out, const char *tenant_id,
                            const char *id);
/* Create (a new id written back) or replace r->id. WP_EINVAL naming the field (no condition
 * at all is refused); WP_ENOTFOUND; WP_ELIMIT. */
int wp_store_grade_rule_put(wp_store *st, wp_grade_rule *r, const char *tenant_id, int create,
                            int64_t now_us);
int wp_store_grade_rule_delete(wp_store *st, const char *tenant_id, const char *id);

/* Apply the grading rules at now_us to one customer (customer_id) or to all of a tenant (NULL),
 * each change in the caller's transaction when one is open (which the caller must then roll
 * back on failure), else in one of its own, with an
 * event "grade_changed" by "rule:<id>" and an audit row (actor "system", action
 * "customer.grade_rule"). *changed gets how many changed. */
int wp_store_grade_rules_apply(wp_store *st, int64_t *changed, const unsigned char *audit_key,
                               const char *tenant_id, const char *customer_id, int64_t now_us);

/* --- the scripts library, 话术 (ops_scripts.c) -------------------------------------------- */

#define WP_SCRIPTS_MAX 2000        /* scripts of a tenant */
#define WP_SCRIPT_TEXT_MAX 2000    /* characters */
#define WP_SCRIPT_TITLE_MAX 100    /* characters, also of a category */
#define WP_SCRIPT_MATCH_MIN 4      /* a normalized text shorter than this is never counted */

typedef struct wp_script {
    char id[WP_ID_LEN + 1];
    char category[WP_SCRIPT_TITLE_MAX * 4 + 1];
    char title[WP_SCRIPT_TITLE_MAX * 4 + 1];
    char *text;          /* malloc'ed (wp_script_release) */
    int64_t usage_count; /* outgoing messages found using it */
    int64_t created_us, updated_us;
} wp_script;

void wp_script_release(wp_script *s);

/* Text as scripts are matched: Unicode lowercase, without whitespace, punctuation, symbols or
 * control characters. *out malloc'ed (caller frees). */
int wp_script_normalize(char **out, const char *text);

typedef struct wp_script_filter {
    const char *tenant_id;
    const char *category; /* NULL: any */
    const char *q;        /* NULL or "": any; else a substring of title or text (ASCII case
                           * folded) */
    const char *cursor;
    unsigned limit;
} wp_script_filter;

typedef struct wp_script_page {
    wp_script *items;
    size_t n;
    char next_cursor[WP_ARCHIVE_CURSOR_MAX];
} wp_script_page;

/* By category, then oldest first. Release with wp_script_page_release(). */
int wp_store_scripts_list(wp_store *st, wp_script_page *out, const wp_script_filter *f);
void wp_script_page_release(wp_script_page *p);
int wp_store_script_get(wp_store *st, wp_script *out, const char *tenant_id, const char *id);
/* Create (s->id written back) or change s->id: category, title, text (NULL leaves one as it is
 * on change); id NULL creates. A new text restarts the count at 0. WP_EINVAL; WP_ENOTFOUND;
 * WP_ELIMIT. On success *out is the stored script (release it with wp_script_release()). */
int wp_store_script_put(wp_store *st, wp_script *out, const char *tenant_id, const char *id,
                        const char *category, const char *title, const char *text,
                        int64_t now_us);
int wp_store_script_delete(wp_store *st, const char *tenant_id, const char *id);

/* Count script uses in the messages stored since the last run (every tenant; part of
 * wp_store_crm_rules_run): an outgoing text message uses a script when its normalized text
 * contains the script's (of at least WP_SCRIPT_MATCH_MIN characters). Messages stored in the
 * last WP_ANALYTICS_LAG_S are left for the next run. *uses adds up. */
int wp_store_scripts_count(wp_store *st, int64_t *uses, int64_t now_us);

/* --- merging two records of one person (ops_merge.c) --------------------------------------- */

typedef struct wp_merge_result {
    int64_t identities, messages, calls, contact_events, alerts, events, tags;
} wp_merge_result;

/* Merge customer from_id into survivor_id, in one operation (a savepoint inside the caller's
 * transaction): identities, messages, calls, contact events, alerts, timeline
 * events, tags and read grants move to the survivor; the survivor takes the latest contact and
 * whatever phone, grade, stage, company or notes it lacks; from_id stays as a tombstone
 * (merged_into = survivor_id) with an event "merged_into", the survivor gets "merged". Open
 * reminders of from_id are dropped. WP_ENOTFOUND; WP_EINVAL (the same customer); WP_EBUSY
 * (either is a tombstone already). */
int wp_store_customer_merge(wp_store *st, wp_merge_result *out, const char *tenant_id,
                            const char *survivor_id, const char *from_id,
                            const wp_crm_actor *who, int64_t now_us);

/* The survivor a customer was merged into: out "" when it was not. WP_ENOTFOUND. */
int wp_store_customer_merged_into(wp_store *st, char out[WP_ID_LEN + 1], const char *tenant_id,
                                  const char *id);

/* What one run of the rules did. */
typedef struct wp_rules_result {
    int64_t reminders, closed, overdue; /* reminders made, closed by a follow-up, alerts */
    int64_t graded;                     /* customers whose grade a rule changed */
    int64_t script_uses;                /* messages found using a script */
} wp_rules_result;

/* The customer rules of every tenant at now_us, each change in a transaction of its own with
 * its audit row (actor "system"), so a crash loses nothing and a rerun repeats nothing:
 * reminders for customers due under an SOP rule (to their owner), closing reminders whose
 * customer was followed up, a followup_overdue alert for each reminder past its grace,
 * then the grading rules, then the scripts' usage counts. *out adds up. */
int wp_store_crm_rules_run(wp_store *st, wp_rules_result *out, const unsigned char *audit_key,
                           int64_t now_us);

#endif
