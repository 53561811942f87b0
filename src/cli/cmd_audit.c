/* SPDX-License-Identifier: MIT */
/* `workphone audit`: verify the audit log's hash chains, and sign or check checkpoints of them. */
#include "cli/cli.h"
#include "store/audit.h"
#include "store/org.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: workphone audit verify --data DIR [--db URL] [--tenant NAME]\n"
    "                              [--checkpoint LINE [--public-key HEX]]\n"
    "       workphone audit checkpoint --data DIR [--db URL] [--tenant NAME]\n"
    "       workphone audit public-key --data DIR [--db URL]\n"
    "\n"
    "verify walks the audit log's hash chain of every tenant (or of tenant NAME) with the key\n"
    "in DIR/keys/audit.key (or the one wrapped in the store by DIR's master key), and\n"
    "compares its end with the chain's head and the tenant's length record. Prints 'ok: N\n"
    "rows' and exits 0 when every row is as it was appended and none was cut off the end;\n"
    "otherwise names the first row that was altered, removed or inserted (its tenant, seq,\n"
    "id and why), or the record that was forged, and exits 1. A chain\n"
    "written before the length record existed verifies with a 'note:' line. It reads only,\n"
    "and can run beside the server.\n"
    "With --checkpoint, it also checks that the log still holds what a checkpoint line (as\n"
    "'serve' logs them, or 'audit checkpoint' prints them) signed: the chain of its tenant\n"
    "up to its row, unchanged. That catches a log rewritten by whoever holds the audit key.\n"
    "The signature is checked with the public key of DIR/keys/checkpoint.key, or with HEX.\n"
    "\n"
    "checkpoint prints one signed checkpoint line per chain (its length, last hash, the time),\n"
    "to keep outside the database. public-key prints the key that checks them (hex).\n"
    "\n"
    "  --data DIR         the data directory made by 'workphone init' (it holds the keys)\n"
    "  --db URL           postgresql://... when the store is in PostgreSQL\n"
    "  --tenant NAME      only this tenant's chain\n"
    "  --checkpoint LINE  a checkpoint line, e.g. 'event=audit_checkpoint tenant=... sig=...'\n"
    "  --public-key HEX   the 64 hex digits 'audit public-key' printed when it was made\n";

struct opts {
    const char *data, *db, *tenant, *checkpoint, *public_key;
};

static int open_store(wp_store **st, const struct opts *o, char tenant_id[WP_ID_LEN + 1], int *code)
{
    int err;
    if ((err = wp_store_open(st, o->data, o->db)) < 0) {
        *code = cli_fail("audit", "cannot open the store: %s", wp_error_last());
        return err;
    }
    if (o->tenant && (err = wp_store_tenant_find(*st, tenant_id, o->tenant)) < 0) {
        if (err == WP_ENOTFOUND)
            *code = cli_usage_error("audit", "no tenant '%.100s' in this store", o->tenant);
        else
            *code = cli_fail("audit", "%s", wp_error_last());
        return err;
    }
    return 0;
}

/* The audit key (checkpoint 0) or the checkpoint seed (1) of the data dir: the files in
 * DIR/keys, or unwrapped from the store with its master key (docs/internals/keys.md). */
static int load_key(const struct opts *o, unsigned char k[WP_AUDIT_KEY_LEN], int checkpoint)
{
    cli_keyring kr;
    int err = cli_keyring_open(&kr, o->data, o->db, NULL, NULL);
    if (err == 0)
        err = cli_keyring_get(&kr, k, checkpoint, 0);
    cli_keyring_close(&kr);
    return err;
}

/* The key that checks checkpoints: --public-key, else that of DIR/keys/checkpoint.key. */
static int public_key(unsigned char pub[WP_AUDIT_SIGN_PUB_LEN], const struct opts *o, int *code)
{
    unsigned char seed[WP_AUDIT_SIGN_SEED_LEN];
    int err;
    if (o->public_key) {
        if (strlen(o->public_key) != 2 * WP_AUDIT_SIGN_PUB_LEN ||
            sodium_hex2bin(pub, WP_AUDIT_SIGN_PUB_LEN, o->public_key, strlen(o->public_key), NULL,
                           NULL, NULL) != 0) {
            *code = cli_usage_error("audit", "--public-key must be 64 hex digits");
            return WP_EINVAL;
        }
        return 0;
    }
    if ((err = load_key(o, seed, 1)) < 0) {
        *code = cli_fail("audit", "cannot load the checkpoint key: %s", wp_error_last());
        return err;
    }
    wp_audit_sign_public(pub, seed);
    sodium_memzero(seed, sizeof seed);
    return 0;
}

static void print_verdict(const wp_audit_verdict *v)
{
    if (v->notes) {
        printf("note: %s\n", v->note);
        if (v->notes > 1)
            printf("note: and %d more tenants alike\n", v->notes - 1);
    }
    if (v->ok) {
        printf("ok: %lld rows\n", (long long)v->rows);
        return;
    }
    printf("bad: tenant %s, row %lld (id %s): %s\n", v->tenant_id, (long long)v->bad_seq,
           v->bad_id[0] ? v->bad_id : "none: the row is gone", v->why);
    printf("%lld rows were intact before it\n", (long long)v->rows);
}

