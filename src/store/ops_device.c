/* SPDX-License-Identifier: MIT */
/* Store operations on devices and their enrollment codes. */
#include "store/db.h"
#include "store/devices.h"
#include "store/internal.h"
#include "store/people.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEVICE_COLUMNS                                                                             \
    "d.id, d.tenant_id, d.employee_id, d.serial, d.model, d.acked_seq, d.revoked, d.created_us,"   \
    " d.last_seen_us, d.disabled_us"

/* The one answer for every failed enrollment or authentication: a caller learns nothing about
 * which codes or tokens exist. */
#define ENROLL_REFUSED "enrollment code is unknown, used or expired"
#define AUTH_REFUSED "device token is unknown or revoked"

static int check_hash(const char *what, const char *h)
{
    size_t n = h ? strlen(h) : 0;
    int ok = n == 64;
    for (size_t i = 0; ok && i < n; i++)
        ok = (h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f');
    return ok ? 0 : wp_error_set(WP_EINVAL, "%s is not a sha-256 hex digest", what);
}

/* A device's serial or model: 1..256 bytes of UTF-8, no control characters. */
static int check_field(const char *field, const char *s)
{
    int err;
    if ((err = wp_store__check_name(field, s, WP_ARCHIVE_FIELD_MAX)) < 0)
        return err;
    if (strlen(s) > WP_ARCHIVE_FIELD_MAX)
        return wp_error_set(WP_EINVAL, "%s is longer than %d bytes", field, WP_ARCHIVE_FIELD_MAX);
    return 0;
}

static int read_device(struct wp_stmt *s, wp_device *out)
{
    wp_device d;
    int err;
    memset(&d, 0, sizeof d);
    if ((err = wp_db_col_copy(s, 0, d.id, sizeof d.id)) < 0 ||
        (err = wp_db_col_copy(s, 1, d.tenant_id, sizeof d.tenant_id)) < 0 ||
        (err = wp_db_col_copy(s, 2, d.employee_id, sizeof d.employee_id)) < 0 ||
        (err = wp_db_col_copy(s, 3, d.serial, sizeof d.serial)) < 0 ||
        (err = wp_db_col_copy(s, 4, d.model, sizeof d.model)) < 0)
        return err;
    d.acked_seq = wp_db_col_int64(s, 5);
    d.revoked = wp_db_col_int64(s, 6) != 0;
    d.created_us = wp_db_col_int64(s, 7);
    d.last_seen_us = wp_db_col_isnull(s, 8) ? 0 : wp_db_col_int64(s, 8);
    d.disabled_us = wp_db_col_isnull(s, 9) ? 0 : wp_db_col_int64(s, 9);
    *out = d;
    return 0;
}

int wp_store_enrollment_code_create(wp_store *st, const char *tenant_id, const char *employee_id,
                                    const char code_hash[65], int64_t expires_us)
{
    struct wp_stmt *s = NULL;
    wp_employee e;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("employee", employee_id)) < 0 ||
        (err = check_hash("code hash", code_hash)) < 0)
        return err;
    if ((err = wp_store_employee_get(st, &e, tenant_id, employee_id)) < 0)
        return err;
    if (!e.active)
        return wp_error_set(WP_EINVAL, "employee '%s' is not active", employee_id);
    if ((err = wp_store__op_begin(st, 0)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "INSERT INTO enrollment_codes (tenant_id, code_hash, employee_id,"
                             " expires_us, created_us) VALUES (?, ?, ?, ?, ?)")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, code_hash);
    wp_db_bind_text(s, 3, employee_id);
    wp_db_bind_int64(s, 4, expires_us);
    wp_db_bind_int64(s, 5, wp_time_now_us());
    if ((err = wp_db_step(s)) == WP_EEXISTS)
        err = wp_error_set(WP_EEXISTS, "enrollment code exists already");
    else if (err == WP_ENOTFOUND)
        err = wp_error_set(WP_ENOTFOUND, "employee '%s' not found", employee_id);
    if (err > 0)
        err = 0;
out:
    wp_db_done(s);
    return wp_store__op_end(st, err);
}

/* Before an enrollment into tenant_id: WP_EDISABLED when the tenant is disabled, WP_ELIMIT
 * when it has devices_limit devices enrolled and not revoked already (one of this serial is
 * not counted: enrolling again revokes it). On PostgreSQL the tenant's row is locked first,
 * as an audit append does (ops_audit.c), so two enrollments at once count one after the
 * other; SQLite's writer lock is held already. */
