/* SPDX-License-Identifier: MIT */
/* Tenants and the org tree (ops_tenant.c, ops_org.c). */
#ifndef WP_STORE_ORG_H
#define WP_STORE_ORG_H

#include <stddef.h>
#include <stdint.h>

#include "store/scope.h"
#include "store/store.h"
#include "util/id.h"

/* --- tenants ------------------------------------------------------------------------- */

#define WP_TENANT_NAME_MAX 100 /* characters */

/* Create a tenant; WP_EEXISTS when the name is taken. out gets its id. */
int wp_store_tenant_create(wp_store *st, char out[WP_ID_LEN + 1], const char *name);

/* Find a tenant by name; WP_ENOTFOUND. */
int wp_store_tenant_find(wp_store *st, char out[WP_ID_LEN + 1], const char *name);

int wp_store_tenant_count(wp_store *st, int64_t *out);

/* A tenant as `workphone tenant list` shows it (migration 0031). */
typedef struct wp_tenant {
    char id[WP_ID_LEN + 1];
    char name[404]; /* UTF-8, at most WP_TENANT_NAME_MAX characters */
    int64_t created_us;
    int64_t disabled_us;   /* 0: active; else when `tenant disable` refused it */
    int64_t devices_limit; /* -1: no limit (the default) */
    int64_t employees;     /* accounts, active or not */
    int64_t devices;       /* enrolled and not revoked: what devices_limit counts */
    int64_t used_bytes;    /* archive + media + quarantine (store/usage.h) */
    int64_t storage_limit; /* bytes, what used_bytes may reach; -1: no limit (the default) */
} wp_tenant;

/* Every tenant, by name. Caller frees *out (NULL when there is none). WP_ENOMEM, WP_EIO. */
int wp_store_tenants_list(wp_store *st, wp_tenant **out, size_t *n);

/* One tenant by id; WP_ENOTFOUND. */
int wp_store_tenant_get(wp_store *st, wp_tenant *out, const char *tenant_id);

/* Disable (disabled_us > 0: its logins, sessions, API keys, devices and enrollments are
 * refused with WP_EDISABLED; nothing is removed) or enable (0) a tenant. WP_ENOTFOUND. */
int wp_store_tenant_set_disabled(wp_store *st, const char *tenant_id, int64_t disabled_us);

/* Set how many devices may be enrolled (and not revoked) at once: 0..WP_TENANT_DEVICES_MAX,
 * or -1 for no limit. Devices already over it stay; new enrollments get WP_ELIMIT. */
#define WP_TENANT_DEVICES_MAX 1000000
int wp_store_tenant_set_devices_limit(wp_store *st, const char *tenant_id, int64_t limit);

/* The operator's storage limit (migration 0033): the bytes the tenant may store in all
 * (used_bytes), 0..WP_USAGE_LIMIT_MAX, or -1 for none. Makes the tenant's usage row if it has
 * none, so the limit holds from its first byte. A limit below what is used refuses new bytes;
 * nothing stored is removed. WP_EINVAL, WP_ENOTFOUND. */
int wp_store_tenant_set_storage_limit(wp_store *st, const char *tenant_id, int64_t bytes);

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

/* Its level in the tree: 1 for a top unit (from the path). */
int wp_org_unit_depth(const wp_org_unit *u);

/* The tenant's top unit (the oldest unit without a parent; `workphone init` makes it).
 * WP_ENOTFOUND. */
int wp_store_org_unit_top(wp_store *st, wp_org_unit *out, const char *tenant_id);

/* Rename a unit; out gets it as it is now. WP_ENOTFOUND; WP_EINVAL (the name). */
int wp_store_org_unit_rename(wp_store *st, wp_org_unit *out, const char *tenant_id,
                             const char *id, const char *name);

/* Move a unit with its whole subtree under new_parent_id, atomically: the path and depth of
 * every unit below it are rewritten; ids, and so employees' units, stay. Moving a unit to the
 * parent it has changes nothing. out gets the moved unit.
 * @return 0; WP_ENOTFOUND (unit or parent not in the tenant); WP_EINVAL (the parent is the
 *         unit itself or below it); WP_ELIMIT (the tree would be deeper than 32 levels) */
int wp_store_org_unit_move(wp_store *st, wp_org_unit *out, const char *tenant_id, const char *id,
                           const char *new_parent_id);

/* Delete a unit. WP_EBUSY when it has child units or employees, active or not (their history
 * refers to it) or anything else refers to it; WP_ENOTFOUND. */
int wp_store_org_unit_delete(wp_store *st, const char *tenant_id, const char *id);

typedef struct wp_org_unit_filter {
    const char *tenant_id;
    const wp_scope *scope; /* NULL: any; else the units of its subtree, or one employee's unit */
    const char *cursor;         /* NULL or "": first page; else a next_cursor */
    unsigned limit;             /* 0: WP_PAGE_DEFAULT; at most WP_PAGE_MAX */
} wp_org_unit_filter;

typedef struct wp_org_unit_page {
    wp_org_unit *items;
    size_t n;
    char next_cursor[WP_ID_LEN + 1]; /* "" on the last page */
} wp_org_unit_page;

/* Units in tree order (by path: each parent before its children). WP_EINVAL for a bad cursor
 * or scope. Release the page with wp_org_unit_page_release(). */
int wp_store_org_units_list(wp_store *st, wp_org_unit_page *out, const wp_org_unit_filter *f);
void wp_org_unit_page_release(wp_org_unit_page *p);

#endif
