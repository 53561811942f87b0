/* SPDX-License-Identifier: MIT */
/* The remote sink (remote.h): the console API with libcurl, the phones with libwpagent. */
#include "sim/remote.h"
#include "util/buf.h"
#include "util/error.h"
#include "workphone/agent.h"
#include "util/json.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPLY_MAX (16u << 20) /* bytes of one console answer */
#define USERNAME_TRIES 9      /* lijuan.wang, lijuan.wang2, ... lijuan.wang9 */

/* A keep-alive connection for console calls; calls from several threads take one each. */
struct conn {
    CURL *h;
    struct conn *next;
};

/* What the sink learned of the tenant: tag ids by name, customer ids by phone. */
struct named {
    char key[128];
    char id[WP_SIM_ID_MAX];
};

struct wp_sim_remote {
    char *server; /* without the trailing slash */
    char *agents_dir;
    char *staff_password;
    char auth[640]; /* "Authorization: Bearer <token>" */
    unsigned batch_max, timeout_ms;
    pthread_mutex_t mu;
    struct conn *idle;
    struct named *tags, *customers;
    size_t n_tags, cap_tags, n_customers, cap_customers;
    uint64_t media_written; /* files of company->media written to <agents_dir>/media */
};

/* What a phone of the sink is: its agent and what it has been told so far. */
struct phone {
    wp_agent *a;
    uint64_t rejected; /* the agent's count after the last sync */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_start(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT); /* never undone: libwpagent does the same */
}

static struct conn *conn_take(wp_sim_remote *r)
{
    pthread_mutex_lock(&r->mu);
    struct conn *c = r->idle;
    if (c)
        r->idle = c->next;
    pthread_mutex_unlock(&r->mu);
    if (c)
        return c;
    if (!(c = calloc(1, sizeof *c)))
        return NULL;
    if (!(c->h = curl_easy_init())) {
        free(c);
        return NULL;
    }
    return c;
}

static void conn_give(wp_sim_remote *r, struct conn *c)
{
    pthread_mutex_lock(&r->mu);
    c->next = r->idle;
    r->idle = c;
    pthread_mutex_unlock(&r->mu);
}

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
    return wp_buf_add(ctx, data, size * n) < 0 ? 0 : size * n;
}

/* A request with headers of our own (the admin's token unless bearer is "": none). */
static int call(wp_sim_remote *r, json_t **out, long *status, const char *method,
                const char *path, const json_t *body, const char *bearer)
{
    char url[2048], auth[640];
    char *text = NULL;
    wp_buf reply;
    struct curl_slist *hdrs = NULL;
    int err = 0;
    *out = NULL;
    *status = 0;
    if ((size_t)snprintf(url, sizeof url, "%s/api/v1%s", r->server, path) >= sizeof url)
        return wp_error_set(WP_EINVAL, "url too long: '%s'", path);
    struct conn *c = conn_take(r);
    if (!c)
        return wp_error_set(WP_ENOMEM, "out of memory");
    wp_buf_init(&reply, REPLY_MAX);
    if (body && !(text = wp_json_dumps(body, JSON_COMPACT))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    if (bearer)
        snprintf(auth, sizeof auth, "%s%s", bearer[0] ? "Authorization: Bearer " : "", bearer);
    else
        snprintf(auth, sizeof auth, "%s", r->auth);
    if (!(hdrs = curl_slist_append(NULL, "Content-Type: application/json")) ||
        (auth[0] && !curl_slist_append(hdrs, auth))) { /* the head stays hdrs */
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    CURL *h = c->h;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)r->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)r->timeout_ms);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &reply);
    if (text) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, text);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(text));
    }
    CURLcode cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        err = wp_error_set(WP_EIO, "cannot reach '%s': %s", r->server, curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    *out = json_loadb(reply.buf, reply.len, 0, NULL);
out:
    curl_slist_free_all(hdrs);
    free(text);
    wp_buf_release(&reply);
    conn_give(r, c);
    return err;
}

int wp_sim_remote_call(wp_sim_remote *r, json_t **out, long *status, const char *method,
                       const char *path, const json_t *body)
{
    return call(r, out, status, method, path, body, NULL);
}

