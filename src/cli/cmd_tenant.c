/* SPDX-License-Identifier: MIT */
/* `workphone tenant`: the tenants of a SaaS deployment: add, list, disable, enable, set. */
#include "cli/cli.h"
#include "store/audit.h"
#include "store/backup.h"
#include "store/org.h"
#include "store/store.h"
#include "store/usage.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/json.h"
#include "util/password.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char help[] =
    "usage: workphone tenant add --data DIR [--db URL] --name NAME --admin USER\n"
    "                            [--max-devices N] [--max-storage-mb N]\n"
    "       workphone tenant list --data DIR [--db URL] [--json]\n"
    "       workphone tenant disable NAME --data DIR [--db URL]\n"
    "       workphone tenant enable NAME --data DIR [--db URL]\n"
    "       workphone tenant set NAME --data DIR [--db URL] [--max-devices N|none]\n"
    "                            [--max-storage-mb N|none]\n"
    "       workphone tenant delete NAME --data DIR [--db URL] --confirm NAME\n"
    "       workphone tenant export NAME --data DIR [--db URL] --out FILE [--key-file KEY]\n"
    "       workphone tenant import --in FILE --data DIR [--db URL] [--key-file KEY]\n"
    "\n"
    "The tenants of one deployment (SaaS: many companies in one store). add makes the tenant\n"
    "NAME with its top org unit and its admin account USER, as init does; the password is read\n"
    "from WORKPHONE_ADMIN_PASSWORD, or asked for on a terminal. Its audit log is keyed with\n"
    "DIR/keys/audit.key, the key every node serving the store holds, so 'workphone audit\n"
    "verify' passes for every tenant. list shows each tenant's name, id, when it was made,\n"
    "whether it is active, its employees, its devices (and their limit) and the bytes it\n"
    "stores. disable refuses the tenant's logins, sessions, API keys, devices and enrollments\n"
    "(403 tenant_disabled) and keeps its data; enable undoes it. set changes its limits.\n"
    "Each change is a row of that tenant's audit log (actor system). delete removes a\n"
    "disabled tenant for good: every row of it in every table, its audit log with it, and\n"
    "the media files no other tenant has; it is refused for an active tenant and for the\n"
    "store's only one. export writes one tenant's every row (JSON lines a table), its media\n"
    "files and the audit key its chain needs into FILE, in the backup file's format (see\n"
    "'workphone backup --list FILE'); it runs beside the server. Media encrypted at rest are\n"
    "opened with the master key (each checked whole; one that fails is named and left out,\n"
    "exit 1; without the master key: exit 1, nothing written) and carried plain under their\n"
    "sha256, as message texts are carried opened. import loads such a file into this store\n"
    "(either backend) as a new tenant, in one transaction: its chain is verified with the\n"
    "key it came with and, when this store's differs, sealed again with this store's key,\n"
    "and a tenant.import row says so; with a master key here its media are sealed under the\n"
    "new tenant's data key as they are read, else written plain.\n"
    "\n"
    "  --data DIR         the data directory made by 'workphone init' (it holds the keys)\n"
    "  --db URL           postgresql://... when the store is in PostgreSQL\n"
    "  --name NAME        the tenant's name, 1-100 characters (add; or the NAME argument)\n"
    "  --admin USER       the new tenant's admin username: 1-64 of a-z A-Z 0-9 . _ - @\n"
    "  --max-devices N    devices enrolled at once, 0-1000000, or 'none' (the default: no\n"
    "                     limit); enrollment past it is refused with 422 limit_exceeded\n"
    "  --max-storage-mb N the MiB the tenant may store in all (its archive, media and\n"
    "                     quarantine, as USED_BYTES counts them), 0-8589934591, or 'none'\n"
    "                     (the default); an upload past it stores nothing and is refused\n"
    "                     with 507 quota_exceeded (limit storage_limit)\n"
    "  --json             list as one JSON array\n"
    "  --confirm NAME     delete: the tenant's name again, exactly\n"
    "  --out FILE         export: the file to write (never over an existing one)\n"
    "  --key-file KEY     export: encrypt as 'workphone backup --key-file' does; import:\n"
    "                     the key the export was encrypted with\n"
    "  --in FILE          import: the export to load\n";

