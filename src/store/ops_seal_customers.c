/* SPDX-License-Identifier: MIT */
/* Customers and their phone identities written before a master key was configured (or by a
 * node running without one), sealed and indexed in place: `workphone keys seal-data` in
 * batches, and a lookup that misses a phone's blind index through wp_seal__identity_adopt()
 * (seal.h; docs/internals/encryption.md, "Sealing what was there"). */
#include "store/db.h"
#include "store/internal.h"
#include "store/seal.h"
#include "util/buf.h"
#include "util/error.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int wp_seal__identity_adopt(wp_store *st, char customer[WP_ID_LEN + 1], const char *tenant_id,
                            const char *blind, const char *number)
{
    struct wp_stmt *s = NULL;
    const char *sealed = NULL;
    wp_buf sb;
    int err;
    customer[0] = '\0';
    wp_buf_init(&sb, WP_SEAL_SMALL_MAX);
    wp_seal_at at = {tenant_id, "customer_identities", "value", blind};
    if ((err = wp_seal__text(st, &sb, &sealed, &at, number)) == 0 &&
        (err = wp_db_prepare(st, &s,
                             "UPDATE customer_identities SET value = ?, sealed = ?"
                             " WHERE tenant_id = ? AND kind = 'phone' AND value = ?"
                             " RETURNING customer_id")) == 0) {
        wp_db_bind_text(s, 1, blind);
        wp_db_bind_text(s, 2, sealed);
        wp_db_bind_text(s, 3, tenant_id);
        wp_db_bind_text(s, 4, number);
        if ((err = wp_db_step(s)) == WP_DB_ROW)
            err = wp_db_col_copy(s, 0, customer, WP_ID_LEN + 1);
    }
    wp_db_done(s);
    wp_buf_release(&sb);
    return err < 0 ? err : 0;
}

int wp_store_customers_seal_batch(wp_store *st, const char *tenant_id, int64_t newest,
                                  char after_id[WP_ID_LEN + 1], size_t limit, int *done,
                                  int64_t *sealed, int64_t *resealed, int64_t *problems,
                                  wp_seal_bad_fn bad, void *ctx)
{
    return wp_store_rows_seal_batch(st, &wp_seal__customers, tenant_id, newest, after_id, limit,
                                    done, sealed, resealed, problems, bad, ctx);
}

struct irow {
    char *value, *sealed;
    char customer[WP_ID_LEN + 1];
};

static void irows_free(struct irow *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i].value)
            sodium_memzero(v[i].value, strlen(v[i].value));
        free(v[i].value);
        free(v[i].sealed);
    }
    free(v);
}

/* A plain identity whose blind index another row holds: dropped when that row names the same
 * customer (*dropped = 1), else left (*dropped = 0, *other = that row's customer). */
