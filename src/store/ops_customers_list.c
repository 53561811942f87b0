/* SPDX-License-Identifier: MIT */
/* The customer list (filters, scope, a search in the texts as the reader sees them), one
 * customer's record and its identities. Newest first, with cursors; filters are assembled from
 * fixed SQL fragments (values always bound). */
#include "store/customers.h"
#include "store/db.h"
#include "store/internal.h"
#include "store/query.h"
#include "store/seal.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SQL_MAX 4096
#define Q_MAX 1024          /* bytes of a search query */
#define SEARCH_ROUND 100    /* candidates fetched at a time for a query */
#define SEARCH_BUDGET 20000 /* candidates one call looks at, at most */

#define CUSTOMER_COLUMNS                                                                           \
    "c.id, c.tenant_id, c.name, c.phone, c.owner_employee_id, c.grade, c.stage, c.created_us,"     \
    " c.last_contact_us, c.in_pool, c.erased_us"

static int read_customer(wp_store *st, struct wp_stmt *s, wp_customer *out)
{
    wp_customer c;
    int err;
    memset(&c, 0, sizeof c);
    if ((err = wp_db_col_copy(s, 0, c.id, sizeof c.id)) < 0 ||
        (err = wp_db_col_copy(s, 1, c.tenant_id, sizeof c.tenant_id)) < 0 ||
        (err = wp_seal__col_copy_opt(st, s, 2, c.name, sizeof c.name,
                                     &(wp_seal_at){c.tenant_id, "customers", "name", c.id})) < 0)
        return err;
    wp_seal_at at = {c.tenant_id, "customers", "phone", c.id};
    if ((err = wp_seal__col_copy_opt(st, s, 3, c.phone, sizeof c.phone, &at)) < 0 ||
        (err = wp_db_col_copy(s, 4, c.owner_employee_id, sizeof c.owner_employee_id)) < 0 ||
        (err = wp_db_col_copy_opt(s, 5, c.grade, sizeof c.grade)) < 0 ||
        (err = wp_db_col_copy_opt(s, 6, c.stage, sizeof c.stage)) < 0)
        return err;
    c.created_us = wp_db_col_int64(s, 7);
    c.last_contact_us = wp_col__opt_int(s, 8, 0);
    c.in_pool = wp_db_col_int64(s, 9) != 0;
    c.erased_us = wp_col__opt_int(s, 10, 0);
    *out = c;
    return 0;
}

int wp_store_customer_get(wp_store *st, wp_customer *out, const char *tenant_id, const char *id)
{
    struct wp_stmt *s = NULL;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("customer", id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT " CUSTOMER_COLUMNS
                             " FROM customers c WHERE c.tenant_id = ? AND c.id = ?")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, id);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    if (err == WP_DB_DONE) {
        err = wp_error_set(WP_ENOTFOUND, "customer '%s' not found", id);
        goto out;
    }
    err = read_customer(st, s, out);
out:
    wp_db_done(s);
    return err;
}

/* "%q%" for LIKE with '!' as the escape character, ASCII lowercased. */
static int like_pattern(wp_buf *b, const char *q)
{
    int err = wp_buf_addc(b, '%');
    for (const char *p = q; *p && err == 0; p++) {
        char c = *p >= 'A' && *p <= 'Z' ? (char)(*p + 32) : *p;
        if (c == '%' || c == '_' || c == '!')
            err = wp_buf_addc(b, '!');
        if (err == 0)
            err = wp_buf_addc(b, c);
    }
    if (err == 0)
        err = wp_buf_addc(b, '%');
    return err;
}

/* Does the reader see q in one of the texts (name, company, notes) as the view shows them
 * (no view: as they are)? ASCII case folded, as LIKE lower() does. opened, when given, holds
 * the three texts opened (the columns hold them sealed). */
