/* SPDX-License-Identifier: MIT */
/* `workphone init`: create the store, a tenant, its root org unit and its admin account. */
#include "cli/cli.h"
#include "store/audit.h"
#include "store/org.h"
#include "store/people.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/json.h"
#include "util/password.h"
#include "util/utf8.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#define USERNAME_MAX 64

static const char help[] =
    "usage: workphone init --data DIR --tenant NAME --admin USER [--db URL]\n"
    "                      [--master-key-file FILE | --master-key-command CMD]\n"
    "\n"
    "Creates the store in DIR (a SQLite file, or the PostgreSQL database named by --db; media\n"
    "and keys always live in DIR), the tenant NAME with its top org unit (kind hq), and the\n"
    "admin account USER. The admin password is read from WORKPHONE_ADMIN_PASSWORD, or asked\n"
    "for on a terminal. Running it again on the same DIR is an error that changes nothing.\n"
    "The audit log's key is made in DIR/keys/audit.key: back it up, apart from the database.\n"
    "The key that signs the audit log's checkpoints is made in DIR/keys/checkpoint.key.\n"
    "With a master key, both are made in the store instead, wrapped by it, with a data key\n"
    "for the tenant; DIR/workphone.conf names the key's file or command, never the key, and\n"
    "every command on DIR then needs it (docs/internals/keys.md).\n"
    "\n"
    "  --data DIR     data directory (created if missing)\n"
    "  --tenant NAME  company name, 1-100 characters\n"
    "  --admin USER   admin username: 1-64 of a-z A-Z 0-9 . _ - @\n"
    "  --db URL       postgresql://... to use PostgreSQL instead of SQLite\n"
    "  --master-key-file FILE  the master key (32 bytes, 64 hex digits or base64), mode 0600,\n"
    "                 outside DIR; kept apart from the data and from every backup\n"
    "  --master-key-command CMD  a command (run without a shell) that prints the master key\n"
    "                 on stdout, for a KMS or an HSM\n";

int cli_valid_username(const char *u)
{
    size_t n = strlen(u);
    if (n == 0 || n > USERNAME_MAX)
        return 0;
    return strspn(u, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@") == n;
}

int cli_check_tenant_name(const char *s)
{
    size_t n = strlen(s);
    if (strspn(s, " \t") == n)
        return wp_error_set(WP_EINVAL, "tenant name is empty");
    return wp_text_check("tenant name", s, n, WP_TENANT_NAME_MAX, 0);
}

/* Read a password from the terminal without echo; 0, or -1 when there is no terminal. */
static int prompt_password(char *out, size_t cap, const char *prompt)
{
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct termios old, quiet;
    if (tcgetattr(fd, &old) != 0) {
        close(fd);
        return -1;
    }
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    if (write(fd, prompt, strlen(prompt)) < 0) { /* nothing to do: the read still works */
    }
    tcsetattr(fd, TCSAFLUSH, &quiet);
    size_t n = 0;
    char c;
    while (n + 1 < cap && read(fd, &c, 1) == 1 && c != '\n')
        out[n++] = c;
    out[n] = '\0';
    tcsetattr(fd, TCSAFLUSH, &old);
    if (write(fd, "\n", 1) < 0) {
    }
    close(fd);
    return 0;
}

int cli_admin_password(char *out, size_t cap)
{
    const char *env = getenv("WORKPHONE_ADMIN_PASSWORD");
    if (env) {
        if (strlen(env) >= cap)
            return wp_error_set(WP_EINVAL, "password is longer than %d bytes", WP_PASSWORD_MAX);
        memcpy(out, env, strlen(env) + 1);
        return 0;
    }
    char again[WP_PASSWORD_MAX + 2];
    if (prompt_password(out, cap, "admin password: ") < 0)
        return wp_error_set(WP_EINVAL, "no admin password: set WORKPHONE_ADMIN_PASSWORD or run "
                                       "on a terminal");
    if (prompt_password(again, sizeof again, "again: ") < 0 || strcmp(out, again) != 0)
        return wp_error_set(WP_EINVAL, "the two passwords differ");
    return 0;
}

static int path_exists(const char *dir, const char *name)
{
    char p[4096];
    if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, name) >= sizeof p)
        return 0;
    return access(p, F_OK) == 0;
}

