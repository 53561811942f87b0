/* SPDX-License-Identifier: MIT */
/* Tag groups, tags and the tags of customers (migration 0010), each customer change a timeline
 * event. */
#include "store/crm_internal.h"
#include "store/customers.h"
#include "store/db.h"
#include "store/internal.h"
#include "store/store.h"
#include "store/tags.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/id.h"
#include "util/json.h"

#include <stdlib.h>
#include <string.h>

static int check_color(const char *c)
{
    if (strlen(c) != 7 || c[0] != '#' || strspn(c + 1, "0123456789abcdefABCDEF") != 6)
        return wp_error_set(WP_EINVAL, "'color' must be #rrggbb");
    return 0;
}

static void lower_color(char out[8], const char *c)
{
    for (int i = 0; i < 7; i++)
        out[i] = (c[i] >= 'A' && c[i] <= 'F') ? (char)(c[i] - 'A' + 'a') : c[i];
    out[7] = '\0';
}

#define TAG_COLS "id, group_id, name, color, created_us"
#define GROUP_COLS "id, '', name, color, created_us"

static int read_tag(struct wp_stmt *s, wp_tag *t)
{
    int err;
    memset(t, 0, sizeof *t);
    if ((err = wp_db_col_copy(s, 0, t->id, sizeof t->id)) < 0 ||
        (err = wp_db_col_copy(s, 1, t->group_id, sizeof t->group_id)) < 0 ||
        (err = wp_db_col_copy(s, 2, t->name, sizeof t->name)) < 0 ||
        (err = wp_db_col_copy(s, 3, t->color, sizeof t->color)) < 0)
        return err;
    t->created_us = wp_db_col_int64(s, 4);
    return 0;
}

/* Rows of s (bound) into a malloc'ed array. */
static int read_tags(struct wp_stmt *s, wp_tag **out, size_t *n)
{
    wp_tag *v = NULL;
    size_t cap = 0, k = 0;
    int err;
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if ((err = wp_array__grow((void **)&v, &cap, k, sizeof *v)) < 0 ||
            (err = read_tag(s, &v[k])) < 0)
            break;
        k++;
    }
    if (err < 0) {
        free(v);
        return err;
    }
    *out = v;
    *n = k;
    return 0;
}

int wp_store_tags_list(wp_store *st, wp_tag **out, size_t *n, const char *tenant_id, int group,
                       const char *group_id)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if (group)
        err = wp_db_prepare(st, &s,
                            "SELECT " GROUP_COLS " FROM tag_groups WHERE tenant_id = ?"
                            " AND CAST(? AS TEXT) IS NULL ORDER BY name, id LIMIT ?");
    else
        err = wp_db_prepare(st, &s,
                            "SELECT " TAG_COLS " FROM tags WHERE tenant_id = ?"
                            " AND (CAST(? AS TEXT) IS NULL OR group_id = ?) ORDER BY name, id"
                            " LIMIT ?");
    if (err < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text_or_null(s, 2, group ? NULL : group_id);
    if (group) {
        wp_db_bind_int64(s, 3, WP_TAGS_MAX);
    } else {
        wp_db_bind_text(s, 3, group_id ? group_id : "");
        wp_db_bind_int64(s, 4, WP_TAGS_MAX);
    }
    err = read_tags(s, out, n);
    wp_db_done(s);
    return err;
}

int wp_store_tag_get(wp_store *st, wp_tag *out, const char *tenant_id, int group, const char *id)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id(group ? "tag group" : "tag", id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             group ? "SELECT " GROUP_COLS
                                     " FROM tag_groups WHERE tenant_id = ? AND id = ?"
                                   : "SELECT " TAG_COLS
                                     " FROM tags WHERE tenant_id = ? AND id = ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, id);
    if ((err = wp_db_step(s)) == WP_DB_ROW)
        err = read_tag(s, out);
    else if (err == WP_DB_DONE)
        err = wp_error_set(WP_ENOTFOUND, "%s '%s' not found", group ? "tag group" : "tag", id);
    wp_db_done(s);
    return err;
}

