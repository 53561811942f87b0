/* SPDX-License-Identifier: MIT */
/* Customers made by people (POST /api/v1/customers, the importer) rather than met by a device:
 * found by an identity, created with their identities and CRM fields in one operation. */
#include "store/crm_internal.h"
#include "store/customers.h"
#include "store/db.h"
#include "store/seal.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/id.h"
#include "util/json.h"
#include "util/utf8.h"

#include <string.h>

int wp_store_customer_find(wp_store *st, char out[WP_ID_LEN + 1], const char *tenant_id,
                           const char *kind, const char *value)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0)
        return err;
    if (!kind || !*kind || !value || !*value)
        return wp_error_set(WP_EINVAL, "an identity needs a kind and a value");
    char blind[WP_SEAL_BLIND_LEN + 1];
    const char *look;
    if ((err = wp_seal__lookup(st, blind, &look, tenant_id, kind, value)) < 0)
        return err;
    /* by its blind index, or by the number a row from before the master key still has */
    if ((err = wp_db_prepare(st, &s,
                             "SELECT customer_id FROM customer_identities WHERE tenant_id = ?"
                             " AND kind = ? AND value IN (?, ?)")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, kind);
    wp_db_bind_text(s, 3, look);
    wp_db_bind_text(s, 4, value);
    if ((err = wp_db_step(s)) == WP_DB_ROW)
        err = wp_db_col_copy(s, 0, out, WP_ID_LEN + 1);
    else if (err == WP_DB_DONE)
        err = WP_ENOTFOUND; /* no message: a lookup that finds nothing is no failure */
    wp_db_done(s);
    return err < 0 ? err : 0;
}

/* A channel is a word as devices send it: 1..32 of a-z 0-9 _ - ., and not one that names a
 * phone number (those are the phone identity). */
static int check_channel(const char *c)
{
    size_t n = strlen(c);
    if (n == 0 || n > WP_ARCHIVE_WORD_MAX ||
        strspn(c, "abcdefghijklmnopqrstuvwxyz0123456789_-.") != n)
        return wp_error_set(WP_EINVAL, "'channel' must be a word of a-z 0-9 _ - . (wechat, "
                                       "wecom, email, ...)");
    if (!strcmp(c, "phone") || !strcmp(c, "sms"))
        return wp_error_set(WP_EINVAL, "'channel' %s is the phone number: give 'phone'", c);
    return 0;
}

/* Add one identity unless the tenant has it: *taken 1 (and nothing added) when it does. */
static int identity_add(wp_store *st, int *taken, const char *tenant_id, const char *kind,
                        const char *value, const char *customer_id, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    char blind[WP_SEAL_BLIND_LEN + 1];
    const char *look, *sealed = NULL;
    wp_buf sb;
    int err;
    *taken = 0;
    /* with a master key a phone is stored by its blind index, the number sealed beside it */
    if ((err = wp_seal__lookup(st, blind, &look, tenant_id, kind, value)) < 0)
        return err;
    if (look != value) { /* stored by its number before the master key: indexed now, taken */
        char owner[WP_ID_LEN + 1];
        if ((err = wp_seal__identity_adopt(st, owner, tenant_id, look, value)) < 0)
            return err;
        if (owner[0]) {
            *taken = 1;
            return 0;
        }
    }
    wp_buf_init(&sb, WP_SEAL_SMALL_MAX);
    wp_seal_at at = {tenant_id, "customer_identities", "value", look};
    if ((look == value || (err = wp_seal__text(st, &sb, &sealed, &at, value)) == 0) &&
        (err = wp_db_prepare(st, &s,
                             "INSERT INTO customer_identities (tenant_id, kind, value, customer_id,"
                             " created_us, sealed) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
                             " RETURNING customer_id")) == 0) {
        wp_db_bind_text(s, 1, tenant_id);
        wp_db_bind_text(s, 2, kind);
        wp_db_bind_text(s, 3, look);
        wp_db_bind_text(s, 4, customer_id);
        wp_db_bind_int64(s, 5, now_us);
        wp_db_bind_text_or_null(s, 6, sealed);
        err = wp_db_step(s);
    }
    wp_db_done(s);
    wp_buf_release(&sb);
    if (err < 0)
        return err;
    *taken = err != WP_DB_ROW;
    return 0;
}

