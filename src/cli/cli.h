/* SPDX-License-Identifier: MIT */
/* Shared pieces of the workphone command line: the command signature and option helpers. */
#ifndef WP_CLI_H
#define WP_CLI_H

#include <stdio.h>

/* Exit codes (CONTRACT §1). */
enum { WP_EXIT_OK = 0, WP_EXIT_FAIL = 1, WP_EXIT_USAGE = 2 };

/* A command gets argv from its own name on (argv[0] = "init"). Returns an exit code. */
typedef int (*wp_cmd_fn)(int argc, char **argv);

int cmd_init(int argc, char **argv);
int cmd_scan(int argc, char **argv);
int cmd_serve(int argc, char **argv);
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

#endif