/* The group a tag goes to: "" or an existing group. */
static int check_group(wp_store *st, const char *tenant_id, const char *group_id)
{
    wp_tag g;
    int err;
    if (!group_id || !*group_id)
        return 0;
    if ((err = wp_store_tag_get(st, &g, tenant_id, 1, group_id)) == WP_ENOTFOUND)
        return wp_error_set(WP_EINVAL, "'group_id': tag group '%s' not found", group_id);
    return err;
}

int wp_store_tag_create(wp_store *st, wp_tag *out, const char *tenant_id, int group,
                        const char *group_id, const char *name, const char *color, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    wp_tag t;
    int err;

    memset(&t, 0, sizeof t);
    if (!color)
        color = WP_TAG_COLOR_DEFAULT;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_name("'name'", name ? name : "", WP_TAG_NAME_MAX)) < 0 ||
        (err = check_color(color)) < 0)
        return err;
    if (group)
        group_id = NULL;
    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    if ((err = check_group(st, tenant_id, group_id)) < 0 ||
        (err = wp_store__tenant_cap(st,
                                    group ? "SELECT COUNT(*) FROM tag_groups WHERE tenant_id = ?"
                                          : "SELECT COUNT(*) FROM tags WHERE tenant_id = ?",
                                    tenant_id, WP_TAGS_MAX, group ? "tag groups" : "tags")) < 0)
        goto out;
    wp_id_new(t.id);
    if (group_id)
        memcpy(t.group_id, group_id, strlen(group_id) + 1);
    memcpy(t.name, name, strlen(name) + 1);
    lower_color(t.color, color);
    t.created_us = now_us;
    if ((err = wp_db_prepare(st, &s,
                             group ? "INSERT INTO tag_groups (tenant_id, id, name, color,"
                                     " created_us) VALUES (?, ?, ?, ?, ?)"
                                   : "INSERT INTO tags (tenant_id, id, name, color, created_us,"
                                     " group_id) VALUES (?, ?, ?, ?, ?, ?)")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, t.id);
    wp_db_bind_text(s, 3, t.name);
    wp_db_bind_text(s, 4, t.color);
    wp_db_bind_int64(s, 5, now_us);
    if (!group)
        wp_db_bind_text(s, 6, t.group_id);
    err = wp_db_step(s);
    wp_db_done(s);
    if (err == WP_EEXISTS)
        err = wp_error_set(WP_EEXISTS, "'name': '%s' exists already", name);
    if (err >= 0)
        err = 0;
out:
    if ((err = wp_store__op_end(st, err)) == 0)
        *out = t;
    return err;
}

int wp_store_tag_update(wp_store *st, wp_tag *out, const char *tenant_id, int group,
                        const char *id, const char *name, const char *color,
                        const char *group_id)
{
    struct wp_stmt *s = NULL;
    wp_tag t;
    int err;

    if ((name && (err = wp_store__check_name("'name'", name, WP_TAG_NAME_MAX)) < 0) ||
        (color && (err = check_color(color)) < 0))
        return err;
    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    if ((err = wp_store_tag_get(st, &t, tenant_id, group, id)) < 0)
        goto out;
    if (!group && group_id) {
        if ((err = check_group(st, tenant_id, group_id)) < 0)
            goto out;
        memcpy(t.group_id, group_id, strlen(group_id) + 1);
    }
    if (name)
        memcpy(t.name, name, strlen(name) + 1);
    if (color)
        lower_color(t.color, color);
    if ((err = wp_db_prepare(st, &s,
                             group ? "UPDATE tag_groups SET name = ?, color = ?"
                                     " WHERE tenant_id = ? AND id = ?"
                                   : "UPDATE tags SET name = ?, color = ?, group_id = ?"
                                     " WHERE tenant_id = ? AND id = ?")) < 0)
        goto out;
    wp_db_bind_text(s, 1, t.name);
    wp_db_bind_text(s, 2, t.color);
    int k = 3;
    if (!group)
        wp_db_bind_text(s, k++, t.group_id);
    wp_db_bind_text(s, k++, tenant_id);
    wp_db_bind_text(s, k, id);
    err = wp_db_step(s);
    wp_db_done(s);
    if (err == WP_EEXISTS)
        err = wp_error_set(WP_EEXISTS, "'name': '%s' exists already", t.name);
    if (err >= 0)
        err = 0;
out:
    if ((err = wp_store__op_end(st, err)) == 0)
        *out = t;
    return err;
}