static int seen_in(const wp_text_view *view, const char *q, struct wp_stmt *s, int first_col,
                   const char *const *opened, int *out)
{
    wp_buf b, low;
    int err = 0;
    *out = 0;
    wp_buf_init(&b, 4 * WP_CRM_TEXT_MAX + 16);
    wp_buf_init(&low, 4 * WP_CRM_TEXT_MAX + 16);
    for (int col = first_col; col < first_col + 3 && !*out && err == 0; col++) {
        const char *t = opened ? opened[col - first_col] : wp_db_col_text(s, col);
        int changed = 0;
        if (!t || !*t)
            continue;
        wp_buf_reset(&b);
        wp_buf_reset(&low);
        if ((err = view ? view->fn(view->arg, &b, &changed, t, strlen(t))
                        : wp_buf_add(&b, t, strlen(t))) < 0)
            break;
        for (size_t i = 0; i < b.len && err == 0; i++)
            err = wp_buf_addc(&low, b.buf[i] >= 'A' && b.buf[i] <= 'Z' ? (char)(b.buf[i] + 32)
                                                                       : b.buf[i]);
        if (err == 0)
            *out = strstr(low.buf, q) != NULL;
    }
    wp_buf_release(&b);
    wp_buf_release(&low);
    return err;
}

int wp_store_customers_list(wp_store *st, wp_customer_page *out, const wp_customer_filter *f)
{
    struct wp_stmt *s = NULL;
    struct wp_query q;
    wp_customer_page p;
    wp_buf like, company_b, notes_b;
    struct wp_scope_bind sc;
    char cid[WP_ID_LEN + 1], ulo[1024], uhi[1024], lq[Q_MAX + 1] = "";
    int64_t ct = 0;
    int has = 0, err;
    unsigned limit, budget = SEARCH_BUDGET;
    size_t cap = 0;

    memset(&p, 0, sizeof p);
    wp_query__init(&q, SQL_MAX);
    wp_buf_init(&like, 3 * Q_MAX);
    wp_buf_init(&company_b, WP_SEAL_SMALL_MAX);
    wp_buf_init(&notes_b, WP_SEAL_NOTES_MAX);
    if ((err = wp_store__check_id("tenant", f->tenant_id)) < 0 ||
        (err = wp_store__check_opt_id("employee", f->owner_employee_id)) < 0 ||
        (err = wp_store__check_opt_id("tag", f->tag_id)) < 0 ||
        (f->unit_path && (err = wp_scope__range(ulo, uhi, f->unit_path)) < 0) ||
        (err = wp_page__limit(&limit, f->limit)) < 0 ||
        (err = wp_cursor__parse(&has, &ct, cid, f->cursor)) < 0 ||
        (err = wp_scope__check(&sc, f->tenant_id, f->scope)) < 0)
        goto out;
    if (f->q && *f->q) {
        if (strlen(f->q) > Q_MAX) {
            err = wp_error_set(WP_EINVAL, "query is longer than %d bytes", Q_MAX);
            goto out;
        }
        if ((err = like_pattern(&like, f->q)) < 0)
            goto out;
        for (size_t i = 0; f->q[i]; i++)
            lq[i] = f->q[i] >= 'A' && f->q[i] <= 'Z' ? (char)(f->q[i] + 32) : f->q[i];
    }
    /* a reader with a view: the SQL finds candidates in the stored text, seen_in() keeps those
     * whose hit the reader can see; rounds go on from the last candidate until the page is
     * full, the rows end, or the budget is spent (then the page may be short and its cursor
     * says where to go on) */
    int viewed = f->view && like.len, by_contact = f->sort == WP_CUSTOMER_SORT_LAST_CONTACT;
    /* with a master key the four texts are sealed: SQL cannot match them, so every row of
     * the filters is a candidate and the match is made here on the opened texts, in the same
     * rounds (encryption.md, "What is built (customers' phones, names, companies and
     * notes)") */
    int sealed = like.len && wp_seal_keyring_on(), rounds = viewed || sealed;
    const char *key = by_contact ? "COALESCE(c.last_contact_us, 0)" : "c.created_us";
    for (;;) {
        unsigned got = 0, want = rounds ? SEARCH_ROUND : limit + 1;
        int64_t last_key = 0;
        char last_id[WP_ID_LEN + 1] = "";
        wp_buf_reset(&q.sql);
        q.err = 0;
        q.n = 0;
        wp_query__sql(&q, "SELECT " CUSTOMER_COLUMNS ", c.name, c.company, c.notes FROM"
                          " customers c WHERE c.tenant_id = ? AND c.in_pool = 0 AND"
                          " c.merged_into IS NULL");
        wp_query__text(&q, f->tenant_id);
        if (f->owner_employee_id) {
            wp_query__sql(&q, " AND c.owner_employee_id = ?");
            wp_query__text(&q, f->owner_employee_id);
        }
        wp_query__scope_customers(&q, "c.owner_employee_id", "c.id", &sc);
        if (f->unit_path)
            wp_query__in_subtree(&q, "c.owner_employee_id", f->tenant_id, ulo, uhi);
        if (f->tag_id) {
            wp_query__sql(&q, " AND EXISTS (SELECT 1 FROM customer_tags ct WHERE ct.tenant_id ="
                              " c.tenant_id AND ct.customer_id = c.id AND ct.tag_id = ?)");
            wp_query__text(&q, f->tag_id);
        }
        if (f->grade) {
            wp_query__sql(&q, *f->grade ? " AND c.grade = ?" : " AND c.grade IS NULL");
            if (*f->grade)
                wp_query__text(&q, f->grade);
        }
        if (f->stage) {
            wp_query__sql(&q, *f->stage ? " AND c.stage = ?" : " AND c.stage IS NULL");
            if (*f->stage)
                wp_query__text(&q, f->stage);
        }
        if (f->contact_before_us) {
            wp_query__sql(&q, " AND c.last_contact_us < ?");
            wp_query__int(&q, f->contact_before_us);
        }
        if (f->consent) /* notice and consent (migration 0038) */
            wp_query__sql(&q, f->consent == 1
                                  ? " AND NOT EXISTS (SELECT 1 FROM customer_consents cc WHERE"
                                    " cc.tenant_id = c.tenant_id AND cc.customer_id = c.id)"
                                  : " AND EXISTS (SELECT 1 FROM customer_consents cc WHERE"
                                    " cc.tenant_id = c.tenant_id AND cc.customer_id = c.id)");
        if (f->contact_after_us) {
            wp_query__sql(&q, " AND c.last_contact_us >= ?");
            wp_query__int(&q, f->contact_after_us);
        }
        if (like.len && !sealed) {
            wp_query__sql(
                &q, " AND (lower(c.name) LIKE ? ESCAPE '!' OR c.phone LIKE ? ESCAPE '!'"
                    " OR lower(c.company) LIKE ? ESCAPE '!' OR lower(c.notes) LIKE ? ESCAPE '!')");
            for (int i = 0; i < 4; i++)
                wp_query__text(&q, like.buf);
        }
        if (has) {
            wp_query__sql(&q, " AND (");
            wp_query__sql(&q, key);
            wp_query__sql(&q, " < ? OR (");
            wp_query__sql(&q, key);
            wp_query__sql(&q, " = ? AND c.id < ?))");
            wp_query__int(&q, ct);
            wp_query__int(&q, ct);
            wp_query__text(&q, cid);
        }
        wp_query__sql(&q, " ORDER BY ");
        wp_query__sql(&q, key);
        wp_query__sql(&q, " DESC, c.id DESC LIMIT ?");
        wp_query__int(&q, (int64_t)want);
        if ((err = wp_query__prepare(&q, st, &s)) < 0)
            goto out;
        int full = 0;
        while ((err = wp_db_step(s)) == WP_DB_ROW) {
            wp_customer cu;
            int seen = 1;
            got++;
            if ((err = read_customer(st, s, &cu)) < 0)
                goto out;
            last_key = by_contact ? cu.last_contact_us : cu.created_us;
            memcpy(last_id, cu.id, sizeof last_id);
            if (sealed) {
                /* company and notes opened for the match (name is opened in cu) */
                wp_seal_at at_c = {f->tenant_id, "customers", "company", cu.id};
                wp_seal_at at_n = {f->tenant_id, "customers", "notes", cu.id};
                const char *opened[3] = {cu.name, NULL, NULL};
                if ((err = wp_seal__open_text(st, &company_b, &opened[1], &at_c,
                                              wp_db_col_text(s, 12))) < 0 ||
                    (err = wp_seal__open_text(st, &notes_b, &opened[2], &at_n,
                                              wp_db_col_text(s, 13))) < 0 ||
                    (err = seen_in(viewed ? f->view : NULL, lq, s, 11, opened, &seen)) < 0)
                    goto out;
            } else if (viewed && (err = seen_in(f->view, lq, s, 11, NULL, &seen)) < 0)
                goto out;
            if (sealed && !viewed && !seen) /* the phone, as LIKE matched it */
                seen = strstr(cu.phone, lq) != NULL;
            if (!seen)
                continue;
            if (p.n == limit) {
                const wp_customer *last = &p.items[p.n - 1];
                wp_cursor__make(p.next_cursor,
                                by_contact ? last->last_contact_us : last->created_us, last->id);
                full = 1;
                break;
            }
            if ((err = wp_array__grow((void **)&p.items, &cap, p.n, sizeof *p.items)) < 0)
                goto out;
            p.items[p.n++] = cu;
        }
        wp_db_done(s);
        s = NULL;
        if (err < 0)
            goto out;
        if (full || !rounds || got < want)
            break;
        has = 1;
        ct = last_key;
        memcpy(cid, last_id, sizeof cid);
        if (budget <= got) {
            wp_cursor__make(p.next_cursor, ct, cid);
            break;
        }
        budget -= got;
    }
    *out = p;
    p.items = NULL;
    err = 0;
out:
    wp_db_done(s);
    free(p.items);
    wp_buf_release(&q.sql);
    wp_buf_release(&like);
    wp_buf_release(&company_b);
    wp_buf_release(&notes_b);
    return err;
}