/* The server's error as ours: the status and its message. */
static int http_error(long status, const json_t *reply, const char *what)
{
    const char *msg = json_string_value(
        json_object_get(json_object_get(reply, "error"), "message"));
    int code = status == 401 || status == 403 ? WP_EAUTH
               : status == 404                ? WP_ENOTFOUND
               : status == 409                ? WP_EEXISTS
               : status >= 400 && status < 500 ? WP_EINVAL
                                               : WP_EIO;
    return wp_error_set(code, "%s: HTTP %ld%s%s", what, status, msg ? ": " : "", msg ? msg : "");
}

/* POST a JSON object built by the caller (taken over) and expect 2xx with an object. */
static int post(wp_sim_remote *r, json_t **out, const char *path, json_t *body, const char *what)
{
    long status;
    json_t *reply = NULL;
    int err;
    if (!body)
        return wp_error_set(WP_ENOMEM, "out of memory");
    err = call(r, &reply, &status, "POST", path, body, NULL);
    json_decref(body);
    if (err < 0)
        return err;
    if (status < 200 || status > 299 || !json_is_object(reply)) {
        err = http_error(status, reply, what);
        json_decref(reply);
        return err;
    }
    *out = reply;
    return 0;
}

static int copy_id(char out[WP_SIM_ID_MAX], const json_t *reply, const char *what)
{
    const char *id = json_string_value(json_object_get(reply, "id"));
    if (!id || strlen(id) >= WP_SIM_ID_MAX)
        return wp_error_set(WP_EIO, "%s: the answer has no usable id", what);
    snprintf(out, WP_SIM_ID_MAX, "%s", id);
    return 0;
}

static char *dup_opt(const char *s, int *bad)
{
    char *d = s ? strdup(s) : NULL;
    *bad |= s && !d;
    return d;
}

int wp_sim_remote_new(wp_sim_remote **out, const wp_sim_remote_options *o)
{
    wp_sim_remote *r = NULL;
    json_t *reply = NULL;
    int err = 0, bad = 0;
    if (!o->server || !o->admin || !o->admin_password || !o->agents_dir || !o->staff_password)
        return wp_error_set(WP_EINVAL, "the remote sink needs a server, an admin, a password, "
                                       "an agents dir and a staff password");
    if (o->batch_max > 1000)
        return wp_error_set(WP_EINVAL, "batch must be 1-1000, not %u", o->batch_max);
    pthread_once(&curl_once, curl_start);
    if (!(r = calloc(1, sizeof *r)))
        return wp_error_set(WP_ENOMEM, "out of memory");
    if (pthread_mutex_init(&r->mu, NULL) != 0) {
        free(r);
        return wp_error_set(WP_ENOMEM, "cannot make a mutex");
    }
    r->server = dup_opt(o->server, &bad);
    r->agents_dir = dup_opt(o->agents_dir, &bad);
    r->staff_password = dup_opt(o->staff_password, &bad);
    r->batch_max = o->batch_max;
    r->timeout_ms = o->timeout_ms ? o->timeout_ms : 30000;
    if (bad) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    size_t n = strlen(r->server);
    while (n > 0 && r->server[n - 1] == '/')
        r->server[--n] = '\0';

    json_t *login = json_pack("{s:s, s:s}", "username", o->admin, "password", o->admin_password);
    if (login && o->tenant && json_object_set_new(login, "tenant", json_string(o->tenant)) < 0) {
        json_decref(login);
        login = NULL;
    }
    long status;
    if (!login) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    err = call(r, &reply, &status, "POST", "/auth/login", login, "");
    json_decref(login);
    if (err < 0)
        goto out;
    const char *token = json_string_value(json_object_get(reply, "token"));
    if (status != 200 || !token) {
        err = http_error(status, reply, "login");
        goto out;
    }
    if ((size_t)snprintf(r->auth, sizeof r->auth, "Authorization: Bearer %s", token) >=
        sizeof r->auth) {
        err = wp_error_set(WP_EIO, "login: the token is too long");
        goto out;
    }
    *out = r;
    r = NULL;
out:
    json_decref(reply);
    wp_sim_remote_free(r);
    return err;
}