struct opts {
    const char *verb, *data, *db, *name, *admin, *max_devices, *max_storage, *confirm, *out, *key_file, *in;
    int json;
    int64_t limit;   /* parsed --max-devices: -1 none, -2 not given */
    int64_t storage; /* parsed --max-storage-mb, in bytes: -1 none, -2 not given */
};

/* --max-devices: "none" or 0..WP_TENANT_DEVICES_MAX. */
static int parse_limit(struct opts *o)
{
    o->limit = -2;
    if (!o->max_devices)
        return 0;
    if (!strcmp(o->max_devices, "none")) {
        o->limit = -1;
        return 0;
    }
    const char *p = o->max_devices;
    int64_t v = 0;
    if (!*p)
        goto bad;
    for (; *p; p++) {
        if (*p < '0' || *p > '9' || v > WP_TENANT_DEVICES_MAX)
            goto bad;
        v = v * 10 + (*p - '0');
    }
    if (v > WP_TENANT_DEVICES_MAX)
        goto bad;
    o->limit = v;
    return 0;
bad:
    return cli_usage_error("tenant", "--max-devices '%.40s' must be 0-%d or 'none'",
                           o->max_devices, WP_TENANT_DEVICES_MAX);
}

/* --max-storage-mb: "none" or 0..WP_USAGE_LIMIT_MAX / 2^20 MiB, kept in bytes. */
static int parse_storage(struct opts *o)
{
    const int64_t max_mb = WP_USAGE_LIMIT_MAX >> 20;
    const char *p = o->max_storage;
    int64_t v = 0;
    o->storage = -2;
    if (!p)
        return 0;
    if (!strcmp(p, "none")) {
        o->storage = -1;
        return 0;
    }
    if (!*p)
        goto bad;
    for (; *p; p++) {
        if (*p < '0' || *p > '9' || v > max_mb)
            goto bad;
        v = v * 10 + (*p - '0');
    }
    if (v > max_mb)
        goto bad;
    o->storage = v << 20;
    return 0;
bad:
    return cli_usage_error("tenant", "--max-storage-mb '%.40s' must be 0-%lld or 'none'",
                           o->max_storage, (long long)max_mb);
}