static int check_tenant_room(wp_store *st, const char *tenant_id, const char *serial)
{
    struct wp_stmt *s = NULL;
    int err;

    if ((err = wp_db_prepare(st, &s,
                             wp_store_backend(st) == WP_STORE_PG
                                 ? "SELECT disabled_us, devices_limit FROM tenants WHERE id = ?"
                                   " FOR NO KEY UPDATE"
                                 : "SELECT disabled_us, devices_limit FROM tenants"
                                   " WHERE id = ?")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    if (err == WP_DB_DONE) {
        err = wp_error_set(WP_EAUTH, ENROLL_REFUSED);
        goto out;
    }
    if (!wp_db_col_isnull(s, 0)) {
        err = wp_error_set(WP_EDISABLED, "the tenant is disabled: no device can enroll until "
                                         "the operator enables it again");
        goto out;
    }
    if (wp_db_col_isnull(s, 1)) {
        err = 0;
        goto out;
    }
    int64_t limit = wp_db_col_int64(s, 1);
    wp_db_done(s);
    s = NULL;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT count(*) FROM devices WHERE tenant_id = ? AND revoked = 0"
                             " AND serial <> ?")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, serial);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    int64_t used = err == WP_DB_ROW ? wp_db_col_int64(s, 0) : 0;
    err = used >= limit ? wp_error_set(WP_ELIMIT,
                                       "the tenant's devices limit is reached: %lld of %lld "
                                       "devices enrolled; the operator can raise "
                                       "'devices_limit' (workphone tenant set --max-devices)",
                                       (long long)used, (long long)limit)
                        : 0;
out:
    wp_db_done(s);
    return err;
}

int wp_store_device_enroll(wp_store *st, wp_device *out, const char code_hash[65],
                           const char *serial, const char *model, const char token_hash[65],
                           int64_t now_us)
{
    struct wp_stmt *s = NULL;
    wp_device d;
    int err;

    if ((err = check_field("serial", serial)) < 0 || (err = check_field("model", model)) < 0 ||
        (err = check_hash("token hash", token_hash)) < 0)
        return err;
    if (check_hash("code hash", code_hash) < 0)
        return wp_error_set(WP_EAUTH, ENROLL_REFUSED);

    memset(&d, 0, sizeof d);
    wp_id_new(d.id);
    snprintf(d.serial, sizeof d.serial, "%s", serial);
    snprintf(d.model, sizeof d.model, "%s", model);
    d.created_us = now_us;

    if ((err = wp_store__op_begin(st, 1)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT c.tenant_id, c.employee_id FROM enrollment_codes c"
                             " JOIN employees e ON e.tenant_id = c.tenant_id"
                             " AND e.id = c.employee_id"
                             " WHERE c.code_hash = ? AND c.used_us IS NULL AND c.expires_us > ?"
                             " AND e.active = 1")) < 0)
        goto out;
    wp_db_bind_text(s, 1, code_hash);
    wp_db_bind_int64(s, 2, now_us);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    if (err == WP_DB_DONE) {
        err = wp_error_set(WP_EAUTH, ENROLL_REFUSED);
        goto out;
    }
    if ((err = wp_db_col_copy(s, 0, d.tenant_id, sizeof d.tenant_id)) < 0 ||
        (err = wp_db_col_copy(s, 1, d.employee_id, sizeof d.employee_id)) < 0)
        goto out;
    wp_db_done(s);
    s = NULL;
    if ((err = check_tenant_room(st, d.tenant_id, serial)) < 0)
        goto out;

    if ((err = wp_db_prepare(st, &s,
                             "INSERT INTO devices (tenant_id, id, employee_id, serial, model,"
                             " token_hash, acked_seq, revoked, created_us)"
                             " VALUES (?, ?, ?, ?, ?, ?, 0, 0, ?)")) < 0)
        goto out;
    wp_db_bind_text(s, 1, d.tenant_id);
    wp_db_bind_text(s, 2, d.id);
    wp_db_bind_text(s, 3, d.employee_id);
    wp_db_bind_text(s, 4, d.serial);
    wp_db_bind_text(s, 5, d.model);
    wp_db_bind_text(s, 6, token_hash);
    wp_db_bind_int64(s, 7, now_us);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    wp_db_done(s);
    s = NULL;

    /* The code is spent only if nobody spent it meanwhile: on PostgreSQL a concurrent enroll
     * waits on the row and then finds used_us set. */
    if ((err = wp_db_prepare(st, &s,
                             "UPDATE enrollment_codes SET used_us = ?, device_id = ?"
                             " WHERE code_hash = ? AND used_us IS NULL RETURNING code_hash")) < 0)
        goto out;
    wp_db_bind_int64(s, 1, now_us);
    wp_db_bind_text(s, 2, d.id);
    wp_db_bind_text(s, 3, code_hash);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    if (err == WP_DB_DONE) {
        err = wp_error_set(WP_EAUTH, ENROLL_REFUSED);
        goto out;
    }
    wp_db_done(s);
    s = NULL;

    /* A phone enrolled again (reset, or handed to someone else) restarts its seq at 1: it is a
     * new device, and the old token must stop working. */
    if ((err = wp_db_prepare(st, &s,
                             "UPDATE devices SET revoked = 1 WHERE tenant_id = ? AND serial = ?"
                             " AND id <> ? AND revoked = 0")) < 0)
        goto out;
    wp_db_bind_text(s, 1, d.tenant_id);
    wp_db_bind_text(s, 2, d.serial);
    wp_db_bind_text(s, 3, d.id);
    if ((err = wp_db_step(s)) > 0)
        err = 0;
