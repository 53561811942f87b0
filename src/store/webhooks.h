/* SPDX-License-Identifier: MIT */
/* Webhooks: the subscriptions, the outbox that triggers on alerts and handovers fill, the
 * frozen events and the delivery queue (migration 0024; ops_webhooks.c). What the events say
 * and how they are sent is src/webhooks'; docs/internals/webhooks.md has the design. */
#ifndef WP_STORE_WEBHOOKS_H
#define WP_STORE_WEBHOOKS_H

#include <stddef.h>
#include <stdint.h>

#include "store/alerts.h"
#include "store/store.h"
#include "util/id.h"

#define WP_WEBHOOKS_MAX 100           /* webhooks of a tenant; lists answer all of them */
#define WP_WEBHOOK_NAME_MAX 100       /* characters */
#define WP_WEBHOOK_URL_MAX 2048       /* bytes of a url or a console_url */
#define WP_WEBHOOK_SECRET_MAX 256     /* bytes */
#define WP_WEBHOOK_LIST_MAX 1024      /* bytes of events or alert_kinds, as a JSON array */
#define WP_WEBHOOK_EVENT_MAX 40       /* bytes of an event name ("alert.raised") */
#define WP_WEBHOOK_PAYLOAD_MAX 65536  /* bytes of an event's payload or view */
#define WP_WEBHOOK_ERROR_MAX 300      /* bytes of a delivery's last error */

typedef struct wp_webhook {
    char id[WP_ID_LEN + 1];
    char name[WP_WEBHOOK_NAME_MAX * 4 + 1];
    char url[WP_WEBHOOK_URL_MAX + 1];
    char format[16];                            /* json, wecom, dingtalk, feishu */
    char events[WP_WEBHOOK_LIST_MAX + 1];       /* a JSON array of event names */
    char alert_kinds[WP_WEBHOOK_LIST_MAX + 1];  /* a JSON array of alert kinds; "": every kind */
    char org_unit_id[WP_ID_LEN + 1];            /* "": the whole tenant */
    char org_unit_path[1024];                   /* that unit's path; "" when none or gone */
    char secret[WP_WEBHOOK_SECRET_MAX + 1];     /* "": none */
    char console_url[WP_WEBHOOK_URL_MAX + 1];   /* "": none */
    int allow_private, active;
    char created_by[WP_ID_LEN + 1]; /* the employee, "" when not known */
    int64_t created_us, updated_us;
    int64_t pending, delivered, dead; /* its deliveries by status (wp_store_webhooks_list) */
} wp_webhook;

/* The tenant's webhooks, oldest first, with their delivery counts; only the active ones when
 * active_only. Caller frees *out (NULL when none). */
int wp_store_webhooks_list(wp_store *st, wp_webhook **out, size_t *n, const char *tenant_id,
                           int active_only);

/* One webhook (counts left 0). WP_ENOTFOUND. */
int wp_store_webhook_get(wp_store *st, wp_webhook *out, const char *tenant_id, const char *id);

/* Create w in the tenant: w->id, created_us and updated_us are set; the other fields are
 * taken as given (the caller checked url, format and lists). @return 0; WP_EINVAL (name, an
 * org unit not in the tenant: "'org_unit_id': ..."); WP_ELIMIT (WP_WEBHOOKS_MAX) */
int wp_store_webhook_create(wp_store *st, wp_webhook *w, const char *tenant_id, int64_t now_us);

/* Write every field of w (found by w->id) but created_*. WP_ENOTFOUND; WP_EINVAL as create. */
int wp_store_webhook_update(wp_store *st, wp_webhook *w, const char *tenant_id, int64_t now_us);

/* Delete a webhook with its deliveries, in one transaction (the caller's when open).
 * WP_ENOTFOUND. */
int wp_store_webhook_delete(wp_store *st, const char *tenant_id, const char *id);

/* --- deliveries --------------------------------------------------------------------------- */

typedef struct wp_webhook_delivery {
    char id[WP_ID_LEN + 1];
    char webhook_id[WP_ID_LEN + 1];
    char event_id[WP_ID_LEN + 1];
    char event[WP_WEBHOOK_EVENT_MAX + 1];
    char alert_kind[WP_ARCHIVE_WORD_MAX + 1]; /* "" when not an alert */
    char status[16];                          /* pending, delivered, dead */
    int64_t attempts;
    int64_t ts_us;      /* when the event happened */
    int64_t next_us;    /* pending: when the next attempt is due */
    int64_t last_code;  /* the last answer's HTTP status; 0 when none (no answer) */
    char last_error[WP_WEBHOOK_ERROR_MAX + 1]; /* "" when the last attempt succeeded or none */
    int64_t last_us, delivered_us, created_us; /* 0 when not */
} wp_webhook_delivery;

typedef struct wp_webhook_delivery_filter {
    const char *tenant_id;
    const char *webhook_id; /* NULL: every webhook */
    const char *status;     /* NULL: any; else pending, delivered or dead */
    const char *cursor;
    unsigned limit;
} wp_webhook_delivery_filter;

typedef struct wp_webhook_delivery_page {
    wp_webhook_delivery *items;
    size_t n;
    char next_cursor[WP_ARCHIVE_CURSOR_MAX];
} wp_webhook_delivery_page;

/* Deliveries, newest first. WP_EINVAL (status, cursor, limit). Release with
 * wp_webhook_delivery_page_release(). */