static int parse(struct opts *o, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    if (argc < 2)
        return cli_usage_error("tenant", "missing a verb: add, list, disable, enable, set, "
                                         "delete, export or import; see 'workphone tenant --help'");
    o->verb = argv[1];
    if (strcmp(o->verb, "add") && strcmp(o->verb, "list") && strcmp(o->verb, "disable") &&
        strcmp(o->verb, "enable") && strcmp(o->verb, "set") && strcmp(o->verb, "delete") &&
        strcmp(o->verb, "export") && strcmp(o->verb, "import"))
        return cli_usage_error("tenant",
                               "unknown verb '%.40s': add, list, disable, enable, set, delete, "
                               "export or import",
                               o->verb);
    for (int i = 2; i < argc; i++) {
        int r;
        if ((r = cli_opt(argc, argv, &i, "tenant", "data", &o->data)) ||
            (r = cli_opt(argc, argv, &i, "tenant", "db", &o->db)) ||
            (r = cli_opt(argc, argv, &i, "tenant", "name", &o->name)) ||
            (r = cli_opt(argc, argv, &i, "tenant", "admin", &o->admin)) ||
            (r = cli_opt(argc, argv, &i, "tenant", "max-devices", &o->max_devices)) ||
            (r = cli_opt(argc, argv, &i, "tenant", "max-storage-mb", &o->max_storage)) ||
            (r = cli_opt(argc, argv, &i, "tenant", "confirm", &o->confirm)) ||
            (r = cli_opt(argc, argv, &i, "tenant", "out", &o->out)) ||
            (r = cli_opt(argc, argv, &i, "tenant", "key-file", &o->key_file)) ||
            (r = cli_opt(argc, argv, &i, "tenant", "in", &o->in))) {
            if (r < 0)
                return WP_EXIT_USAGE;
            continue;
        }
        if (!strcmp(argv[i], "--json")) {
            o->json = 1;
            continue;
        }
        if (argv[i][0] != '-' && !o->name && strcmp(o->verb, "add") && strcmp(o->verb, "list") &&
            strcmp(o->verb, "import")) {
            o->name = argv[i];
            continue;
        }
        return cli_usage_error("tenant", "unknown argument '%.80s'; see 'workphone tenant --help'",
                               argv[i]);
    }
    int is_add = !strcmp(o->verb, "add"), is_list = !strcmp(o->verb, "list"),
        is_import = !strcmp(o->verb, "import");
    if (o->json && !is_list)
        return cli_usage_error("tenant", "--json is for 'tenant list'");
    if (o->admin && !is_add)
        return cli_usage_error("tenant", "--admin is for 'tenant add'");
    if (o->max_devices && strcmp(o->verb, "add") && strcmp(o->verb, "set"))
        return cli_usage_error("tenant", "--max-devices is for 'tenant add' and 'tenant set'");
    if (o->max_storage && strcmp(o->verb, "add") && strcmp(o->verb, "set"))
        return cli_usage_error("tenant", "--max-storage-mb is for 'tenant add' and 'tenant set'");
    if (is_list && o->name)
        return cli_usage_error("tenant", "'tenant list' takes no name");
    int rc;
    if ((rc = cli_data_dir_check("tenant", o->data, o->db, NULL)) != 0)
        return rc;
    if (is_import) {
        if (o->name || o->admin || o->max_devices || o->confirm || o->out || o->json)
            return cli_usage_error("tenant", "'tenant import' takes --in FILE and --key-file "
                                             "KEY only");
        if (!o->in || !*o->in)
            return cli_usage_error("tenant", "missing --in FILE");
        if (access(o->in, R_OK) != 0)
            return cli_usage_error("tenant", "--in '%.200s': %s", o->in, strerror(errno));
        return 0;
    }
    if (o->in)
        return cli_usage_error("tenant", "--in is for 'tenant import'");
    if (!is_list && !o->name)
        return cli_usage_error("tenant", is_add ? "missing --name NAME" : "missing the tenant's NAME");
    if (o->name && cli_check_tenant_name(o->name) < 0)
        return cli_usage_error("tenant", "--name: %s", wp_error_last());
    if (is_add && !o->admin)
        return cli_usage_error("tenant", "missing --admin USER");
    if (o->admin && !cli_valid_username(o->admin))
        return cli_usage_error("tenant", "--admin '%.80s' must be 1-64 of a-z A-Z 0-9 . _ - @",
                               o->admin);
    if (!strcmp(o->verb, "set") && !o->max_devices && !o->max_storage)
        return cli_usage_error("tenant", "missing --max-devices N|none or --max-storage-mb "
                                         "N|none: nothing to set");
    int is_export = !strcmp(o->verb, "export");
    if ((o->out || o->key_file) && !is_export)
        return cli_usage_error("tenant", "--out is for 'tenant export'; --key-file for export "
                                         "and import");
    if (is_export && (!o->out || !*o->out))
        return cli_usage_error("tenant", "missing --out FILE");
    if (o->confirm && strcmp(o->verb, "delete"))
        return cli_usage_error("tenant", "--confirm is for 'tenant delete'");
    if (!strcmp(o->verb, "delete") && !o->confirm)
        return cli_usage_error("tenant", "missing --confirm NAME: the tenant's name again");
    if (o->confirm && strcmp(o->confirm, o->name))
        return cli_usage_error("tenant", "--confirm '%.100s' is not the tenant's name '%.100s'",
                               o->confirm, o->name);
    return parse_limit(o) ? WP_EXIT_USAGE : parse_storage(o);
}

