/* SPDX-License-Identifier: MIT */
/* The real workphone binary as the agent's peer: init, serve on loopback, console calls. */
#include "server.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define ADMIN_PASSWORD "s3cret-pass"

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("test server: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

static const char *bin(void)
{
    const char *b = getenv("WORKPHONE_BIN");
    if (!b || !*b)
        die("WORKPHONE_BIN is not set (run under meson test)");
    return b;
}

void make_tmpdir(char *out, const char *tag)
{
    snprintf(out, 64, "/tmp/wp-agent-%s.XXXXXX", tag);
    if (!mkdtemp(out))
        die("mkdtemp: %s", strerror(errno));
}

void rm_rf(const char *path)
{
    pid_t pid = fork();
    if (pid == 0) {
        execlp("rm", "rm", "-rf", "--", path, (char *)NULL);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
}

static int run_wait(char *const argv[])
{
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 1);
            close(null);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    int st;
    if (waitpid(pid, &st, 0) < 0)
        die("waitpid: %s", strerror(errno));
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* Reads the server's stderr after its start line, so that a full pipe never stalls it. */
static void *drain(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[4096];
    while (read(fd, buf, sizeof buf) > 0)
        ;
    close(fd);
    return NULL;
}

static void spawn(test_server *s, const char *listen)
{
    int p[2];
    if (pipe(p) < 0)
        die("pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(p[1], 2);
        close(p[0]);
        close(p[1]);
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 1);
            close(null);
        }
        execl(bin(), bin(), "serve", "--data", s->data, "--listen", listen, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    /* wait for "url=http://127.0.0.1:PORT/" on its stderr: it listens from then on */
    char line[8192];
    size_t n = 0;
    const char *u = NULL;
    while (!u && n < sizeof line - 1) {
        ssize_t r = read(p[0], line + n, sizeof line - 1 - n);
        if (r <= 0)
            die("the server exited before listening: %.*s", (int)n, line);
        n += (size_t)r;
        line[n] = '\0';
        u = strstr(line, "url=http://");
        if (u && !strchr(u + 11, '/'))
            u = NULL; /* the whole url has not arrived yet */
    }
    if (!u)
        die("no url in the server's output");
    const char *host = u + 4;
    const char *slash = strchr(host + 7, '/');
    snprintf(s->base, sizeof s->base, "%.*s", (int)(slash - host), host);
    const char *colon = strrchr(s->base, ':');
    s->port = (int)strtol(colon + 1, NULL, 10);
    s->pid = pid;
    pthread_t t;
    if (pthread_create(&t, NULL, drain, (void *)(intptr_t)p[0]) != 0)
        die("pthread_create");
    pthread_detach(t);
}

void server_start(test_server *s)
{
    memset(s, 0, sizeof *s);
    char dir[400];
    make_tmpdir(dir, "server");
    snprintf(s->data, sizeof s->data, "%s/d", dir);
    setenv("WORKPHONE_ADMIN_PASSWORD", ADMIN_PASSWORD, 1);
    char *argv[] = {(char *)bin(), "init", "--data", s->data, "--tenant", "Acme", "--admin",
                    "admin", NULL};
    if (run_wait(argv) != 0)
        die("workphone init failed");
    spawn(s, "127.0.0.1:0");

    int status = 0;
    json_t *j = server_call(s, "POST", "/api/v1/auth/login", "", "application/json",
                            "{\"username\":\"admin\",\"password\":\"" ADMIN_PASSWORD "\"}",
                            &status, NULL);
    if (status != 200 || !json_string_value(json_object_get(j, "token")))
        die("login: HTTP %d", status);
    snprintf(s->token, sizeof s->token, "%s", json_string_value(json_object_get(j, "token")));
    json_decref(j);
    j = server_call(s, "GET", "/api/v1/auth/session", NULL, NULL, NULL, &status, NULL);
    const char *id = json_string_value(json_object_get(json_object_get(j, "employee"), "id"));
    if (status != 200 || !id)
        die("session: HTTP %d", status);
    snprintf(s->employee, sizeof s->employee, "%s", id);
    json_decref(j);
}

void server_restart(test_server *s)
{
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", s->port);
    spawn(s, listen);
}

void server_stop(test_server *s)
{
    if (!s->pid)
        return;
    kill(s->pid, SIGTERM);
    int st;
    waitpid(s->pid, &st, 0);
    s->pid = 0;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        die("serve did not stop cleanly");
}

void server_destroy(test_server *s)
{
    server_stop(s);
    char *slash = strrchr(s->data, '/');
    if (slash) {
        *slash = '\0';
        rm_rf(s->data);
    }
}

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
    FILE *f = arg;
    return fwrite(data, size, n, f);
}

json_t *server_call(const test_server *s, const char *method, const char *path, const char *token,
                    const char *ctype, const char *body, int *status, char **raw_out)
{
    char url[1024], auth[256], ct[128];
    char *raw = NULL;
    size_t raw_len = 0;
    FILE *f = open_memstream(&raw, &raw_len);
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    if (!f || !h)
        die("out of memory");
    snprintf(url, sizeof url, "%s%s", s->base, path);
    if (!token)
        token = s->token;
    if (*token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        hdrs = curl_slist_append(hdrs, auth);
    }
    if (ctype) {
        snprintf(ct, sizeof ct, "Content-Type: %s", ctype);
        hdrs = curl_slist_append(hdrs, ct);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, f);
    CURLcode rc = curl_easy_perform(h);
    long st = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    fclose(f);
    if (rc != CURLE_OK)
        die("%s %s: %s", method, path, curl_easy_strerror(rc));
    *status = (int)st;
    json_t *j = json_loads(raw, 0, NULL);
    if (raw_out)
        *raw_out = raw;
    else
        free(raw);
    return j;
}

void server_code(const test_server *s, char out[64])
{
    char path[256];
    int status;
    snprintf(path, sizeof path, "/api/v1/employees/%s/enrollment-codes", s->employee);
    json_t *j = server_call(s, "POST", path, NULL, "application/json", "{}", &status, NULL);
    const char *code = json_string_value(json_object_get(j, "code"));
    if (status != 201 || !code)
        die("enrollment code: HTTP %d", status);
    snprintf(out, 64, "%s", code);
    json_decref(j);
}

/* Walk every page of GET /api/v1/messages, calling fn on each item. */
static void each_message(const test_server *s, void (*fn)(json_t *m, void *arg), void *arg)
{
    char path[512], cursor[256] = "";
    for (;;) {
        int status;
        if (cursor[0])
            snprintf(path, sizeof path, "/api/v1/messages?limit=200&cursor=%s", cursor);
        else
            snprintf(path, sizeof path, "/api/v1/messages?limit=200");
        json_t *j = server_call(s, "GET", path, NULL, NULL, NULL, &status, NULL);
        if (status != 200)
            die("GET /messages: HTTP %d", status);
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(j, "items"), i, m) fn(m, arg);
        const char *next = json_string_value(json_object_get(j, "next_cursor"));
        if (next)
            snprintf(cursor, sizeof cursor, "%s", next);
        json_decref(j);
        if (!next)
            break;
    }
}

struct tally {
    const char *prefix;
    int *counts;
    int n, total;
};

static void tally_one(json_t *m, void *arg)
{
    struct tally *t = arg;
    const char *text = json_string_value(json_object_get(m, "text"));
    size_t pl = strlen(t->prefix);
    if (!text || strncmp(text, t->prefix, pl) != 0)
        return;
    t->total++;
    char *end;
    long i = strtol(text + pl, &end, 10);
    if (*end == '\0' && end != text + pl && i >= 0 && i < t->n)
        t->counts[i]++;
}

int server_tally(const test_server *s, const char *prefix, int *counts, int n)
{
    struct tally t = {prefix, counts, n, 0};
    memset(counts, 0, (size_t)n * sizeof *counts);
    each_message(s, tally_one, &t);
    return t.total;
}
