/* SPDX-License-Identifier: MIT */
/* `workphone keys` and the keyring every command loads its keys through: the master key
 * configured for a data dir, and the keys it wraps in the store (docs/internals/keys.md). */
#include "cli/cli.h"
#include "ingest/ingest.h"
#include "store/audit.h"
#include "store/keys.h"
#include "store/org.h"
#include "store/pool.h"
#include "store/seal.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"

#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char help[] =
    "usage: workphone keys status --data DIR [--db URL] [--master-key-file FILE]\n"
    "       workphone keys migrate --data DIR [--db URL] [--master-key-file FILE]\n"
    "       workphone keys rotate-master --data DIR [--db URL] [--master-key-file FILE]\n"
    "                                    --new-key-file FILE\n"
    "       workphone keys rotate-tenant --data DIR [--db URL] [--master-key-file FILE]\n"
    "                                    --tenant NAME\n"
    "       workphone keys encrypt-media --data DIR [--db URL] [--master-key-file FILE]\n"
    "                                    [--media-dir DIR]\n"
    "       workphone keys seal-data --data DIR [--db URL] [--master-key-file FILE]\n"
    "\n"
    "The master key (32 bytes, kept apart from the data and never in a backup) wraps the audit\n"
    "key, the checkpoint key and each tenant's data keys, which then live in the store where\n"
    "every node reads them. It comes from --master-key-file, else from master_key_file= or\n"
    "master_key_command= in DIR/workphone.conf. Without one, the keys are the files in\n"
    "DIR/keys as before.\n"
    "\n"
    "status prints where the keys are, the master key's fingerprint and each wrapped key's\n"
    "owner, purpose, version and fingerprint; never a key.\n"
    "migrate moves DIR/keys/audit.key and checkpoint.key into the store, wrapped by the master\n"
    "key, makes each tenant a data key, and writes master_key_file= into DIR/workphone.conf.\n"
    "rotate-master rewraps every key with the master key in FILE, in one transaction; the\n"
    "servers running keep serving. Point every node's master_key_file= at FILE (this data\n"
    "dir's is changed here) before it restarts.\n"
    "rotate-tenant makes tenant NAME a new data key version; the old ones stay readable.\n"
    "encrypt-media encrypts the media files stored before the master key (each tenant's\n"
    "copy under its data key and a keyed name), then removes the plain ones, and\n"
    "re-encrypts the files under an older key version than their tenant's newest (after\n"
    "rotate-tenant); safe while serve runs, and resumable: run again, it goes on where it\n"
    "stopped.\n"
    "seal-data seals the messages stored before the master key (their text, the event as\n"
    "sent, the peer, the group, file and link names, a red packet's memo) under their\n"
    "tenant's newest data key and indexes them again with keyed grams, seals the customers'\n"
    "names, phones, companies and notes, the calls' and contact events' peer names, phones\n"
    "and events as sent, the check-ins' events as sent and the words a rule caught (alerts),\n"
    "and stores each phone identity by its blind index with the number sealed beside it; run\n"
    "it right after migrate (until then those rows stay in plain text, the tenant's searches\n"
    "also ask their plain grams, and a phone is also looked up by its number). It also seals\n"
    "again what is under an older key version (after rotate-tenant). 500 rows per\n"
    "transaction, safe while serve runs, resumable: run again, it goes on where it stopped.\n"
    "When it changed rows it leaves none of the old plain text in the store's files: SQLite\n"
    "secure_delete, VACUUM and a WAL checkpoint; PostgreSQL VACUUM FULL of messages,\n"
    "customers, customer_identities, calls, contact_events, checkins and alerts (which holds\n"
    "them locked while it runs) and CHECKPOINT. Backups made before, replicas' history and\n"
    "WAL archives keep what they had.\n"
    "\n"
    "  --data DIR              the data directory made by 'workphone init'\n"
    "  --db URL                postgresql://... when the store is in PostgreSQL\n"
    "  --master-key-file FILE  the master key (else what DIR/workphone.conf names)\n"
    "  --new-key-file FILE     rotate-master: the new master key\n"
    "  --tenant NAME           rotate-tenant: the tenant\n"
    "  --media-dir DIR         encrypt-media: the media root (default: media_dir= in\n"
    "                          DIR/workphone.conf, else DIR/media)\n";

/* --- the keyring ------------------------------------------------------------------------ */