void wp_sim_remote_free(wp_sim_remote *r)
{
    if (!r)
        return;
    while (r->idle) {
        struct conn *c = r->idle;
        r->idle = c->next;
        curl_easy_cleanup(c->h);
        free(c);
    }
    explicit_bzero(r->auth, sizeof r->auth);
    free(r->tags);
    free(r->customers);
    if (r->staff_password)
        explicit_bzero(r->staff_password, strlen(r->staff_password));
    free(r->server);
    free(r->agents_dir);
    free(r->staff_password);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

int wp_sim_remote_top_unit(wp_sim_remote *r, char out_id[WP_SIM_ID_MAX])
{
    json_t *reply = NULL;
    long status;
    int err = call(r, &reply, &status, "GET", "/org-units?limit=1", NULL, NULL);
    if (err < 0)
        return err;
    if (status != 200)
        err = http_error(status, reply, "list org units");
    else
        err = copy_id(out_id, json_array_get(json_object_get(reply, "items"), 0), "top unit");
    json_decref(reply);
    return err;
}

int wp_sim_remote_each(wp_sim_remote *r, const char *path,
                       int (*fn)(void *ctx, const json_t *item), void *ctx)
{
    char cursor[512] = "", page[2048];
    int err = 0;
    do {
        char *esc = curl_easy_escape(NULL, cursor, 0);
        if (!esc)
            return wp_error_set(WP_ENOMEM, "out of memory");
        int n = snprintf(page, sizeof page, "%s%climit=200%s%s", path,
                         strchr(path, '?') ? '&' : '?', cursor[0] ? "&cursor=" : "",
                         cursor[0] ? esc : "");
        curl_free(esc);
        if (n < 0 || (size_t)n >= sizeof page)
            return wp_error_set(WP_EINVAL, "path too long: '%s'", path);
        json_t *reply = NULL;
        long status;
        if ((err = call(r, &reply, &status, "GET", page, NULL, NULL)) < 0)
            return err;
        size_t i;
        json_t *item;
        if (status != 200) {
            err = http_error(status, reply, path);
        } else {
            json_array_foreach(json_object_get(reply, "items"), i, item)
            {
                if ((err = fn(ctx, item)) < 0)
                    break;
            }
        }
        const char *next = json_string_value(json_object_get(reply, "next_cursor"));
        if (err == 0 && next && (size_t)snprintf(cursor, sizeof cursor, "%s", next) >= sizeof cursor)
            err = wp_error_set(WP_EIO, "%s: cursor too long", path);
        if (!next)
            cursor[0] = '\0';
        json_decref(reply);
    } while (err == 0 && cursor[0]);
    return err;
}

/* --- the sink ---------------------------------------------------------------------------------- */

static int org_unit(void *ctx, char out_id[WP_SIM_ID_MAX], const char *parent_id,
                    const char *name, const char *kind)
{
    json_t *reply = NULL;
    int err = post(ctx, &reply, "/org-units",
                   json_pack("{s:s, s:s, s:s}", "name", name, "parent_id", parent_id, "kind", kind),
                   "create org unit");
    if (err == 0)
        err = copy_id(out_id, reply, "create org unit");
    json_decref(reply);
    return err;
}

/* The server makes the fence at its own time: the simulated events come after it anyway. */
static int geofence(void *ctx, const char *org_unit_id, const char *name, double lat, double lon,
                    unsigned radius_m, int64_t at_us)
{
    json_t *reply = NULL;
    (void)at_us;
    int err = post(ctx, &reply, "/geofences",
                   json_pack("{s:s, s:s, s:{s:s, s:[f, f], s:I}}", "name", name, "org_unit_id",
                             org_unit_id, "shape", "type", "circle", "center", lon, lat,
                             "radius_m", (json_int_t)radius_m),
                   "create geofence");
    json_decref(reply);
    return err;
}

static int employee(void *ctx, char out_id[WP_SIM_ID_MAX], const char *org_unit_id,
                    const wp_sim_person *p)
{
    wp_sim_remote *r = ctx;
    char username[64], what[128];
    json_t *reply = NULL;
    int err = 0;
    for (unsigned k = 1; k <= USERNAME_TRIES; k++) {
        /* a server that has people already may have this username: the next digit is free */
        if (k == 1)
            snprintf(username, sizeof username, "%s", p->username);
        else
            snprintf(username, sizeof username, "%s%u", p->username, k);
        snprintf(what, sizeof what, "create employee '%s'", username);
        err = post(r, &reply, "/employees",
                   json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", p->name, "org_unit_id",
                             org_unit_id, "role", p->role, "username", username, "password",
                             r->staff_password),
                   what);
        if (err != WP_EEXISTS)
            break;
    }
    if (err == 0)
        err = copy_id(out_id, reply, what);
    json_decref(reply);
    return err;
}