/* Append one tag as {"id":..,"name":..} to a JSON array being built. */
static int json_tag(wp_buf *b, const char *id, const char *name)
{
    int err;
    if (b->buf[b->len - 1] != '[' && (err = wp_buf_addc(b, ',')) < 0)
        return err;
    if ((err = wp_buf_adds(b, "{\"id\":")) < 0 || (err = wp_json_str(b, id, strlen(id))) < 0 ||
        (err = wp_buf_adds(b, ",\"name\":")) < 0 ||
        (err = wp_json_str(b, name, strlen(name))) < 0)
        return err;
    return wp_buf_addc(b, '}');
}

int wp_store_tag_delete(wp_store *st, int64_t *untagged, const char *tenant_id, int group,
                        const char *id, const wp_crm_actor *who, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    char(*cust)[WP_ID_LEN + 1] = NULL;
    size_t n = 0, cap = 0;
    wp_tag t;
    wp_buf d;
    int err;

    wp_buf_init(&d, 1024);
    if ((err = wp_crm__check_actor(who)) < 0)
        return err;
    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    if ((err = wp_store_tag_get(st, &t, tenant_id, group, id)) < 0)
        goto out;
    if (group) {
        int64_t in = 0;
        struct wp_stmt *c = NULL;
        if ((err = wp_db_prepare(st, &c,
                                 "SELECT COUNT(*) FROM tags WHERE tenant_id = ? AND group_id = ?")) <
            0)
            goto out;
        wp_db_bind_text(c, 1, tenant_id);
        wp_db_bind_text(c, 2, id);
        if ((err = wp_db_step(c)) == WP_DB_ROW)
            in = wp_db_col_int64(c, 0);
        wp_db_done(c);
        if (err < 0)
            goto out;
        if (in > 0) {
            err = wp_error_set(WP_EBUSY, "tag group '%s' has %lld tags", id, (long long)in);
            goto out;
        }
        if ((err = wp_db_prepare(st, &s, "DELETE FROM tag_groups WHERE tenant_id = ? AND id = ?")) <
            0)
            goto out;
    } else {
        if ((err = wp_db_prepare(st, &s,
                                 "SELECT customer_id FROM customer_tags WHERE tenant_id = ?"
                                 " AND tag_id = ? ORDER BY customer_id")) < 0)
            goto out;
        wp_db_bind_text(s, 1, tenant_id);
        wp_db_bind_text(s, 2, id);
        while ((err = wp_db_step(s)) == WP_DB_ROW) {
            if ((err = wp_array__grow((void **)&cust, &cap, n, sizeof *cust)) < 0 ||
                (err = wp_db_col_copy(s, 0, cust[n], sizeof *cust)) < 0)
                break;
            n++;
        }
        wp_db_done(s);
        s = NULL;
        if (err < 0)
            goto out;
        if ((err = wp_buf_adds(&d, "{\"added\":[],\"removed\":[")) < 0 ||
            (err = json_tag(&d, t.id, t.name)) < 0 ||
            (err = wp_buf_adds(&d, "],\"tag_deleted\":true}")) < 0) {
            /* only a full buffer is the name's; a failed allocation is the server's */
            if (err != WP_ENOMEM)
                err = wp_error_set(WP_EINVAL, "tag name too long");
            goto out;
        }
        for (size_t i = 0; i < n; i++)
            if ((err = wp_crm__event_insert(st, NULL, tenant_id, cust[i], "tags_changed", who,
                                            d.buf, now_us)) < 0)
                goto out;
        if ((err = wp_db_prepare(st, &s,
                                 "DELETE FROM customer_tags WHERE tenant_id = ? AND tag_id = ?")) <
            0)
            goto out;
        wp_db_bind_text(s, 1, tenant_id);
        wp_db_bind_text(s, 2, id);
        err = wp_db_step(s);
        wp_db_done(s);
        s = NULL;
        if (err < 0)
            goto out;
        if ((err = wp_db_prepare(st, &s, "DELETE FROM tags WHERE tenant_id = ? AND id = ?")) < 0)
            goto out;
    }
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, id);
    err = wp_db_step(s);
    wp_db_done(s);
    if (err >= 0)
        err = 0;