/* An absolute path for a setting of DIR/workphone.conf (relative ones are relative to DIR). */
static void conf_path(char *out, size_t cap, const char *data, const char *v)
{
    snprintf(out, cap, "%s%s%s", *v == '/' ? "" : data, *v == '/' ? "" : "/", v);
}

int cli_keyring_open(cli_keyring *kr, const char *data, const char *db, const char *flag_file,
                     const char *flag_command)
{
    wp_conf *c = NULL;
    int err = 0;
    memset(kr, 0, sizeof *kr);
    kr->data = data;
    kr->db = db;
    if (flag_file) {
        snprintf(kr->source, sizeof kr->source, "%s", flag_file);
        kr->have = 1;
    } else if (flag_command) {
        snprintf(kr->source, sizeof kr->source, "%s", flag_command);
        kr->have = 1;
        kr->command = 1;
    } else if ((err = wp_conf_read_dir(&c, data)) == 0) {
        const char *f = wp_conf_get(c, "master_key_file");
        const char *cmd = wp_conf_get(c, "master_key_command");
        if (f && *f && cmd && *cmd)
            err = wp_error_set(WP_EINVAL,
                               "%s/workphone.conf: master_key_file= and master_key_command=: "
                               "give one",
                               data);
        else if (f && *f) {
            conf_path(kr->source, sizeof kr->source, data, f);
            kr->have = 1;
        } else if (cmd && *cmd) {
            snprintf(kr->source, sizeof kr->source, "%s", cmd);
            kr->have = 1;
            kr->command = 1;
        }
        wp_conf_free(c);
        if (err < 0)
            return err;
    } else if (err != WP_ENOTFOUND) {
        return err;
    }
    if (!kr->have)
        return 0;
    err = kr->command ? wp_keys_master_from_command(&kr->mk, kr->source, WP_KEY_COMMAND_TIMEOUT_MS)
                      : wp_keys_master_from_file(&kr->mk, kr->source, data);
    if (err == WP_ENOTFOUND) { /* the file: the one failure that means the key is lost */
        char why[4400];
        snprintf(why, sizeof why, "%s", wp_error_last());
        return wp_error_set(WP_EIO,
                            "%s: without the master key the keys wrapped in the store, and the "
                            "data they protect, cannot be read; bring it back from where it is "
                            "kept apart from the data (docs/internals/keys.md)",
                            why);
    }
    /* the store seals message text with the tenants' data keys it unwraps with this key
     * (docs/internals/encryption.md); kept until the process ends */
    if (err == 0)
        wp_seal_keyring_set(&kr->mk);
    return err;
}

int cli_keyring_store(cli_keyring *kr, wp_store **out)
{
    int err;
    if (!kr->st && (err = wp_store_open(&kr->st, kr->data, kr->db)) < 0)
        return err;
    *out = kr->st;
    return 0;
}

int cli_keyring_ingest(cli_keyring *kr, const char *media, wp_store_connpool **pool,
                       wp_ingest **ing)
{
    wp_ingest_config ic = WP_INGEST_CONFIG_INIT;
    int err;
    *pool = NULL;
    *ing = NULL;
    ic.data_dir = kr->data;
    ic.media_dir = media;
    ic.db_url = kr->db;
    ic.master_key = kr->have ? &kr->mk : NULL;
    if ((err = wp_store_connpool_new(pool, kr->data, kr->db, 0)) < 0)
        return err;
    ic.pool = *pool;
    return wp_ingest_new(ing, &ic);
}

