/* SPDX-License-Identifier: MIT */
/* `workphone check`: the integrity of a data dir's store, its WAL and every media file; and
 * the quick check `serve` runs before it opens a SQLite store. */
#include "cli/cli.h"
#include "ingest/ingest.h"
#include "store/integrity.h"
#include "store/policy.h"
#include "store/store.h"
#include "util/error.h"
#include "util/json.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char help[] =
    "usage: workphone check --data DIR [--db URL] [--media-dir DIR] [--json]\n"
    "\n"
    "checks that what DIR holds is intact, reading only:\n"
    "  - the SQLite store (DIR/workphone.db): its WAL's structure (a header and whole frames,\n"
    "    read as bytes), then SQLite's integrity_check of every page, table and index;\n"
    "  - every media file under DIR/media (or the shared media dir): its bytes hashed\n"
    "    against its sha256 name;\n"
    "  - every media file the store lists: on disk, with the size the store recorded;\n"
    "  - every encrypted media file, with the master key DIR/workphone.conf names: each chunk\n"
    "    authenticated with its tenant's key, its plaintext hashed against the store's sha256\n"
    "    (without a master key they are checked by size only, and the summary says so).\n"
    "With --db (PostgreSQL) the database's pages are PostgreSQL's to check (data checksums,\n"
    "amcheck): check connects, brings the schema up to date as 'serve' would, and checks the\n"
    "media the database lists and the files in the media dir.\n"
    "Prints a line 'bad: <file>: <what>' per problem, then 'ok: ...' or 'N problems'. 'audit\n"
    "verify' checks the audit log's hash chain. It can run beside the server.\n"
    "\n"
    "  --data DIR   the data directory made by 'workphone init'\n"
    "  --db URL     postgresql://... when the store is in PostgreSQL\n"
    "  --media-dir DIR\n"
    "               the media dir several nodes share (default: media_dir= in\n"
    "               DIR/workphone.conf, a path relative to DIR; else DIR/media)\n"
    "  --json       one JSON object on stdout: {\"ok\", \"store\", \"wal\", \"media_checked\",\n"
    "               \"media_authenticated\", \"media_not_authenticated\",\n"
    "               \"problems\": [{\"file\", \"problem\"}]}\n"
    "\n"
    "exit status: 0 when everything is intact, 1 when a problem was found, 2 on bad usage.\n";

struct report {
    int json;
    unsigned n;
    json_t *problems;
};

static void problem(struct report *r, const char *file, const char *what)
{
    r->n++;
    if (r->json)
        json_array_append_new(r->problems, json_pack("{s:s,s:s}", "file", file, "problem", what));
    else
        printf("bad: %s: %s\n", file, what);
}

struct sqlite_ctx {
    struct report *r;
    const char *file;
};

static void sqlite_line(void *ctx, const char *line)
{
    struct sqlite_ctx *c = ctx;
    problem(c->r, c->file, line);
}

static void media_bad(void *ctx, const char *path, const char *why)
{
    problem(ctx, path, why);
}

struct listed_ctx {
    struct report *r;
    const char *media;
};

/* A file the store lists: on disk, with its size. */
static int listed(void *ctx, const char *name, const char *hex, int64_t plain)
{
    struct listed_ctx *c = ctx;
    char path[4096], what[128];
    struct stat sb;
    /* an encrypted file (its keyed name) is larger by its header and chunk tags */
    int64_t size = wp_ingest_media_stored_size(plain, strcmp(name, hex) != 0);
    if (snprintf(path, sizeof path, "%s/%.2s/%.2s/%s", c->media, name, name + 2, name) >=
        (int)sizeof path)
        return 0;
    if (stat(path, &sb) != 0) {
        snprintf(what, sizeof what, "the store lists it but it is missing: %s", strerror(errno));
        problem(c->r, path, what);
    } else if (sb.st_size != size) {
        snprintf(what, sizeof what, "%lld bytes on disk, the store recorded %lld",
                 (long long)sb.st_size, (long long)size);
        problem(c->r, path, what);
    }
    return 0;
}

