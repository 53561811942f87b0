/* SPDX-License-Identifier: MIT */
/* Helpers shared by the CRM operations (ops_customer.c, ops_handover.c), migration 0008. */
#ifndef WP_STORE_CRM_INTERNAL_H
#define WP_STORE_CRM_INTERNAL_H

#include "store/customers.h"
#include "store/store.h"

/* Insert one customer event, inside whatever transaction or operation is open (no savepoint
 * of its own). details NULL: {}. out_id may be NULL. */
int wp_crm__event_insert(wp_store *st, char out_id[WP_ID_LEN + 1], const char *tenant_id,
                         const char *customer_id, const char *kind, const wp_crm_actor *who,
                         const char *details, int64_t now_us);

/* 0 when who is well formed (an actor string of 1..256 bytes, an id-shaped employee or NULL). */
int wp_crm__check_actor(const wp_crm_actor *who);

/* A customer moves from one owner to another by an explicit act (via: "handover", "assign",
 * "claim", ...): to may read from's conversations with it, and those from had been handed;
 * from's grants on it end unless keep_from (a transfer that keeps read access). from NULL or
 * equal to to: nothing. Inside the caller's operation. */
int wp_crm__history_follows(wp_store *st, const char *tenant_id, const char *customer_id,
                            const char *from, const char *to, const char *via, int keep_from,
                            int64_t now_us);

/* A merge: from_id's grants and contacts become survivor_id's, and the survivor's owner is
 * handed the merged record's owner's history. */
int wp_crm__history_merge(wp_store *st, const char *tenant_id, const char *survivor_id,
                          const char *from_id, const char *survivor_owner, const char *from_owner,
                          int64_t now_us);

#endif
