/* SPDX-License-Identifier: MIT */
/* The in-process sink: the simulated company goes straight into a store through src/ingest,
 * as `workphone demo` fills a new data dir before it serves it. */
#ifndef WP_SIM_LOCAL_H
#define WP_SIM_LOCAL_H

#include <pthread.h>

#include "ingest/ingest.h"
#include "sim/sim.h"
#include "store/audit.h"
#include "store/pool.h"

struct wp_sim_local_tag; /* the tenant's tags by name, once set up */
struct wp_sim_local_customer; /* phone number → customer id, as met */

typedef struct wp_sim_local {
    wp_ingest *ing;                     /* borrowed */
    wp_store_connpool *pool;            /* borrowed: the sink's store connections */
    char tenant_id[WP_ID_LEN + 1];
    /* every employee's password hash (wp_password_hash), borrowed; NULL: no one logs in */
    const char *password_hash;
    /* the data dir's audit key (wp_audit_key_load), borrowed: the jobs at each day's end sign
     * their audit rows with it. NULL: no jobs run (no reminders, reclaims or grading rules) */
    const unsigned char *audit_key;

    /* private: what the sink learned (wp_sim_local_release() frees it) */
    pthread_mutex_t mu;
    int mu_init;
    struct wp_sim_local_tag *tags;
    size_t n_tags;
    struct wp_sim_local_customer *customers;
    size_t n_customers, cap_customers;
} wp_sim_local;

/* A sink writing into l->tenant_id through l->ing: org units and employees with the store's
 * own operations (on a connection of l->pool), enrollment codes and enrollment, then events
 * through wp_ingest_events_at() exactly as a phone's requests are handled (validation,
 * scanning, customers, alerts) at the time the phone would have sent them; media through
 * wp_ingest_media_put(); the CRM (tags, rules, acts, the handover) with the store's operations
 * at each act's time, a phone-day's acts in one transaction; at each day's end, the jobs a
 * server runs (reclaim, then follow-up reminders, overdue alerts and grading) at that time.
 * l's private part is set up here. Borrowed; l must outlive the sink. Release with
 * wp_sim_local_release(). */
void wp_sim_local_sink(wp_sim_sink *out, wp_sim_local *l);
void wp_sim_local_release(wp_sim_local *l);

#endif