/* Remove what a failed init created in the data dir, so a retry starts clean. */
static void undo_files(const char *dir, int created_dir)
{
    static const char *const names[] = {"workphone.db", "workphone.db-wal", "workphone.db-shm",
                                        "workphone.conf.tmp"};
    char p[4096];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, names[i]) < sizeof p)
            unlink(p);
    if (created_dir)
        rmdir(dir);
}

/* Write DIR/workphone.conf (the mark of an initialized data dir) atomically. */
static int write_conf(const char *dir, const char *tenant_id, const char *backend,
                      const char *master_file, const char *master_command)
{
    char tmp[4096], fin[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s/workphone.conf.tmp", dir) >= sizeof tmp ||
        (size_t)snprintf(fin, sizeof fin, "%s/workphone.conf", dir) >= sizeof fin)
        return wp_error_set(WP_EINVAL, "data dir path is too long");
    FILE *f = fopen(tmp, "wx");
    if (!f)
        return wp_error_set(WP_EIO, "cannot write '%s': %s", tmp, strerror(errno));
    fprintf(f, "# written by workphone init; marks this directory as a workphone data dir\n"
               "tenant_id=%s\nbackend=%s\n",
            tenant_id, backend);
    if (master_file)
        fprintf(f, "master_key_file=%s\n", master_file);
    if (master_command)
        fprintf(f, "master_key_command=%s\n", master_command);
    int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, fin) != 0) {
        unlink(tmp);
        return wp_error_set(WP_EIO, "cannot write '%s': %s", fin, strerror(errno));
    }
    return 0;
}

/* The first rows of the tenant's audit log, written by "system" in init's transaction. */
static int audit_init(wp_store *st, const unsigned char key[WP_AUDIT_KEY_LEN],
                      const char *tenant_id, const char *tenant, const wp_org_unit *hq,
                      const wp_employee *admin)
{
    char target[64];
    wp_buf d;
    int err;
    wp_buf_init(&d, 4096);
    wp_audit_entry e = {.tenant_id = tenant_id, .actor = "system"};
    if ((err = wp_buf_adds(&d, "{\"name\":")) < 0 ||
        (err = wp_json_str(&d, tenant, strlen(tenant))) < 0 || (err = wp_buf_addc(&d, '}')) < 0)
        goto out;
    snprintf(target, sizeof target, "tenant:%s", tenant_id);
    e.action = "tenant.create";
    e.target = target;
    e.details = d.buf;
    if ((err = wp_store_audit_append(st, key, &e, NULL)) < 0)
        goto out;
    wp_buf_reset(&d);
    if ((err = wp_buf_adds(&d, "{\"org_unit_id\":\"")) < 0 ||
        (err = wp_buf_adds(&d, hq->id)) < 0 ||
        (err = wp_buf_adds(&d, "\",\"role\":\"admin\",")) < 0 ||
        (err = wp_buf_adds(&d, "\"username\":")) < 0 ||
        (err = wp_json_str(&d, admin->username, strlen(admin->username))) < 0 ||
        (err = wp_buf_addc(&d, '}')) < 0)
        goto out;
    snprintf(target, sizeof target, "employee:%s", admin->id);
    e.action = "employee.create";
    e.details = d.buf;
    err = wp_store_audit_append(st, key, &e, NULL);
out:
    wp_buf_release(&d);
    return err;
}

int cli_tenant_create(wp_store *st, cli_init_ids *out, const unsigned char key[WP_AUDIT_KEY_LEN],
                      const char *tenant, const char *admin, const char *pwhash)
{
    wp_org_unit hq;
    wp_employee emp;
    int err;
    if ((err = wp_store_tenant_create(st, out->tenant_id, tenant)) < 0 ||
        (err = wp_store_org_unit_create(st, &hq, out->tenant_id, NULL, tenant, WP_ORG_HQ)) < 0 ||
        (err = wp_store_employee_create(st, &emp, out->tenant_id, hq.id, admin, admin,
                                        WP_ROLE_ADMIN, pwhash)) < 0 ||
        (err = audit_init(st, key, out->tenant_id, tenant, &hq, &emp)) < 0) {
        if (err == WP_EEXISTS)
            wp_error_set(err, "tenant '%s' already exists in this store", tenant);
        return err;
    }
    memcpy(out->hq_id, hq.id, sizeof out->hq_id);
    memcpy(out->admin_id, emp.id, sizeof out->admin_id);
    return 0;
}

