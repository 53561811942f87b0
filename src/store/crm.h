/* SPDX-License-Identifier: MIT */
/* Helpers shared by the CRM operations (ops_customer.c, ops_handover.c), migration 0008. */
#ifndef WP_STORE_CRM_H
#define WP_STORE_CRM_H

#include "store/db.h"
#include "store/store.h"

/* Insert one customer event, inside whatever transaction or operation is open (no savepoint
 * of its own). details NULL: {}. out_id may be NULL. */
int wp_crm__event_insert(wp_store *st, char out_id[WP_ID_LEN + 1], const char *tenant_id,
                         const char *customer_id, const char *kind, const wp_crm_actor *who,
                         const char *details, int64_t now_us);

/* 0 when who is well formed (an actor string of 1..256 bytes, an id-shaped employee or NULL). */
int wp_crm__check_actor(const wp_crm_actor *who);

#endif
