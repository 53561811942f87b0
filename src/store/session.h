/* SPDX-License-Identifier: MIT */
/* Store operations on console login sessions (migration 0003). Kept apart from store.h until
 * the lead folds them in; the implementation is ops_session.c. */
#ifndef WP_STORE_SESSION_H
#define WP_STORE_SESSION_H

#include <stdint.h>

#include "store/store.h"

/* A live session and the employee it logs in. */
typedef struct wp_session {
    wp_employee employee;
    int64_t created_us, expires_us;
} wp_session;

/* Record a session by the SHA-256 (wp_token_hash) of its token, valid until expires_us.
 * client (the peer address, for audits) may be NULL. Sessions expired for a day are deleted
 * on the way, so the table does not grow without end.
 * @return 0; WP_ENOTFOUND (employee not in tenant); WP_EEXISTS (hash collision: make a new
 *         token); WP_EINVAL; WP_EIO */
int wp_store_session_create(wp_store *st, const char *tenant_id, const char *employee_id,
                            const char token_hash[65], const char *client, int64_t now_us,
                            int64_t expires_us);

/* The session with this token hash and its employee. WP_EAUTH, with one message for every
 * case, when there is none, it is revoked, it expired at now_us, or the employee is inactive
 * (an employee who leaves is logged out at once). out is the caller's. */
int wp_store_session_auth(wp_store *st, wp_session *out, const char token_hash[65],
                          int64_t now_us);

/* End one session (logout). 0 also when it was already revoked or unknown: logging out twice
 * is not an error. */
int wp_store_session_revoke(wp_store *st, const char token_hash[65], int64_t now_us);

/* End every session of an employee (departure, password change). *n (may be NULL) gets how
 * many were live. */
int wp_store_sessions_revoke_employee(wp_store *st, int64_t *n, const char *tenant_id,
                                      const char *employee_id, int64_t now_us);

/* The id of the only tenant of the deployment, for logins that do not name one.
 * @return 0; WP_ENOTFOUND (no tenant); WP_EINVAL "tenant is required" (more than one) */
int wp_store_tenant_sole(wp_store *st, char out[WP_ID_LEN + 1]);

#endif