/* A database that holds tenants already has their audit chains keyed by the data dir that
 * made them (its keys/audit.key). A new data dir would make a key of its own, and the rows of
 * the tenant made here would fail `audit verify` on the nodes that serve with the first key:
 * such a tenant is added with `workphone tenant add` on a data dir holding that key. */
static int check_new_store(wp_store *st, const char *tenant)
{
    char id[WP_ID_LEN + 1];
    int64_t n = 0;
    int err;
    if ((err = wp_store_tenant_find(st, id, tenant)) == 0)
        return wp_error_set(WP_EEXISTS, "tenant '%s' already exists in this store", tenant);
    if (err != WP_ENOTFOUND || (err = wp_store_tenant_count(st, &n)) < 0)
        return err;
    if (n > 0)
        return wp_error_set(WP_EEXISTS,
                            "the database already holds %lld tenant(s), their audit log keyed by "
                            "the audit.key of the data dir that made them: add '%s' with "
                            "'workphone tenant add --data <that dir>' instead",
                            (long long)n, tenant);
    return 0;
}

static int create_all(cli_init_ids *out, const char *data, const char *db, const char *tenant,
                      const char *admin, const char *pwhash, const char *mfile, const char *mcmd)
{
    unsigned char key[WP_AUDIT_KEY_LEN], seed[WP_AUDIT_SIGN_SEED_LEN];
    cli_keyring kr;
    wp_store *st = NULL;
    int err;
    if ((err = cli_keyring_open(&kr, data, db, mfile, mcmd)) < 0)
        goto out;
    /* with a master key the keys are made in the store: only in a new one */
    if (kr.have &&
        ((err = cli_keyring_store(&kr, &st)) < 0 || (err = check_new_store(st, tenant)) < 0))
        goto out;
    if ((err = cli_keyring_get(&kr, key, 0, 1)) < 0)
        goto out;
    /* the checkpoints' signing key, made beside it; init itself signs nothing */
    if ((err = cli_keyring_get(&kr, seed, 1, 1)) < 0)
        goto out;
    explicit_bzero(seed, sizeof seed);
    if ((err = cli_keyring_store(&kr, &st)) < 0)
        goto out;
    if (!kr.have && (err = check_new_store(st, tenant)) < 0)
        goto out;
    if ((err = wp_store_begin(st)) < 0)
        goto out;
    if ((err = cli_tenant_create(st, out, key, tenant, admin, pwhash)) < 0) {
        wp_store_rollback(st);
        goto out;
    }
    if ((err = wp_store_commit(st)) < 0)
        goto out;
    err = cli_keyring_tenant(&kr, out->tenant_id);
out:
    cli_keyring_close(&kr);
    explicit_bzero(key, sizeof key);
    return err;
}

int cli_init_create(cli_init_ids *out, const char *data, const char *db, const char *tenant,
                    const char *admin, const char *password)
{
    return cli_init_create_master(out, data, db, tenant, admin, password, NULL, NULL);
}

int cli_init_create_master(cli_init_ids *out, const char *data, const char *db, const char *tenant,
                           const char *admin, const char *password, const char *mfile,
                           const char *mcmd)
{
    char abs[PATH_MAX];
    char pwhash[WP_PASSWORD_HASH_MAX];
    cli_init_ids ids;
    int err;
    if ((err = wp_password_hash(pwhash, password)) < 0)
        return err;
    memset(&ids, 0, sizeof ids);
    /* a key already there is kept (and used); one made here goes again if init fails */
    int had_key = path_exists(data, "keys/audit.key");
    int had_sign = path_exists(data, "keys/checkpoint.key");
    /* the conf names the key file by its absolute path: commands run from anywhere */
    if (mfile && realpath(mfile, abs))
        mfile = abs;
    if ((err = create_all(&ids, data, db, tenant, admin, pwhash, mfile, mcmd)) < 0 ||
        (err = write_conf(data, ids.tenant_id, db ? "postgresql" : "sqlite", mfile, mcmd)) < 0) {
        char p[4096];
        if (!had_sign && (size_t)snprintf(p, sizeof p, "%s/keys/checkpoint.key", data) < sizeof p)
            unlink(p);
        if (!had_key && (size_t)snprintf(p, sizeof p, "%s/keys/audit.key", data) < sizeof p) {
            unlink(p);
            snprintf(p, sizeof p, "%s/keys", data);
            rmdir(p); /* only when empty */
        }
        goto out;
    }
    *out = ids;
out:
    explicit_bzero(pwhash, sizeof pwhash);
    return err;
}

