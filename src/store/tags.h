/* SPDX-License-Identifier: MIT */
/* Tags and tag groups of customers (migration 0010; ops_tags.c). Every change to a
 * customer's tags is a customer event, written in the same transaction. docs/internals/crm.md
 * has the rules. */
#ifndef WP_STORE_TAGS_H
#define WP_STORE_TAGS_H

#include <stddef.h>
#include <stdint.h>

#include "store/customers.h"
#include "store/store.h"
#include "util/id.h"

#define WP_TAGS_MAX 1000         /* tags (and tag groups) of a tenant; lists answer all */
#define WP_TAG_NAME_MAX 50       /* characters */
#define WP_TAG_COLOR_DEFAULT "#8c8c8c"
#define WP_CUSTOMER_TAGS_MAX 100 /* tags of one customer, and ids of one change */

typedef struct wp_tag {
    char id[WP_ID_LEN + 1];
    char group_id[WP_ID_LEN + 1]; /* "" for a tag group itself, and for a tag in none */
    char name[WP_TAG_NAME_MAX * 4 + 1];
    char color[8]; /* "#rrggbb", lowercase */
    int64_t created_us;
} wp_tag;

/* Tag groups (group 1) or tags (group 0) of a tenant, by name; tags of one group when
 * group_id is not NULL ("" for tags in no group). *out malloc'ed (caller frees). */
int wp_store_tags_list(wp_store *st, wp_tag **out, size_t *n, const char *tenant_id, int group,
                       const char *group_id);

int wp_store_tag_get(wp_store *st, wp_tag *out, const char *tenant_id, int group, const char *id);

/* Create a tag group (group 1; group_id ignored) or a tag (in group_id, NULL or "" for none).
 * color NULL: WP_TAG_COLOR_DEFAULT. WP_EINVAL (name, color); WP_EEXISTS (the name is taken in
 * that group); WP_ENOTFOUND (the group); WP_ELIMIT (WP_TAGS_MAX). */
int wp_store_tag_create(wp_store *st, wp_tag *out, const char *tenant_id, int group,
                        const char *group_id, const char *name, const char *color, int64_t now_us);

/* Rename, recolor, (a tag) move to another group: NULL leaves a field; group_id "" moves a
 * tag out of its group. out gets the result. Same errors as create. */
int wp_store_tag_update(wp_store *st, wp_tag *out, const char *tenant_id, int group,
                        const char *id, const char *name, const char *color,
                        const char *group_id);

/* Delete a tag group (WP_EBUSY while it holds tags) or a tag: the customers that had it lose
 * it, each with an event "tags_changed" by who; *untagged gets how many (may be NULL). */
int wp_store_tag_delete(wp_store *st, int64_t *untagged, const char *tenant_id, int group,
                        const char *id, const wp_crm_actor *who, int64_t now_us);

/* A customer's tags, by name. *out malloc'ed (caller frees). */
int wp_store_customer_tags(wp_store *st, wp_tag **out, size_t *n, const char *tenant_id,
                           const char *customer_id);

/* Change a customer's tags: with set (set_given 1) its tags become exactly set; then add and
 * remove. Unknown tag ids: WP_EINVAL naming the id. One event "tags_changed" with the added
 * and removed tags (their ids and names) when anything changed; *changed gets how many tags
 * came or went. Runs in the caller's transaction when one is open. WP_ENOTFOUND (customer);
 * WP_ELIMIT (more than WP_CUSTOMER_TAGS_MAX). */
int wp_store_customer_tags_change(wp_store *st, int *changed, const char *tenant_id,
                                  const char *customer_id, int set_given,
                                  const char *const *set, size_t n_set, const char *const *add,
                                  size_t n_add, const char *const *remove, size_t n_remove,
                                  const wp_crm_actor *who, int64_t now_us);

/* The customers that have a tag, by id, after after_id (NULL or "": from the start), at most
 * limit (1..WP_PAGE_MAX). For the customer list's tag filter. *out malloc'ed (caller frees). */
int wp_store_customers_with_tag(wp_store *st, char (**out)[WP_ID_LEN + 1], size_t *n,
                                const char *tenant_id, const char *tag_id,
                                const char *after_id, unsigned limit);

#endif