/* One audit row of the tenant, by "system", with details {"<field>": value} (or none). */
static int audit(wp_store *st, const unsigned char key[WP_AUDIT_KEY_LEN], const char *tenant_id,
                 const char *action, const char *field, int64_t value)
{
    char target[64], details[96];
    wp_audit_entry e = {.tenant_id = tenant_id, .actor = "system", .action = action};
    snprintf(target, sizeof target, "tenant:%s", tenant_id);
    e.target = target;
    if (field) {
        if (value < 0)
            snprintf(details, sizeof details, "{\"%s\":null}", field);
        else
            snprintf(details, sizeof details, "{\"%s\":%lld}", field, (long long)value);
        e.details = details;
    }
    return wp_store_audit_append(st, key, &e, NULL);
}

/* The store, the audit key (never made here: it is the data dir's) and, for a name, the
 * tenant's id. Returns 0 or the exit code after saying why. */
static int open_all(wp_store **st, unsigned char key[WP_AUDIT_KEY_LEN], const struct opts *o,
                    char tenant_id[WP_ID_LEN + 1])
{
    int err;
    cli_keyring kr;
    if ((err = cli_keyring_open(&kr, o->data, o->db, NULL, NULL)) == 0)
        err = cli_keyring_get(&kr, key, 0, 0);
    cli_keyring_close(&kr);
    if (err < 0)
        return cli_fail("tenant", "cannot load the audit key: %s", wp_error_last());
    if (wp_store_open(st, o->data, o->db) < 0)
        return cli_fail("tenant", "cannot open the store: %s", wp_error_last());
    if (tenant_id && (err = wp_store_tenant_find(*st, tenant_id, o->name)) < 0)
        return err == WP_ENOTFOUND
                   ? cli_usage_error("tenant", "--name: no tenant '%.100s' in this store", o->name)
                   : cli_fail("tenant", "%s", wp_error_last());
    return 0;
}

/* The transaction's end: commit, or roll back and say why (2 for the caller's mistakes). */
static int finish(wp_store *st, int err)
{
    if (err == 0 && (err = wp_store_commit(st)) == 0)
        return 0;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", wp_error_last());
    wp_store_rollback(st);
    return err == WP_EEXISTS || err == WP_EINVAL ? cli_usage_error("tenant", "%s", msg)
                                                 : cli_fail("tenant", "%s", msg);
}

static int do_add(wp_store *st, const unsigned char *key, const struct opts *o)
{
    char pw[WP_PASSWORD_MAX + 2], pwhash[WP_PASSWORD_HASH_MAX], id[WP_ID_LEN + 1];
    cli_init_ids ids;
    int err, rc;

    if (wp_store_tenant_find(st, id, o->name) == 0)
        return cli_usage_error("tenant", "--name: tenant '%.100s' already exists", o->name);
    if (cli_admin_password(pw, sizeof pw) < 0 || wp_password_check(pw) < 0) {
        explicit_bzero(pw, sizeof pw);
        return cli_usage_error("tenant", "%s", wp_error_last());
    }
    err = wp_password_hash(pwhash, pw);
    explicit_bzero(pw, sizeof pw);
    if (err < 0)
        return cli_fail("tenant", "%s", wp_error_last());
    memset(&ids, 0, sizeof ids);
    if ((err = wp_store_begin(st)) < 0) {
        explicit_bzero(pwhash, sizeof pwhash);
        return cli_fail("tenant", "%s", wp_error_last());
    }
    err = cli_tenant_create(st, &ids, key, o->name, o->admin, pwhash);
    explicit_bzero(pwhash, sizeof pwhash);
    if (err == 0 && o->limit != -2 &&
        (err = wp_store_tenant_set_devices_limit(st, ids.tenant_id, o->limit)) == 0)
        err = audit(st, key, ids.tenant_id, "tenant.set", "devices_limit", o->limit);
    if (err == 0 && o->storage != -2 &&
        (err = wp_store_tenant_set_storage_limit(st, ids.tenant_id, o->storage)) == 0)
        err = audit(st, key, ids.tenant_id, "tenant.set", "storage_limit_bytes", o->storage);
    if ((rc = finish(st, err)) != 0)
        return rc;
    /* with a master key, the tenant's data key (docs/internals/keys.md) */
    cli_keyring kr;
    if ((err = cli_keyring_open(&kr, o->data, o->db, NULL, NULL)) == 0)
        err = cli_keyring_tenant(&kr, ids.tenant_id);
    cli_keyring_close(&kr);
    if (err < 0)
        return cli_fail("tenant",
                        "tenant '%s' (%s) was added, but not its data key ('workphone "
                        "keys migrate' makes it): %s",
                        o->name, ids.tenant_id, wp_error_last());
    printf("added tenant '%s' (%s), admin '%s'\n", o->name, ids.tenant_id, o->admin);
    return WP_EXIT_OK;
}