static int verify(const struct opts *o)
{
    unsigned char key[WP_AUDIT_KEY_LEN], pub[WP_AUDIT_SIGN_PUB_LEN];
    char tenant_id[WP_ID_LEN + 1];
    wp_audit_checkpoint cp;
    wp_store *st = NULL;
    wp_audit_verdict v;
    int err, code = WP_EXIT_FAIL;

    if (o->checkpoint) {
        if (wp_audit_checkpoint_parse(&cp, o->checkpoint) < 0)
            return cli_usage_error("audit", "--checkpoint: %s", wp_error_last());
        if (public_key(pub, o, &code) < 0)
            return code;
    }
    if ((err = load_key(o, key, 0)) < 0) {
        cli_fail("audit", "cannot load the audit key: %s", wp_error_last());
        return WP_EXIT_FAIL;
    }
    if ((err = open_store(&st, o, tenant_id, &code)) < 0)
        goto out;
    err = o->checkpoint ? wp_store_audit_verify_checkpoint(st, key, pub, &cp, &v)
                        : wp_store_audit_verify(st, key, o->tenant ? tenant_id : NULL, &v);
    if (err < 0) {
        cli_fail("audit", "cannot read the audit log: %s", wp_error_last());
        goto out;
    }
    print_verdict(&v);
    code = v.ok ? WP_EXIT_OK : WP_EXIT_FAIL;
out:
    wp_store_free(st);
    sodium_memzero(key, sizeof key);
    return code;
}

static int checkpoint(const struct opts *o)
{
    unsigned char key[WP_AUDIT_KEY_LEN], seed[WP_AUDIT_SIGN_SEED_LEN];
    char tenant_id[WP_ID_LEN + 1], (*ids)[WP_ID_LEN + 1] = NULL;
    char line[WP_AUDIT_CHECKPOINT_LINE_MAX];
    wp_store *st = NULL;
    size_t n = 0;
    int err, code = WP_EXIT_FAIL;

    if ((err = load_key(o, key, 0)) < 0) {
        cli_fail("audit", "cannot load the audit key: %s", wp_error_last());
        return WP_EXIT_FAIL;
    }
    if ((err = load_key(o, seed, 1)) < 0) {
        cli_fail("audit", "cannot load the checkpoint key (made by 'init' and 'serve'): %s",
                 wp_error_last());
        goto out;
    }
    if ((err = open_store(&st, o, tenant_id, &code)) < 0)
        goto out;
    if (o->tenant) {
        if (!(ids = malloc(sizeof *ids))) {
            cli_fail("audit", "out of memory");
            goto out;
        }
        memcpy(ids[0], tenant_id, sizeof ids[0]);
        n = 1;
    } else if ((err = wp_store_audit_chains(st, &ids, &n)) < 0) {
        cli_fail("audit", "cannot read the audit log: %s", wp_error_last());
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        wp_audit_checkpoint cp;
        if ((err = wp_store_audit_checkpoint(st, &cp, key, seed, ids[i], wp_time_now_us())) ==
            WP_ENOTFOUND) { /* nothing to sign yet */
            fprintf(stderr, "workphone audit: note: %s\n", wp_error_last());
            continue;
        }
        if (err < 0 || (err = wp_audit_checkpoint_format(line, sizeof line, &cp)) < 0) {
            cli_fail("audit", "%s", wp_error_last());
            goto out;
        }
        printf("%s\n", line);
    }
    code = WP_EXIT_OK;
out:
    free(ids);
    wp_store_free(st);
    sodium_memzero(key, sizeof key);
    sodium_memzero(seed, sizeof seed);
    return code;
}

static int print_public_key(const struct opts *o)
{
    unsigned char pub[WP_AUDIT_SIGN_PUB_LEN];
    char hex[2 * WP_AUDIT_SIGN_PUB_LEN + 1];
    int code = WP_EXIT_FAIL;
    if (public_key(pub, o, &code) < 0)
        return code;
    sodium_bin2hex(hex, sizeof hex, pub, sizeof pub);
    printf("%s\n", hex);
    return WP_EXIT_OK;
}

int cmd_audit(int argc, char **argv)
{
    struct opts o = {0};
    if (cli_wants_help(argc, argv) || argc < 2) {
        if (argc < 2) {
            fputs(help, stderr);
            return WP_EXIT_USAGE;
        }
        fputs(help, stdout);
        return WP_EXIT_OK;
    }
    const char *sub = argv[1];
    int is_verify = !strcmp(sub, "verify"), is_cp = !strcmp(sub, "checkpoint"),
        is_pub = !strcmp(sub, "public-key");
    if (!is_verify && !is_cp && !is_pub)
        return cli_usage_error("audit", "unknown subcommand '%s'; see 'workphone audit --help'",
                               sub);
    for (int i = 2; i < argc; i++) {
        int r;
        if ((r = cli_opt(argc, argv, &i, "audit", "data", &o.data)) ||
            (r = cli_opt(argc, argv, &i, "audit", "db", &o.db)) ||
            (!is_pub && (r = cli_opt(argc, argv, &i, "audit", "tenant", &o.tenant))) ||
            (is_verify && (r = cli_opt(argc, argv, &i, "audit", "checkpoint", &o.checkpoint))) ||
            (is_verify && (r = cli_opt(argc, argv, &i, "audit", "public-key", &o.public_key)))) {
            if (r < 0)
                return WP_EXIT_USAGE;
            continue;
        }
        return cli_usage_error("audit", "unknown argument '%s'; see 'workphone audit --help'",
                               argv[i]);
    }
    if (is_pub) {
        if (!o.data || !*o.data)
            return cli_usage_error("audit", "missing --data DIR");
        return print_public_key(&o);
    }
    if (o.public_key && !o.checkpoint)
        return cli_usage_error("audit", "--public-key goes with --checkpoint");
    if (o.checkpoint && o.tenant)
        return cli_usage_error("audit", "--checkpoint names its tenant: leave out --tenant");
    int code = cli_data_dir_check("audit", o.data, o.db, NULL);
    if (code)
        return code;
    return is_verify ? verify(&o) : checkpoint(&o);
}
