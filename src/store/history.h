/* SPDX-License-Identifier: MIT */
/* Who met a customer (migration 0013; ops_history.c).
 * A customer is one record of the company with one owner. Its conversations are seen through
 * the employee who had them (the org tree above that employee) or through a history grant an
 * explicit act handed on (handover, transfer, assign, a claim, a merge), never because another
 * device reported the same number or id. Each employee whose device met the customer may read
 * the record; a second employee meeting an owned customer raises a customer_collision alert. */
#ifndef WP_STORE_HISTORY_H
#define WP_STORE_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "store/scope.h"
#include "store/store.h"
#include "util/id.h"

/* *out = 1 when an employee in scope met the customer: the scope's employee itself, or anyone
 * in its org subtree. A scope of the whole tenant (NULL): 0, nobody asks. */
int wp_store_customer_met(wp_store *st, int *out, const char *tenant_id, const char *customer_id,
                          const wp_scope *scope);

/* *out = 1 when source_employee_id's conversations with the customer were handed (history
 * grants) to an employee in scope. A scope of the whole tenant (NULL): 0, nobody asks. */
int wp_store_history_granted(wp_store *st, int *out, const char *tenant_id,
                             const char *customer_id, const char *source_employee_id,
                             const wp_scope *scope);

typedef struct wp_customer_contact {
    char employee_id[WP_ID_LEN + 1];
    char employee_name[404]; /* who, by name: the managers over the other side must tell */
    int64_t first_us;        /* when its device first reported the customer */
} wp_customer_contact;

/* The employees who met a customer, first met first, at most 200. Caller frees *out. */
int wp_store_customer_contacts(wp_store *st, wp_customer_contact **out, size_t *n,
                               const char *tenant_id, const char *customer_id);

#endif
