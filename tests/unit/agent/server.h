/* SPDX-License-Identifier: MIT */
/* A real `workphone serve` for the agent's tests, and the console calls they make on it. */
#ifndef WP_TEST_AGENT_SERVER_H
#define WP_TEST_AGENT_SERVER_H

#include <jansson.h>
#include <sys/types.h>

typedef struct test_server {
    char data[512];   /* its data dir */
    char base[128];   /* "http://127.0.0.1:PORT" */
    int port;
    pid_t pid;        /* 0 when stopped */
    char token[128];  /* the admin's session token */
    char employee[64];
} test_server;

/* A temp dir (mkdtemp) under /tmp; the caller removes it with rm_rf(). */
void make_tmpdir(char *out, const char *tag); /* out holds at least 64 bytes */
void rm_rf(const char *path);

/* init a store in a new temp dir, serve it on a free loopback port, log in as admin. */
void server_start(test_server *s);

/* Serve again, on the same port and store (after server_stop). */
void server_restart(test_server *s);

/* SIGTERM, and wait for a clean exit. */
void server_stop(test_server *s);

/* Stop and remove its data dir. */
void server_destroy(test_server *s);

/* A request as the admin (or with the bearer token given). Returns the parsed body (NULL when
 * it is not JSON); *status the HTTP status. raw_out, when non-NULL, gets the raw body (free). */
json_t *server_call(const test_server *s, const char *method, const char *path, const char *token,
                    const char *ctype, const char *body, int *status, char **raw_out);

/* A new enrollment code for the admin. */
void server_code(const test_server *s, char out[64]);

/* Count the stored messages whose text is prefix followed by a number i < n into counts[i]
 * (zeroed first), walking every page of GET /api/v1/messages. Returns how many stored texts
 * start with prefix at all. */
int server_tally(const test_server *s, const char *prefix, int *counts, int n);

#endif
