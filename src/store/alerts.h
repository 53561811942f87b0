/* SPDX-License-Identifier: MIT */
/* Alerts: the list, and their handling (migration 0002; ops_alerts.c). */
#ifndef WP_STORE_ALERTS_H
#define WP_STORE_ALERTS_H

#include <stdint.h>

#include "store/scope.h"
#include "store/store.h"
#include "util/id.h"

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
    const wp_scope *scope;   /* NULL: any; else alerts about its employees, or handed to
                              * them (history grants), insider alerts left out */
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

/* How many alerts match f (its cursor and limit aside), in *count; and in *recent how many of
 * them were stored in (since_us, until_us] (0 when since_us is 0): the console's badge and
 * what arrived since it last asked. */
int wp_store_alerts_count(wp_store *st, int64_t *count, int64_t *recent, const wp_alert_filter *f,
                          int64_t since_us, int64_t until_us);

/* The employee an alert is about, and the other one it names ("" when none: a collision's
 * owner), for scope checks (ops_access.c). WP_ENOTFOUND. */
int wp_store_alert_employee(wp_store *st, char out[WP_ID_LEN + 1], char other[WP_ID_LEN + 1],
                            const char *tenant_id, const char *id);

/* Move an alert to a status. WP_ENOTFOUND. */
int wp_store_alert_set_status(wp_store *st, const char *tenant_id, const char *id,
                              enum wp_alert_status status);

/* The alert that a media file the tenant holds is damaged: kind media_corrupt, category
 * integrity, matched ref ("sha256:<hex>"), about the employee (and customer, "" or NULL for
 * none) of a message or call that names it. Once per tenant and file (migration 0025), however
 * often the file is asked for: *raised is 1 and id set when this call stored it, else 0. */
int wp_store_alert_media_corrupt(wp_store *st, int *raised, char id[WP_ID_LEN + 1],
                                 const char *tenant_id, const char *ref, const char *employee_id,
                                 const char *customer_id, int64_t now_us);

#define WP_ALERT_COMMENT_MAX 1000 /* characters */

/* The same, with who did it (an actor string) and an optional comment (NULL: none; it replaces
 * the last one). WP_ENOTFOUND; WP_EINVAL (comment too long or not text). */
int wp_store_alert_handle(wp_store *st, const char *tenant_id, const char *id,
                          enum wp_alert_status status, const char *comment, const char *actor);

#endif
