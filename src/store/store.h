/* SPDX-License-Identifier: MIT */
/* The store: the operations the rest of workphone needs, over SQLite (default, a file in the
 * data dir) or PostgreSQL (libpq). Callers never see SQL. Every row belongs to a tenant.
 * One wp_store is one connection: use it from one thread at a time (open one per thread). */
#ifndef WP_STORE_H
#define WP_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "util/id.h"

typedef struct wp_store wp_store;

enum wp_store_backend { WP_STORE_SQLITE = 1, WP_STORE_PG = 2 };

/* Open the store: PostgreSQL when db_url is non-NULL (postgresql://... or a libpq conninfo),
 * else the SQLite file <data_dir>/workphone.db (created if missing; WAL, busy timeout,
 * foreign keys on). Pending migrations are applied, each in one transaction.
 * @return 0; WP_EIO (cannot open or connect); WP_ESCHEMA (the store's schema is newer than
 *         this binary knows: nothing is changed).
 * Caller owns *out; release with wp_store_free(). */
int wp_store_open(wp_store **out, const char *data_dir, const char *db_url);

/* Close the connection. NULL is a no-op. */
void wp_store_free(wp_store *st);

enum wp_store_backend wp_store_backend(const wp_store *st);

/* The schema version the store is at, and the newest this binary knows. */
int wp_store_schema_version(wp_store *st, int *out);
int wp_store_schema_latest(void);

/* Transactions. Operations outside begin/commit run in their own implicit transaction. */
int wp_store_begin(wp_store *st);
int wp_store_commit(wp_store *st);
int wp_store_rollback(wp_store *st); /* harmless when no transaction is open */

/* --- tenants ------------------------------------------------------------------------- */

#define WP_TENANT_NAME_MAX 100 /* characters */

/* Create a tenant; WP_EEXISTS when the name is taken. out gets its id. */
int wp_store_tenant_create(wp_store *st, char out[WP_ID_LEN + 1], const char *name);

/* Find a tenant by name; WP_ENOTFOUND. */
int wp_store_tenant_find(wp_store *st, char out[WP_ID_LEN + 1], const char *name);

int wp_store_tenant_count(wp_store *st, int64_t *out);

/* --- org units ----------------------------------------------------------------------- */

enum wp_org_kind { WP_ORG_HQ = 1, WP_ORG_REGION, WP_ORG_STORE, WP_ORG_TEAM };

typedef struct wp_org_unit {
    char id[WP_ID_LEN + 1];
    char parent_id[WP_ID_LEN + 1]; /* "" for the top */
    char name[404];                /* UTF-8, at most 100 characters */
    enum wp_org_kind kind;
    char path[1024]; /* materialized path: "/<root id>/.../<own id>/" */
} wp_org_unit;

const char *wp_org_kind_name(enum wp_org_kind k);
int wp_org_kind_parse(enum wp_org_kind *out, const char *s); /* WP_EINVAL */

/* Create a unit under parent_id (NULL or "" for the top). WP_ENOTFOUND when the parent is
 * not in this tenant; WP_ELIMIT when the tree is too deep (32 levels). */
int wp_store_org_unit_create(wp_store *st, wp_org_unit *out, const char *tenant_id,
                             const char *parent_id, const char *name, enum wp_org_kind kind);

int wp_store_org_unit_get(wp_store *st, wp_org_unit *out, const char *tenant_id, const char *id);

/* The ids of the unit and every unit below it (through the materialized path).
 * *out_ids is a malloc'ed array of *out_n ids; caller frees it with free(). */
int wp_store_org_unit_subtree(wp_store *st, char (**out_ids)[WP_ID_LEN + 1], size_t *out_n,
                              const char *tenant_id, const char *id);

/* --- employees and accounts ---------------------------------------------------------- */

enum wp_role { WP_ROLE_ADMIN = 1, WP_ROLE_MANAGER, WP_ROLE_AUDITOR, WP_ROLE_SALES };

const char *wp_role_name(enum wp_role r);
int wp_role_parse(enum wp_role *out, const char *s); /* WP_EINVAL */

typedef struct wp_employee {
    char id[WP_ID_LEN + 1];
    char tenant_id[WP_ID_LEN + 1];
    char org_unit_id[WP_ID_LEN + 1];
    char name[404];
    char username[65];
    enum wp_role role;
    int active;
    int64_t created_us;
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

#endif
