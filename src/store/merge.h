/* SPDX-License-Identifier: MIT */
/* Merging two records of one person (migration 0010; ops_merge.c). */
#ifndef WP_STORE_MERGE_H
#define WP_STORE_MERGE_H

#include <stdint.h>

#include "store/customers.h"
#include "store/store.h"
#include "util/id.h"

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

#endif
