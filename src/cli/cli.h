/* SPDX-License-Identifier: MIT */
/* Shared pieces of the workphone command line: the command signature and option helpers. */
#ifndef WP_CLI_H
#define WP_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "util/conf.h"
#include "util/id.h"

/* Exit codes (CONTRACT §1). */
enum { WP_EXIT_OK = 0, WP_EXIT_FAIL = 1, WP_EXIT_USAGE = 2 };

/* A command gets argv from its own name on (argv[0] = "init"). Returns an exit code. */
typedef int (*wp_cmd_fn)(int argc, char **argv);

int cmd_agent(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_backup(int argc, char **argv);
/* `tenant export`: one tenant's rows (JSON lines a table), its media files and the audit key,
 * in the backup file's container (cmd_backup.c, docs/backup.md), encrypted with key_file when
 * not NULL. Returns the exit code after saying why. */
int cli_tenant_export(const char *data, const char *db, const char *media, const char *tenant_id,
                      const char *name, const char *out, const char *key_file);
/* `tenant import`: load an export into the store of data/db as a new tenant, its audit chain
 * verified with the key it came with and re-sealed with the store's when that differs. */
int cli_tenant_import(const char *data, const char *db, const char *media, const char *in,
                      const char *key_file);
int cmd_check(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_jobs(int argc, char **argv);
int cmd_keys(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_scan(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_simulate(int argc, char **argv);
int cmd_tenant(int argc, char **argv);
int cmd_version(int argc, char **argv);

/* Print "workphone <cmd>: <message>" on stderr and return WP_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print "workphone <cmd>: <message>" on stderr and return WP_EXIT_FAIL. */
int cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* 1 when argv has -h or --help. */
int cli_wants_help(int argc, char **argv);

/* Long options of the form "--name VALUE" or "--name=VALUE". Walks argv[*i]: when it is
 * --name, stores the value in *out, advances *i and returns 1; returns 0 when argv[*i] is not
 * --name; returns -1 (after printing a usage error) when the value is missing. */
int cli_opt(int argc, char **argv, int *i, const char *cmd, const char *name, const char **out);

/* After the options of a command on an existing data dir (main.c): --data given, --db a
 * postgresql:// URL, DIR/workphone.conf there and well-formed (wp_conf_read), and --db given
 * when its backend= is postgresql.
 * @param[out] conf  when not NULL, the settings read (caller frees with wp_conf_free())
 * @return 0, or WP_EXIT_USAGE after saying why on stderr (*conf untouched) */
int cli_data_dir_check(const char *cmd, const char *data, const char *db, wp_conf **conf);

/* --- the keyring (cmd_keys.c; docs/internals/keys.md) ----------------------------------- */

#include "store/keys.h"

/* The keys a command on a data dir uses: the master key when one is configured, and the
 * store the wrapped keys are read from (opened when first needed). */
typedef struct cli_keyring {
    const char *data, *db; /* borrowed */
    int have;              /* a master key is configured (and loaded into mk) */
    int command;           /* it came from master_key_command= (source is the command) */
    char source[4096];     /* the file or the command */
    wp_master_key mk;
    struct wp_store *st; /* NULL until needed; owned */
} cli_keyring;

/* Load the master key: flag_file (--master-key-file; NULL: none) or flag_command
 * (--master-key-command), else master_key_file= (a path relative to DIR) or
 * master_key_command= of DIR/workphone.conf; none configured is no error (kr->have 0).
 * @return 0, or a WP_E* with the message (a missing key file: WP_EIO saying that without it
 * the wrapped keys cannot be read). Release with cli_keyring_close(), also after a failure. */
int cli_keyring_open(cli_keyring *kr, const char *data, const char *db, const char *flag_file,
                     const char *flag_command);

/* The audit key (checkpoint 0) or the checkpoint seed (1): unwrapped from the store with the
 * master key (create: made when missing), else the file in DIR/keys (create: as
 * wp_audit_key_load). @return 0; WP_ENOTFOUND: no master key and no file (the message names
 * it); WP_EAUTH: no master key configured but the store's keys are wrapped, or another master
 * key (the fingerprints named); else a WP_E* with the message */
int cli_keyring_get(cli_keyring *kr, unsigned char key[32], int checkpoint, int create);

/* Make sure tenant_id has a data key (version 1 made when it has none); a no-op without a
 * master key. @return 0 or a WP_E* */
int cli_keyring_tenant(cli_keyring *kr, const char *tenant_id);

/* The store kr reads, opened now if need be; borrowed: kr owns it. @return 0 or a WP_E* */
int cli_keyring_store(cli_keyring *kr, struct wp_store **out);

/* An ingest over kr's data dir and database holding kr's master key as serve's does, for the
 * commands that read or write media files (check, keys encrypt-media, tenant export); media is
 * the media root. The caller frees *ing, then *pool (also after a failure: either may be set).
 * @return 0 or a WP_E* */
struct wp_ingest;
struct wp_store_connpool;
int cli_keyring_ingest(cli_keyring *kr, const char *media, struct wp_store_connpool **pool,
                       struct wp_ingest **ing);

void cli_keyring_close(cli_keyring *kr);

/* Set master_key_file=path in DIR/workphone.conf (replaced, or added). @return 0 or WP_EIO */
int cli_conf_set_master(const char *data, const char *path);

/* Where a data dir's media live (docs/internals/cluster.md): given (serve's --media-dir or the
 * system config's media_dir=), else media_dir= of DIR/workphone.conf (a path relative to DIR
 * unless absolute), each of which must be an existing directory; else DIR/media.
 * @param[out] out  the media root, cap bytes
 * @param[out] shared  1 when it is not DIR/media (may be NULL)
 * @return 0, or WP_EXIT_USAGE after saying why on stderr */
int cli_media_dir(char *out, size_t cap, int *shared, const char *cmd, const char *data,
                  const char *given, const wp_conf *conf);

/* --- pieces of init and serve that demo builds on (cmd_init.c, cmd_serve.c) --------------- */

/* What cli_init_create() made. */
typedef struct cli_init_ids {
    char tenant_id[WP_ID_LEN + 1], hq_id[WP_ID_LEN + 1], admin_id[WP_ID_LEN + 1];
} cli_init_ids;

/* In the existing, writable directory data (or in PostgreSQL at db): create the store, the
 * tenant with its top org unit (kind hq, named like the tenant) and the admin account with
 * this password, in one transaction; then mark data with workphone.conf.
 * @return 0, or a WP_E* with wp_error_last() (WP_EEXISTS: the tenant exists). What a failure
 *         leaves in data is the caller's to remove. out is filled on success. */
int cli_init_create(cli_init_ids *out, const char *data, const char *db, const char *tenant,
                    const char *admin, const char *password);

/* cli_init_create() with a master key (docs/internals/keys.md): the file or the command (at
 * most one; both NULL: the keys are files in DIR/keys), named in DIR/workphone.conf. */
int cli_init_create_master(cli_init_ids *out, const char *data, const char *db, const char *tenant,
                           const char *admin, const char *password, const char *master_file,
                           const char *master_command);

/* --- what init and tenant add share (cmd_init.c) ----------------------------------------- */

/* 1 when u is an admin username init accepts: 1-64 of a-z A-Z 0-9 . _ - @ */
int cli_valid_username(const char *u);

/* 0, or WP_EINVAL with the message naming the tenant name (wp_text_check) */
int cli_check_tenant_name(const char *s);

/* The admin password: WORKPHONE_ADMIN_PASSWORD, or asked twice on the terminal. 0, or
 * WP_EINVAL with why (none given, too long, the two differ). out has cap bytes. */
int cli_admin_password(char *out, size_t cap);

/* Inside the caller's transaction on st: the tenant, its top org unit, its admin account
 * (pwhash from wp_password_hash) and the first rows of its audit chain, keyed with key (the
 * data dir's keys/audit.key, the one every node serving st holds). out gets the ids.
 * @return 0, or a WP_E* (WP_EEXISTS: the tenant's name is taken); the caller rolls back */
struct wp_store;
int cli_tenant_create(struct wp_store *st, cli_init_ids *out, const unsigned char key[32],
                      const char *tenant, const char *admin, const char *pwhash);

typedef struct cli_serve_options {
    const char *cmd;                /* names the command in messages: "serve", "demo" */
    const char *data, *db, *listen; /* as serve's --data, --db, --listen */
    const char *master_key_file;    /* serve's --master-key-file; NULL: DIR/workphone.conf's */
    size_t max_body;                /* 0: the server's default */
    /* serve's --tls-cert and --tls-key (both or neither); NULL: tls_cert= and tls_key= of
     * DIR/workphone.conf, else plain http */
    const char *tls_cert, *tls_key;
    /* serve's --media-dir: the media root every node shares; NULL: media_dir= of
     * DIR/workphone.conf, else DIR/media (cli_media_dir) */
    const char *media_dir;
    /* called once the server listens, with where it listens ("http://127.0.0.1:8080/") */
    void (*on_listen)(void *ctx, const char *url);
    void *ctx;
} cli_serve_options;

/* Serve an initialized data dir until SIGTERM or SIGINT, then stop cleanly (CONTRACT §1).
 * Returns the exit code: WP_EXIT_OK after a clean stop; WP_EXIT_USAGE when data is not an
 * initialized dir or listen is bad; WP_EXIT_FAIL when the store or the server cannot start. */
int cli_serve_run(const cli_serve_options *o);

/* Before a server opens the SQLite store of data (cmd_check.c): its WAL's structure and
 * SQLite's quick_check of its pages (docs/internals/integrity.md). 0 when both pass (or there
 * is no file yet); else WP_EXIT_USAGE after one line on stderr naming the file and what is
 * wrong (a data error), or WP_EXIT_FAIL when it cannot be checked. */
int cli_store_precheck(const char *cmd, const char *data);

/* Tell systemd (a Type=notify unit) how the service is: state is sd_notify's text, e.g.
 * "READY=1" once serving, "STOPPING=1" on the way out. Without $NOTIFY_SOCKET, a no-op.
 * @return 1 sent, 0 nobody listens, -1 with errno when the socket refused it */
int cli_sd_notify(const char *state);

/* Check a --listen value (HOST:PORT, [V6]:PORT) without binding: 0, or -1 with *why. */
int cli_listen_check(const char *listen, const char **why);

#endif