/* An agent's error as ours, with the agent's message. */
static int agent_error(wp_agent *a, int code, const char *what)
{
    char msg[256] = "";
    if (a)
        wp_agent_last_error(a, msg, sizeof msg);
    int err = code == WP_AGENT_EINVAL    ? WP_EINVAL
              : code == WP_AGENT_ENOMEM  ? WP_ENOMEM
              : code == WP_AGENT_EAUTH   ? WP_EAUTH
              : code == WP_AGENT_EFULL   ? WP_ELIMIT
              : code == WP_AGENT_EEXISTS ? WP_EEXISTS
                                         : WP_EIO;
    return wp_error_set(err, "%s: %s%s%s", what, wp_agent_strerror(code), msg[0] ? ": " : "",
                        msg);
}

static int enroll(void *ctx, void **out_dev, const char *employee_id, const char *serial,
                  const char *model)
{
    wp_sim_remote *r = ctx;
    char path[256], dir[4096 + 32], what[96];
    json_t *reply = NULL;
    struct phone *ph = NULL;
    int err, rc;
    *out_dev = NULL;
    snprintf(what, sizeof what, "enroll phone %s", serial);
    snprintf(path, sizeof path, "/employees/%s/enrollment-codes", employee_id);
    if ((err = post(r, &reply, path, json_object(), what)) < 0)
        return err;
    const char *code = json_string_value(json_object_get(reply, "code"));
    if (!code) {
        err = wp_error_set(WP_EIO, "%s: the answer has no code", what);
        goto out;
    }
    if ((size_t)snprintf(dir, sizeof dir, "%s/%s", r->agents_dir, serial) >= sizeof dir) {
        err = wp_error_set(WP_EINVAL, "agents dir path too long");
        goto out;
    }
    if (!(ph = calloc(1, sizeof *ph))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    wp_agent_options ao = WP_AGENT_OPTIONS_INIT;
    ao.dir = dir;
    ao.batch_max = r->batch_max;
    ao.timeout_ms = r->timeout_ms;
    if ((rc = wp_agent_new(&ph->a, &ao)) < 0) {
        err = agent_error(NULL, rc, what);
        goto out;
    }
    if ((rc = wp_agent_enroll(ph->a, r->server, code, serial, model)) < 0) {
        err = agent_error(ph->a, rc, what);
        goto out;
    }
    *out_dev = ph;
    ph = NULL;
out:
    if (ph) {
        wp_agent_free(ph->a);
        free(ph);
    }
    json_decref(reply);
    return err;
}

static int events(void *ctx, void *dev, const json_t *body, int64_t at_us, json_t **reply)
{
    struct phone *ph = dev;
    const json_t *evs = json_object_get(body, "events");
    size_t n = json_array_size(evs);
    char **texts = calloc(n ? n : 1, sizeof *texts);
    size_t *lens = calloc(n ? n : 1, sizeof *lens);
    wp_agent_status st;
    int err = 0, rc;
    *reply = NULL;
    if (!texts || !lens) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    /* the agent numbers the events itself: they go in without their seq */
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_copy(json_array_get(evs, i));
        if (!e || json_object_del(e, "seq") < 0 ||
            !(texts[i] = wp_json_dumps(e, JSON_COMPACT))) {
            json_decref(e);
            err = wp_error_set(WP_ENOMEM, "out of memory");
            goto out;
        }
        json_decref(e);
        lens[i] = strlen(texts[i]);
    }
    int64_t first = 0, want = json_integer_value(json_object_get(json_array_get(evs, 0), "seq"));
    if (n && (rc = wp_agent_record_many(ph->a, &first, (const char *const *)texts, lens, n)) < 0) {
        err = agent_error(ph->a, rc, "record");
        goto out;
    }
    /* revokes name their target by the stream's seq: the two numberings must agree */
    if (n && first != want) {
        err = wp_error_set(WP_EIO, "the agent numbered event %lld as %lld", (long long)want,
                           (long long)first);
        goto out;
    }
    if ((rc = wp_agent_sync(ph->a)) < 0) {
        err = agent_error(ph->a, rc, "sync");
        goto out;
    }
    if ((rc = wp_agent_status_get(ph->a, &st)) < 0) {
        err = agent_error(ph->a, rc, "status");
        goto out;
    }
    json_t *o = json_object(), *rej = json_array();
    int bad = !o || !rej || json_object_set_new(o, "rejected", rej) < 0; /* takes rej */
    for (uint64_t i = ph->rejected; !bad && i < st.rejected; i++)
        bad = json_array_append_new(rej, json_object()) < 0;
    if (bad || json_object_set_new(o, "acked_seq", json_integer(st.acked_seq)) < 0) {
        if (!o)
            json_decref(rej);
        json_decref(o);
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    ph->rejected = st.rejected;
    *reply = o;
out:
    for (size_t i = 0; texts && i < n; i++)
        free(texts[i]);
    free(texts);
    free(lens);
    return err;
}

static void device_free(void *ctx, void *dev)
{
    struct phone *ph = dev;
    if (!ph)
        return;
    wp_agent_free(ph->a);
    free(ph);
}

/* A file for the phone: written once under <agents_dir>/media, then added to the agent's
 * outbox, which uploads it with the next sync (before the events that name it). */
static int media(void *ctx, void *dev, const wp_sim_media *m)
{
    wp_sim_remote *r = ctx;
    struct phone *ph = dev;
    char path[4096 + 128], ref[72];
    int err = 0, rc;
    if ((size_t)snprintf(path, sizeof path, "%s/media-%.16s", r->agents_dir, m->ref + 7) >=
        sizeof path)
        return wp_error_set(WP_EINVAL, "agents dir path too long");
    pthread_mutex_lock(&r->mu);
    FILE *f = fopen(path, "wbx"); /* x: one writer; a file there already is complete */
    if (f) {
        if (fwrite(m->bytes, 1, m->len, f) != m->len)
            err = wp_error_set(WP_EIO, "cannot write '%s'", path);
        if (fclose(f) != 0 && err == 0)
            err = wp_error_set(WP_EIO, "cannot write '%s'", path);
    }
    pthread_mutex_unlock(&r->mu);
    if (err < 0)
        return err;
    if ((rc = wp_agent_media_add(ph->a, ref, path)) < 0)
        return agent_error(ph->a, rc, "add media");
    if (strcmp(ref, m->ref))
        return wp_error_set(WP_EIO, "the agent made %s of %s", ref, m->ref);
    return 0;
}

/* --- the CRM, as the admin in the console ------------------------------------------------------- */

static const char *named_get(wp_sim_remote *r, struct named *v, size_t n, const char *key)
{
    const char *id = NULL;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < n && !id; i++)
        if (!strcmp(v[i].key, key))
            id = v[i].id;
    pthread_mutex_unlock(&r->mu);
    return id;
}