static int blind_taken(wp_store *st, int *taken, int *dropped, char other[WP_ID_LEN + 1],
                       const char *tenant_id, const char *blind, const struct irow *r)
{
    struct wp_stmt *s = NULL;
    int err;
    *taken = *dropped = 0;
    other[0] = '\0';
    if ((err = wp_db_prepare(st, &s,
                             "SELECT customer_id FROM customer_identities WHERE tenant_id = ?"
                             " AND kind = 'phone' AND value = ?")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, blind);
    if ((err = wp_db_step(s)) == WP_DB_ROW) {
        *taken = 1;
        err = wp_db_col_copy(s, 0, other, WP_ID_LEN + 1);
    }
    wp_db_done(s);
    if (err < 0 || !*taken || strcmp(other, r->customer))
        return err < 0 ? err : 0;
    *dropped = 1;
    return wp_db_run(st,
                     "DELETE FROM customer_identities WHERE tenant_id = ? AND kind = 'phone'"
                     " AND value = ?",
                     "tt", tenant_id, r->value);
}

int wp_store_identities_seal_batch(wp_store *st, const char *tenant_id, int64_t newest, char *after,
                                   size_t after_cap, size_t limit, int *done, int64_t *indexed,
                                   int64_t *resealed, int64_t *problems, wp_seal_bad_fn bad,
                                   void *ctx)
{
    int pg = wp_store_backend(st) == WP_STORE_PG;
    struct wp_stmt *s = NULL;
    struct irow *v = NULL;
    size_t n = 0, cap = 0;
    wp_buf ob, sb;
    int err;
    *done = 0;
    wp_buf_init(&ob, WP_SEAL_SMALL_MAX);
    wp_buf_init(&sb, WP_SEAL_SMALL_MAX);
    if ((err = wp_store__op_begin(st, 1)) < 0)
        goto release;
    if (!wp_seal_keyring_on()) {
        err = wp_error_set(WP_EINVAL, "no master key is set: there is nothing to seal with");
        goto out;
    }
    if ((err = wp_db_prepare(st, &s,
                             pg ? "SELECT value, sealed, customer_id FROM customer_identities"
                                  " WHERE tenant_id = ? AND kind = 'phone' AND value > ?"
                                  " ORDER BY value LIMIT ? FOR UPDATE"
                                : "SELECT value, sealed, customer_id FROM customer_identities"
                                  " WHERE tenant_id = ? AND kind = 'phone' AND value > ?"
                                  " ORDER BY value LIMIT ?")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, after);
    wp_db_bind_int64(s, 3, (int64_t)limit);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if (n == cap && (err = wp_array__grow((void **)&v, &cap, n, sizeof *v)) < 0)
            break;
        struct irow *r = &v[n++];
        memset(r, 0, sizeof *r);
        wp_db_col_copy(s, 2, r->customer, sizeof r->customer);
        if ((err = wp_seal__dup_col(&r->value, s, 0)) < 0 ||
            (err = wp_seal__dup_col(&r->sealed, s, 1)) < 0)
            break;
        if (!r->value) {
            err = wp_error_set(WP_EIO, "damaged store: a phone identity without a value");
            break;
        }
    }
    wp_db_done(s);
    s = NULL;
    if (err < 0)
        goto out;
    err = 0;
    for (size_t i = 0; i < n && err == 0; i++) {
        struct irow *r = &v[i];
        if (strlen(r->value) >= after_cap) {
            err = wp_error_set(WP_EIO, "damaged store: a phone identity of %zu bytes",
                               strlen(r->value));
            break;
        }
        snprintf(after, after_cap, "%s", r->value);
        if (r->value[0] == WP_SEAL_BLIND) { /* indexed: its number may want a newer key */
            enum wp_seal_need need = wp_seal__need(r->sealed, newest);
            const char *res = r->sealed, *plain = NULL;
            wp_seal_at at = {tenant_id, "customer_identities", "value", r->value};
            if (need == WP_SEAL_NEED_NONE)
                continue;
            if (need == WP_SEAL_NEED_BAD || need == WP_SEAL_NEED_PLAIN) {
                (*problems)++;
                if (bad)
                    bad(ctx, "phone identity of customer", r->customer,
                        "its number is not sealed under a key version: left as it is");
                continue;
            }
            if ((err = wp_seal__reseal(st, &ob, &sb, &res, &plain, &at, r->sealed)) == WP_EIO) {
                (*problems)++;
                if (bad)
                    bad(ctx, "phone identity of customer", r->customer, wp_error_last());
                err = 0;
                continue;
            }
            if (err < 0 || (err = wp_db_run(st,
                                            "UPDATE customer_identities SET sealed = ?"
                                            " WHERE tenant_id = ? AND kind = 'phone' AND value = ?",
                                            "ttt", res, tenant_id, r->value)) < 0)
                break;
            (*resealed)++;
            continue;
        }
        /* stored by its number: its blind index, unless another row has that already */
        char blind[WP_SEAL_BLIND_LEN + 1], other[WP_ID_LEN + 1], got[WP_ID_LEN + 1];
        const char *look = NULL;
        int taken = 0, dropped = 0;
        if ((err = wp_seal__lookup(st, blind, &look, tenant_id, "phone", r->value)) < 0 ||
            (err = blind_taken(st, &taken, &dropped, other, tenant_id, look, r)) < 0)
            break;
        if (taken && !dropped) {
            char why[128];
            snprintf(why, sizeof why,
                     "its number is also customer %s's: merge the two, then run seal-data again",
                     other);
            (*problems)++;
            if (bad)
                bad(ctx, "phone identity of customer", r->customer, why);
            continue;
        }
        if (!taken && (err = wp_seal__identity_adopt(st, got, tenant_id, look, r->value)) < 0)
            break;
        (*indexed)++;
    }
    if (err == 0 && n < limit)
        *done = 1;
out:
    err = wp_store__op_end(st, err);
release:
    irows_free(v, n);
    wp_buf_release(&ob);
    wp_buf_release(&sb);
    return err;
}

int wp_store_customers_seal_count(wp_store *st, const char *tenant_id, int64_t newest,
                                  int64_t *plain, int64_t *older, int64_t *unindexed)
{
    struct wp_stmt *s = NULL;
    int err;
    *unindexed = 0;
    if ((err = wp_store_rows_seal_count(st, &wp_seal__customers, tenant_id, newest, plain,
                                        older)) < 0 ||
        (err = wp_db_prepare(st, &s,
                             "SELECT count(*) FROM customer_identities WHERE"
                             " tenant_id = ? AND kind = 'phone' AND"
                             " substr(value, 1, 1) <> ?")) < 0)
        return err;
    static const char blind_byte[2] = {WP_SEAL_BLIND, 0};
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, blind_byte);
    if ((err = wp_db_step(s)) == WP_DB_ROW)
        *unindexed = wp_db_col_int64(s, 0);
    wp_db_done(s);
    return err < 0 ? err : 0;
}