static int do_change(wp_store *st, const unsigned char *key, const struct opts *o,
                     const char *tenant_id)
{
    int err, rc;
    if ((err = wp_store_begin(st)) < 0)
        return cli_fail("tenant", "%s", wp_error_last());
    if (!strcmp(o->verb, "disable")) {
        if ((err = wp_store_tenant_set_disabled(st, tenant_id, wp_time_now_us())) == 0)
            err = audit(st, key, tenant_id, "tenant.disable", NULL, 0);
    } else if (!strcmp(o->verb, "enable")) {
        if ((err = wp_store_tenant_set_disabled(st, tenant_id, 0)) == 0)
            err = audit(st, key, tenant_id, "tenant.enable", NULL, 0);
    } else {
        if (o->limit != -2 &&
            (err = wp_store_tenant_set_devices_limit(st, tenant_id, o->limit)) == 0)
            err = audit(st, key, tenant_id, "tenant.set", "devices_limit", o->limit);
        if (err == 0 && o->storage != -2 &&
            (err = wp_store_tenant_set_storage_limit(st, tenant_id, o->storage)) == 0)
            err = audit(st, key, tenant_id, "tenant.set", "storage_limit_bytes", o->storage);
    }
    if ((rc = finish(st, err)) != 0)
        return rc;
    printf("tenant '%s': %s\n", o->name,
           !strcmp(o->verb, "disable")  ? "disabled"
           : !strcmp(o->verb, "enable") ? "enabled"
                                        : "limits set");
    return WP_EXIT_OK;
}

struct deletion {
    const char *data;
    int64_t rows, tables;
    char **files; /* media paths under the media root, removed after the commit */
    size_t nfiles, cap;
};

static int count_table(void *ctx, const char *table, int64_t rows)
{
    struct deletion *d = ctx;
    (void)table;
    d->rows += rows;
    d->tables += rows > 0;
    return 0;
}

static int keep_file(void *ctx, const char *path)
{
    struct deletion *d = ctx;
    if (d->nfiles == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        char **v = realloc(d->files, cap * sizeof *v);
        if (!v)
            return wp_error_set(WP_ENOMEM, "out of memory");
        d->files = v, d->cap = cap;
    }
    if (!(d->files[d->nfiles] = strdup(path)))
        return wp_error_set(WP_ENOMEM, "out of memory");
    d->nfiles++;
    return 0;
}

/* delete: a disabled tenant that is not the only one; its rows in one transaction, then its
 * own media files, then (SQLite) the index and the WAL rewritten without what was deleted. */
