/* SPDX-License-Identifier: MIT */
/* The in-process sink: the simulated company goes straight into a store through src/ingest,
 * as `workphone demo` fills a new data dir before it serves it. */
#ifndef WP_SIM_LOCAL_H
#define WP_SIM_LOCAL_H

#include "ingest/ingest.h"
#include "sim/sim.h"
#include "store/pool.h"

typedef struct wp_sim_local {
    wp_ingest *ing;                     /* borrowed */
    wp_store_connpool *pool;            /* borrowed: the sink's store connections */
    char tenant_id[WP_ID_LEN + 1];
    /* every employee's password hash (wp_password_hash), borrowed; NULL: no one logs in */
    const char *password_hash;
} wp_sim_local;

/* A sink writing into l->tenant_id through l->ing: org units and employees with the store's
 * own operations (on a connection of l->pool), enrollment codes and enrollment, then events
 * through wp_ingest_events() exactly as a phone's requests are handled (validation, scanning,
 * customers, alerts).
 * Borrowed; l must outlive the sink. */
void wp_sim_local_sink(wp_sim_sink *out, wp_sim_local *l);

#endif
