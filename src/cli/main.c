/* SPDX-License-Identifier: MIT */
/* The workphone binary: one table of commands, each in its own cmd_<name>.c. */
#include "cli/cli.h"
#include "util/error.h"
#include "util/testhooks.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef WP_VERSION
#define WP_VERSION "unknown"
#endif

static const struct cmd {
    const char *name;
    wp_cmd_fn fn;
    const char *help;
} commands[] = {
    {"init", cmd_init, "create a store, a tenant and its admin account"},
    {"serve", cmd_serve, "run the server (API, console, background jobs)"},
    {"demo", cmd_demo, "create a demo company and serve it"},
    {"agent", cmd_agent, "the device agent: enroll, send events, sync, check (for tests and ops)"},
    {"audit", cmd_audit, "verify the audit log's hash chain"},
    {"backup", cmd_backup, "back up a data dir (store, keys, media) into one file, while serving"},
    {"restore", cmd_restore, "make a data dir (and database) from a backup"},
    {"check", cmd_check, "check the store, its WAL and every media file for damage"},
    {"jobs", cmd_jobs, "run the background jobs once (reclaim, follow-ups, grades, analytics)"},
    {"keys", cmd_keys, "the master key and the keys it wraps: status, migrate, rotate"},
    {"scan", cmd_scan, "scan lines of text against a lexicon, one JSON verdict per line"},
    {"simulate", cmd_simulate, "send a simulated company to a server through agents (load test)"},
    {"tenant", cmd_tenant, "add, list, disable, enable and limit the tenants of a deployment"},
    {"version", cmd_version, "print the version"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: workphone <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n'workphone <command> --help' tells more about a command.\n");
}

int cmd_version(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: workphone version\n\nprints the version of workphone.\n");
        return WP_EXIT_OK;
    }
    if (argc > 1)
        return cli_usage_error("version", "unexpected argument '%s'", argv[1]);
    printf("workphone %s\n", WP_VERSION);
    return WP_EXIT_OK;
}

__attribute__((format(printf, 3, 0))) static int vmsg(const char *cmd, int code,
                                                    const char *fmt, va_list ap)
{
    fprintf(stderr, "workphone %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    return code;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vmsg(cmd, WP_EXIT_USAGE, fmt, ap);
    va_end(ap);
    return rc;
}

int cli_fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vmsg(cmd, WP_EXIT_FAIL, fmt, ap);
    va_end(ap);
    return rc;
}

int cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return 1;
    return 0;
}

int cli_opt(int argc, char **argv, int *i, const char *cmd, const char *name, const char **out)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, "--", 2) || strncmp(a + 2, name, n))
        return 0;
    if (a[2 + n] == '=') {
        *out = a + 3 + n;
        return 1;
    }
    if (a[2 + n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        cli_usage_error(cmd, "option '--%s' needs a value", name);
        return -1;
    }
    *out = argv[++*i];
    return 1;
}

int cli_data_dir_check(const char *cmd, const char *data, const char *db, wp_conf **conf)
{
    wp_conf *c = NULL;
    int err;
    if (!data || !*data)
        return cli_usage_error(cmd, "missing --data DIR");
    if (db && strncmp(db, "postgresql://", 13) && strncmp(db, "postgres://", 11))
        return cli_usage_error(cmd, "--db must be a postgresql:// URL");
    if ((err = wp_conf_read_dir(&c, data)) == WP_ENOTFOUND)
        return cli_usage_error(cmd,
                               "'%s' is not a workphone data dir (no workphone.conf); "
                               "run 'workphone init' first",
                               data);
    if (err < 0)
        return cli_usage_error(cmd, "%s", wp_error_last());
    const char *backend = wp_conf_get(c, "backend");
    if (backend && !strcmp(backend, "postgresql") && !db) {
        wp_conf_free(c);
        return cli_usage_error(cmd, "data dir '%s' keeps its store in PostgreSQL: pass --db URL",
                               data);
    }
    if (conf)
        *conf = c;
    else
        wp_conf_free(c);
    return 0;
}

int cli_media_dir(char *out, size_t cap, int *shared, const char *cmd, const char *data,
                  const char *given, const wp_conf *conf)
{
    const char *m = given && *given ? given : conf ? wp_conf_get(conf, "media_dir") : NULL;
    const char *what = given && *given ? "--media-dir" : "media_dir=";
    struct stat sb;
    int n;
    if (shared)
        *shared = 0;
    if (!m || !*m)
        n = snprintf(out, cap, "%s/media", data);
    else if (*m == '/' || (given && *given))
        n = snprintf(out, cap, "%s", m);
    else
        n = snprintf(out, cap, "%s/%s", data, m);
    if (n < 0 || (size_t)n >= cap)
        return cli_usage_error(cmd, "%s: the media dir path is too long", m ? what : "--data");
    if (!m || !*m)
        return 0;
    if (stat(out, &sb) != 0)
        return cli_usage_error(cmd, "%s '%s': %s", what, out, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return cli_usage_error(cmd, "%s '%s' is not a directory", what, out);
    if (shared) {
        char own[4096];
        struct stat ob;
        snprintf(own, sizeof own, "%s/media", data);
        /* the same directory by another name is still the node's own */
        *shared = !(stat(own, &ob) == 0 && ob.st_dev == sb.st_dev && ob.st_ino == sb.st_ino);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return WP_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return WP_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version"))
        return cmd_version(1, argv + 1);
    /* once, before any thread: with WORKPHONE_TEST_HOOKS unset nothing else in the
     * environment changes how the clock, the jobs or a handler behave */
    if (wp_test_hooks_load() < 0) {
        fprintf(stderr, "workphone: %s\n", wp_error_last());
        return WP_EXIT_USAGE;
    }
    if (wp_test_hooks_get()->on)
        json_set_alloc_funcs(wp_test_hooks_malloc, free); /* replies are free()d by libmicrohttpd */
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "workphone: '%s' is not a command; see 'workphone --help'\n", argv[1]);
    return WP_EXIT_USAGE;
}
