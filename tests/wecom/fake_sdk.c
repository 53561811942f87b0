/* SPDX-License-Identifier: MIT */
/* A stand-in for WeCom's Finance SDK (libWeWorkFinanceSdk_C.so), built by the test suite with
 * the same C interface, so the connector is tested through dlopen as it runs in production.
 * Nothing of WeCom's is in it: it serves records a test wrote, encrypted its own way.
 *
 * WECOM_FAKE_DIR names its directory:
 *   records.jsonl  one record a line: {"seq": N, "ver": V, "msg": {the message}, and optionally
 *                  "enc_ver": V2 (encrypt the random key for V2's key while saying V), "corrupt":
 *                  "json" (the message is not JSON), "chat_msg" (encrypt_chat_msg is damaged),
 *                  "record" (the record lacks encrypt_chat_msg), "msg_text": "..." (the message
 *                  as this exact text)}; read again whenever the file changes
 *   pub_<V>.pem    the public key of version V (the test made the pair with openssl)
 *   secret         when present, the archive secret GetChatData wants (else errcode 40001)
 *   media/<id>     the bytes of the media file whose sdkfileid is id
 *   control.json   read again whenever it changes: {"chat_errors": N, "chat_error_code": C (the
 *                  next N GetChatData calls return C), "chat_errcode": E (answer errcode E),
 *                  "media_errors": N, "media_error_code": C, "chunk": bytes per GetMediaData,
 *                  "stall_seq": S (DecryptData of record S writes "stalled" and sleeps 60 s),
 *                  "chat_stall_ms": M (the next GetChatData writes "chat_stalled", waits M ms,
 *                  then reads the records)}
 *   calls.log      appended: "chat <monotonic ms> <seq> <limit> <ret>", "media <ms> <id>"
 *
 * The record's random key is "k" and its seq in 31 digits; encrypt_random_key is base64 of RSA
 * PKCS#1 v1.5 under pub_<V>.pem; encrypt_chat_msg is base64 of "FAKE1:" and the message, each
 * byte XORed with the key's: DecryptData reverses it and refuses (10006) when the magic is not
 * there (a wrong key). */
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAGIC "FAKE1:"

typedef struct WeWorkFinanceSdk_t {
    char corp[128], secret[256];
} WeWorkFinanceSdk_t;

typedef struct Slice_t {
    char *buf;
    int len;
} Slice_t;

typedef struct MediaData {
    char *outindexbuf;
    int out_len;
    char *data;
    int data_len;
    int is_finish;
} MediaData_t;

struct rec {
    long long seq, ver, enc_ver;
    char *msgid, *plain, *corrupt;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct rec *recs;
static size_t n_recs;
static struct stat recs_st, ctl_st;
static long long chat_errors, chat_error_code = 10001, chat_errcode, media_errors,
                                          media_error_code = 10001, chunk = 65536, stall_seq,
                                          chat_stall_ms;

static const char *dir(void)
{
    const char *d = getenv("WECOM_FAKE_DIR");
    return d ? d : ".";
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/calls.log", dir());
    FILE *f = fopen(path, "a");
    if (!f)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fclose(f);
}

static int changed(const char *path, struct stat *old)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return 0;
    int c = sb.st_mtim.tv_sec != old->st_mtim.tv_sec ||
            sb.st_mtim.tv_nsec != old->st_mtim.tv_nsec || sb.st_size != old->st_size ||
            sb.st_ino != old->st_ino;
    *old = sb;
    return c;
}

static long long jint(json_t *o, const char *k, long long dflt)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (long long)json_integer_value(v) : dflt;
}