int wp_store_webhook_deliveries_list(wp_store *st, wp_webhook_delivery_page *out,
                                     const wp_webhook_delivery_filter *f);
void wp_webhook_delivery_page_release(wp_webhook_delivery_page *p);

/* One delivery. WP_ENOTFOUND. */
int wp_store_webhook_delivery_get(wp_store *st, wp_webhook_delivery *out, const char *tenant_id,
                                  const char *id);

/* Send a delivered or dead delivery again: pending, due now, with a new 24-hour window; the
 * same event (id and body). out: the delivery after. @return 0; WP_ENOTFOUND; WP_EBUSY
 * (pending already) */
int wp_store_webhook_redeliver(wp_store *st, wp_webhook_delivery *out, const char *tenant_id,
                               const char *id, int64_t now_us);

/* --- the outbox, events, the queue: the webhooks task's side ------------------------------ */

/* A row the triggers wrote: an alert or a handover of a tenant with an active webhook. */
typedef struct wp_webhook_outbox_row {
    int64_t seq;
    char tenant_id[WP_ID_LEN + 1];
    char source[16]; /* alert, handover */
    char subject_id[WP_ID_LEN + 1];
    int64_t created_us;
} wp_webhook_outbox_row;

/* Up to max rows of the outbox, oldest first, into out[]. */
int wp_store_webhook_outbox_next(wp_store *st, wp_webhook_outbox_row *out, size_t max,
                                 size_t *n);

/* Take a row out of the outbox, in the caller's transaction: *taken 0 when another run took
 * it first (on PostgreSQL the call waits for that run's transaction). */
int wp_store_webhook_outbox_take(wp_store *st, int *taken, int64_t seq);

/* One alert for its events (owned strings in mem: release with wp_webhook_alert_release()).
 * WP_ENOTFOUND. */
typedef struct wp_webhook_alert {
    wp_alert a;
    void *mem;
} wp_webhook_alert;
int wp_store_webhook_alert(wp_store *st, wp_webhook_alert *out, const char *tenant_id,
                           const char *id);
void wp_webhook_alert_release(wp_webhook_alert *a);

/* An event as it is frozen for delivery. */
typedef struct wp_webhook_event {
    const char *tenant_id;
    const char *id;         /* wp_id_new() */
    const char *event;      /* "alert.raised", ... */
    const char *subject_id; /* the alert's or handover's id (the test: the event's own) */
    const char *alert_kind; /* NULL when not an alert */
    const char *employee_id; /* whom it is about; NULL when nobody */
    int64_t ts_us;          /* when it happened */
    const char *payload;    /* the json delivery's exact body */
    const char *view;       /* the data as a manager sees it (robot messages) */
} wp_webhook_event;

/* Insert e unless (tenant, event, subject) has an event already: *made 1 when inserted.
 * WP_EINVAL (too long). */
int wp_store_webhook_event_add(wp_store *st, int *made, const wp_webhook_event *e,
                               int64_t now_us);

/* Queue event_id to webhook_id, due at once: out_id its id. WP_EEXISTS when queued before. */
int wp_store_webhook_delivery_add(wp_store *st, char out_id[WP_ID_LEN + 1], const char *tenant_id,
                                  const char *webhook_id, const char *event_id, int64_t now_us);

/* A delivery due (pending, due by now, held by nobody, its webhook active), oldest due first. */
typedef struct wp_webhook_due {
    char tenant_id[WP_ID_LEN + 1];
    char id[WP_ID_LEN + 1];
} wp_webhook_due;
int wp_store_webhook_due(wp_store *st, wp_webhook_due *out, size_t max, size_t *n,
                         int64_t now_us);

/* What a sender needs of a delivery it holds. */
typedef struct wp_webhook_job {
    char tenant_id[WP_ID_LEN + 1];
    char id[WP_ID_LEN + 1];
    int64_t attempts, window_us, lease_us;
    wp_webhook hook;
    char event_id[WP_ID_LEN + 1];
    char event[WP_WEBHOOK_EVENT_MAX + 1];
    char alert_kind[WP_ARCHIVE_WORD_MAX + 1];
    int64_t ts_us;
    char *payload, *view; /* malloc'ed; wp_webhook_job_release() */
} wp_webhook_job;

/* Hold the delivery until lease_us if it is still due and held by nobody: *got 1 and out
 * filled; 0 when another sender holds it or it is no longer due. */
int wp_store_webhook_claim(wp_store *st, wp_webhook_job *out, int *got, const char *tenant_id,
                           const char *id, int64_t now_us, int64_t lease_us);
void wp_webhook_job_release(wp_webhook_job *j);

/* The outcome of an attempt, written if the sender still holds the delivery (its lease_us):
 * status "delivered", "pending" (next_us: the next attempt) or "dead"; code 0 when there was
 * no answer; error NULL when none. */
typedef struct wp_webhook_result {
    const char *status;
    int64_t code;
    const char *error;
    int64_t at_us, next_us;
} wp_webhook_result;
int wp_store_webhook_record(wp_store *st, const wp_webhook_job *j, const wp_webhook_result *r);

/* Delete deliveries done (delivered or dead) before before_us, and events no delivery uses
 * made before before_us. *n: the deliveries deleted. */
int wp_store_webhooks_prune(wp_store *st, int64_t *n, int64_t before_us);

#endif