out:
    wp_db_done(s);
    if ((err = wp_store__op_end(st, err)) == 0)
        *out = d;
    return err;
}

int wp_store_device_auth(wp_store *st, wp_device *out, const char token_hash[65])
{
    struct wp_stmt *s = NULL;
    int err;

    if (check_hash("token hash", token_hash) < 0)
        return wp_error_set(WP_EAUTH, AUTH_REFUSED);
    if ((err = wp_db_prepare(st, &s,
                             "SELECT " DEVICE_COLUMNS ", t.disabled_us FROM devices d"
                             " JOIN employees e ON e.tenant_id = d.tenant_id"
                             " AND e.id = d.employee_id JOIN tenants t ON t.id = d.tenant_id"
                             " WHERE d.token_hash = ? AND d.revoked = 0 AND d.disabled_us IS NULL"
                             " AND e.active = 1")) < 0)
        goto out;
    wp_db_bind_text(s, 1, token_hash);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    if (err == WP_DB_DONE) {
        err = wp_error_set(WP_EAUTH, AUTH_REFUSED);
        goto out;
    }
    if (!wp_db_col_isnull(s, 10)) {
        err = wp_error_set(WP_EDISABLED, "the device's tenant is disabled: nothing is accepted "
                                         "until the operator enables it again");
        goto out;
    }
    err = read_device(s, out);
out:
    wp_db_done(s);
    return err;
}

int wp_store_device_get(wp_store *st, wp_device *out, const char *tenant_id, const char *id)
{
    struct wp_stmt *s = NULL;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("device", id)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT " DEVICE_COLUMNS
                             " FROM devices d WHERE d.tenant_id = ? AND d.id = ?")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, id);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    if (err == WP_DB_DONE) {
        err = wp_error_set(WP_ENOTFOUND, "device '%s' not found", id);
        goto out;
    }
    err = read_device(s, out);
out:
    wp_db_done(s);
    return err;
}

int wp_store_device_revoke(wp_store *st, const char *tenant_id, const char *id)
{
    struct wp_stmt *s = NULL;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("device", id)) < 0)
        return err;
    if ((err = wp_store__op_begin(st, 0)) < 0)
        return err;
    if ((err = wp_db_prepare(st, &s,
                             "UPDATE devices SET revoked = 1 WHERE tenant_id = ? AND id = ?"
                             " RETURNING id")) < 0)
        goto out;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, id);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    err = err == WP_DB_ROW ? 0 : wp_error_set(WP_ENOTFOUND, "device '%s' not found", id);
out:
    wp_db_done(s);
    return wp_store__op_end(st, err);
}

int wp_store_device_set_disabled(wp_store *st, wp_device *out, const char *tenant_id,
                                 const char *id, int disabled, int64_t now_us)
{
    struct wp_stmt *s = NULL;
    wp_device d;
    int err;

    if ((err = wp_store__check_id("tenant", tenant_id)) < 0 ||
        (err = wp_store__check_id("device", id)) < 0)
        return err;
    if ((err = wp_store__op_begin(st, 0)) < 0)
        return err;
    /* the revoked check is in the UPDATE: a revoke between a read and this write cannot be
     * undone by it */
    if ((err = wp_db_prepare(st, &s,
                             disabled ? "UPDATE devices SET disabled_us = COALESCE(disabled_us, ?)"
                                        " WHERE tenant_id = ? AND id = ? AND revoked = 0"
                                        " RETURNING id"
                                      : "UPDATE devices SET disabled_us = NULL"
                                        " WHERE tenant_id = ? AND id = ? AND revoked = 0"
                                        " RETURNING id")) < 0)
        goto out;
    int i = 1;
    if (disabled)
        wp_db_bind_int64(s, i++, now_us);
    wp_db_bind_text(s, i++, tenant_id);
    wp_db_bind_text(s, i, id);
    if ((err = wp_db_step(s)) < 0)
        goto out;
    wp_db_done(s);
    s = NULL;
    if (err == WP_DB_DONE) {
        /* none changed: unknown, or revoked */
        if ((err = wp_store_device_get(st, &d, tenant_id, id)) == 0)
            err = wp_error_set(WP_EBUSY, "device '%s' is revoked: enroll the phone again", id);
        goto out;
    }
    if ((err = wp_store_device_get(st, &d, tenant_id, id)) == 0 && out)
        *out = d;
out:
    wp_db_done(s);
    return wp_store__op_end(st, err);
}