int cmd_init(int argc, char **argv)
{
    const char *data = NULL, *tenant = NULL, *admin = NULL, *db = NULL, *mfile = NULL, *mcmd = NULL;
    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return WP_EXIT_OK;
    }
    for (int i = 1; i < argc; i++) {
        int r;
        if ((r = cli_opt(argc, argv, &i, "init", "data", &data)) ||
            (r = cli_opt(argc, argv, &i, "init", "tenant", &tenant)) ||
            (r = cli_opt(argc, argv, &i, "init", "admin", &admin)) ||
            (r = cli_opt(argc, argv, &i, "init", "db", &db)) ||
            (r = cli_opt(argc, argv, &i, "init", "master-key-file", &mfile)) ||
            (r = cli_opt(argc, argv, &i, "init", "master-key-command", &mcmd))) {
            if (r < 0)
                return WP_EXIT_USAGE;
            continue;
        }
        return cli_usage_error("init", "unknown argument '%s'; see 'workphone init --help'",
                               argv[i]);
    }
    if (!data || !*data)
        return cli_usage_error("init", "missing --data DIR");
    if (!tenant)
        return cli_usage_error("init", "missing --tenant NAME");
    if (!admin)
        return cli_usage_error("init", "missing --admin USER");
    if (cli_check_tenant_name(tenant) < 0)
        return cli_usage_error("init", "%s", wp_error_last());
    if (!cli_valid_username(admin))
        return cli_usage_error("init", "admin username '%.80s' must be 1-%d of a-z A-Z 0-9 . _ - @",
                               admin, USERNAME_MAX);
    if (db && strncmp(db, "postgresql://", 13) && strncmp(db, "postgres://", 11))
        return cli_usage_error("init", "--db must be a postgresql:// URL");
    if (mfile && mcmd)
        return cli_usage_error("init", "--master-key-file and --master-key-command: give one");
    if ((mfile && !*mfile) || (mcmd && !*mcmd) || (mcmd && strchr(mcmd, '\n')))
        return cli_usage_error("init", "--master-key-%s needs a value on one line",
                               mfile ? "file" : "command");

    struct stat sb;
    int created_dir = 0;
    if (stat(data, &sb) == 0) {
        if (!S_ISDIR(sb.st_mode))
            return cli_usage_error("init", "data dir '%s' is not a directory", data);
        if (path_exists(data, "workphone.conf") || path_exists(data, "workphone.db"))
            return cli_usage_error("init", "data dir '%s' is already initialized; nothing changed",
                                   data);
    } else if (errno != ENOENT) {
        return cli_usage_error("init", "data dir '%s': %s", data, strerror(errno));
    }
    char pw[WP_PASSWORD_MAX + 2];
    if (cli_admin_password(pw, sizeof pw) < 0 || wp_password_check(pw) < 0) {
        explicit_bzero(pw, sizeof pw);
        return cli_usage_error("init", "%s", wp_error_last());
    }

    if (stat(data, &sb) != 0) {
        if (mkdir(data, 0700) != 0) {
            explicit_bzero(pw, sizeof pw);
            return cli_usage_error("init", "cannot create data dir '%s': %s", data,
                                   strerror(errno));
        }
        created_dir = 1;
    }
    if (access(data, W_OK | X_OK) != 0) {
        explicit_bzero(pw, sizeof pw);
        if (created_dir)
            rmdir(data);
        return cli_usage_error("init", "data dir '%s' is not writable", data);
    }

    cli_init_ids ids;
    int err = cli_init_create_master(&ids, data, db, tenant, admin, pw, mfile, mcmd);
    explicit_bzero(pw, sizeof pw);
    if (err < 0) {
        if (!db)
            undo_files(data, created_dir);
        else if (created_dir)
            rmdir(data);
        return err == WP_EEXISTS || err == WP_EINVAL
                   ? cli_usage_error("init", "%s", wp_error_last())
                   : cli_fail("init", "%s", wp_error_last());
    }
    printf("initialized %s: tenant '%s' (%s), admin '%s'\n", data, tenant, ids.tenant_id, admin);
    return WP_EXIT_OK;
}
