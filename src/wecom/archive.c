/* SPDX-License-Identifier: MIT */
/* The archive connector (archive.h): per tenant, pull a page from the last stored seq, open and
 * map each record, fetch its media, scan it, and store the page with its cursor in one
 * transaction; hold back what cannot be stored yet, with its reason; pace the pulls and back off
 * after failures. */
#include "wecom/archive.h"
#include "wecom/settings.h"
#include "ingest/ingest.h"
#include "store/events.h"
#include "store/store.h"
#include "store/wecom_archive.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"
#include "util/json.h"

#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MEDIA_CALLS_MAX 100000 /* GetMediaData calls for one file: a library that never says
                                * "finished" cannot hold the connector */
#define MIN_GAP_DEFAULT_MS 100
#define BUDGET_DEFAULT_MS 5000

/* What the connector keeps per tenant between runs: the SDK and the keys, made for one version
 * of the settings, and the time of the last GetChatData (the pacing). Touched only by the task's
 * thread. */
struct tenant_rt {
    char tenant_id[WP_ID_LEN + 1];
    int64_t version;
    wp_wecom_sdk *sdk;
    wp_wecom_keyring *keys;
    struct timespec last_call;
    struct tenant_rt *next;
};

struct wp_wecom_archiver {
    wp_ingest *ing;
    unsigned char key[WP_AUDIT_KEY_LEN];
    char *sdk_dirs, *sdk_default;
    void (*wake)(void *ctx);
    void *wake_ctx;
    unsigned min_gap_ms, budget_ms;
    atomic_int stopping;
    struct tenant_rt *rts;
};

/* --- the object ----------------------------------------------------------------------------- */

int wp_wecom_archiver_new(wp_wecom_archiver **out, const wp_wecom_archiver_config *c)
{
    wp_wecom_archiver *a;
    if (!c->ingest || !c->audit_key)
        return wp_error_set(WP_EINVAL, "the wecom archiver needs ingest and the audit key");
    if (!(a = calloc(1, sizeof *a)))
        return wp_error_set(WP_ENOMEM, "out of memory");
    a->ing = c->ingest;
    memcpy(a->key, c->audit_key, sizeof a->key);
    a->wake = c->wake;
    a->wake_ctx = c->wake_ctx;
    a->min_gap_ms = c->min_gap_ms ? c->min_gap_ms : MIN_GAP_DEFAULT_MS;
    a->budget_ms = c->run_budget_ms ? c->run_budget_ms : BUDGET_DEFAULT_MS;
    if ((c->sdk_dirs && !(a->sdk_dirs = strdup(c->sdk_dirs))) ||
        (c->sdk_default && !(a->sdk_default = strdup(c->sdk_default)))) {
        wp_wecom_archiver_free(a);
        return wp_error_set(WP_ENOMEM, "out of memory");
    }
    *out = a;
    return 0;
}

void wp_wecom_archiver_stop(wp_wecom_archiver *a)
{
    if (a)
        atomic_store(&a->stopping, 1);
}

static void rt_reset(struct tenant_rt *rt)
{
    wp_wecom_sdk_free(rt->sdk);
    wp_wecom_keyring_free(rt->keys);
    rt->sdk = NULL;
    rt->keys = NULL;
    rt->version = 0;
}

void wp_wecom_archiver_free(wp_wecom_archiver *a)
{
    if (!a)
        return;
    for (struct tenant_rt *rt = a->rts, *next; rt; rt = next) {
        next = rt->next;
        rt_reset(rt);
        free(rt);
    }
    sodium_memzero(a->key, sizeof a->key);
    free(a->sdk_dirs);
    free(a->sdk_default);
    free(a);
}

void wp_wecom_archiver_kick(wp_wecom_archiver *a)
{
    if (a && a->wake)
        a->wake(a->wake_ctx);
}

int wp_wecom_archiver_sdk_path_ok(const wp_wecom_archiver *a, const char *path)
{
    char real[PATH_MAX], dir[PATH_MAX], rdir[PATH_MAX];
    struct stat sb;

    if (!path || path[0] != '/')
        return wp_error_set(WP_EINVAL, "sdk_path must be an absolute path");
    if (strlen(path) > WP_WECOM_PATH_MAX)
        return wp_error_set(WP_EINVAL, "sdk_path is longer than %d bytes", WP_WECOM_PATH_MAX);
    if (!a || !a->sdk_dirs || !*a->sdk_dirs)
        return wp_error_set(WP_EINVAL, "this server allows no sdk_path: its operator names the"
                                       " directories in workphone.conf (wecom_sdk_dirs)");
    if (!realpath(path, real) || stat(real, &sb) != 0 || !S_ISREG(sb.st_mode))
        return wp_error_set(WP_EINVAL, "sdk_path is not a file on this server");
    for (const char *p = a->sdk_dirs; *p;) {
        size_t n = strcspn(p, ":");
        if (n > 0 && n < sizeof dir) {
            memcpy(dir, p, n);
            dir[n] = '\0';
            size_t rl;
            if (realpath(dir, rdir) && (rl = strlen(rdir)) > 0 &&
                strncmp(real, rdir, rl) == 0 && (real[rl] == '/' || rdir[rl - 1] == '/'))
                return 0;
        }
        p += n;
        if (*p == ':')
            p++;
    }
    return wp_error_set(WP_EINVAL, "sdk_path is not in a directory this server's operator allows"
                                   " (workphone.conf wecom_sdk_dirs)");
}