static void load(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/control.json", dir());
    if (changed(path, &ctl_st)) {
        json_t *c = json_load_file(path, 0, NULL);
        if (c) {
            chat_errors = jint(c, "chat_errors", 0);
            chat_error_code = jint(c, "chat_error_code", 10001);
            chat_errcode = jint(c, "chat_errcode", 0);
            media_errors = jint(c, "media_errors", 0);
            media_error_code = jint(c, "media_error_code", 10001);
            chunk = jint(c, "chunk", 65536);
            stall_seq = jint(c, "stall_seq", 0);
            chat_stall_ms = jint(c, "chat_stall_ms", 0);
            json_decref(c);
        }
    }
    snprintf(path, sizeof path, "%s/records.jsonl", dir());
    if (!changed(path, &recs_st))
        return;
    for (size_t i = 0; i < n_recs; i++) {
        free(recs[i].msgid);
        free(recs[i].plain);
        free(recs[i].corrupt);
    }
    free(recs);
    recs = NULL;
    n_recs = 0;
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    while (f && getline(&line, &cap, f) > 0) {
        json_t *o = json_loads(line, 0, NULL);
        if (!o)
            continue;
        struct rec r = {0};
        r.seq = jint(o, "seq", 0);
        r.ver = jint(o, "ver", 1);
        r.enc_ver = jint(o, "enc_ver", r.ver);
        json_t *msg = json_object_get(o, "msg"), *text = json_object_get(o, "msg_text");
        json_t *corrupt = json_object_get(o, "corrupt");
        json_t *id = json_object_get(msg, "msgid");
        r.msgid = strdup(json_is_string(id) ? json_string_value(id) : "nomsgid");
        r.plain = json_is_string(text) ? strdup(json_string_value(text))
                                       : json_dumps(msg, JSON_COMPACT);
        if (json_is_string(corrupt))
            r.corrupt = strdup(json_string_value(corrupt));
        struct rec *v = realloc(recs, (n_recs + 1) * sizeof *v);
        if (v) {
            recs = v;
            recs[n_recs++] = r;
        }
        json_decref(o);
    }
    free(line);
    if (f)
        fclose(f);
}

static void random_key(char out[33], long long seq)
{
    snprintf(out, 33, "k%031lld", seq);
}

static char *b64(const unsigned char *p, size_t n)
{
    size_t cap = 4 * ((n + 2) / 3) + 1;
    char *s = malloc(cap);
    if (s)
        EVP_EncodeBlock((unsigned char *)s, p, (int)n);
    return s;
}

static unsigned char *unb64(const char *s, size_t *n)
{
    size_t len = strlen(s);
    unsigned char *p = malloc(len + 1);
    if (!p || len % 4)
        goto bad;
    int r = EVP_DecodeBlock(p, (const unsigned char *)s, (int)len);
    if (r < 0)
        goto bad;
    size_t pad = (len && s[len - 1] == '=') + (len > 1 && s[len - 2] == '=');
    *n = (size_t)r - pad;
    return p;
bad:
    free(p);
    return NULL;
}

/* The public keys by version, read once each (a test writes pub_<V>.pem before the records
 * that use it and never changes it): the benchmark measures the connector, not this. */
static struct {
    char path[4096];
    EVP_PKEY *pk;
} pubs[16];
static pthread_mutex_t pubs_mu = PTHREAD_MUTEX_INITIALIZER;

static EVP_PKEY *pub_key(long long ver)
{
    EVP_PKEY *pk = NULL;
    char path[4096];
    size_t i;
    snprintf(path, sizeof path, "%s/pub_%lld.pem", dir(), ver);
    pthread_mutex_lock(&pubs_mu);
    for (i = 0; i < sizeof pubs / sizeof pubs[0] && pubs[i].pk; i++)
        if (!strcmp(pubs[i].path, path))
            break;
    if (i < sizeof pubs / sizeof pubs[0] && pubs[i].pk) {
        pk = pubs[i].pk;
        EVP_PKEY_up_ref(pk); /* the caller's */
    } else {
        FILE *f = fopen(path, "r");
        pk = f ? PEM_read_PUBKEY(f, NULL, NULL, NULL) : NULL;
        if (f)
            fclose(f);
        if (pk && i < sizeof pubs / sizeof pubs[0]) {
            memcpy(pubs[i].path, path, sizeof path);
            pubs[i].pk = pk;
            EVP_PKEY_up_ref(pk); /* the cache's reference */
        }
    }
    pthread_mutex_unlock(&pubs_mu);
    return pk;
}

static char *rsa_encrypt(long long ver, const char *key)
{
    EVP_PKEY *pk = pub_key(ver);
    if (!pk)
        return strdup("bm8ta2V5");
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pk, NULL);
    unsigned char out[1024];
    size_t n = sizeof out;
    char *s = NULL;
    if (ctx && EVP_PKEY_encrypt_init(ctx) > 0 &&
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0 &&
        EVP_PKEY_encrypt(ctx, out, &n, (const unsigned char *)key, strlen(key)) > 0)
        s = b64(out, n);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pk);
    return s;
}

/* When the library is unloaded (the connector's dlclose, or the process's end): what it keeps
 * between calls goes, so a leak checker sees only the caller's leaks. */
__attribute__((destructor)) static void unload(void)
{
    for (size_t i = 0; i < n_recs; i++) {
        free(recs[i].msgid);
        free(recs[i].plain);
        free(recs[i].corrupt);
    }
    free(recs);
    recs = NULL;
    n_recs = 0;
    for (size_t i = 0; i < sizeof pubs / sizeof pubs[0] && pubs[i].pk; i++) {
        EVP_PKEY_free(pubs[i].pk);
        pubs[i].pk = NULL;
    }
}