static int do_delete(wp_store *st, const struct opts *o, const char *tenant_id,
                     const char *media)
{
    struct deletion d = {.data = o->data};
    wp_tenant t;
    int64_t n = 0;
    int err, rc, busy = 0;
    size_t gone = 0;

    if ((err = wp_store_tenant_get(st, &t, tenant_id)) < 0 ||
        (err = wp_store_tenant_count(st, &n)) < 0)
        return cli_fail("tenant", "%s", wp_error_last());
    if (n <= 1)
        return cli_usage_error("tenant",
                               "'%.100s' is the store's only tenant: remove the data "
                               "directory (and database) instead",
                               o->name);
    if (!t.disabled_us)
        return cli_usage_error("tenant",
                               "tenant '%.100s' is active: disable it first "
                               "('workphone tenant disable'), so no node writes to it "
                               "while it is deleted",
                               o->name);
    if ((err = wp_store_begin(st)) < 0)
        return cli_fail("tenant", "%s", wp_error_last());
    if ((err = wp_store_tenant_counts(st, tenant_id, count_table, &d)) == 0 &&
        (err = wp_store_tenant_media_own(st, tenant_id, keep_file, &d)) == 0)
        err = wp_store_tenant_purge(st, tenant_id);
    if ((rc = finish(st, err)) != 0)
        goto out;
    for (size_t i = 0; i < d.nfiles; i++) {
        char path[4096 + 80];
        snprintf(path, sizeof path, "%s/%s", media, d.files[i]);
        if (unlink(path) == 0)
            gone++;
        else if (errno != ENOENT)
            fprintf(stderr, "workphone tenant: warning: cannot remove %s: %s\n", path,
                    strerror(errno));
    }
    if (wp_store_sqlite_scrub(st, &busy) < 0)
        fprintf(stderr, "workphone tenant: warning: the SQLite file was not compacted: %s\n",
                wp_error_last());
    else if (busy)
        fprintf(stderr, "workphone tenant: warning: a running server kept the write-ahead log "
                        "from being truncated: it is overwritten at its next checkpoint\n");
    printf("deleted tenant '%s' (%s): %lld rows in %lld tables, %zu media files\n", o->name,
           tenant_id, (long long)d.rows, (long long)d.tables, gone);
    rc = WP_EXIT_OK;
out:
    for (size_t i = 0; i < d.nfiles; i++)
        free(d.files[i]);
    free(d.files);
    return rc;
}

static int list_json(const wp_tenant *v, size_t n)
{
    wp_buf b;
    char when[40];
    int err = 0;
    wp_buf_init(&b, 64u << 20);
    if ((err = wp_buf_addc(&b, '[')) < 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        const wp_tenant *t = &v[i];
        char nums[256];
        wp_time_format(when, t->created_us, 0);
        if (t->devices_limit < 0)
            snprintf(nums, sizeof nums, "null");
        else
            snprintf(nums, sizeof nums, "%lld", (long long)t->devices_limit);
        if ((i && (err = wp_buf_addc(&b, ',')) < 0) ||
            (err = wp_buf_adds(&b, "{\"name\":")) < 0 ||
            (err = wp_json_str(&b, t->name, strlen(t->name))) < 0 ||
            (err = wp_buf_adds(&b, ",\"id\":\"")) < 0 || (err = wp_buf_adds(&b, t->id)) < 0 ||
            (err = wp_buf_adds(&b, "\",\"created_at\":\"")) < 0 ||
            (err = wp_buf_adds(&b, when)) < 0 ||
            (err = wp_buf_adds(&b, t->disabled_us ? "\",\"active\":false" : "\",\"active\":true")) <
                0 ||
            (err = wp_buf_adds(&b, ",\"devices_limit\":")) < 0 || (err = wp_buf_adds(&b, nums)) < 0)
            goto out;
        snprintf(nums, sizeof nums, ",\"employees\":%lld,\"devices\":%lld,\"used_bytes\":%lld,",
                 (long long)t->employees, (long long)t->devices, (long long)t->used_bytes);
        if ((err = wp_buf_adds(&b, nums)) < 0)
            goto out;
        if (t->storage_limit < 0)
            snprintf(nums, sizeof nums, "\"storage_limit_bytes\":null}");
        else
            snprintf(nums, sizeof nums, "\"storage_limit_bytes\":%lld}",
                     (long long)t->storage_limit);
        if ((err = wp_buf_adds(&b, nums)) < 0)
            goto out;
    }
    if ((err = wp_buf_addc(&b, ']')) < 0)
        goto out;
    puts(b.buf);
out:
    wp_buf_release(&b);
    return err;
}