struct keyed_ctx {
    struct report *r;
    const char *media;
    wp_ingest *ing; /* NULL: no master key: the files are counted, not opened */
    size_t authenticated, unopened;
};

/* An encrypted file: every chunk authenticated with its tenant's key and the plaintext hashed
 * against its sha256, as a download checks it before its first byte. A file missing or of the
 * wrong size was reported by listed(). */
static int keyed(void *ctx, const char *tenant_id, const char *name, const char *sha256,
                 int64_t plain)
{
    struct keyed_ctx *k = ctx;
    char path[4096], ref[72];
    struct stat sb;
    wp_media_reader *rd = NULL;
    int64_t size;
    int fd = -1, err;
    if (snprintf(path, sizeof path, "%s/%.2s/%.2s/%s", k->media, name, name + 2, name) >=
            (int)sizeof path ||
        stat(path, &sb) != 0 || sb.st_size != wp_ingest_media_stored_size(plain, 1))
        return 0;
    if (!k->ing) {
        k->unopened++;
        return 0;
    }
    snprintf(ref, sizeof ref, "sha256:%s", sha256);
    if ((err = wp_ingest_media_open(k->ing, &fd, &rd, &size, tenant_id, ref)) < 0)
        problem(k->r, path, wp_error_last());
    else if (!rd)
        problem(k->r, path, "not the keyed name of the tenant's file: the store names a file "
                            "its key does not name");
    else
        k->authenticated++;
    if (fd >= 0)
        close(fd);
    wp_media_reader_free(rd);
    return 0;
}

/* The encrypted media the store lists, through an ingest holding the master key as serve's
 * does. Without a master key they are counted, not opened (their sizes were checked). */
static void check_keyed(struct report *r, struct keyed_ctx *k, wp_store *st, const char *data,
                        const char *db)
{
    cli_keyring kr;
    wp_store_connpool *pool = NULL;
    int err;
    if ((err = cli_keyring_open(&kr, data, db, NULL, NULL)) < 0) {
        problem(r, data, wp_error_last());
    } else if (!kr.have) {
        if (wp_store_media_each_keyed(st, keyed, k) < 0)
            problem(r, db ? "database" : data, wp_error_last());
    } else {
        if ((err = cli_keyring_ingest(&kr, k->media, &pool, &k->ing)) < 0 ||
            (err = wp_store_media_each_keyed(st, keyed, k)) < 0)
            problem(r, db ? "database" : data, wp_error_last());
        wp_ingest_free(k->ing);
        k->ing = NULL;
        wp_store_connpool_free(pool);
    }
    cli_keyring_close(&kr);
}

/* The SQLite file's WAL and pages; *intact says whether both passed. */
static void check_sqlite(struct report *r, const char *path, int *intact)
{
    unsigned found = 0;
    int err;
    *intact = 0;
    if ((err = wp_store_check_wal(path)) < 0) {
        char wal[4096 + 8];
        snprintf(wal, sizeof wal, "%s-wal", path);
        problem(r, wal, wp_error_last());
        return; /* SQLite would read the cut WAL as if whole: its pages are not what is stored */
    }
    struct sqlite_ctx sc = {r, path};
    if ((err = wp_store_check_sqlite(path, 1, 100, &found, sqlite_line, &sc)) < 0) {
        problem(r, path, wp_error_last());
        return;
    }
    *intact = found == 0;
}

