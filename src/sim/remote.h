/* SPDX-License-Identifier: MIT */
/* The remote sink: the simulated company goes to a running server over HTTP, as an admin would
 * build it in the console and as phones report, each phone a real libwpagent with its outbox. */
#ifndef WP_SIM_REMOTE_H
#define WP_SIM_REMOTE_H

#include "sim/sim.h"

typedef struct wp_sim_remote wp_sim_remote;

typedef struct wp_sim_remote_options {
    const char *server;         /* base URL, "http://127.0.0.1:8080" (a trailing / is fine) */
    const char *tenant;         /* NULL: the server's only tenant */
    const char *admin;          /* an admin's username and password, to log in */
    const char *admin_password;
    const char *agents_dir;     /* an existing directory; each phone's agent gets <dir>/<serial> */
    const char *staff_password; /* every simulated employee's password (8+ characters) */
    unsigned batch_max;         /* events per POST /device/events, 1..1000; 0: 100, a phone's */
    unsigned timeout_ms;        /* per request; 0: 30000 */
} wp_sim_remote_options;
#define WP_SIM_REMOTE_OPTIONS_INIT {NULL, NULL, NULL, NULL, NULL, NULL, 0, 0}

/* Log in as the admin (POST /api/v1/auth/login) and get ready to build.
 * @return 0; WP_EIO (no answer: the message names the URL and why); WP_EAUTH (the server
 *         refused the login); WP_EINVAL (a missing option); WP_ENOMEM.
 * Strings of opts are copied. Caller owns *out; release with wp_sim_remote_free(). */
int wp_sim_remote_new(wp_sim_remote **out, const wp_sim_remote_options *opts);
void wp_sim_remote_free(wp_sim_remote *r); /* NULL is a no-op */

/* The sink (thread-safe: wp_sim_run may use threads). org_unit and employee are POSTs as the
 * admin (a username taken already gets a digit: lijuan.wang2); enroll asks an enrollment code
 * for the employee, opens a wp_agent in <agents_dir>/<serial> and enrolls it (which fetches
 * the policy); events records the batch into that agent's outbox (one transaction, the agent
 * numbering the events exactly as the stream does) and syncs it. The reply it gives back has
 * acked_seq and one "rejected" entry per event the server rejected, and no "alerts": an agent
 * does not pass them on (count them with GET /api/v1/alerts). Borrowed; r must outlive it. */
void wp_sim_remote_sink(wp_sim_sink *out, wp_sim_remote *r);

/* The tenant's top unit (the first of GET /api/v1/org-units), to build under. */
int wp_sim_remote_top_unit(wp_sim_remote *r, char out_id[WP_SIM_ID_MAX]);

/* One console call as the admin: path from /api/v1 on ("/alerts?limit=200"), body NULL or
 * JSON. Any HTTP answer is 0 with *status set and *out its JSON (NULL when not JSON; caller
 * json_decref()s it); no answer is WP_EIO. */
int wp_sim_remote_call(wp_sim_remote *r, json_t **out, long *status, const char *method,
                       const char *path, const json_t *body);

/* Walk every page of a list (path with its query, without limit and cursor) and call fn on
 * each item; fn returns 0 or an error that stops the walk. */
int wp_sim_remote_each(wp_sim_remote *r, const char *path,
                       int (*fn)(void *ctx, const json_t *item), void *ctx);

#endif
