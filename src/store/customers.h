/* SPDX-License-Identifier: MIT */
/* Customers: the record, its identities and the list (migration 0002; ops_customers_list.c),
 * and what keeps them with the company (migration 0008; ops_customer.c): CRM fields, edits and
 * follow-ups, the public pool (公海), the reclaim job and the timeline. */
#ifndef WP_STORE_CUSTOMERS_H
#define WP_STORE_CUSTOMERS_H

#include <stddef.h>
#include <stdint.h>

#include "store/scope.h"
#include "store/store.h"
#include "util/id.h"

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
    int64_t erased_us; /* 0, or when its personal data was erased: a tombstone (migration 0037) */
} wp_customer;

enum wp_customer_sort { WP_CUSTOMER_SORT_CREATED = 0, WP_CUSTOMER_SORT_LAST_CONTACT };

/* Customers in the public pool and records merged into another are left out (the pool has its
 * own list). */
typedef struct wp_customer_filter {
    const char *tenant_id;
    const char *owner_employee_id; /* NULL: any owner */
    const wp_scope *scope;         /* NULL: any; else owners in its org subtree, or one
                                    * salesperson's: its own customers and those it keeps read
                                    * access to after a transfer */
    const char *q;                 /* NULL: any; else a substring of the name, phone, company
                                    * or notes */
    const char *cursor;
    unsigned limit;
    const char *unit_path;       /* NULL: any; else owners in that org subtree (a filter) */
    const char *tag_id;          /* NULL: any; else customers with that tag */
    const char *grade, *stage;   /* NULL: any; "" : unset */
    int64_t contact_before_us;   /* 0: any; else last contact before (never counts as before) */
    int64_t contact_after_us;    /* 0: any; else last contact at or after */
    int consent;                 /* 0: any; 1: no consent recorded; 2: one recorded (0038) */
    enum wp_customer_sort sort;  /* newest created first, or most recent contact first */
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

/* --- edits, follow-ups, the pool and the timeline (migration 0008; ops_customer.c) ----------
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
#define WP_CRM_DEAL_AMOUNT_MAX 100000000000000LL /* fen: 1 万亿元, exact in a JSON number */

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
    int64_t deal_amount_fen; /* what the deal is worth, in fen (migration 0019); -1: none */
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
    /* with deal_amount_set: the deal's amount in fen, 0..WP_CRM_DEAL_AMOUNT_MAX, or -1 to
     * clear it; without: left as it is */
    int deal_amount_set;
    int64_t deal_amount_fen;
} wp_customer_edit;

/* The checks wp_store_customer_edit() makes of the values alone (a dry run's): WP_EINVAL
 * naming the field ("'grade' must be A, B, C or D"). */
int wp_store_customer_edit_check(const wp_customer_edit *e);

/* Change a customer; each field that really changes is one customer event ("edited",
 * "stage_changed", "grade_changed" with from/to). An amount given with a change of stage rides
 * on its "stage_changed" event (details.deal_amount_fen); alone it is an "edited" event with
 * field deal_amount_fen and from/to numbers (null: none). *changed gets how many. Runs in the
 * caller's transaction when one is open. WP_ENOTFOUND; WP_EINVAL naming the field. */
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
    const wp_scope *scope;      /* NULL: any; else last owners in it */
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
 * the pool — assign it there — or merged). Inside the caller's transaction when one is open.
 * previous_owner (NULL: not wanted) gets the owner it had, read under the customer's row lock:
 * what the audit row names, even when a parallel move changed it since the caller looked. */
int wp_store_customer_assign(wp_store *st, int *changed, char previous_owner[WP_ID_LEN + 1],
                             const char *tenant_id, const char *id, const char *to_employee_id,
                             const wp_crm_actor *who, int64_t now_us);

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
    /* the reader's scope (NULL: all): calls, contact events and alerts of its employees (a
     * salesperson, or an org subtree's), or handed to them (history grants) */
    const wp_scope *scope;
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

/* --- customers made by people: POST /api/v1/customers and the importer (ops_customer_new.c) -- */

/* The customer an identity names in the tenant: kind "phone" (value normalized as the archive
 * keeps it: wp_ingest_phone_normalize) or a channel word ("wechat", value the id there).
 * out gets its id. WP_ENOTFOUND. */
int wp_store_customer_find(wp_store *st, char out[WP_ID_LEN + 1], const char *tenant_id,
                           const char *kind, const char *value);

/* A customer to create. At least one identity: phone, or channel and channel_id. */
typedef struct wp_customer_new {
    const char *name;  /* NULL or "": the phone, else the channel id (as a device names it) */
    const char *phone; /* normalized, or NULL */
    const char *channel, *channel_id; /* NULL, or a channel word and the id there */
    const char *owner_employee_id;    /* an active employee of the tenant */
    const char *company, *notes, *grade, *stage; /* NULL: unset (checked as an edit's) */
    const char *via; /* "api" or "import": recorded in the "created" event */
} wp_customer_new;

/* Create a customer with its identities and an event "created" {"via", "owner"}, inside the
 * caller's transaction when one is open. When one of its identities already names a customer
 * (a race lost to another writer included) nothing is created: WP_EEXISTS, with *existing the
 * customer it names and *field "phone" or "channel_id".
 * @return 0; WP_EEXISTS; WP_EINVAL naming the field (owner inactive too); WP_ENOTFOUND
 *         (owner) */
int wp_store_customer_create(wp_store *st, char out_id[WP_ID_LEN + 1],
                             char existing[WP_ID_LEN + 1], const char **field,
                             const char *tenant_id, const wp_customer_new *n,
                             const wp_crm_actor *who, int64_t now_us);

/* Give a customer one more identity (kind "phone" or a channel word): an event "edited"
 * {"field": "identity", "to": "kind:value"}; a phone also fills an empty phone. Inside the
 * caller's transaction when one is open. WP_EEXISTS (with *existing) when the tenant has it. */
int wp_store_customer_identity_add(wp_store *st, char existing[WP_ID_LEN + 1],
                                   const char *tenant_id, const char *customer_id,
                                   const char *kind, const char *value, const wp_crm_actor *who,
                                   int64_t now_us);

#endif
