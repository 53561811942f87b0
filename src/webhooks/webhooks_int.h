/* SPDX-License-Identifier: MIT */
/* What the files of src/webhooks share and nothing outside sees. */
#ifndef WP_WEBHOOKS_INT_H
#define WP_WEBHOOKS_INT_H

#include "webhooks/webhooks.h"

struct wp_webhooks {
    wp_webhooks_options o;
    int64_t pruned_us; /* the last prune (the task's clock) */
};

/* What an outbox row says, before it is frozen into events. */
struct wp_webhooks_fact {
    json_t *data;                    /* the events' data, unmasked */
    const char *events[2];           /* the events it makes */
    size_t n_events;
    char kind[WP_ARCHIVE_WORD_MAX + 1];  /* an alert's kind; "" else */
    char employee_id[WP_ID_LEN + 1]; /* whom it is about */
    char path[1024];                 /* that employee's unit's path: routing to units */
    int64_t ts_us;
};

/* 1 when hook takes event (its list, its alert kinds, insider alerts, its unit's subtree). */
int wp_webhooks__routes(const wp_webhook *hook, const char *event, const char *alert_kind,
                        const char *employee_path);

struct wp_webhooks_sent {
    int64_t sent, failed, dead;
};

/* Send the deliveries due (send.c). */
int wp_webhooks__send(wp_webhooks *w, wp_store *st, struct wp_webhooks_sent *out);

#endif