int wp_store_customer_create(wp_store *st, char out_id[WP_ID_LEN + 1], char existing[WP_ID_LEN + 1],
                             const char **field, const char *tenant_id, const wp_customer_new *n,
                             const wp_crm_actor *who, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    char id[WP_ID_LEN + 1];
    wp_buf d;
    int err, taken = 0;
    const char *name = n->name && *n->name ? n->name : n->phone ? n->phone : n->channel_id;
    wp_customer_edit e = {.name = name,
                          .company = n->company,
                          .notes = n->notes,
                          .stage = n->stage,
                          .grade = n->grade};

    existing[0] = '\0';
    *field = NULL;
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 || (err = wp_crm__check_actor(who)) < 0)
        return err;
    if (!n->phone && !(n->channel && n->channel_id))
        return wp_error_set(WP_EINVAL, "give 'phone', or 'channel' and 'channel_id'");
    if (!!n->channel != !!n->channel_id)
        return wp_error_set(WP_EINVAL, "'channel' and 'channel_id' go together");
    if (n->phone && (!*n->phone || strlen(n->phone) > WP_ARCHIVE_PHONE_MAX))
        return wp_error_set(WP_EINVAL, "'phone' is not a phone number");
    if (n->channel && (err = check_channel(n->channel)) < 0)
        return err;
    if (n->channel_id && (err = wp_store__check_name("'channel_id'", n->channel_id, 128)) < 0)
        return err;
    if ((err = wp_store__check_id("owner", n->owner_employee_id)) < 0 ||
        (err = wp_store_customer_edit_check(&e)) < 0)
        return err;

    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    /* the owner: an active employee of the tenant */
    if ((err = wp_db_prepare(st, &s,
                             "SELECT active FROM employees WHERE tenant_id = ? AND id = ?")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, n->owner_employee_id);
    err = wp_db_step(s);
    int active = err == WP_DB_ROW && wp_db_col_int64(s, 0);
    wp_db_done(s);
    if (err == WP_DB_DONE) {
        err = wp_error_set(WP_ENOTFOUND, "employee '%s' not found", n->owner_employee_id);
        goto out;
    }
    if (err < 0)
        goto out;
    if (!active) {
        err = wp_error_set(WP_EINVAL, "the owner '%s' is not active", n->owner_employee_id);
        goto out;
    }
    wp_id_new(id);
    wp_seal_at at = {tenant_id, "customers", "phone", id};
    wp_seal_at at_name = {tenant_id, "customers", "name", id};
    wp_seal_at at_company = {tenant_id, "customers", "company", id};
    wp_seal_at at_notes = {tenant_id, "customers", "notes", id};
    const char *phone = NULL, *sealed_name = NULL, *company = NULL, *notes = NULL;
    wp_buf sb, nb, cb, tb;
    wp_buf_init(&sb, WP_SEAL_SMALL_MAX);
    wp_buf_init(&nb, WP_SEAL_SMALL_MAX);
    wp_buf_init(&cb, WP_SEAL_SMALL_MAX * 2);
    wp_buf_init(&tb, WP_SEAL_NOTES_MAX);
    if ((err = wp_seal__text(st, &sb, &phone, &at, n->phone)) == 0 &&
        (err = wp_seal__text(st, &nb, &sealed_name, &at_name, name)) == 0 &&
        (err = wp_seal__text(st, &cb, &company, &at_company,
                             n->company && *n->company ? n->company : NULL)) == 0 &&
        (err = wp_seal__text(st, &tb, &notes, &at_notes,
                             n->notes && *n->notes ? n->notes : NULL)) == 0)
        err = wp_db_run(st,
                        "INSERT INTO customers (tenant_id, id, name, phone, owner_employee_id,"
                        " grade, stage, created_us, company, notes, owner_since_us, stage_us)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULLIF(CAST(? AS BIGINT), 0))",
                        "tttttttittii", tenant_id, id, sealed_name, phone, n->owner_employee_id,
                        n->grade && *n->grade ? n->grade : NULL,
                        n->stage && *n->stage ? n->stage : NULL, now_us, company, notes, now_us,
                        n->stage && *n->stage ? now_us : 0);
    wp_buf_release(&sb);
    wp_buf_release(&nb);
    wp_buf_release(&cb);
    wp_buf_release(&tb);
    if (err < 0)
        goto out;
    /* the phone first: it is what finds a customer first (CONTRACT §5) */
    if (n->phone && (err = identity_add(st, &taken, tenant_id, "phone", n->phone, id, now_us)) < 0)
        goto out;
    if (taken) {
        *field = "phone";
        wp_store_customer_find(st, existing, tenant_id, "phone", n->phone);
        err = wp_error_set(WP_EEXISTS, "a customer has the phone number already");
        goto out;
    }
    if (n->channel &&
        (err = identity_add(st, &taken, tenant_id, n->channel, n->channel_id, id, now_us)) < 0)
        goto out;
    if (taken) {
        *field = "channel_id";
        wp_store_customer_find(st, existing, tenant_id, n->channel, n->channel_id);
        err = wp_error_set(WP_EEXISTS, "a customer has the %s id already", n->channel);
        goto out;
    }
    wp_buf_init(&d, WP_CRM_DETAILS_MAX);
    if ((err = wp_buf_adds(&d, "{\"via\":")) < 0 ||
        (err = wp_json_str(&d, n->via ? n->via : "api", strlen(n->via ? n->via : "api"))) < 0 ||
        (err = wp_buf_adds(&d, ",\"owner\":")) < 0 ||
        (err = wp_json_str(&d, n->owner_employee_id, strlen(n->owner_employee_id))) < 0 ||
        (err = wp_buf_addc(&d, '}')) < 0) {
        wp_buf_release(&d);
        goto out;
    }
    err = wp_crm__event_insert(st, NULL, tenant_id, id, "created", who, d.buf, now_us);
    wp_buf_release(&d);
out:
    if ((err = wp_store__op_end(st, err)) == 0)
        memcpy(out_id, id, sizeof id);
    return err;
}