int wp_store_devices_list(wp_store *st, wp_device_page *out, const wp_device_filter *f)
{
    struct wp_stmt *s = NULL;
    wp_device_page p;
    struct wp_scope_bind sc;
    char cid[WP_ID_LEN + 1];
    int64_t ct = 0;
    int has = 0, err, i = 1;
    unsigned limit;
    size_t cap = 0;

    memset(&p, 0, sizeof p);
    if ((err = wp_store__check_id("tenant", f->tenant_id)) < 0 ||
        (f->employee_id && (err = wp_store__check_id("employee", f->employee_id)) < 0) ||
        (err = wp_page__limit(&limit, f->limit)) < 0 ||
        (err = wp_cursor__parse(&has, &ct, cid, f->cursor)) < 0 ||
        (err = wp_scope__check(&sc, f->tenant_id, f->scope)) < 0)
        return err;
    const char *emp = f->employee_id;
    if (wp_scope__employee(&emp, &sc)) { /* another employee's devices: none in scope */
        *out = p;
        return 0;
    }
    /* Eight fixed shapes (cursor, employee, org scope), so each is prepared once. */
#define DEV_SELECT "SELECT " DEVICE_COLUMNS " FROM devices d WHERE d.tenant_id = ?"
#define DEV_EMP " AND d.employee_id = ?"
#define DEV_CUR " AND (d.created_us < ? OR (d.created_us = ? AND d.id < ?))"
#define DEV_ORG                                                                             \
    " AND d.employee_id IN (SELECT se.id FROM employees se JOIN org_units so"              \
    " ON so.tenant_id = se.tenant_id AND so.id = se.org_unit_id WHERE se.tenant_id = ?" \
    " AND so.path >= ? AND so.path < ?)"
#define DEV_ORDER " ORDER BY d.created_us DESC, d.id DESC LIMIT ?"
    static const char *const sql[8] = {
        DEV_SELECT DEV_ORDER,
        DEV_SELECT DEV_EMP DEV_ORDER,
        DEV_SELECT DEV_CUR DEV_ORDER,
        DEV_SELECT DEV_EMP DEV_CUR DEV_ORDER,
        DEV_SELECT DEV_ORG DEV_ORDER,
        DEV_SELECT DEV_EMP DEV_ORG DEV_ORDER,
        DEV_SELECT DEV_CUR DEV_ORG DEV_ORDER,
        DEV_SELECT DEV_EMP DEV_CUR DEV_ORG DEV_ORDER,
    };
    int shape = (has ? 2 : 0) + (emp ? 1 : 0) + (sc.org_path ? 4 : 0);
    if ((err = wp_db_prepare(st, &s, sql[shape])) < 0)
        goto out;
    wp_db_bind_text(s, i++, f->tenant_id);
    if (emp)
        wp_db_bind_text(s, i++, emp);
    if (has) {
        wp_db_bind_int64(s, i++, ct);
        wp_db_bind_int64(s, i++, ct);
        wp_db_bind_text(s, i++, cid);
    }
    if (sc.org_path) {
        wp_db_bind_text(s, i++, f->tenant_id);
        wp_db_bind_text(s, i++, sc.lo);
        wp_db_bind_text(s, i++, sc.hi);
    }
    wp_db_bind_int64(s, i++, (int64_t)limit + 1);
    while ((err = wp_db_step(s)) == WP_DB_ROW) {
        if (p.n == limit) {
            wp_device *last = &p.items[p.n - 1];
            wp_cursor__make(p.next_cursor, last->created_us, last->id);
            break;
        }
        if ((err = wp_array__grow((void **)&p.items, &cap, p.n, sizeof *p.items)) < 0 ||
            (err = read_device(s, &p.items[p.n])) < 0)
            goto out;
        p.n++;
    }
    if (err < 0)
        goto out;
    *out = p;
    p.items = NULL;
    err = 0;
out:
    wp_db_done(s);
    free(p.items);
    return err;
}

void wp_device_page_release(wp_device_page *p)
{
    if (!p)
        return;
    free(p->items);
    memset(p, 0, sizeof *p);
}