static int run(const char *data, const char *db, const char *media, int json)
{
    struct report r = {json, 0, json_array()};
    char path[4096];
    size_t checked = 0;
    wp_store *st = NULL;
    int intact = 1, err;
    const char *store_state = "checked", *wal_state = "checked";
    struct keyed_ctx kc = {&r, media, NULL, 0, 0};

    if (!r.problems)
        return cli_fail("check", "out of memory");
    if (!db) {
        snprintf(path, sizeof path, "%s/%s", data, WP_STORE_SQLITE_FILE);
        check_sqlite(&r, path, &intact);
    } else {
        store_state = "postgresql";
        wal_state = "postgresql";
    }
    if ((err = wp_ingest_media_check_all(media, &checked, media_bad, &r)) < 0)
        problem(&r, media, wp_error_last());
    /* the store's list of media, once its pages are known good */
    if (intact) {
        struct listed_ctx lc = {&r, media};
        if ((err = wp_store_open(&st, data, db)) < 0 ||
            (err = wp_store_media_each(st, listed, &lc)) < 0)
            problem(&r, db ? "database" : path, wp_error_last());
        else
            check_keyed(&r, &kc, st, data, db);
        wp_store_free(st);
    }
    if (json) {
        json_t *o =
            json_pack("{s:b,s:s,s:s,s:I,s:I,s:I,s:O}", "ok", r.n == 0, "store", store_state,
                      "wal", wal_state, "media_checked", (json_int_t)checked,
                      "media_authenticated", (json_int_t)kc.authenticated,
                      "media_not_authenticated", (json_int_t)kc.unopened, "problems",
                      r.problems);
        char *s = o ? wp_json_dumps(o, JSON_COMPACT) : NULL;
        if (s)
            printf("%s\n", s);
        free(s);
        json_decref(o);
    } else if (r.n == 0) {
        printf("ok: %s and %zu media files intact", db ? "database reachable, schema current"
                                                        : "store, WAL",
               checked);
        if (kc.authenticated)
            printf(", %zu of them encrypted and authenticated", kc.authenticated);
        if (kc.unopened)
            printf("; %zu encrypted files checked by size only: no master key is configured",
                   kc.unopened);
        printf("\n");
    } else {
        printf("%u problem%s\n", r.n, r.n == 1 ? "" : "s");
    }
    json_decref(r.problems);
    return r.n ? WP_EXIT_FAIL : WP_EXIT_OK;
}

static void first_line(void *ctx, const char *line)
{
    snprintf(ctx, 512, "%s", line);
}

int cli_store_precheck(const char *cmd, const char *data)
{
    char path[4096], first[512] = "";
    unsigned found = 0;
    int err;
    snprintf(path, sizeof path, "%s/%s", data, WP_STORE_SQLITE_FILE);
    if (access(path, F_OK) != 0)
        return 0; /* nothing to check: opening says why */
    if ((err = wp_store_check_wal(path)) == 0 &&
        (err = wp_store_check_sqlite(path, 0, 1, &found, first_line, first)) == 0 && found == 0)
        return 0;
    if (err == 0) /* quick_check found a damaged page */
        return cli_usage_error(cmd, "store '%s' is damaged: %s; see 'workphone check --data %s'",
                               path, first, data);
    if (err == WP_ECORRUPT)
        return cli_usage_error(cmd, "store %s; see 'workphone check --data %s'", wp_error_last(),
                               data);
    return cli_fail(cmd, "cannot check the store: %s", wp_error_last());
}

int cmd_check(int argc, char **argv)
{
    const char *data = NULL, *db = NULL, *media_dir = NULL;
    int json = 0;
    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return WP_EXIT_OK;
    }
    for (int i = 1; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--json")) {
            json = 1;
            continue;
        }
        if ((r = cli_opt(argc, argv, &i, "check", "data", &data)) ||
            (r = cli_opt(argc, argv, &i, "check", "db", &db)) ||
            (r = cli_opt(argc, argv, &i, "check", "media-dir", &media_dir))) {
            if (r < 0)
                return WP_EXIT_USAGE;
            continue;
        }
        return cli_usage_error("check", "unknown argument '%s'; see 'workphone check --help'",
                               argv[i]);
    }
    wp_conf *conf = NULL;
    char media[4096];
    int code = cli_data_dir_check("check", data, db, &conf);
    if (code == 0)
        code = cli_media_dir(media, sizeof media, NULL, "check", data, media_dir, conf);
    wp_conf_free(conf);
    if (code)
        return code;
    return run(data, db, media, json);
}