out:
    wp_buf_release(&d);
    free(cust);
    if ((err = wp_store__op_end(st, err)) == 0 && untagged)
        *untagged = (int64_t)n;
    return err;
}

int wp_store_customer_tags(wp_store *st, wp_tag **out, size_t *n, const char *tenant_id,
                           const char *customer_id)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("customer", customer_id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT t.id, t.group_id, t.name, t.color, t.created_us FROM"
                             " customer_tags ct JOIN tags t ON t.tenant_id = ct.tenant_id AND"
                             " t.id = ct.tag_id WHERE ct.tenant_id = ? AND ct.customer_id = ?"
                             " ORDER BY t.name, t.id")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, customer_id);
    err = read_tags(s, out, n);
    wp_db_done(s);
    return err;
}

static int has_id(const wp_tag *v, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i].id, id))
            return 1;
    return 0;
}

static int in_list(const char *const *v, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i], id))
            return 1;
    return 0;
}

/* Add (add 1) or remove one tag of a customer. */
static int tag_row(wp_store *st, const char *tenant_id, const char *customer_id,
                   const char *tag_id, int add, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_db_prepare(st, &s,
                             add ? "INSERT INTO customer_tags (tenant_id, customer_id, tag_id,"
                                   " created_us) VALUES (?, ?, ?, ?)"
                                 : "DELETE FROM customer_tags WHERE tenant_id = ? AND"
                                   " customer_id = ? AND tag_id = ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, customer_id);
    wp_db_bind_text(s, 3, tag_id);
    if (add)
        wp_db_bind_int64(s, 4, now_us);
    err = wp_db_step(s);
    wp_db_done(s);
    return err < 0 ? err : 0;
}

int wp_store_customer_tags_change(wp_store *st, int *changed, const char *tenant_id,
                                  const char *customer_id, int set_given,
                                  const char *const *set, size_t n_set, const char *const *add,
                                  size_t n_add, const char *const *remove, size_t n_remove,
                                  const wp_crm_actor *who, int64_t now_us)
{
    wp_tag *cur = NULL, *all = NULL;
    size_t n_cur = 0, n_all = 0;
    wp_buf added, removed;
    int err, n = 0;
    size_t have;

    wp_buf_init(&added, WP_CRM_DETAILS_MAX / 2 - 64);
    wp_buf_init(&removed, WP_CRM_DETAILS_MAX / 2 - 64);
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("customer", customer_id)) < 0 ||
        (err = wp_crm__check_actor(who)) < 0)
        return err;
    if (n_set > WP_CUSTOMER_TAGS_MAX || n_add > WP_CUSTOMER_TAGS_MAX ||
        n_remove > WP_CUSTOMER_TAGS_MAX)
        return wp_error_set(WP_ELIMIT, "a customer has at most %d tags", WP_CUSTOMER_TAGS_MAX);
    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    {
        wp_customer c;
        if ((err = wp_store_customer_get(st, &c, tenant_id, customer_id)) < 0)
            goto out;
    }
    if ((err = wp_store_customer_tags(st, &cur, &n_cur, tenant_id, customer_id)) < 0 ||
        (err = wp_store_tags_list(st, &all, &n_all, tenant_id, 0, NULL)) < 0)
        goto out;
    const char *const *lists[3] = {set, add, remove};
    size_t counts[3] = {n_set, n_add, n_remove};
    for (int l = 0; l < 3; l++)
        for (size_t i = 0; i < counts[l]; i++)
            if (!lists[l][i] || !has_id(all, n_all, lists[l][i])) {
                err = wp_error_set(WP_EINVAL, "'tags': tag '%.32s' not found",
                                   lists[l][i] ? lists[l][i] : "");
                goto out;
            }
    if (wp_buf_addc(&added, '[') < 0 || wp_buf_addc(&removed, '[') < 0) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    have = n_cur;
    /* all is every tag by name: walking it keeps the event's lists in name order */
    for (size_t i = 0; i < n_all; i++) {
        const wp_tag *t = &all[i];
        int was = has_id(cur, n_cur, t->id), now = was;
        if (set_given)
            now = in_list(set, n_set, t->id);
        if (in_list(add, n_add, t->id))
            now = 1;
        if (in_list(remove, n_remove, t->id))
            now = 0;
        if (now == was)
            continue;
        if (now && ++have > WP_CUSTOMER_TAGS_MAX) {
            err = wp_error_set(WP_ELIMIT, "a customer has at most %d tags", WP_CUSTOMER_TAGS_MAX);
            goto out;
        }
        if (!now)
            have--;
        if ((err = tag_row(st, tenant_id, customer_id, t->id, now, now_us)) < 0)
            goto out;
        if ((err = json_tag(now ? &added : &removed, t->id, t->name)) < 0) {
            /* only a full buffer is the change's; a failed allocation is the server's */
            if (err != WP_ENOMEM)
                err = wp_error_set(WP_ELIMIT, "too many tags in one change");
            goto out;
        }
        n++;
    }
    if (n > 0) {
        wp_buf d;
        wp_buf_init(&d, WP_CRM_DETAILS_MAX);
        if ((err = wp_buf_addc(&added, ']')) < 0 || (err = wp_buf_addc(&removed, ']')) < 0 ||
            (err = wp_buf_addf(&d, "{\"added\":%s,\"removed\":%s}", added.buf, removed.buf)) <
                0) {
            if (err != WP_ENOMEM)
                err = wp_error_set(WP_ELIMIT, "too many tags in one change");
        } else
            err = wp_crm__event_insert(st, NULL, tenant_id, customer_id, "tags_changed", who,
                                       d.buf, now_us);
        wp_buf_release(&d);
    }
