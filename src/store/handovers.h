/* SPDX-License-Identifier: MIT */
/* Handovers (离职继承 / 在职继承): an employee's customers move to successors in one
 * transaction, with a report (migration 0008; ops_handover.c). docs/internals/crm.md has the
 * rules. */
#ifndef WP_STORE_HANDOVERS_H
#define WP_STORE_HANDOVERS_H

#include <stddef.h>
#include <stdint.h>

#include "store/access.h"
#include "store/customers.h"
#include "store/scope.h"
#include "store/store.h"
#include "util/id.h"

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
    const wp_scope *scope;        /* NULL: any; else leavers in it */
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

#endif