int64_t wp_wecom_backoff_us(int64_t failures, int max_s)
{
    int64_t s = WP_WECOM_BACKOFF_BASE_S;
    for (int64_t i = 1; i < failures && s < max_s; i++)
        s *= 2;
    if (max_s > 0 && s > max_s)
        s = max_s;
    return s * 1000000;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- one tenant's run ------------------------------------------------------------------------ */

struct run {
    wp_wecom_archiver *a;
    wp_store *st;
    const char *tenant_id;
    int64_t now;
    wp_wecom_settings set;
    struct tenant_rt *rt;
    wp_wecom_userid *ids;
    size_t n_ids;
    char (*devices)[WP_ID_LEN + 1]; /* the archive device of ids[i], "" until made */
    int media_strict;               /* a media file that cannot be fetched fails the pull */
    wp_wecom_run *res;
};

/* One record of a pull, on its way to a message or to the held records. */
struct item {
    int64_t seq;
    const char *record; /* the record as GetChatData gave it: borrowed */
    char *plain;        /* the decrypted message (malloc) */
    wp_wecom_msg msg;
    int mapped; /* msg holds a parsed message */
    int emp;    /* ids index, -1: none */
    int skip;   /* a second copy of a msgid in the same page */
    const char *kind;
    char reason[WP_WECOM_HELD_REASON_MAX + 1];
    wp_event ev;
    char media_ref[72];
    char *raw; /* the row's raw JSON (malloc), NULL: plain */
    /* the random key, opened ahead by unlock_keys() (rkey_state 1: rkey, 2: rkey_err) */
    int rkey_state, rkey_err;
    char rkey[512];
    char rkey_why[WP_WECOM_HELD_REASON_MAX + 1];
};

static void item_release(struct item *it)
{
    sodium_memzero(it->rkey, sizeof it->rkey);
    if (it->plain)
        sodium_memzero(it->plain, strlen(it->plain));
    free(it->plain);
    free(it->raw);
    wp_wecom_msg_release(&it->msg);
}

static void hold(struct item *it, const char *kind, const char *reason)
{
    it->kind = kind;
    snprintf(it->reason, sizeof it->reason, "%s", reason);
}

static struct tenant_rt *rt_of(wp_wecom_archiver *a, const char *tenant_id)
{
    for (struct tenant_rt *rt = a->rts; rt; rt = rt->next)
        if (!strcmp(rt->tenant_id, tenant_id))
            return rt;
    struct tenant_rt *rt = calloc(1, sizeof *rt);
    if (!rt)
        return NULL;
    memcpy(rt->tenant_id, tenant_id, sizeof rt->tenant_id);
    rt->next = a->rts;
    a->rts = rt;
    return rt;
}

/* The SDK and keys for the settings in force: made again when the settings moved. */
static int prepare(struct run *r)
{
    struct tenant_rt *rt = r->rt;
    wp_wecom_key_row *keys = NULL;
    size_t n = 0;
    int err;

    if (rt->version == r->set.row.version && rt->sdk && rt->keys)
        return 0;
    rt_reset(rt);
    const char *path = r->set.row.sdk_path[0] ? r->set.row.sdk_path : r->a->sdk_default;
    /* checked when put, and again now: the operator's directories may have changed */
    if (r->set.row.sdk_path[0] && (err = wp_wecom_archiver_sdk_path_ok(r->a, path)) < 0)
        return err;
    if ((err = wp_store_wecom_keys_list(r->st, &keys, &n, r->tenant_id, 1)) < 0 ||
        (err = wp_wecom_keyring_new(&rt->keys, keys, n, r->a->key, r->tenant_id)) < 0 ||
        (err = wp_wecom_sdk_open(&rt->sdk, path, r->set.row.corp_id, r->set.archive_secret)) < 0)
        goto out;
    rt->version = r->set.row.version;
out:
    wp_wecom_key_rows_free(keys, n);
    if (err < 0)
        rt_reset(rt);
    return err;
}

/* The settings in force now, and the SDK and keys made for them. *off: the archive was turned
 * off or lost its secret meanwhile, nothing more to do in this run. The version and the keys
 * are read by two statements, and a PUT may commit on another connection while a run waits
 * (the gap between pulls, a GetChatData): so the version is read again after the keys, and
 * before every page is opened. As every change of the keys moves the version in the same
 * transaction, an unchanged version means the keys read are those of that version. */
static int settle(struct run *r, int *off)
{
    wp_wecom_settings_row now;
    int err;

    *off = 0;
    for (int tries = 0; tries < 8; tries++) {
        if ((err = wp_store_wecom_settings_get(r->st, &now, r->tenant_id)) == WP_ENOTFOUND) {
            *off = 1;
            return 0;
        }
        if (err < 0)
            return err;
        if (now.version == r->set.row.version && r->rt->version == now.version &&
            r->rt->sdk && r->rt->keys)
            return 0;
        if (now.version != r->set.row.version) {
            wp_wecom_settings_wipe(&r->set);
            if ((err = wp_wecom_settings_load(r->st, &r->set, r->a->key, r->tenant_id)) ==
                WP_ENOTFOUND) {
                *off = 1;
                return 0;
            }
            if (err < 0)
                return err;
            if (!r->set.row.archive_enabled || !r->set.archive_secret[0]) {
                *off = 1;
                return 0;
            }
        }
        if ((err = prepare(r)) < 0)
            return err;
    }
    return wp_error_set(WP_EBUSY, "the wecom settings kept changing while the archive read them");
}

static int find_id(const struct run *r, const char *userid)
{
    size_t lo = 0, hi = r->n_ids;
    if (!userid)
        return -1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(r->ids[mid].userid, userid);
        if (c == 0)
            return (int)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* The message's employee, direction, peer and chat (the design page has the rules). */
static void place(struct run *r, struct item *it)
{
    const wp_wecom_msg *m = &it->msg;
    wp_event *e = &it->ev;
    int from = find_id(r, m->from);
    const char *other = NULL;

    it->emp = -1;
    if (from >= 0) {
        it->emp = from;
        e->direction = strcmp(m->wp_msgtype, "switch") ? WP_DIR_OUT : WP_DIR_NONE;
    } else {
        for (size_t i = 0; i < m->n_to && it->emp < 0; i++)
            it->emp = find_id(r, m->tolist[i]);
        e->direction = WP_DIR_IN;
    }
    if (it->emp < 0) {
        char why[WP_WECOM_HELD_REASON_MAX + 1];
        snprintf(why, sizeof why, "no employee has the wecom_userid of '%s'%s", m->from,
                 m->n_to ? " or its receivers" : "");
        hold(it, "unknown_employee", why);
        return;
    }
    if (m->roomid) {
        e->chat = e->group_id = m->roomid;
        other = e->direction == WP_DIR_IN ? m->from : NULL;
    } else if (e->direction != WP_DIR_NONE) {
        other = e->direction == WP_DIR_OUT ? (m->n_to ? m->tolist[0] : NULL) : m->from;
        e->chat = other;
    }
    /* an external contact is a customer; a colleague is named, never made a customer */
    if (other && wp_wecom_is_external(other))
        e->peer.id = other;
    else if (other)
        e->peer.name = other;
}

/* Map an opened message into the item's event, or hold it. */
static void map_message(struct run *r, struct item *it, const char *record_msgid)
{
    wp_event *e = &it->ev;
    if (wp_wecom_msg_parse(&it->msg, it->plain, strlen(it->plain)) < 0) {
        hold(it, "invalid_message", wp_error_last());
        return;
    }
    it->mapped = 1;
    if (record_msgid && strcmp(record_msgid, it->msg.msgid) != 0) {
        hold(it, "invalid_message", "the message's msgid is not its record's");
        return;
    }
    memset(e, 0, sizeof *e);
    e->seq = it->seq;
    e->type = WP_EVENT_MESSAGE;
    e->ts_us = it->msg.ts_us;
    e->channel = "wecom";
    e->msgtype = it->msg.wp_msgtype;
    e->msgid = it->msg.msgid;
    e->text = it->msg.text;
    e->url = it->msg.url;
    e->title = it->msg.title;
    e->filename = it->msg.filename;
    e->memo = it->msg.memo;
    e->size = it->msg.size;
    e->amount_fen = it->msg.amount_fen;
    e->revoked_msgid = it->msg.revoked_msgid;
    e->duration_s = e->accuracy_cm = -1;
    place(r, it);
}

/* --- the random keys, on every core ----------------------------------------------------------
 *
 * A record's random key is an RSA private-key operation, most of a record's cost: a page's are
 * opened ahead on up to UNLOCK_THREADS threads (the keyring is read-only; each call has its own
 * context). DecryptData stays on the connector's thread: WeCom does not say its SDK is safe on
 * several. */

#define UNLOCK_THREADS 8
#define UNLOCK_MIN 64 /* records in a page before it is worth a thread */

struct unlock {
    wp_wecom_keyring *keys;
    struct item *v;
    const wp_wecom_record *recs;
    size_t n;
    atomic_size_t next;
};

static void *unlock_run(void *arg)
{
    struct unlock *u = arg;
    for (size_t i; (i = atomic_fetch_add(&u->next, 1)) < u->n;) {
        struct item *it = &u->v[i];
        const wp_wecom_record *rec = &u->recs[i];
        if (rec->reason[0])
            continue; /* held by open_record() for what the record lacks */
        int err = wp_wecom_keyring_decrypt(u->keys, it->rkey, sizeof it->rkey,
                                           rec->publickey_ver, rec->encrypt_random_key);
        if (err < 0) {
            it->rkey_err = err;
            snprintf(it->rkey_why, sizeof it->rkey_why, "%s", wp_error_last());
        }
        it->rkey_state = err < 0 ? 2 : 1;
    }
    return NULL;
}

/* Open the random keys of v[0..n) (recs[i] is v[i]'s record) ahead, on the machine's cores.
 * What cannot be done so (a thread not started) is left to open_record(). */
static void unlock_keys(struct run *r, struct item *v, const wp_wecom_record *recs, size_t n)
{
    struct unlock u = {r->rt->keys, v, recs, n, 0};
    pthread_t t[UNLOCK_THREADS];
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    size_t want = cores > 1 ? (size_t)cores : 1, started = 0;
    if (n < UNLOCK_MIN || want < 2)
        return;
    if (want > UNLOCK_THREADS)
        want = UNLOCK_THREADS;
    for (size_t i = 0; i + 1 < want; i++)
        if (pthread_create(&t[started], NULL, unlock_run, &u) == 0)
            started++;
    unlock_run(&u); /* this thread too */
    for (size_t i = 0; i < started; i++)
        pthread_join(t[i], NULL);
}

/* Open a record: its random key with the key of its version, then DecryptData. */
static void open_record(struct run *r, struct item *it, const wp_wecom_record *rec)
{
    char rkey[512], why[WP_WECOM_HELD_REASON_MAX + 1];
    size_t len = 0;
    int ret = 0, err;

    it->seq = rec->seq;
    it->record = rec->text;
    if (rec->reason[0]) {
        hold(it, strstr(rec->reason, "larger") ? "too_large" : "invalid_record", rec->reason);
        return;
    }
    if (it->rkey_state == 2) {
        hold(it, it->rkey_err == WP_ENOTFOUND ? "no_key" : "bad_key", it->rkey_why);
        return;
    }
    if (it->rkey_state == 1) {
        memcpy(rkey, it->rkey, sizeof rkey);
        sodium_memzero(it->rkey, sizeof it->rkey);
    } else if ((err = wp_wecom_keyring_decrypt(r->rt->keys, rkey, sizeof rkey,
                                               rec->publickey_ver, rec->encrypt_random_key)) < 0) {
        hold(it, err == WP_ENOTFOUND ? "no_key" : "bad_key", wp_error_last());
        return;
    }
    err = wp_wecom_sdk_decrypt(r->rt->sdk, &it->plain, &len, &ret, rkey, rec->encrypt_chat_msg);
    sodium_memzero(rkey, sizeof rkey);
    if (err < 0) {
        snprintf(why, sizeof why, "%s", wp_error_last());
        hold(it, err == WP_ELIMIT ? "too_large" : "decrypt", why);
        return;
    }
    if (memchr(it->plain, '\0', len)) {
        hold(it, "invalid_message", "the decrypted message holds a NUL byte");
        return;
    }
    map_message(r, it, rec->msgid);
}

/* --- media ----------------------------------------------------------------------------------- */

struct fetch {
    wp_media_upload *up;
    EVP_MD_CTX *md5;
};

static int fetch_write(void *arg, const void *p, size_t n)
{
    struct fetch *f = arg;
    EVP_DigestUpdate(f->md5, p, n);
    return wp_ingest_media_write(f->up, p, n);
}

/* Fetch one file chunk by chunk into the media store: ref gets its name. On failure *lasting
 * says whether trying again cannot help (the SDK's lasting errors: a bad or expired fileid; a
 * file past WP_INGEST_MEDIA_MAX); anything else (the network, the disk, a storage limit, a
 * wrong md5) may pass. */
static int fetch_media(struct run *r, const char *device_id, const wp_wecom_media *md,
                       char ref[72], int *lasting)
{
    struct fetch f = {NULL, EVP_MD_CTX_new()};
    char *index = NULL, *next = NULL;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned dlen = 0;
    int ret = 0, created, err;

    *lasting = 0;
    if (!f.md5 || EVP_DigestInit_ex(f.md5, EVP_md5(), NULL) != 1) {
        err = wp_error_set(WP_ENOMEM, "no md5");
        goto out;
    }
    if ((err = wp_ingest_media_begin_unnamed(r->a->ing, &f.up, r->tenant_id, device_id)) < 0)
        goto out;
    for (int calls = 0;; calls++) {
        if (calls >= MEDIA_CALLS_MAX || atomic_load(&r->a->stopping)) {
            err = wp_error_set(WP_EIO, "GetMediaData did not finish");
            goto out;
        }
        err = wp_wecom_sdk_media_chunk(r->rt->sdk, &next, &ret, index ? index : "", md->sdkfileid,
                                       r->set.row.proxy, r->set.proxy_password,
                                       r->set.row.timeout_s, fetch_write, &f);
        free(index);
        index = next;
        next = NULL;
        if (err < 0) {
            *lasting = (err == WP_EIO && ret != 0 && !wp_wecom_sdk_error_transient(ret)) ||
                       err == WP_ELIMIT;
            goto out;
        }
        if (!index)
            break;
    }
    EVP_DigestFinal_ex(f.md5, digest, &dlen);
    if (md->md5sum) {
        char hex[2 * EVP_MAX_MD_SIZE + 1];
        sodium_bin2hex(hex, sizeof hex, digest, dlen);
        if (strcasecmp(hex, md->md5sum) != 0) {
            err = wp_error_set(WP_EIO, "the media file's md5 is not its md5sum");
            goto out; /* a download gone wrong: again, until the pull gives it up */
        }
    }
    err = wp_ingest_media_finish_named(f.up, &created, ref);
    f.up = NULL; /* finish frees it, whatever it returns */
out:
    free(index);
    wp_ingest_media_abort(f.up);
    EVP_MD_CTX_free(f.md5);
    return err;
}

/* The archive device of ids[emp], made on first use. */
static int device_of(struct run *r, int emp, const char **out)
{
    int err;
    if (!r->devices[emp][0] &&
        (err = wp_store_wecom_archive_device(r->st, r->devices[emp], r->tenant_id,
                                             r->ids[emp].employee_id, r->now)) < 0)
        return err;
    *out = r->devices[emp];
    return 0;
}

/* Fetch an item's media. A file that cannot be fetched for a passing reason fails the pull
 * (nothing stored; it is tried again) until the pull has failed WP_WECOM_MEDIA_STRICT_FAILURES
 * times in a row; then, and for a lasting reason, the message is stored without it and its raw
 * JSON says why ("wp_media_errors"). Every file fetched is named in "wp_media". */
static int fetch_item_media(struct run *r, struct item *it)
{
    json_t *refs = NULL, *errors = NULL;
    const char *device;
    int err;

    if ((err = device_of(r, it->emp, &device)) < 0)
        return err;
    for (size_t i = 0; i < it->msg.n_media; i++) {
        char ref[72];
        int lasting;
        if ((err = fetch_media(r, device, &it->msg.media[i], ref, &lasting)) < 0) {
            if (!lasting && r->media_strict)
                goto out;
            if (!errors && !(errors = json_array()))
                goto oom;
            if (json_array_append_new(errors, json_pack("{s:s,s:s}", "sdkfileid",
                                                        it->msg.media[i].sdkfileid, "error",
                                                        wp_error_last())) < 0)
                goto oom;
            continue;
        }
        if (!it->media_ref[0])
            memcpy(it->media_ref, ref, sizeof ref);
        if (!refs && !(refs = json_array()))
            goto oom;
        if (json_array_append_new(refs, json_string(ref)) < 0)
            goto oom;
    }
    err = 0;
    if (it->media_ref[0])
        it->ev.media = it->media_ref;
    if (refs && json_array_size(refs) > 1 &&
        json_object_set(it->msg.root, "wp_media", refs) < 0)
        goto oom;
    if (errors && json_object_set(it->msg.root, "wp_media_errors", errors) < 0)
        goto oom;
    if ((errors || (refs && json_array_size(refs) > 1)) &&
        !(it->raw = wp_json_dumps(it->msg.root, JSON_COMPACT)))
        goto oom;
out:
    json_decref(refs);
    json_decref(errors);
    return err;
oom:
    err = wp_error_set(WP_ENOMEM, "out of memory");
    goto out;
}

/* --- storing a set of items ------------------------------------------------------------------ */

static int cmp_msgid(const void *x, const void *y)
{
    const struct item *const *a = x, *const *b = y;
    int c = strcmp((*a)->msg.msgid, (*b)->msg.msgid);
    return c ? c : ((*a)->seq > (*b)->seq) - ((*a)->seq < (*b)->seq);
}

/* A msgid twice in one set: the later copy is not stored (the store's dedupe sees only rows
 * written before). */
static int same_page_copies(struct item *v, size_t n)
{
    struct item **p = malloc((n ? n : 1) * sizeof *p);
    size_t k = 0;
    if (!p)
        return wp_error_set(WP_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        if (!v[i].kind && v[i].mapped)
            p[k++] = &v[i];
    if (k)
        qsort(p, k, sizeof *p, cmp_msgid);
    for (size_t i = 1; i < k; i++)
        if (!strcmp(p[i]->msg.msgid, p[i - 1]->msg.msgid))
            p[i]->skip = 1;
    free(p);
    return 0;
}

/* Store the items (in seq order) as one pull: messages per employee, the held ones, the
 * released seqs, the cursor. */
static int store_items(struct run *r, struct item *v, size_t n, wp_wecom_pull *p,
                       int64_t *released, size_t n_released)
{
    wp_event_batch *batches = NULL, **bp = NULL;
    wp_event **evs = NULL;
    wp_ingest_scan **scans = NULL;
    wp_wecom_held *held = NULL;
    size_t *count = NULL, n_b = 0, n_held = 0;
    int err = 0;

    if ((err = same_page_copies(v, n)) < 0)
        return err;
    count = calloc(r->n_ids ? r->n_ids : 1, sizeof *count);
    held = calloc(n ? n : 1, sizeof *held);
    if (!count || !held) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    /* media first (outside the transaction: files are content-addressed, a crash leaves at
     * most a file no row names), then per employee */
    for (size_t i = 0; i < n; i++) {
        struct item *it = &v[i];
        if (it->kind || it->skip)
            continue;
        if (it->msg.n_media && (err = fetch_item_media(r, it)) < 0)
            goto out;
        it->ev.raw = it->raw ? it->raw : it->plain;
        if (!count[it->emp]++)
            n_b++;
        if (it->msg.ts_us > p->last_record_us)
            p->last_record_us = it->msg.ts_us;
    }
    for (size_t i = 0; i < n; i++) {
        struct item *it = &v[i];
        if (!it->kind)
            continue;
        wp_wecom_held *h = &held[n_held++];
        h->seq = it->seq;
        h->msgid = it->mapped ? it->msg.msgid : NULL;
        h->kind = it->kind;
        h->reason = it->reason;
        h->record = it->record ? it->record : "";
        h->message = it->plain;
    }
    batches = calloc(n_b ? n_b : 1, sizeof *batches);
    bp = calloc(n_b ? n_b : 1, sizeof *bp);
    evs = calloc(n_b ? n_b : 1, sizeof *evs);
    scans = calloc(n_b ? n_b : 1, sizeof *scans);
    if (!batches || !bp || !evs || !scans) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    size_t b = 0;
    for (size_t emp = 0; emp < r->n_ids && err == 0; emp++) {
        const char *device;
        if (!count[emp])
            continue;
        if ((err = device_of(r, (int)emp, &device)) < 0)
            break;
        if (!(evs[b] = calloc(count[emp], sizeof *evs[b]))) {
            err = wp_error_set(WP_ENOMEM, "out of memory");
            break;
        }
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (!v[i].kind && !v[i].skip && v[i].emp == (int)emp)
                evs[b][k++] = v[i].ev;
        wp_event_batch *eb = &batches[b];
        eb->tenant_id = r->tenant_id;
        eb->device_id = device;
        eb->employee_id = r->ids[emp].employee_id;
        eb->source = WP_BATCH_WECOM_ARCHIVE;
        eb->events = evs[b];
        eb->n = k;
        eb->now_us = r->now;
        bp[b] = eb;
        err = wp_ingest_scan_events(r->a->ing, r->st, &scans[b], r->tenant_id,
                                    r->ids[emp].employee_id, evs[b], k);
        b++;
    }
    if (err < 0)
        goto out;
    p->tenant_id = r->tenant_id;
    p->batches = bp;
    p->n_batches = b;
    p->held = held;
    p->n_held = n_held;
    p->released = released;
    p->n_released = n_released;
    p->now_us = r->now;
    if ((err = wp_store_wecom_archive_apply(r->st, p)) < 0)
        goto out;
    r->res->stored += p->stored;
    r->res->duplicates += p->duplicates;
    r->res->held += (int64_t)n_held;
    r->res->released += (int64_t)n_released;
    for (size_t i = 0; i < n; i++)
        r->res->duplicates += v[i].skip;
out:
    for (size_t i = 0; scans && i < n_b; i++)
        wp_ingest_scan_free(scans[i]);
    for (size_t i = 0; evs && i < n_b; i++)
        free(evs[i]);
    free(scans);
    free(evs);
    free(bp);
    free(batches);
    free(held);
    free(count);
    return err;
}

/* --- pulls ------------------------------------------------------------------------------------ */

/* Wait until min_gap_ms after the tenant's last GetChatData (WeCom limits how often a corp may
 * call it). */
static void pace(struct run *r)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t since = (int64_t)(now.tv_sec - r->rt->last_call.tv_sec) * 1000 +
                    (now.tv_nsec - r->rt->last_call.tv_nsec) / 1000000;
    if (r->rt->last_call.tv_sec && since < (int64_t)r->a->min_gap_ms) {
        int64_t ms = (int64_t)r->a->min_gap_ms - since;
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
    }
    clock_gettime(CLOCK_MONOTONIC, &r->rt->last_call);
}

/* One page from the cursor. *caught_up: it answered fewer than asked. */
static int pull_page(struct run *r, int64_t *seq, int *caught_up)
{
    wp_wecom_page page;
    wp_wecom_pull p;
    struct item *v = NULL;
    char *json = NULL;
    size_t len = 0;
    int ret = 0, err;

    memset(&page, 0, sizeof page);
    memset(&p, 0, sizeof p);
    *caught_up = 0;
    pace(r);
    unsigned limit = (unsigned)r->set.row.pull_limit;
    if ((err = wp_wecom_sdk_chat(r->rt->sdk, &json, &len, &ret, (uint64_t)*seq, limit,
                                 r->set.row.proxy, r->set.proxy_password,
                                 r->set.row.timeout_s)) < 0)
        goto out;
    r->res->pulls++;
    if ((err = wp_wecom_page_parse(&page, json, len)) < 0)
        goto out;
    if (page.errcode != 0) {
        err = wp_error_set(WP_EIO, "GetChatData answered errcode %lld: %s",
                           (long long)page.errcode, page.errmsg);
        goto out;
    }
    int64_t interval = (int64_t)r->set.row.pull_interval_s * 1000000;
    if (page.n == 0) {
        *caught_up = 1;
        err = wp_store_wecom_archive_schedule(r->st, r->tenant_id, r->now,
                                             r->now + interval);
        goto out;
    }
    if (!(v = calloc(page.n, sizeof *v))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    /* opened with the keys in force now, not those the run began with */
    int off = 0;
    if ((err = settle(r, &off)) < 0)
        goto out;
    if (off) {
        *caught_up = 1;
        goto out;
    }
    int64_t to = *seq;
    unlock_keys(r, v, page.records, page.n);
    for (size_t i = 0; i < page.n; i++) {
        v[i].emp = -1;
        open_record(r, &v[i], &page.records[i]);
        if (v[i].seq > to)
            to = v[i].seq;
    }
    *caught_up = page.n < limit;
    p.from_seq = *seq;
    p.to_seq = to;
    p.records = (int64_t)page.n;
    p.pulled = 1;
    p.retried_gen = -1;
    p.next_due_us = *caught_up ? r->now + interval : r->now;
    if ((err = store_items(r, v, page.n, &p, NULL, 0)) < 0)
        goto out;
    r->res->records += (int64_t)page.n;
    *seq = to;
out:
    for (size_t i = 0; v && i < page.n; i++)
        item_release(&v[i]);
    free(v);
    wp_wecom_page_release(&page);
    if (json)
        sodium_memzero(json, len);
    free(json);
    return err;
}

/* One pass over held records that something may open now (at most WP_WECOM_PULL_MAX). */
static int retry_held(struct run *r, const wp_wecom_archive_state *s, int64_t *after, int *done)
{
    wp_wecom_held_row *rows = NULL;
    struct item *v = NULL;
    wp_wecom_page *pages = NULL;
    int64_t *released = NULL;
    size_t n = 0, n_rel = 0;
    wp_wecom_pull p;
    int err;

    memset(&p, 0, sizeof p);
    *done = 0;
    if ((err = wp_store_wecom_held_retryable(r->st, &rows, &n, r->tenant_id, *after,
                                             WP_WECOM_PULL_MAX)) < 0)
        return err;
    int off = 0;
    if ((err = settle(r, &off)) < 0 || off) {
        *done = 1;
        wp_wecom_held_rows_free(rows, n);
        return err;
    }
    v = calloc(n ? n : 1, sizeof *v);
    pages = calloc(n ? n : 1, sizeof *pages);
    released = calloc(n ? n : 1, sizeof *released);
    if (!v || !pages || !released) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        struct item *it = &v[i];
        it->emp = -1;
        it->seq = rows[i].seq;
        it->record = rows[i].record;
        if (rows[i].message) { /* opened before: only its employee was missing */
            if (!(it->plain = strdup(rows[i].message))) {
                err = wp_error_set(WP_ENOMEM, "out of memory");
                goto out;
            }
            map_message(r, it, NULL);
        } else {
            /* the record again, through the page parser (one record in a page of its own) */
            wp_buf b;
            wp_buf_init(&b, WP_WECOM_RECORD_MAX + 64);
            if (wp_buf_adds(&b, "{\"errcode\":0,\"chatdata\":[") < 0 ||
                wp_buf_adds(&b, rows[i].record) < 0 || wp_buf_adds(&b, "]}") < 0 ||
                wp_wecom_page_parse(&pages[i], b.buf, b.len) < 0 || pages[i].n != 1)
                hold(it, "invalid_record", "the held record no longer parses");
            else
                open_record(r, it, &pages[i].records[0]);
            wp_buf_release(&b);
            it->record = rows[i].record;
        }
        if (!it->kind)
            released[n_rel++] = it->seq;
        if (it->seq > *after)
            *after = it->seq;
    }
    *done = n < WP_WECOM_PULL_MAX;
    p.from_seq = p.to_seq = s->seq;
    p.retried_gen = *done ? s->retry_gen : -1;
    p.next_due_us = r->now;
    err = store_items(r, v, n, &p, released, n_rel);
out:
    for (size_t i = 0; v && i < n; i++)
        item_release(&v[i]);
    for (size_t i = 0; pages && i < n; i++)
        wp_wecom_page_release(&pages[i]);
    free(v);
    free(pages);
    free(released);
    wp_wecom_held_rows_free(rows, n);
    return err;
}

/* A failed run: recorded in the state with the next try after the back-off. */
static void failed(struct run *r, int err, const wp_wecom_archive_state *s)
{
    char msg[WP_WECOM_ERROR_MAX + 1];
    snprintf(msg, sizeof msg, "%s", wp_error_last());
    int max_s = r->set.row.backoff_max_s > 0 ? r->set.row.backoff_max_s : 600;
    int64_t next = r->now + wp_wecom_backoff_us(s->failures + 1, max_s);
    wp_store_rollback(r->st);
    if (wp_store_wecom_archive_failed(r->st, r->tenant_id, msg, r->now, next) < 0)
        return;
    r->res->failed = 1;
    /* the error message stays the one that stopped the run */
    wp_error_set(err, "%s", msg);
}

static int run_tenant(wp_wecom_archiver *a, wp_store *st, const char *tenant_id, int64_t now_us,
                      wp_wecom_run *res, int64_t deadline_ms)
{
    struct run r;
    wp_wecom_archive_state s;
    int err, done = 0, caught_up = 0;

    memset(&r, 0, sizeof r);
    memset(res, 0, sizeof *res);
    memset(&s, 0, sizeof s);
    r.a = a;
    r.st = st;
    r.tenant_id = tenant_id;
    r.now = now_us;
    r.res = res;
    int load = wp_wecom_settings_load(st, &r.set, a->key, tenant_id);
    if (load == WP_ENOTFOUND)
        return 0; /* nothing configured */
    if ((err = wp_store_wecom_archive_state_get(st, &s, tenant_id)) < 0)
        goto out;
    if ((err = load) < 0)
        goto fail; /* a secret that does not open: the audit key changed */
    if (!r.set.row.archive_enabled || !r.set.archive_secret[0])
        goto out;
    if (!(r.rt = rt_of(a, tenant_id))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto fail;
    }
    int off = 0;
    if ((err = settle(&r, &off)) < 0)
        goto fail;
    if (off)
        goto out;
    if ((err = wp_store_wecom_userids(st, &r.ids, &r.n_ids, tenant_id)) < 0)
        goto fail;
    if (!(r.devices = calloc(r.n_ids ? r.n_ids : 1, sizeof *r.devices))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto fail;
    }
    r.media_strict = s.failures < WP_WECOM_MEDIA_STRICT_FAILURES;
    /* first what was held back and may pass now */
    for (int64_t after = 0; s.retry_gen > s.retried_gen && !done;) {
        if ((err = retry_held(&r, &s, &after, &done)) < 0)
            goto fail;
        if (mono_ms() > deadline_ms || atomic_load(&a->stopping))
            break;
    }
    int64_t seq = s.seq;
    while (!caught_up && !atomic_load(&a->stopping)) {
        if ((err = pull_page(&r, &seq, &caught_up)) == WP_EBUSY) {
            /* another node stored this page: go on from where it left the cursor */
            if ((err = wp_store_wecom_archive_state_get(st, &s, tenant_id)) < 0)
                goto fail;
            seq = s.seq;
            continue;
        }
        if (err < 0)
            goto fail;
        if (mono_ms() > deadline_ms)
            break;
    }
    res->caught_up = caught_up;
    err = 0;
    goto out;
fail:
    /* (an SDK whose loading or Init failed was dropped by prepare(): made again next time) */
    failed(&r, err, &s);
out:
    free(r.devices);
    free(r.ids);
    wp_wecom_settings_wipe(&r.set);
    return err;
}

int wp_wecom_archive_run_tenant(wp_wecom_archiver *a, wp_store *st, const char *tenant_id,
                                int64_t now_us, wp_wecom_run *out)
{
    return run_tenant(a, st, tenant_id, now_us, out, mono_ms() + a->budget_ms);
}

int wp_wecom_archive_task(wp_store *st, void *arch, int64_t now_us, wp_buf *note)
{
    wp_wecom_archiver *a = arch;
    char(*due)[WP_ID_LEN + 1] = NULL;
    size_t n = 0, failed_n = 0;
    int64_t start = mono_ms(), records = 0, stored = 0, dups = 0, held = 0;
    int first_err = 0, backlog = 0;
    char first_msg[WP_WECOM_ERROR_MAX + 1] = "";

    if (atomic_load(&a->stopping))
        return 0;
    int err = wp_store_wecom_archive_due(st, &due, &n, now_us);
    if (err < 0)
        return err;
    for (size_t i = 0; i < n && !atomic_load(&a->stopping); i++) {
        wp_wecom_run res;
        /* each due tenant gets its share of the run; one with a backlog goes on next run */
        int64_t share = (int64_t)a->budget_ms / (int64_t)(n - i);
        int64_t left = start + a->budget_ms - mono_ms();
        if (left <= 0) {
            backlog = 1;
            break;
        }
        int64_t deadline = mono_ms() + (share < left ? share : left);
        if ((err = run_tenant(a, st, due[i], now_us, &res, deadline)) < 0) {
            failed_n++;
            if (!first_err) {
                first_err = err;
                snprintf(first_msg, sizeof first_msg, "tenant %s: %s", due[i], wp_error_last());
            }
        }
        records += res.records;
        stored += res.stored;
        dups += res.duplicates;
        held += res.held;
        if (err == 0 && !res.caught_up && !atomic_load(&a->stopping))
            backlog = 1;
    }
    free(due);
    if (backlog && a->wake)
        a->wake(a->wake_ctx);
    if (records || held || failed_n) {
        wp_log_addf(note, "tenants", "%zu", n);
        wp_log_addf(note, "records", "%lld", (long long)records);
        wp_log_addf(note, "stored", "%lld", (long long)stored);
        wp_log_addf(note, "duplicates", "%lld", (long long)dups);
        wp_log_addf(note, "held", "%lld", (long long)held);
        wp_log_addf(note, "failed", "%zu", failed_n);
    }
    if (first_err)
        return wp_error_set(first_err, "%s", first_msg);
    return 0;
}