int cli_keyring_get(cli_keyring *kr, unsigned char key[WP_KEY_LEN], int checkpoint, int create)
{
    const char *purpose = checkpoint ? "checkpoint" : "audit";
    char fp[WP_KEY_FP_LEN + 1];
    wp_store *st;
    int err;
    _Static_assert(WP_AUDIT_KEY_LEN == WP_KEY_LEN && WP_AUDIT_SIGN_SEED_LEN == WP_KEY_LEN,
                   "key sizes");
    if (kr->have) {
        if ((err = cli_keyring_store(kr, &st)) < 0)
            return err;
        err = create
                  ? wp_store_keys_ensure(st, key, &kr->mk, WP_KEY_OWNER_DEPLOYMENT, purpose, NULL)
                  : wp_store_keys_get(st, key, NULL, &kr->mk, WP_KEY_OWNER_DEPLOYMENT, purpose, 1);
        if (err == WP_ENOTFOUND)
            return wp_error_set(WP_EIO,
                                "the store holds no wrapped %s key: move %s/keys into it with "
                                "'workphone keys migrate'",
                                purpose, kr->data);
        return err;
    }
    err = checkpoint ? wp_audit_sign_key_load(key, kr->data, create)
                     : wp_audit_key_load(key, kr->data, create);
    if (err != WP_ENOTFOUND)
        return err;
    char why[600];
    snprintf(why, sizeof why, "%s", wp_error_last());
    if (cli_keyring_store(kr, &st) < 0 || wp_store_keys_master_fp(st, fp) < 0 || !*fp)
        return wp_error_set(WP_ENOTFOUND, "%s", why);
    return wp_error_set(WP_EAUTH,
                        "no master key is configured, and the store's keys are wrapped by "
                        "master key %s: without it they, and the data they protect, cannot be "
                        "read; set master_key_file= or master_key_command= in %s/workphone.conf",
                        fp, kr->data);
}

void cli_keyring_close(cli_keyring *kr)
{
    wp_store_free(kr->st);
    kr->st = NULL;
    wp_keys_master_wipe(&kr->mk);
}

int cli_keyring_tenant(cli_keyring *kr, const char *tenant_id)
{
    unsigned char k[WP_KEY_LEN];
    wp_store *st;
    int err;
    if (!kr->have)
        return 0;
    if ((err = cli_keyring_store(kr, &st)) < 0)
        return err;
    err = wp_store_keys_ensure(st, k, &kr->mk, tenant_id, "data", NULL);
    sodium_memzero(k, sizeof k);
    return err;
}

/* --- workphone.conf ------------------------------------------------------------------- */

/* Set master_key_file=path in DIR/workphone.conf: the line replaced, or added at the end. */
int cli_conf_set_master(const char *data, const char *path)
{
    char fin[4096], tmp[4200], line[4200];
    int done = 0, err = 0;
    if ((size_t)snprintf(fin, sizeof fin, "%s/workphone.conf", data) >= sizeof fin ||
        (size_t)snprintf(tmp, sizeof tmp, "%s.keys.tmp", fin) >= sizeof tmp)
        return wp_error_set(WP_EINVAL, "data dir path is too long");
    FILE *in = fopen(fin, "r"), *out = NULL;
    if (!in)
        return wp_error_set(WP_EIO, "cannot read '%s': %s", fin, strerror(errno));
    if (!(out = fopen(tmp, "w"))) {
        err = wp_error_set(WP_EIO, "cannot write '%s': %s", tmp, strerror(errno));
        goto out;
    }
    while (fgets(line, sizeof line, in)) {
        const char *p = line + strspn(line, " \t");
        if (!strncmp(p, "master_key_file", 15) && strchr(" \t=", p[15])) {
            if (!done)
                fprintf(out, "master_key_file=%s\n", path);
            done = 1;
            continue;
        }
        fputs(line, out);
    }
    if (!done)
        fprintf(out, "master_key_file=%s\n", path);
    if (fflush(out) != 0 || fsync(fileno(out)) != 0)
        err = wp_error_set(WP_EIO, "cannot write '%s': %s", tmp, strerror(errno));
out:
    fclose(in);
    if (out && fclose(out) != 0 && !err)
        err = wp_error_set(WP_EIO, "cannot write '%s': %s", tmp, strerror(errno));
    if (!err && rename(tmp, fin) != 0)
        err = wp_error_set(WP_EIO, "cannot write '%s': %s", fin, strerror(errno));
    if (err)
        unlink(tmp);
    return err;
}

/* --- the subcommands ------------------------------------------------------------------ */

struct opts {
    const char *data, *db, *master, *new_key, *tenant, *media_dir;
};

static int fail(int err)
{
    return err == WP_EINVAL ? cli_usage_error("keys", "%s", wp_error_last())
                            : cli_fail("keys", "%s", wp_error_last());
}

static void print_key(const wp_key_info *k, const char *fp)
{
    char at[40];
    wp_time_format(at, k->created_us, 0);
    printf("key: owner=%s purpose=%s version=%lld master=%s fingerprint=%s created=%s%s\n",
           k->owner, k->purpose, (long long)k->version, k->master_fp, fp, at,
           k->retired_us ? " retired" : "");
}