static char *xor_b64(const char *key, const char *plain)
{
    size_t m = strlen(MAGIC), n = strlen(plain), kl = strlen(key);
    unsigned char *buf = malloc(m + n);
    if (!buf)
        return NULL;
    memcpy(buf, MAGIC, m);
    memcpy(buf + m, plain, n);
    for (size_t i = 0; i < m + n; i++)
        buf[i] ^= (unsigned char)key[i % kl];
    char *s = b64(buf, m + n);
    free(buf);
    return s;
}

static void slice_set(Slice_t *s, char *buf, size_t n)
{
    free(s->buf);
    s->buf = buf;
    s->len = (int)n;
}

/* --- the interface --------------------------------------------------------------------------- */

WeWorkFinanceSdk_t *NewSdk(void)
{
    return calloc(1, sizeof(WeWorkFinanceSdk_t));
}

int Init(WeWorkFinanceSdk_t *sdk, const char *corpid, const char *secret)
{
    if (!sdk || !corpid || !secret || !*corpid)
        return 10000;
    snprintf(sdk->corp, sizeof sdk->corp, "%s", corpid);
    snprintf(sdk->secret, sizeof sdk->secret, "%s", secret);
    return 0;
}

void DestroySdk(WeWorkFinanceSdk_t *sdk)
{
    free(sdk);
}

Slice_t *NewSlice(void)
{
    return calloc(1, sizeof(Slice_t));
}

void FreeSlice(Slice_t *s)
{
    if (s)
        free(s->buf);
    free(s);
}

char *GetContentFromSlice(Slice_t *s)
{
    return s->buf;
}

int GetSliceLen(Slice_t *s)
{
    return s->len;
}

MediaData_t *NewMediaData(void)
{
    return calloc(1, sizeof(MediaData_t));
}

void FreeMediaData(MediaData_t *m)
{
    if (m) {
        free(m->outindexbuf);
        free(m->data);
    }
    free(m);
}

char *GetOutIndexBuf(MediaData_t *m)
{
    return m->outindexbuf;
}

char *GetData(MediaData_t *m)
{
    return m->data;
}

int GetIndexLen(MediaData_t *m)
{
    return m->out_len;
}

int GetDataLen(MediaData_t *m)
{
    return m->data_len;
}

int IsMediaDataFinish(MediaData_t *m)
{
    return m->is_finish;
}

static int cmp_seq(const void *a, const void *b)
{
    const struct rec *x = a, *y = b;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

int GetChatData(WeWorkFinanceSdk_t *sdk, unsigned long long seq, unsigned int limit,
                const char *proxy, const char *passwd, int timeout, Slice_t *out)
{
    int ret = 0;
    pthread_mutex_lock(&mu);
    load();
    if (chat_stall_ms > 0) {
        char stalled[4096];
        struct timespec ts = {chat_stall_ms / 1000, (chat_stall_ms % 1000) * 1000000};
        chat_stall_ms = 0;
        snprintf(stalled, sizeof stalled, "%s/chat_stalled", dir());
        FILE *f = fopen(stalled, "w");
        if (f)
            fclose(f);
        pthread_mutex_unlock(&mu);
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&mu);
        load();
    }
    if (chat_errors > 0) {
        chat_errors--;
        ret = (int)chat_error_code;
        logf_("chat %lld %llu %u %d\n", mono_ms(), seq, limit, ret);
        pthread_mutex_unlock(&mu);
        return ret;
    }
    json_t *root = json_object(), *data = json_array();
    char path[4096], want[256] = "";
    snprintf(path, sizeof path, "%s/secret", dir());
    FILE *sf = fopen(path, "r");
    if (sf) {
        if (fgets(want, sizeof want, sf))
            want[strcspn(want, "\r\n")] = '\0';
        fclose(sf);
    }
    if (limit > 1000) {
        json_object_set_new(root, "errcode", json_integer(10000));
        json_object_set_new(root, "errmsg", json_string("limit over 1000"));
    } else if (chat_errcode) {
        json_object_set_new(root, "errcode", json_integer(chat_errcode));
        json_object_set_new(root, "errmsg", json_string("injected by the test"));
    } else if (want[0] && strcmp(want, sdk->secret) != 0) {
        json_object_set_new(root, "errcode", json_integer(40001));
        json_object_set_new(root, "errmsg", json_string("invalid credential"));
    } else {
        json_object_set_new(root, "errcode", json_integer(0));
        json_object_set_new(root, "errmsg", json_string("ok"));
        if (n_recs)
            qsort(recs, n_recs, sizeof *recs, cmp_seq);
        for (size_t i = 0; i < n_recs && json_array_size(data) < limit; i++) {
            struct rec *r = &recs[i];
            char key[33];
            if ((unsigned long long)r->seq <= seq)
                continue;
            random_key(key, r->seq);
            json_t *o = json_object();
            json_object_set_new(o, "seq", json_integer(r->seq));
            json_object_set_new(o, "msgid", json_string(r->msgid));
            json_object_set_new(o, "publickey_ver", json_integer(r->ver));
            char *ek = rsa_encrypt(r->enc_ver, key);
            const char *plain = r->plain;
            char *bad = NULL;
            if (r->corrupt && !strcmp(r->corrupt, "json"))
                plain = bad = strdup("{\"msgid\": \"broken");
            char *em = xor_b64(key, plain);
            json_object_set_new(o, "encrypt_random_key", json_string(ek ? ek : ""));
            if (!r->corrupt || strcmp(r->corrupt, "record") != 0)
                json_object_set_new(o, "encrypt_chat_msg",
                                    json_string(r->corrupt && !strcmp(r->corrupt, "chat_msg")
                                                    ? "QUJDREVGR0g="
                                                    : (em ? em : "")));
            free(ek);
            free(em);
            free(bad);
            json_array_append_new(data, o);
        }
    }
    json_object_set_new(root, "chatdata", data);
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    logf_("chat %lld %llu %u %d\n", mono_ms(), seq, limit, ret);
    pthread_mutex_unlock(&mu);
    slice_set(out, s, s ? strlen(s) : 0);
    (void)proxy;
    (void)passwd;
    (void)timeout;
    return s ? 0 : 10003;
}

