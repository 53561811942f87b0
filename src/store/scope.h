/* SPDX-License-Identifier: MIT */
/* The data scope: the part of a tenant a reader sees, as every store filter takes it. The API
 * decides a caller's scope (src/api); the store applies it in SQL (scope.c). */
#ifndef WP_STORE_SCOPE_H
#define WP_STORE_SCOPE_H

/* All of the tenant, an org subtree, or one salesperson. A filter's scope NULL, or one with
 * both fields NULL, is the whole tenant; at most one field is set (both: WP_EINVAL). Each
 * filter says what of the scope's employees it keeps (their customers, what they said and was
 * handed to them, their devices, ...). Strings are borrowed for the call. */
typedef struct wp_scope {
    const char *org_path;    /* NULL, or the employees of the units of this org subtree (its
                              * materialized path, "/<root id>/.../<unit id>/") */
    const char *employee_id; /* NULL, or this one employee (a salesperson) */
} wp_scope;

#endif