static int named_put(wp_sim_remote *r, struct named **v, size_t *n, size_t *cap, const char *key,
                     const char *id)
{
    int err = 0;
    pthread_mutex_lock(&r->mu);
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        struct named *nv = realloc(*v, c * sizeof *nv);
        if (!nv)
            err = wp_error_set(WP_ENOMEM, "out of memory");
        else
            *v = nv, *cap = c;
    }
    if (err == 0) {
        snprintf((*v)[*n].key, sizeof (*v)[*n].key, "%s", key);
        snprintf((*v)[*n].id, sizeof (*v)[*n].id, "%s", id);
        (*n)++;
    }
    pthread_mutex_unlock(&r->mu);
    return err;
}

/* A call that must answer 2xx; *out (may be NULL) the answer. */
static int call_ok(wp_sim_remote *r, json_t **out, const char *method, const char *path,
                   json_t *body, const char *what)
{
    long status;
    json_t *reply = NULL;
    int err;
    if (!body && strcmp(method, "GET"))
        return wp_error_set(WP_ENOMEM, "out of memory");
    err = call(r, &reply, &status, method, path, body, NULL);
    json_decref(body);
    if (err == 0 && (status < 200 || status > 299))
        err = http_error(status, reply, what);
    if (err == 0 && out)
        *out = reply;
    else
        json_decref(reply);
    return err;
}

