/* SPDX-License-Identifier: MIT */
/* Devices that are servers: where a server (WeCom) reports for an employee (devices.h). */
#include "store/db.h"
#include "store/devices.h"
#include "store/internal.h"
#include "store/store.h"
#include "util/error.h"
#include "util/id.h"

#include <stdio.h>
#include <string.h>

static int find(wp_store *st, char out[WP_ID_LEN + 1], const char *tenant_id,
                const char *employee_id, const char *serial)
{
    struct wp_stmt *s = NULL;
    int err;
    if ((err = wp_db_prepare(st, &s,
                             "SELECT id FROM devices WHERE tenant_id = ? AND employee_id = ? AND"
                             " serial = ? AND revoked = 0 AND token_hash LIKE 'source:%' ORDER BY"
                             " created_us, id LIMIT 1")) < 0)
        return err;
    wp_db_bind_text(s, 1, tenant_id);
    wp_db_bind_text(s, 2, employee_id);
    wp_db_bind_text(s, 3, serial);
    if ((err = wp_db_step(s)) == WP_DB_ROW)
        err = wp_db_col_copy(s, 0, out, WP_ID_LEN + 1) == 0 ? 1 : WP_EIO;
    wp_db_done(s);
    return err;
}

int wp_store_device_source(wp_store *st, char out[WP_ID_LEN + 1], const char *tenant_id,
                           const char *employee_id, const char *source, int64_t now_us)
{
    char serial[64], hash[WP_ID_LEN + 64], id[WP_ID_LEN + 1];
    size_t len = strlen(source);
    int err;

    if (len == 0 || len > 32 || strspn(source, "abcdefghijklmnopqrstuvwxyz0123456789_") != len)
        return wp_error_set(WP_EINVAL, "source '%s' is not a word", source);
    snprintf(serial, sizeof serial, "source:%s", source);
    if ((err = find(st, out, tenant_id, employee_id, serial)) != 0)
        return err < 0 ? err : 0;
    wp_id_new(id);
    snprintf(hash, sizeof hash, "source:%s:%s", source, id);
    /* two nodes making one at once make two: both work, and both are the employee's */
    if ((err = wp_db_run(st,
                         "INSERT INTO devices (tenant_id, id, employee_id, serial, model,"
                         " token_hash, created_us) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         "tttttti", tenant_id, id, employee_id, serial, source, hash, now_us)) < 0)
        return err == WP_ENOTFOUND
                   ? wp_error_set(WP_ENOTFOUND, "employee '%s' not found", employee_id)
                   : err;
    memcpy(out, id, sizeof id);
    return 0;
}