int wp_store_customer_identity_add(wp_store *st, char existing[WP_ID_LEN + 1],
                                   const char *tenant_id, const char *customer_id, const char *kind,
                                   const char *value, const wp_crm_actor *who, int64_t now_us)
{
    wp_buf d;
    int err, taken = 0;

    existing[0] = '\0';
    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("customer", customer_id)) < 0 ||
        (err = wp_crm__check_actor(who)) < 0)
        return err;
    if (!kind || !value || !*value)
        return wp_error_set(WP_EINVAL, "an identity needs a kind and a value");
    if (strcmp(kind, "phone") && (err = check_channel(kind)) < 0)
        return err;
    if ((err = wp_store__check_name("identity", value, 128)) < 0)
        return err;
    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    if ((err = identity_add(st, &taken, tenant_id, kind, value, customer_id, now_us)) < 0)
        goto out;
    if (taken) {
        wp_store_customer_find(st, existing, tenant_id, kind, value);
        err = wp_error_set(WP_EEXISTS, "a customer has the %s '%s' already", kind, value);
        goto out;
    }
    /* a phone learned later fills an empty one, as a device's report does */
    if (!strcmp(kind, "phone")) {
        wp_seal_at at = {tenant_id, "customers", "phone", customer_id};
        const char *phone = NULL;
        wp_buf sb;
        wp_buf_init(&sb, WP_SEAL_SMALL_MAX);
        if ((err = wp_seal__text(st, &sb, &phone, &at, value)) == 0)
            err = wp_db_run(st,
                            "UPDATE customers SET phone = ? WHERE tenant_id = ? AND id = ?"
                            " AND (phone IS NULL OR phone = '')",
                            "ttt", phone, tenant_id, customer_id);
        wp_buf_release(&sb);
        if (err < 0)
            goto out;
    }
    wp_buf_init(&d, WP_CRM_DETAILS_MAX);
    if ((err = wp_buf_adds(&d, "{\"field\":\"identity\",\"to\":")) == 0 &&
        (err = wp_buf_addc(&d, '"')) == 0 && (err = wp_buf_adds(&d, kind)) == 0 &&
        (err = wp_buf_addc(&d, ':')) == 0) {
        /* the value as JSON without its opening quote */
        size_t mark = d.len;
        if ((err = wp_json_str(&d, value, strlen(value))) == 0) {
            memmove(d.buf + mark, d.buf + mark + 1, d.len - mark);
            d.len--;
            err = wp_buf_addc(&d, '}');
        }
    }
    if (err == 0)
        err = wp_crm__event_insert(st, NULL, tenant_id, customer_id, "edited", who, d.buf, now_us);
    wp_buf_release(&d);
out:
    return wp_store__op_end(st, err);
}