struct tag_walk {
    wp_sim_remote *r;
    const char *group_id; /* tags: only those of this group; NULL: groups */
};

static int learn_tag(void *ctx, const json_t *t)
{
    struct tag_walk *w = ctx;
    const char *name = json_string_value(json_object_get(t, "name"));
    const char *id = json_string_value(json_object_get(t, "id"));
    const char *group = json_string_value(json_object_get(t, "group_id"));
    if (!name || !id || (w->group_id && (!group || strcmp(group, w->group_id))))
        return 0;
    char key[128];
    snprintf(key, sizeof key, "%s\x1f%s", w->group_id ? w->group_id : "", name);
    return named_put(w->r, &w->r->tags, &w->r->n_tags, &w->r->cap_tags, key, id);
}

/* The id of a group (group_id NULL) or of a tag of group_id, by name; NULL when unknown. */
static const char *tag_get(wp_sim_remote *r, const char *group_id, const char *name)
{
    char key[128];
    snprintf(key, sizeof key, "%s\x1f%s", group_id ? group_id : "", name);
    return named_get(r, r->tags, r->n_tags, key);
}

/* A tag by its name alone (the vocabulary's names are unique across its groups). */
static const char *tag_named(wp_sim_remote *r, const char *name)
{
    const char *id = NULL;
    size_t len = strlen(name);
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n_tags && !id; i++) {
        const char *sep = strchr(r->tags[i].key, '\x1f');
        if (sep && sep != r->tags[i].key && strlen(sep + 1) == len && !strcmp(sep + 1, name))
            id = r->tags[i].id;
    }
    pthread_mutex_unlock(&r->mu);
    return id;
}

static int count_items(void *ctx, const json_t *item)
{
    (*(size_t *)ctx)++;
    return 0;
}