int DecryptData(const char *encrypt_key, const char *encrypt_msg, Slice_t *msg)
{
    size_t n = 0, kl = strlen(encrypt_key), m = strlen(MAGIC);
    long long seq = strtoll(encrypt_key + 1, NULL, 10);
    pthread_mutex_lock(&mu);
    load();
    long long stall = stall_seq;
    pthread_mutex_unlock(&mu);
    if (stall && seq == stall) {
        char path[4096];
        snprintf(path, sizeof path, "%s/stalled", dir());
        FILE *f = fopen(path, "w");
        if (f)
            fclose(f);
        sleep(60);
    }
    unsigned char *p = unb64(encrypt_msg, &n);
    if (!p || kl == 0 || n < m)
        goto bad;
    for (size_t i = 0; i < n; i++)
        p[i] ^= (unsigned char)encrypt_key[i % kl];
    if (memcmp(p, MAGIC, m) != 0)
        goto bad;
    char *out = malloc(n - m + 1);
    if (!out)
        goto bad;
    memcpy(out, p + m, n - m);
    out[n - m] = '\0';
    free(p);
    slice_set(msg, out, n - m);
    return 0;
bad:
    free(p);
    return 10006;
}

int GetMediaData(WeWorkFinanceSdk_t *sdk, const char *indexbuf, const char *fileid,
                 const char *proxy, const char *passwd, int timeout, MediaData_t *out)
{
    char path[4096];
    pthread_mutex_lock(&mu);
    load();
    logf_("media %lld %s\n", mono_ms(), fileid);
    if (media_errors > 0) {
        media_errors--;
        int ret = (int)media_error_code;
        pthread_mutex_unlock(&mu);
        return ret;
    }
    long long ch = chunk > 0 ? chunk : 65536;
    pthread_mutex_unlock(&mu);
    if (!fileid || !*fileid || strspn(fileid, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                              "0123456789_-") != strlen(fileid))
        return 10005;
    snprintf(path, sizeof path, "%s/media/%s", dir(), fileid);
    FILE *f = fopen(path, "rb");
    if (!f)
        return 10005;
    long long off = indexbuf && *indexbuf ? strtoll(indexbuf, NULL, 10) : 0;
    fseek(f, 0, SEEK_END);
    long long size = ftell(f);
    if (off < 0 || off > size) {
        fclose(f);
        return 10000;
    }
    fseek(f, off, SEEK_SET);
    long long n = size - off < ch ? size - off : ch;
    out->data = malloc(n ? (size_t)n : 1);
    out->data_len = (int)fread(out->data, 1, (size_t)n, f);
    fclose(f);
    out->is_finish = off + out->data_len >= size;
    if (!out->is_finish) {
        out->outindexbuf = malloc(32);
        snprintf(out->outindexbuf, 32, "%lld", off + out->data_len);
        out->out_len = (int)strlen(out->outindexbuf);
    }
    (void)sdk;
    (void)proxy;
    (void)passwd;
    (void)timeout;
    return 0;
}