/* The tenant's newest data key version (made as version 1 when it has none and ensure is set;
 * else WP_ENOTFOUND then). */
static int newest_version(cli_keyring *kr, wp_store *st, const char *tenant_id, int64_t *v,
                          int ensure)
{
    unsigned char k[WP_KEY_LEN];
    int err = ensure ? cli_keyring_tenant(kr, tenant_id) : 0;
    if (err == 0)
        err = wp_store_keys_get(st, k, v, &kr->mk, tenant_id, "data", 0);
    sodium_memzero(k, sizeof k);
    return err;
}

/* The tables seal-data seals by row id besides customers, and their names in its output. */
static const struct {
    const struct wp_seal_table *t;
    const char *said;
} row_tables[] = {
    {&wp_seal__calls, "calls"},
    {&wp_seal__contact_events, "contact events"},
    {&wp_seal__checkins, "check-ins"},
    {&wp_seal__alerts, "alerts"},
};
#define NROW_TABLES (sizeof row_tables / sizeof *row_tables)

/* keys status: per tenant, the messages, customers, calls, contact events and check-ins
 * seal-data has still to do. */
static int seal_status(cli_keyring *kr, wp_store *st)
{
    wp_tenant *ts = NULL;
    size_t n = 0;
    int err = wp_store_tenants_list(st, &ts, &n);
    for (size_t i = 0; i < n && err == 0; i++) {
        int64_t v = 0, plain = 0, older = 0;
        if ((err = newest_version(kr, st, ts[i].id, &v, 0)) == WP_ENOTFOUND) {
            err = 0; /* no data key yet: nothing of it is sealed, seal-data makes one */
            continue;
        }
        int64_t cplain = 0, colder = 0, unindexed = 0;
        if (err < 0 || (err = wp_store_messages_seal_count(st, ts[i].id, v, &plain, &older)) < 0 ||
            (err = wp_store_customers_seal_count(st, ts[i].id, v, &cplain, &colder, &unindexed)) <
                0)
            break;
        printf("messages: tenant=%s version=%lld plain=%lld older=%lld\n", ts[i].name, (long long)v,
               (long long)plain, (long long)older);
        printf("customers: tenant=%s version=%lld plain=%lld older=%lld phones_unindexed=%lld\n",
               ts[i].name, (long long)v, (long long)cplain, (long long)colder,
               (long long)unindexed);
        for (size_t k = 0; k < NROW_TABLES && err == 0; k++) {
            if ((err = wp_store_rows_seal_count(st, row_tables[k].t, ts[i].id, v, &plain,
                                                &older)) < 0)
                break;
            printf("%s: tenant=%s version=%lld plain=%lld older=%lld\n", row_tables[k].t->table,
                   ts[i].name, (long long)v, (long long)plain, (long long)older);
        }
    }
    free(ts);
    return err;
}

