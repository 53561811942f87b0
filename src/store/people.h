/* SPDX-License-Identifier: MIT */
/* Employees with their login accounts and roles (ops_employee.c), and the console's sessions
 * (migration 0003; ops_session.c). */
#ifndef WP_STORE_PEOPLE_H
#define WP_STORE_PEOPLE_H

#include <stddef.h>
#include <stdint.h>

#include "store/scope.h"
#include "store/store.h"
#include "util/id.h"

/* --- employees and accounts ---------------------------------------------------------- */

enum wp_role { WP_ROLE_ADMIN = 1, WP_ROLE_MANAGER, WP_ROLE_AUDITOR, WP_ROLE_SALES };

const char *wp_role_name(enum wp_role r);
int wp_role_parse(enum wp_role *out, const char *s); /* WP_EINVAL */

#define WP_WECOM_USERID_MAX 64 /* bytes of a WeCom UserID: letters, digits, "_-@." */

typedef struct wp_employee {
    char id[WP_ID_LEN + 1];
    char tenant_id[WP_ID_LEN + 1];
    char org_unit_id[WP_ID_LEN + 1];
    char name[404];
    char username[65];
    enum wp_role role;
    int active;
    int64_t created_us;
    char wecom_userid[WP_WECOM_USERID_MAX + 1]; /* its WeCom UserID (CONTRACT §6); "" when none */
} wp_employee;

/* Create an employee with a login account. password_hash is an argon2id string (or NULL for
 * an employee without a login). WP_EEXISTS when the username is taken in the tenant;
 * WP_ENOTFOUND when the org unit is not in the tenant. */
int wp_store_employee_create(wp_store *st, wp_employee *out, const char *tenant_id,
                             const char *org_unit_id, const char *name, const char *username,
                             enum wp_role role, const char *password_hash);

int wp_store_employee_get(wp_store *st, wp_employee *out, const char *tenant_id, const char *id);

/* Find an account by tenant and username; *out_hash (malloc'ed, caller frees) gets the
 * password hash. WP_ENOTFOUND. */
int wp_store_employee_find_login(wp_store *st, wp_employee *out, char **out_hash,
                                 const char *tenant_id, const char *username);

/* Fields to change; NULL, 0 or -1 leave one as it is. */
typedef struct wp_employee_change {
    const char *name;
    const char *org_unit_id;
    int role;   /* 0 or an enum wp_role */
    int active; /* -1, 0 or 1 */
    const char *wecom_userid; /* "" clears it; another employee's: WP_EEXISTS */
} wp_employee_change;
#define WP_EMPLOYEE_CHANGE_INIT {NULL, NULL, 0, -1, NULL}

/* Change an employee, atomically; out gets it as it is now. The tenant keeps at least one
 * active admin: a change that would leave none is refused with WP_EBUSY (the check holds
 * against concurrent changes: the tenant's row is locked first). Sessions are not touched:
 * the caller revokes them on deactivation (wp_store_sessions_revoke_employee).
 * @return 0; WP_ENOTFOUND (employee, or the new org unit, not in the tenant); WP_EINVAL;
 *         WP_EBUSY */
int wp_store_employee_update(wp_store *st, wp_employee *out, const char *tenant_id,
                             const char *id, const wp_employee_change *c);

/* Set the password hash (an argon2id string) of an employee. WP_ENOTFOUND; WP_EINVAL. */
int wp_store_employee_set_password(wp_store *st, const char *tenant_id, const char *id,
                                   const char *password_hash);

/* How many active admins the tenant has. */
int wp_store_employee_count_admins(wp_store *st, int64_t *out, const char *tenant_id);

enum wp_active_filter { WP_ACTIVE_ANY = 0, WP_ACTIVE_ONLY, WP_ACTIVE_NOT };

#define WP_EMPLOYEE_CURSOR_MAX 64 /* bytes of a next_cursor, with its NUL */

typedef struct wp_employee_filter {
    const char *tenant_id;
    const wp_scope *scope;         /* NULL: any; else the employees in it */
    const char *org_path;          /* NULL: any; else (a filter) units in that subtree too */
    int role;                      /* 0: any; else an enum wp_role */
    int active;                    /* enum wp_active_filter */
    const char *q;      /* NULL or "": any; else a substring of the name or the username
                         * (ASCII letters in any case) */
    const char *cursor; /* NULL or "": first page; else a next_cursor */
    unsigned limit;     /* 0: WP_PAGE_DEFAULT; at most WP_PAGE_MAX */
} wp_employee_filter;

typedef struct wp_employee_page {
    wp_employee *items;
    size_t n;
    char next_cursor[WP_EMPLOYEE_CURSOR_MAX]; /* "" on the last page */
} wp_employee_page;

/* Employees, newest first. WP_EINVAL for a bad cursor, scope or filter. Release the page with
 * wp_employee_page_release(). */
int wp_store_employees_list(wp_store *st, wp_employee_page *out, const wp_employee_filter *f);
void wp_employee_page_release(wp_employee_page *p);

/* --- console sessions (migration 0003; ops_session.c) ------------------------------------- */

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
