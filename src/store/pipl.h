/* SPDX-License-Identifier: MIT */
/* A customer's personal data (PIPL, issue 20; migration 0037, ops_pipl.c): everything the store
 * holds about one person, for a data request, and its erasure. docs/internals/pipl.md */
#ifndef WP_STORE_PIPL_H
#define WP_STORE_PIPL_H

#include "store/retention.h"
#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

/* The name an erased customer's row keeps: its tombstone. */
#define WP_CUSTOMER_ERASED_NAME "已删除客户"

/* One row of a customer's data: n columns named names[i] with values[i] (text as stored, NULL
 * for NULL) of types[i]: 't' text, 'i' a whole number, 'T' a time in microseconds. Borrowed;
 * valid during the callback. */
typedef struct wp_data_row {
    const char *section; /* "customer", "identities", "tags", "history", "messages", "calls",
                          * "contact_events", "alerts", "handovers", "checkins" */
    size_t n;
    const char *const *names, *const *values;
    const char *types;
} wp_data_row;

/* Everything the store holds about the customer, section by section, each section's rows in
 * time order, through cb (a non-zero return stops and is returned): the row itself first
 * (the "customer" section, one row), then the other sections. Unmasked: the caller decides who may have it.
 * @return 0, WP_ENOTFOUND, cb's error or a WP_E* */
int wp_store_customer_data(wp_store *st, const char *tenant_id, const char *customer_id,
                           int (*cb)(void *ctx, const wp_data_row *row), void *ctx);

typedef struct wp_erasure {
    wp_retention_result rows; /* messages, calls, alerts (those of its messages), media */
    int64_t alerts_other, contact_events, history, identities, tags, reminders, merged;
} wp_erasure;

/* Erase the customer, in the caller's open transaction: every message and call with it (their
 * grams, alerts and media, as the purge deletes them), its contact events, other alerts,
 * history, identities, tags and reminders go; its row stays as a tombstone (erased_us set,
 * name WP_CUSTOMER_ERASED_NAME, personal fields NULL), and so do the records merged into it.
 * Media files are queued: call wp_store__retention_drain_files() after the commit.
 * @param hold_id  set (else "") when a hold in force names the customer, its owner, or an
 *                 employee whose messages or calls with it it would delete: WP_EBUSY then
 * @return 0, WP_ENOTFOUND, WP_EBUSY (held; or erased already, hold_id ""), or a WP_E* */
int wp_store_customer_erase(wp_store *st, wp_erasure *out, char hold_id[WP_ID_LEN + 1],
                            const char *tenant_id, const char *customer_id, int64_t now_us);

/* After an erasure's commit: SQLite merges the search index (so the erased messages' grams
 * leave its pages, not only a tombstone of them) and checkpoints the WAL into the file
 * (truncating it), so that no older copy of an erased page stays in the WAL; freed pages are
 * zeroed (secure_delete, on in the store). PostgreSQL: nothing (pipl.md: autovacuum). */
int wp_store_scrub(wp_store *st);

#endif
