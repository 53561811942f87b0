/* SPDX-License-Identifier: MIT */
/* `workphone audit verify`: walk the audit log's hash chains and name the first bad row. */
#include "cli/cli.h"
#include "store/store.h"
#include "util/error.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static const char help[] =
    "usage: workphone audit verify --data DIR [--db URL] [--tenant NAME]\n"
    "\n"
    "Walks the audit log's hash chain of every tenant (or of tenant NAME) with the key in\n"
    "DIR/keys/audit.key. Prints 'ok: N rows' and exits 0 when every row is as it was\n"
    "appended; otherwise names the first row that was altered, removed or inserted (its\n"
    "tenant, seq, id and why) and exits 1. It reads only, and can run beside the server.\n"
    "\n"
    "  --data DIR     the data directory made by 'workphone init' (it holds the key)\n"
    "  --db URL       postgresql://... when the store is in PostgreSQL\n"
    "  --tenant NAME  only this tenant's chain\n";

static int verify(const char *data, const char *db, const char *tenant)
{
    unsigned char key[WP_AUDIT_KEY_LEN];
    char tenant_id[WP_ID_LEN + 1];
    wp_store *st = NULL;
    wp_audit_verdict v;
    int err, code = WP_EXIT_FAIL;

    if ((err = wp_audit_key_load(key, data, 0)) < 0) {
        cli_fail("audit", "cannot load the audit key: %s", wp_error_last());
        return WP_EXIT_FAIL;
    }
    if ((err = wp_store_open(&st, data, db)) < 0) {
        cli_fail("audit", "cannot open the store: %s", wp_error_last());
        goto out;
    }
    if (tenant && (err = wp_store_tenant_find(st, tenant_id, tenant)) < 0) {
        if (err == WP_ENOTFOUND)
            code = cli_usage_error("audit", "no tenant '%.100s' in this store", tenant);
        else
            cli_fail("audit", "%s", wp_error_last());
        goto out;
    }
    if ((err = wp_store_audit_verify(st, key, tenant ? tenant_id : NULL, &v)) < 0) {
        cli_fail("audit", "cannot read the audit log: %s", wp_error_last());
        goto out;
    }
    if (v.ok) {
        printf("ok: %lld rows\n", (long long)v.rows);
        code = WP_EXIT_OK;
    } else {
        printf("bad: tenant %s, row %lld (id %s): %s\n", v.tenant_id, (long long)v.bad_seq,
               v.bad_id[0] ? v.bad_id : "none: the row is gone", v.why);
        printf("%lld rows were intact before it\n", (long long)v.rows);
    }
out:
    wp_store_free(st);
    sodium_memzero(key, sizeof key);
    return code;
}

int cmd_audit(int argc, char **argv)
{
    const char *data = NULL, *db = NULL, *tenant = NULL;
    if (cli_wants_help(argc, argv) || argc < 2) {
        if (argc < 2) {
            fputs(help, stderr);
            return WP_EXIT_USAGE;
        }
        fputs(help, stdout);
        return WP_EXIT_OK;
    }
    if (strcmp(argv[1], "verify") != 0)
        return cli_usage_error("audit", "unknown subcommand '%s'; see 'workphone audit --help'",
                               argv[1]);
    for (int i = 2; i < argc; i++) {
        int r;
        if ((r = cli_opt(argc, argv, &i, "audit", "data", &data)) ||
            (r = cli_opt(argc, argv, &i, "audit", "db", &db)) ||
            (r = cli_opt(argc, argv, &i, "audit", "tenant", &tenant))) {
            if (r < 0)
                return WP_EXIT_USAGE;
            continue;
        }
        return cli_usage_error("audit", "unknown argument '%s'; see 'workphone audit --help'",
                               argv[i]);
    }
    int code = cli_data_dir_check("audit", data, db);
    return code ? code : verify(data, db, tenant);
}