out:
    wp_buf_release(&added);
    wp_buf_release(&removed);
    free(cur);
    free(all);
    if ((err = wp_store__op_end(st, err)) == 0 && changed)
        *changed = n;
    return err;
}

int wp_store_customers_with_tag(wp_store *st, char (**out)[WP_ID_LEN + 1], size_t *n,
                                const char *tenant_id, const char *tag_id,
                                const char *after_id, unsigned limit)
{
    struct wp_stmt *s = NULL;
    char(*v)[WP_ID_LEN + 1] = NULL;
    size_t cap = 0, k = 0;
    int err;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("tag", tag_id)) < 0 || (err = wp_page__limit(&limit, limit)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT customer_id FROM customer_tags WHERE tenant_id = ? AND"
                             " tag_id = ? AND customer_id > ? ORDER BY customer_id LIMIT ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, tag_id);
    wp_db_bind_text(s, 3, after_id ? after_id : "");
    wp_db_bind_int64(s, 4, limit);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if ((err = wp_array__grow((void **)&v, &cap, k, sizeof *v)) < 0 ||
            (err = wp_db_col_copy(s, 0, v[k], sizeof *v)) < 0)
            break;
        k++;
    }
    wp_db_done(s);
    if (err < 0) {
        free(v);
        return err;
    }
    *out = v;
    *n = k;
    return 0;
}