static int crm_setup(void *ctx, const wp_sim_crm *crm, int64_t at_us)
{
    wp_sim_remote *r = ctx;
    struct tag_walk groups = {r, NULL};
    json_t *reply = NULL;
    size_t n_sop = 0, n_grade = 0;
    int err;
    if ((err = wp_sim_remote_each(r, "/tag-groups", learn_tag, &groups)) < 0)
        return err;
    for (size_t i = 0; i < crm->n_tags && err == 0; i++) {
        const wp_sim_tag *t = &crm->tags[i];
        const char *gid = t->group ? tag_get(r, NULL, t->group) : NULL;
        char path[160];
        if (t->group && !gid)
            return wp_error_set(WP_EIO, "tag group '%s' was not made", t->group);
        if (tag_get(r, gid, t->name))
            continue;
        if (gid) { /* the group's tags the tenant has, once per group */
            struct tag_walk tags = {r, gid};
            snprintf(path, sizeof path, "/tags?group_id=%s", gid);
            if (i == 0 || !crm->tags[i - 1].group || strcmp(crm->tags[i - 1].group, t->group))
                if ((err = wp_sim_remote_each(r, "/tags", learn_tag, &tags)) < 0)
                    return err;
            if (tag_get(r, gid, t->name))
                continue;
        }
        json_t *body = json_pack("{s:s, s:s}", "name", t->name, "color", t->color);
        if (body && gid && json_object_set_new(body, "group_id", json_string(gid)) < 0)
            body = (json_decref(body), NULL);
        if ((err = call_ok(r, &reply, "POST", gid ? "/tags" : "/tag-groups", body,
                           "create tag")) < 0)
            return err;
        const char *id = json_string_value(json_object_get(reply, "id"));
        char key[128];
        snprintf(key, sizeof key, "%s\x1f%s", gid ? gid : "", t->name);
        err = id ? named_put(r, &r->tags, &r->n_tags, &r->cap_tags, key, id)
                 : wp_error_set(WP_EIO, "create tag: the answer has no id");
        json_decref(reply);
        reply = NULL;
    }
    /* rules the tenant has already stay as they are: a second company adds none */
    if (err == 0 && (err = wp_sim_remote_each(r, "/sop-rules", count_items, &n_sop)) == 0)
        err = wp_sim_remote_each(r, "/grade-rules", count_items, &n_grade);
    for (size_t i = 0; i < crm->n_sop_rules && !n_sop && err == 0; i++) {
        const wp_sim_sop_rule *x = &crm->sop_rules[i];
        json_t *b = json_pack("{s:s, s:i, s:i}", "name", x->name, "interval_hours",
                              x->interval_hours, "grace_hours", x->grace_hours);
        if (b && ((x->grade && json_object_set_new(b, "grade", json_string(x->grade)) < 0) ||
                  (x->stage && json_object_set_new(b, "stage", json_string(x->stage)) < 0)))
            b = (json_decref(b), NULL);
        err = call_ok(r, NULL, "POST", "/sop-rules", b, "create sop rule");
    }
    for (size_t i = 0; i < crm->n_grade_rules && !n_grade && err == 0; i++) {
        const wp_sim_grade_rule *x = &crm->grade_rules[i];
        const char *tid = x->tag ? tag_named(r, x->tag) : NULL;
        json_t *b = json_pack("{s:i, s:s}", "position", (int)i + 1, "grade", x->grade);
        int bad = !b;
        bad = bad || (x->stage && json_object_set_new(b, "stage", json_string(x->stage)) < 0);
        bad = bad || (tid && json_object_set_new(b, "tag_id", json_string(tid)) < 0);
        bad = bad || (x->min_messages >= 0 &&
                      json_object_set_new(b, "min_messages", json_integer(x->min_messages)) < 0);
        bad = bad || (x->messages_days >= 0 &&
                      json_object_set_new(b, "messages_days", json_integer(x->messages_days)) < 0);
        bad = bad || (x->contact_within_days >= 0 &&
                      json_object_set_new(b, "contact_within_days",
                                          json_integer(x->contact_within_days)) < 0);
        bad = bad || (x->no_contact_days >= 0 &&
                      json_object_set_new(b, "no_contact_days",
                                          json_integer(x->no_contact_days)) < 0);
        if (bad)
            b = (json_decref(b), NULL);
        err = call_ok(r, NULL, "POST", "/grade-rules", b, "create grade rule");
    }
    if (err == 0)
        err = call_ok(r, NULL, "PUT", "/pool/settings",
                      json_pack("{s:i, s:i, s:i}", "pool_claim_daily_max", crm->claim_daily_max,
                                "pool_cooldown_days", crm->cooldown_days,
                                "reclaim_inactive_days", crm->reclaim_inactive_days),
                      "pool settings");
    return err;
}

/* The customer with this phone number (the admin sees numbers unmasked); "" when none. */
static int customer_find(wp_sim_remote *r, char out[WP_SIM_ID_MAX], const char *phone)
{
    const char *known = named_get(r, r->customers, r->n_customers, phone);
    char path[96];
    json_t *reply = NULL;
    size_t i;
    json_t *c;
    int err;
    out[0] = '\0';
    if (known) {
        snprintf(out, WP_SIM_ID_MAX, "%s", known);
        return 0;
    }
    snprintf(path, sizeof path, "/customers?q=%s&limit=5", phone);
    if ((err = call_ok(r, &reply, "GET", path, NULL, "find a customer")) < 0)
        return err;
    json_array_foreach(json_object_get(reply, "items"), i, c)
    {
        const char *p = json_string_value(json_object_get(c, "phone"));
        const char *id = json_string_value(json_object_get(c, "id"));
        if (p && id && !strcmp(p, phone) && strlen(id) < WP_SIM_ID_MAX) {
            snprintf(out, WP_SIM_ID_MAX, "%s", id);
            break;
        }
    }
    json_decref(reply);
    return out[0] ? named_put(r, &r->customers, &r->n_customers, &r->cap_customers, phone, out) : 0;
}