static int status(cli_keyring *kr)
{
    unsigned char key[WP_KEY_LEN];
    char fp[WP_KEY_FP_LEN + 1], mfp[WP_KEY_FP_LEN + 1];
    wp_key_info *all = NULL;
    size_t n = 0;
    wp_store *st;
    int err;
    if ((err = cli_keyring_store(kr, &st)) < 0 || (err = wp_store_keys_list(st, &all, &n)) < 0 ||
        (err = wp_store_keys_master_fp(st, mfp)) < 0)
        return fail(err);
    if (kr->have)
        printf("master: fingerprint=%s source=%s%s\n", kr->mk.fp, kr->command ? "command" : "file",
               *mfp && strcmp(mfp, kr->mk.fp) ? " mismatch: the store's keys are wrapped "
                                                "by another master key"
                                              : "");
    else
        printf("master: none (the keys are the files in %s/keys)\n", kr->data);
    if (!kr->have) {
        for (int cp = 0; cp < 2; cp++) {
            err =
                cp ? wp_audit_sign_key_load(key, kr->data, 0) : wp_audit_key_load(key, kr->data, 0);
            if (err == 0) {
                wp_keys_fingerprint(fp, key);
                printf("file: keys/%s fingerprint=%s\n", cp ? "checkpoint.key" : "audit.key", fp);
            } else {
                printf("file: keys/%s missing\n", cp ? "checkpoint.key" : "audit.key");
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        snprintf(fp, sizeof fp, "?");
        if (kr->have && !strcmp(all[i].master_fp, kr->mk.fp) &&
            wp_store_keys_get(st, key, NULL, &kr->mk, all[i].owner, all[i].purpose,
                              all[i].version) == 0)
            wp_keys_fingerprint(fp, key);
        print_key(&all[i], fp);
    }
    if (kr->have && (!*mfp || !strcmp(mfp, kr->mk.fp)) && (err = seal_status(kr, st)) < 0) {
        sodium_memzero(key, sizeof key);
        free(all);
        return fail(err);
    }
    sodium_memzero(key, sizeof key);
    free(all);
    return kr->have && *mfp && strcmp(mfp, kr->mk.fp) ? WP_EXIT_FAIL : WP_EXIT_OK;
}

static int migrate(cli_keyring *kr, const char *flag_file)
{
    unsigned char key[WP_KEY_LEN], got[WP_KEY_LEN];
    wp_tenant *ts = NULL;
    size_t n = 0;
    wp_store *st;
    int err, code = WP_EXIT_FAIL;
    size_t plain = 0;
    if (!kr->have)
        return cli_usage_error("keys", "migrate needs a master key: --master-key-file FILE");
    if ((err = cli_keyring_store(kr, &st)) < 0)
        return fail(err);
    for (int cp = 0; cp < 2; cp++) {
        err = cp ? wp_audit_sign_key_load(key, kr->data, 0) : wp_audit_key_load(key, kr->data, 0);
        if (err == WP_ENOTFOUND) {
            /* moved already: the store's must open with this master key */
            err = wp_store_keys_get(st, got, NULL, &kr->mk, WP_KEY_OWNER_DEPLOYMENT,
                                    cp ? "checkpoint" : "audit", 1);
            if (err == WP_ENOTFOUND)
                err = wp_error_set(WP_ENOTFOUND,
                                   "%s/keys/%s is missing and the store holds "
                                   "no wrapped one: nothing to migrate",
                                   kr->data, cp ? "checkpoint.key" : "audit.key");
        } else if (err == 0) {
            err = wp_store_keys_ensure(st, got, &kr->mk, WP_KEY_OWNER_DEPLOYMENT,
                                       cp ? "checkpoint" : "audit", key);
        }
        if (err < 0) {
            fail(err);
            goto out;
        }
    }
    if ((err = wp_store_tenants_list(st, &ts, &n)) < 0) {
        fail(err);
        goto out;
    }
    /* a tenant with messages in plain text is flagged: its searches ask their plain grams
     * too until keys seal-data has sealed them (docs/internals/encryption.md); one with
     * customers, calls, contact events or check-ins in plain text is counted too */
    for (size_t i = 0; i < n; i++) {
        int set = 0;
        int64_t cplain = 0, colder = 0, unindexed = 0, rplain = 0;
        if ((err = cli_keyring_tenant(kr, ts[i].id)) < 0 ||
            (err = wp_store_messages_plain_mark(st, ts[i].id, &set)) < 0 ||
            (err = wp_store_customers_seal_count(st, ts[i].id, 1, &cplain, &colder, &unindexed)) <
                0) {
            fail(err);
            goto out;
        }
        for (size_t k = 0; k < NROW_TABLES && rplain == 0; k++)
            if ((err = wp_store_rows_seal_count(st, row_tables[k].t, ts[i].id, 1, &rplain,
                                                &colder)) < 0) {
                fail(err);
                goto out;
            }
        plain += set || cplain || unindexed || rplain;
    }
    if (flag_file) {
        char abs[PATH_MAX];
        if (!realpath(flag_file, abs) || (err = cli_conf_set_master(kr->data, abs)) < 0) {
            cli_fail("keys", "cannot set master_key_file= in %s/workphone.conf: %s", kr->data,
                     errno ? strerror(errno) : wp_error_last());
            goto out;
        }
    }
    printf("migrated: the audit and checkpoint keys are wrapped in the store by master key %s; "
           "%zu tenant data keys\n",
           kr->mk.fp, n);
    printf("note: remove %s/keys once every node has the master key configured\n", kr->data);
    if (plain)
        printf("note: run 'workphone keys seal-data' now: until it has run, the messages, "
               "customers, calls, contact events and check-ins stored before the master key stay "
               "in plain text (%zu tenant%s)\n",
               plain, plain == 1 ? "" : "s");
    code = WP_EXIT_OK;
out:
    free(ts);
    sodium_memzero(key, sizeof key);
    sodium_memzero(got, sizeof got);
    return code;
}

static int rotate_master(cli_keyring *kr, const struct opts *o)
{
    wp_master_key next;
    int64_t n = 0;
    wp_store *st;
    int err, code = WP_EXIT_FAIL;
    char abs[PATH_MAX];
    if (!kr->have)
        return cli_usage_error("keys", "rotate-master needs the current master key: "
                                       "--master-key-file FILE or DIR/workphone.conf");
    if ((err = wp_keys_master_from_file(&next, o->new_key, kr->data)) < 0)
        return fail(err == WP_ENOTFOUND ? WP_EINVAL : err);
    if (!strcmp(next.fp, kr->mk.fp)) {
        wp_keys_master_wipe(&next);
        return cli_usage_error("keys", "--new-key-file: it is the current master key");
    }
    if ((err = cli_keyring_store(kr, &st)) < 0 ||
        (err = wp_store_keys_rewrap(st, &n, &kr->mk, &next)) < 0) {
        fail(err);
        goto out;
    }
    printf("rotated: %lld keys rewrapped, master key %s -> %s\n", (long long)n, kr->mk.fp, next.fp);
    if (!kr->command && !o->master) {
        if (!realpath(o->new_key, abs) || (err = cli_conf_set_master(kr->data, abs)) < 0) {
            cli_fail("keys",
                     "the keys are rewrapped, but %s/workphone.conf still names the old "
                     "key: set master_key_file=%s there",
                     kr->data, o->new_key);
            goto out;
        }
        printf("%s/workphone.conf: master_key_file=%s\n", kr->data, abs);
    }
    printf("note: point every other node's master key at the new one before it restarts\n");
    code = WP_EXIT_OK;
out:
    wp_keys_master_wipe(&next);
    return code;
}

static int rotate_tenant(cli_keyring *kr, const char *name)
{
    char id[WP_ID_LEN + 1];
    int64_t v = 0;
    wp_store *st;
    int err;
    if (!kr->have)
        return cli_usage_error("keys", "rotate-tenant needs a master key: tenants have data "
                                       "keys only once 'workphone keys migrate' ran");
    if ((err = cli_keyring_store(kr, &st)) < 0)
        return fail(err);
    if ((err = wp_store_tenant_find(st, id, name)) == WP_ENOTFOUND)
        return cli_usage_error("keys", "--tenant: no tenant '%.100s' in this store", name);
    if (err < 0 || (err = cli_keyring_tenant(kr, id)) < 0 ||
        (err = wp_store_keys_rotate(st, &v, &kr->mk, id, "data")) < 0)
        return fail(err);
    printf("rotated: tenant '%s' (%s) data key version %lld\n", name, id, (long long)v);
    return WP_EXIT_OK;
}

static void media_bad(void *ctx, const char *path, const char *why)
{
    int *problems = ctx;
    (*problems)++;
    printf("bad: %s: %s\n", path, why);
}

/* Every plain media file encrypted (wp_ingest_media_encrypt_all), through an ingest with the
 * master key as serve's. */
static int encrypt_media(cli_keyring *kr, const struct opts *o, const wp_conf *conf)
{
    char media[4096];
    wp_store_connpool *pool = NULL;
    wp_ingest *ing = NULL;
    size_t converted = 0, removed = 0, reencrypted = 0;
    int problems = 0, code, err;
    if (!kr->have)
        return cli_usage_error("keys", "encrypt-media needs a master key: set one up with "
                                       "'workphone keys migrate'");
    if ((code = cli_media_dir(media, sizeof media, NULL, "keys", o->data, o->media_dir, conf)))
        return code;
    if ((err = cli_keyring_ingest(kr, media, &pool, &ing)) < 0 ||
        (err = wp_ingest_media_encrypt_all(ing, &converted, &removed, &reencrypted, media_bad,
                                           &problems)) < 0)
        goto out;
    printf("encrypted: %zu file%s, %zu plain file%s removed, %zu re-encrypted under the newest "
           "key, %d problem%s\n",
           converted, converted == 1 ? "" : "s", removed, removed == 1 ? "" : "s", reencrypted,
           problems, problems == 1 ? "" : "s");
out:
    code = err < 0 ? fail(err) : problems ? WP_EXIT_FAIL : WP_EXIT_OK;
    wp_ingest_free(ing);
    wp_store_connpool_free(pool);
    return code;
}

static void row_bad(void *ctx, const char *what, const char *id, const char *why)
{
    (void)ctx;
    printf("bad: %s %s: %s\n", what, id, why);
}

#define SEAL_BATCH 500

/* What seal-data did, in all and for the tenant at hand. */
struct seal_counts {
    int64_t messages, customers, identities, resealed, problems;
    int64_t rows[NROW_TABLES]; /* of row_tables */
};

/* One tenant's messages, customers, phone identities, calls, contact events and check-ins
 * sealed under its newest data key (the store's *_seal_batch, each in batches of SEAL_BATCH
 * rows). */
static int seal_tenant(wp_store *st, const wp_tenant *t, int64_t v, struct seal_counts *c)
{
    int64_t after = 0, m0 = c->messages, c0 = c->customers, i0 = c->identities, r0 = c->resealed;
    int64_t rows0[NROW_TABLES];
    char after_id[WP_ID_LEN + 1] = "", after_value[64] = "";
    int done = 0, err = 0, cleared = 0, rows_changed = 0;
    while (!done && err == 0)
        err = wp_store_messages_seal_batch(st, t->id, v, &after, SEAL_BATCH, &done, &c->messages,
                                           &c->resealed, &c->problems, row_bad, NULL);
    for (done = 0; !done && err == 0;)
        err =
            wp_store_customers_seal_batch(st, t->id, v, after_id, SEAL_BATCH, &done, &c->customers,
                                          &c->resealed, &c->problems, row_bad, NULL);
    for (done = 0; !done && err == 0;)
        err = wp_store_identities_seal_batch(st, t->id, v, after_value, sizeof after_value,
                                             SEAL_BATCH, &done, &c->identities, &c->resealed,
                                             &c->problems, row_bad, NULL);
    for (size_t k = 0; k < NROW_TABLES; k++) {
        rows0[k] = c->rows[k];
        after_id[0] = '\0';
        for (done = 0; !done && err == 0;)
            err = wp_store_rows_seal_batch(st, row_tables[k].t, t->id, v, after_id, SEAL_BATCH,
                                           &done, &c->rows[k], &c->resealed, &c->problems,
                                           row_bad, NULL);
    }
    if (err < 0 || (err = wp_store_messages_plain_clear(st, t->id, &cleared)) < 0)
        return err;
    for (size_t k = 0; k < NROW_TABLES; k++)
        rows_changed |= c->rows[k] > rows0[k];
    if (c->messages > m0 || c->customers > c0 || c->identities > i0 || c->resealed > r0 ||
        rows_changed) {
        printf("tenant '%s': %lld messages, %lld customers", t->name,
               (long long)(c->messages - m0), (long long)(c->customers - c0));
        for (size_t k = 0; k < NROW_TABLES; k++)
            printf("%s%lld %s", k + 1 < NROW_TABLES ? ", " : " and ",
                   (long long)(c->rows[k] - rows0[k]), row_tables[k].said);
        printf(" sealed, %lld phone identities indexed, %lld re-sealed under key version %lld\n",
               (long long)(c->identities - i0), (long long)(c->resealed - r0), (long long)v);
    }
    return 0;
}

/* Every tenant's rows sealed under its newest data key (seal_tenant), then the store
 * compacted when anything changed. */
static int seal_data(cli_keyring *kr)
{
    wp_tenant *ts = NULL;
    size_t n = 0;
    wp_store *st;
    struct seal_counts c = {0};
    int err, code = WP_EXIT_FAIL;
    if (!kr->have)
        return cli_usage_error("keys", "seal-data needs a master key: set one up with "
                                       "'workphone keys migrate'");
    if ((err = cli_keyring_store(kr, &st)) < 0 || (err = wp_store_tenants_list(st, &ts, &n)) < 0)
        return fail(err);
    for (size_t i = 0; i < n; i++) {
        int64_t v = 0;
        if ((err = newest_version(kr, st, ts[i].id, &v, 1)) < 0 ||
            (err = seal_tenant(st, &ts[i], v, &c)) < 0) {
            fail(err);
            goto out;
        }
    }
    int64_t rows = 0;
    printf("sealed: %lld messages, %lld customers, ", (long long)c.messages,
           (long long)c.customers);
    for (size_t k = 0; k < NROW_TABLES; k++) {
        printf("%lld %s, ", (long long)c.rows[k], row_tables[k].said);
        rows += c.rows[k];
    }
    printf("%lld phone identities indexed, %lld re-sealed under the newest key, %lld problem%s\n",
           (long long)c.identities, (long long)c.resealed, (long long)c.problems,
           c.problems == 1 ? "" : "s");
    if (c.messages || c.customers || c.identities || c.resealed || rows) {
        int incomplete = 0;
        int pg = wp_store_backend(st) == WP_STORE_PG;
        if ((err = wp_store_seal_compact(st, &incomplete)) < 0) {
            fail(err);
            goto out;
        }
        printf("compacted: %s\n", pg ? "VACUUM FULL messages, customers, customer_identities, "
                                       "calls, contact_events, checkins, alerts, CHECKPOINT"
                                     : "secure_delete, VACUUM, WAL checkpoint");
        if (incomplete && pg)
            printf("note: CHECKPOINT was refused (%s): the old values stay in PostgreSQL's WAL "
                   "until its next checkpoint\n",
                   wp_error_last());
        else if (incomplete)
            printf("note: readers kept the WAL from being emptied: run seal-data again when "
                   "serve is idle, or stop it for a moment\n");
    }
    code = c.problems ? WP_EXIT_FAIL : WP_EXIT_OK;
out:
    free(ts);
    return code;
}

int cmd_keys(int argc, char **argv)
{
    struct opts o = {0};
    if (cli_wants_help(argc, argv) || argc < 2) {
        fputs(help, argc < 2 ? stderr : stdout);
        return argc < 2 ? WP_EXIT_USAGE : WP_EXIT_OK;
    }
    const char *sub = argv[1];
    int is_status = !strcmp(sub, "status"), is_migrate = !strcmp(sub, "migrate"),
        is_master = !strcmp(sub, "rotate-master"), is_tenant = !strcmp(sub, "rotate-tenant"),
        is_media = !strcmp(sub, "encrypt-media"), is_seal = !strcmp(sub, "seal-data");
    if (!is_status && !is_migrate && !is_master && !is_tenant && !is_media && !is_seal)
        return cli_usage_error("keys", "unknown subcommand '%s'; see 'workphone keys --help'", sub);
    for (int i = 2; i < argc; i++) {
        int r;
        if ((r = cli_opt(argc, argv, &i, "keys", "data", &o.data)) ||
            (r = cli_opt(argc, argv, &i, "keys", "db", &o.db)) ||
            (r = cli_opt(argc, argv, &i, "keys", "master-key-file", &o.master)) ||
            (is_master && (r = cli_opt(argc, argv, &i, "keys", "new-key-file", &o.new_key))) ||
            (is_tenant && (r = cli_opt(argc, argv, &i, "keys", "tenant", &o.tenant))) ||
            (is_media && (r = cli_opt(argc, argv, &i, "keys", "media-dir", &o.media_dir)))) {
            if (r < 0)
                return WP_EXIT_USAGE;
            continue;
        }
        return cli_usage_error("keys", "unknown argument '%s'; see 'workphone keys --help'",
                               argv[i]);
    }
    if (is_master && !o.new_key)
        return cli_usage_error("keys", "missing --new-key-file FILE");
    if (is_tenant && !o.tenant)
        return cli_usage_error("keys", "missing --tenant NAME");
    if (o.master && !*o.master)
        return cli_usage_error("keys", "--master-key-file needs a file");
    wp_conf *conf = NULL;
    int code = cli_data_dir_check("keys", o.data, o.db, &conf), err;
    if (code)
        return code;
    cli_keyring kr;
    if ((err = cli_keyring_open(&kr, o.data, o.db, o.master, NULL)) < 0) {
        code = fail(err);
        goto out;
    }
    code = is_status    ? status(&kr)
           : is_migrate ? migrate(&kr, o.master)
           : is_master  ? rotate_master(&kr, &o)
           : is_media   ? encrypt_media(&kr, &o, conf)
           : is_seal    ? seal_data(&kr)
                        : rotate_tenant(&kr, o.tenant);
out:
    cli_keyring_close(&kr);
    wp_conf_free(conf);
    return code;
}