void wp_customer_page_release(wp_customer_page *p)
{
    if (!p)
        return;
    free(p->items);
    memset(p, 0, sizeof *p);
}

void wp_strings_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

int wp_store_customer_identities(wp_store *st, char ***out, size_t *n, const char *tenant_id,
                                 const char *id)
{
    struct wp_stmt *s = NULL;
    char **v = NULL;
    size_t k = 0, cap = 0;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("customer", id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT kind, value, sealed FROM customer_identities"
                             " WHERE tenant_id = ? AND customer_id = ? ORDER BY kind, value")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, id);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        const char *kind = wp_db_col_text(s, 0), *value = wp_db_col_text(s, 1);
        char shown[WP_SEAL_SMALL_MAX];
        if (!wp_db_col_isnull(s, 2)) {
            /* a phone kept by its blind index: its number is the sealed column */
            wp_seal_at at = {tenant_id, "customer_identities", "value", value};
            if ((err = wp_seal__col_copy_opt(st, s, 2, shown, sizeof shown, &at)) < 0)
                goto out;
            value = shown;
        }
        size_t len = strlen(kind) + strlen(value) + 2;
        char *x = malloc(len);
        if (!x || (err = wp_array__grow((void **)&v, &cap, k, sizeof *v)) < 0) {
            free(x);
            err = wp_error_set(WP_ENOMEM, "out of memory");
            goto out;
        }
        snprintf(x, len, "%s:%s", kind, value);
        v[k++] = x;
    }
    if (err < 0)
        goto out;
    *out = v;
    *n = k;
    v = NULL;
    err = 0;
out:
    wp_db_done(s);
    wp_strings_free(v, k);
    return err;
}
