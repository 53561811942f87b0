/* SPDX-License-Identifier: MIT */
/* Access: API keys, login throttling, role settings (migration 0005; ops_access.c). */
#ifndef WP_STORE_ACCESS_H
#define WP_STORE_ACCESS_H

#include <stddef.h>
#include <stdint.h>

#include "store/people.h"
#include "store/store.h"
#include "util/id.h"

#define WP_API_KEY_NAME_MAX 100 /* characters */
#define WP_API_KEY_PREFIX_LEN 12 /* "wpk_" and 8 characters, shown in lists */

/* An integration's credential. It acts with a role (admin, manager or auditor), a manager
 * key within the subtree of org_unit_id. The key itself is never stored, only its SHA-256. */
typedef struct wp_api_key {
    char id[WP_ID_LEN + 1];
    char tenant_id[WP_ID_LEN + 1];
    char name[404];
    enum wp_role role;
    char org_unit_id[WP_ID_LEN + 1]; /* "" unless role is manager */
    char prefix[WP_API_KEY_PREFIX_LEN + 1];
    char created_by[WP_ID_LEN + 1]; /* the employee; "" when unknown */
    int64_t created_us, last_used_us, revoked_us; /* 0: never */
} wp_api_key;

/* Record a key by the hash of its secret. WP_EINVAL (name, role sales, manager without an
 * org unit); WP_ENOTFOUND (org unit not in tenant); WP_EEXISTS (hash collision). */
int wp_store_api_key_create(wp_store *st, wp_api_key *out, const char *tenant_id,
                            const char *name, enum wp_role role, const char *org_unit_id,
                            const char *prefix, const char token_hash[65],
                            const char *created_by, int64_t now_us);

/* The live key with this hash; its last_used_us moves to now_us (written at most once a
 * minute, so a busy integration does not write on every call). A key acts for its creator
 * (created_by), so it is live only while the creator is active and holds what the key
 * carries: an admin any key, an auditor an auditor key, a manager a manager key of a unit of
 * its subtree; a key of no known creator is never live. WP_EAUTH for every failure. */
int wp_store_api_key_auth(wp_store *st, wp_api_key *out, const char token_hash[65],
                          int64_t now_us);

/* The tenant's keys, revoked ones included, newest first, at most WP_PAGE_MAX. *out is
 * malloc'ed (caller frees). */
int wp_store_api_keys_list(wp_store *st, wp_api_key **out, size_t *n, const char *tenant_id);

/* Revoke a key (0 also when it was revoked already). WP_ENOTFOUND. */
int wp_store_api_key_revoke(wp_store *st, const char *tenant_id, const char *id,
                            int64_t now_us);

/* A key that _end_unheld() revoked, and why: "creator_inactive", "creator_role" (no longer
 * the key's role nor admin), "creator_unit" (a manager no longer over the key's unit). */
typedef struct wp_api_key_end {
    wp_api_key key;
    const char *reason; /* static */
} wp_api_key_end;

/* Revoke, at now_us, the live keys that creator_id made (NULL: anyone, keys of no known
 * creator left alone) and no longer holds (see _api_key_auth), in the caller's transaction
 * if one is open: call it after any change of an employee's role, unit or state, and audit
 * each key it ends. *out (malloc'ed, caller frees; NULL when none) gets them, oldest first. */
int wp_store_api_keys_end_unheld(wp_store *st, wp_api_key_end **out, size_t *n,
                                 const char *tenant_id, const char *creator_id, int64_t now_us);

/* Failed logins within a window, per account (tenant + username) and per client address. */
typedef struct wp_login_throttle {
    int64_t user_failures, client_failures;
    int64_t user_unlock_us, client_unlock_us; /* when the count drops under the max; 0: not
                                               * at the max */
} wp_login_throttle;

/* Take a login attempt's place among the failures before its password is checked: count the
 * account's (tenant_id "" when the login named no known tenant) and the address's failures
 * within the window and, when both are under their max, record the attempt as a failure, in
 * one step that holds across connections and nodes (PostgreSQL: advisory locks per account
 * and per address; SQLite: the writer's lock). A good password then settles it with
 * wp_store_login_failures_clear(); a wrong one leaves it counted. Rows past the window go on
 * the way. Run it outside a transaction (inside one, PostgreSQL keeps its locks to the end).
 * @return 0; out->user_unlock_us or out->client_unlock_us non-zero when the attempt is
 *         refused, and then nothing was recorded; WP_EINVAL */
int wp_store_login_attempt(wp_store *st, wp_login_throttle *out, const char *tenant_id,
                           const char *username, const char *client, int64_t now_us,
                           int64_t window_us, int user_max, int client_max);

/* Take back the one attempt wp_store_login_attempt() recorded at at_us for this account and
 * client, when its request then failed for another reason than a wrong password (a store
 * error): a server's fault does not count against the account. Nothing matching: 0. */
int wp_store_login_attempt_undo(wp_store *st, const char *tenant_id, const char *username,
                                const char *client, int64_t at_us);

/* Forget an account's failures (after a good login or a password reset). */
int wp_store_login_failures_clear(wp_store *st, const char *tenant_id, const char *username);

/* What a role may see of personal data, and whether it handles alerts. Defaults (no row):
 * admin view_pii and unmask; manager and auditor unmask; sales neither; every role but sales
 * handle_alerts (which sales never has: _put refuses it with WP_EINVAL). */
typedef struct wp_role_setting {
    enum wp_role role;
    int view_pii; /* sees phone numbers and other personal data unmasked */
    int unmask;   /* may unmask one record at a time, audited */
    int handle_alerts; /* acknowledges and resolves alerts (migration 0014) */
    int64_t updated_us; /* 0: the default */
} wp_role_setting;

/* The settings of one role. */
int wp_store_role_setting_get(wp_store *st, wp_role_setting *out, const char *tenant_id,
                              enum wp_role role);

int wp_store_role_setting_put(wp_store *st, const char *tenant_id, const wp_role_setting *s,
                              int64_t now_us);

#endif