/* One act as the admin; a refusal for the state the server found (409, 429, 404) is 1. */
static int one_act(wp_sim_remote *r, const wp_sim_act_call *call_, const char *id)
{
    const wp_sim_act *a = call_->act;
    char path[192];
    const char *method = "POST";
    json_t *b = NULL;
    switch (a->kind) {
    case WP_SIM_ACT_STAGE:
        method = "PATCH";
        snprintf(path, sizeof path, "/customers/%s", id);
        b = !strcmp(a->stage, "deal")
                ? json_pack("{s:s, s:I}", "stage", a->stage, "deal_amount_fen",
                            (json_int_t)a->amount_fen)
                : json_pack("{s:s}", "stage", a->stage);
        break;
    case WP_SIM_ACT_GRADE:
        method = "PATCH";
        snprintf(path, sizeof path, "/customers/%s", id);
        b = json_pack("{s:s}", "grade", a->grade);
        break;
    case WP_SIM_ACT_TAGS: {
        json_t *add = json_array();
        for (size_t i = 0; add && i < a->n_tags; i++) {
            const char *tid = tag_named(r, a->tags[i]);
            if (tid && json_array_append_new(add, json_string(tid)) < 0)
                add = (json_decref(add), NULL);
        }
        if (add && !json_array_size(add)) {
            json_decref(add);
            return 0;
        }
        method = "PUT";
        snprintf(path, sizeof path, "/customers/%s/tags", id);
        b = add ? json_pack("{s:o}", "add", add) : NULL;
        break;
    }
    case WP_SIM_ACT_NOTE:
        snprintf(path, sizeof path, "/customers/%s/follow-ups", id);
        b = json_pack("{s:s}", "text", a->text ? a->text : "");
        break;
    case WP_SIM_ACT_RELEASE:
        snprintf(path, sizeof path, "/customers/%s/release", id);
        b = json_pack("{s:s, s:s}", "reason", "manual", "note", a->text ? a->text : "");
        break;
    case WP_SIM_ACT_CLAIM: /* the admin assigns it: a claim is the claimer's own act */
        snprintf(path, sizeof path, "/pool/%s/assign", id);
        b = json_pack("{s:s, s:s}", "employee_id", call_->employee_id, "note",
                      a->text ? a->text : "");
        break;
    }
    if (!b)
        return wp_error_set(WP_ENOMEM, "out of memory");
    long status;
    json_t *reply = NULL;
    int err = call(r, &reply, &status, method, path, b, NULL);
    json_decref(b);
    if (err == 0 && (status == 404 || status == 409 || status == 429))
        err = 1;
    else if (err == 0 && (status < 200 || status > 299))
        err = http_error(status, reply, path);
    json_decref(reply);
    return err;
}

static int acts(void *ctx, const wp_sim_act_call *v, size_t n, wp_sim_stats *stats)
{
    wp_sim_remote *r = ctx;
    char id[WP_SIM_ID_MAX];
    int err = 0;
    for (size_t i = 0; i < n && err >= 0; i++) {
        if ((err = customer_find(r, id, v[i].customer->phone)) < 0)
            break;
        if (!id[0] || (err = one_act(r, &v[i], id)) == 1) {
            stats->acts_skipped++;
            err = 0;
        }
    }
    return err < 0 ? err : 0;
}

static int handover(void *ctx, const char *from_id, const char *const *to_ids, size_t n_to,
                    int64_t at_us)
{
    json_t *to = json_array();
    for (size_t i = 0; to && i < n_to; i++)
        if (json_array_append_new(to, json_string(to_ids[i])) < 0)
            to = (json_decref(to), NULL);
    json_t *b = to ? json_pack("{s:s, s:o, s:s}", "from_employee", from_id, "to_employees", to,
                               "reason", "departure")
                   : NULL;
    return call_ok(ctx, NULL, "POST", "/handovers", b, "handover");
}

void wp_sim_remote_sink(wp_sim_sink *out, wp_sim_remote *r)
{
    memset(out, 0, sizeof *out);
    out->ctx = r;
    out->org_unit = org_unit;
    out->employee = employee;
    out->enroll = enroll;
    out->events = events;
    out->device_free = device_free;
    out->media = media;
    out->geofence = geofence;
    out->crm_setup = crm_setup;
    out->acts = acts;
    out->handover = handover;
}