static int do_list(wp_store *st, const struct opts *o)
{
    wp_tenant *v = NULL;
    size_t n = 0;
    char when[40], devices[48], used[48];
    if (wp_store_tenants_list(st, &v, &n) < 0)
        return cli_fail("tenant", "%s", wp_error_last());
    if (o->json) {
        int err = list_json(v, n);
        free(v);
        return err < 0 ? cli_fail("tenant", "%s", wp_error_last()) : WP_EXIT_OK;
    }
    printf("%-24s %-26s %-25s %-8s %9s %13s %14s\n", "NAME", "ID", "CREATED", "ACTIVE",
           "EMPLOYEES", "DEVICES", "USED_BYTES");
    for (size_t i = 0; i < n; i++) {
        const wp_tenant *t = &v[i];
        wp_time_format(when, t->created_us, 0);
        if (t->devices_limit < 0)
            snprintf(devices, sizeof devices, "%lld", (long long)t->devices);
        else
            snprintf(devices, sizeof devices, "%lld/%lld", (long long)t->devices,
                     (long long)t->devices_limit);
        if (t->storage_limit < 0)
            snprintf(used, sizeof used, "%lld", (long long)t->used_bytes);
        else
            snprintf(used, sizeof used, "%lld/%lld", (long long)t->used_bytes,
                     (long long)t->storage_limit);
        printf("%-24s %-26s %-25s %-8s %9lld %13s %14s\n", t->name, t->id, when,
               t->disabled_us ? "no" : "yes", (long long)t->employees, devices, used);
    }
    free(v);
    return WP_EXIT_OK;
}

/* Where the data dir's media live (a shared media_dir= of several nodes, or DIR/media). */
static int media_root(char out[4096], const struct opts *o)
{
    wp_conf *conf = NULL;
    int rc;
    if ((rc = cli_data_dir_check("tenant", o->data, o->db, &conf)) != 0)
        return rc;
    rc = cli_media_dir(out, 4096, NULL, "tenant", o->data, NULL, conf);
    wp_conf_free(conf);
    return rc;
}

int cmd_tenant(int argc, char **argv)
{
    struct opts o;
    unsigned char key[WP_AUDIT_KEY_LEN];
    char tenant_id[WP_ID_LEN + 1];
    wp_store *st = NULL;
    int rc;

    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return WP_EXIT_OK;
    }
    if ((rc = parse(&o, argc, argv)) != 0)
        return rc;
    char media[4096];
    if ((rc = media_root(media, &o)) != 0)
        return rc;
    if (!strcmp(o.verb, "import"))
        return cli_tenant_import(o.data, o.db, media, o.in, o.key_file);
    int named = strcmp(o.verb, "add") && strcmp(o.verb, "list");
    if ((rc = open_all(&st, key, &o, named ? tenant_id : NULL)) != 0)
        goto out;
    if (!strcmp(o.verb, "add"))
        rc = do_add(st, key, &o);
    else if (!strcmp(o.verb, "list"))
        rc = do_list(st, &o);
    else if (!strcmp(o.verb, "delete"))
        rc = do_delete(st, &o, tenant_id, media);
    else if (!strcmp(o.verb, "export"))
        rc = cli_tenant_export(o.data, o.db, media, tenant_id, o.name, o.out, o.key_file);
    else
        rc = do_change(st, key, &o, tenant_id);
out:
    wp_store_free(st);
    explicit_bzero(key, sizeof key);
    return rc;
}
