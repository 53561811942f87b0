/* SPDX-License-Identifier: MIT */
/* The WeCom chat archive (会话内容存档, issue 16): a connector per tenant that pulls the
 * archive through WeCom's Finance SDK (libWeWorkFinanceSdk_C.so, which WeCom gives each
 * customer: loaded at run time from a path the operator allows, never shipped), opens each
 * record (its random key with the tenant's RSA key of the record's version, then the SDK's
 * DecryptData), maps every documented message type to workphone's messages, fetches media
 * into the media store, and stores a page with its cursor in one transaction.
 * docs/internals/wecom_archive.md has the design. */
#ifndef WP_WECOM_ARCHIVE_H
#define WP_WECOM_ARCHIVE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "ingest/ingest.h"
#include "store/audit.h"
#include "store/store.h"
#include "store/wecom_archive.h"
#include "util/buf.h"

#define WP_WECOM_PULL_MAX 1000             /* records one GetChatData may answer (WeCom's cap) */
#define WP_WECOM_PAGE_MAX (64u << 20)      /* bytes of one GetChatData answer */
#define WP_WECOM_RECORD_MAX (1u << 20)     /* bytes of one record, and of a decrypted message */
#define WP_WECOM_MEDIA_PER_MSG 16          /* media files fetched for one message (mixed) */
#define WP_WECOM_BACKOFF_BASE_S 5          /* the first wait after a failed pull, doubled */
#define WP_WECOM_MEDIA_STRICT_FAILURES 5   /* failed pulls in a row before a media file that
                                            * cannot be fetched is given up (message kept) */

/* --- the SDK (archive_sdk.c): WeCom's C library, loaded with dlopen ------------------------- */

typedef struct wp_wecom_sdk wp_wecom_sdk;

/* Load the library at path (dlopen), make an SDK handle and Init it with the corp id and the
 * archive secret. @return 0; WP_EIO ("cannot load ...: <dlerror>", a missing symbol, or "Init
 * returned N (<what N means>)"). Caller owns *out; release with wp_wecom_sdk_free(). */
int wp_wecom_sdk_open(wp_wecom_sdk **out, const char *path, const char *corp_id,
                      const char *secret);
void wp_wecom_sdk_free(wp_wecom_sdk *sdk); /* NULL is a no-op */

/* GetChatData(seq, limit, proxy, passwd, timeout_s): *json (malloc'ed, NUL-terminated) is the
 * answer. *ret is the SDK's return code. @return 0; WP_EIO when ret != 0 (the message says
 * which), WP_ELIMIT past WP_WECOM_PAGE_MAX. Caller owns *json (free). */
int wp_wecom_sdk_chat(wp_wecom_sdk *sdk, char **json, size_t *len, int *ret, uint64_t seq,
                      unsigned limit, const char *proxy, const char *passwd, int timeout_s);

/* DecryptData(key, msg): *out malloc'ed, NUL-terminated. @return 0; WP_EINVAL (ret != 0, in
 * *ret), WP_ELIMIT past WP_WECOM_RECORD_MAX. */
int wp_wecom_sdk_decrypt(wp_wecom_sdk *sdk, char **out, size_t *len, int *ret, const char *key,
                         const char *msg);

/* One GetMediaData call: the chunk after indexbuf ("" first). fn gets the chunk's bytes;
 * *next gets the index of the next chunk (malloc'ed) or NULL when the file is finished.
 * @return 0; WP_EIO (ret != 0, in *ret); fn's error. */
int wp_wecom_sdk_media_chunk(wp_wecom_sdk *sdk, char **next, int *ret, const char *indexbuf,
                             const char *fileid, const char *proxy, const char *passwd,
                             int timeout_s, int (*fn)(void *arg, const void *p, size_t n),
                             void *arg);

/* What an SDK return code means ("network error", ...), for messages. */
const char *wp_wecom_sdk_error_name(int ret);
/* 1 when an SDK error may pass by itself (network, system, IP, certificate): try again later. */
int wp_wecom_sdk_error_transient(int ret);

/* --- the tenant's private keys (archive_rsa.c) ---------------------------------------------- */

typedef struct wp_wecom_keyring wp_wecom_keyring;

/* Open the sealed keys (wp_wecom_key_row with pem) of tenant_id. A key that does not open or
 * parse is left out (it cannot have been stored so: wp_wecom_key_check ran). Caller owns
 * *out; release with wp_wecom_keyring_free(). */
int wp_wecom_keyring_new(wp_wecom_keyring **out, const wp_wecom_key_row *keys, size_t n,
                         const unsigned char key[WP_AUDIT_KEY_LEN], const char *tenant_id);
void wp_wecom_keyring_free(wp_wecom_keyring *kr);

/* A keyring from PEM texts (tests, the fuzz target, the benchmark). */
int wp_wecom_keyring_from_pem(wp_wecom_keyring **out, const int64_t *versions,
                              const char *const *pems, size_t n);

/* Decrypt a record's encrypt_random_key (base64 of RSA PKCS#1 v1.5) with the key of version.
 * out gets the random key, NUL-terminated (cap bytes with the NUL).
 * @return 0; WP_ENOTFOUND (no key of that version); WP_EINVAL (not base64, or the key does not
 *         open it) */
int wp_wecom_keyring_decrypt(wp_wecom_keyring *kr, char *out, size_t cap, int64_t version,
                             const char *b64);

/* --- records and messages (archive_msg.c): parsers, fuzzed --------------------------------- */

/* One record of a GetChatData answer: {"seq", "msgid", "publickey_ver", "encrypt_random_key",
 * "encrypt_chat_msg"}. Strings are borrowed from the page. */
typedef struct wp_wecom_record {
    int64_t seq; /* 0 when missing or not a positive integer */
    const char *msgid;
    int64_t publickey_ver; /* 0 when missing */
    const char *encrypt_random_key, *encrypt_chat_msg;
    char *text; /* the record as JSON (malloc), what a held record keeps */
    char reason[160]; /* "" when the record is usable, else why not */
} wp_wecom_record;

/* A GetChatData answer: {"errcode", "errmsg", "chatdata": [...]}. */
typedef struct wp_wecom_page {
    json_t *root;
    int64_t errcode;
    char errmsg[256]; /* cut, valid UTF-8 */
    wp_wecom_record *records;
    size_t n;
} wp_wecom_page;

/* Parse an answer. Each record is checked on its own (reason set when unusable); only the
 * answer's shape fails the call: WP_EINVAL (not JSON, not an object, errcode missing, chatdata
 * not an array, more than WP_WECOM_PULL_MAX records). Release with wp_wecom_page_release(),
 * also after a failure. */
int wp_wecom_page_parse(wp_wecom_page *out, const char *text, size_t len);
void wp_wecom_page_release(wp_wecom_page *p);

/* A media file a message names, to fetch through GetMediaData. */
typedef struct wp_wecom_media {
    const char *sdkfileid, *md5sum, *filename; /* borrowed; md5sum and filename may be NULL */
    int64_t size; /* -1 when not given */
} wp_wecom_media;

/* A decrypted message, mapped to what workphone stores. Strings are borrowed from root,
 * except text. */
typedef struct wp_wecom_msg {
    json_t *root;
    json_t *items; /* the parsed contents of a chat record's or mixed message's items: the
                    * media and strings taken from them point into these */
    const char *msgid, *action, *from, *roomid, *msgtype;
    const char *tolist[64]; /* the first 64 receivers */
    size_t n_to;
    int64_t ts_us;
    const char *wp_msgtype; /* workphone's msgtype: the archive's, external_redpacket as
                             * redpacket (money alerts), "switch" for an enterprise switch */
    char *text;             /* readable text (malloc, at most WP_ARCHIVE_TEXT_MAX bytes, cut
                             * on a character), NULL when the message has none */
    const char *url, *title, *filename, *memo, *revoked_msgid;
    int64_t size, amount_fen; /* -1 when absent */
    wp_wecom_media media[WP_WECOM_MEDIA_PER_MSG];
    size_t n_media;
} wp_wecom_msg;

/* Parse and map a decrypted message: every type the archive documents (text, image, revoke,
 * agree, disagree, voice, video, card, location, emotion, file, link, weapp, chatrecord, todo,
 * vote, collect, redpacket, external_redpacket, meeting, docmsg, markdown, news, calendar,
 * mixed, meeting_voice_call, voip_doc_share, sphfeed, voiptext, qydiskfile, and the switch
 * record); an unknown type keeps its msgtype and the strings of its object as its text.
 * @return 0; WP_EINVAL with the reason (not JSON, no msgid, no usable time, a field too
 * long, no sender); WP_ENOMEM. Release with wp_wecom_msg_release(), also after a failure. */
int wp_wecom_msg_parse(wp_wecom_msg *out, const char *text, size_t len);
void wp_wecom_msg_release(wp_wecom_msg *m);

/* 1 when a WeCom id is an external contact's (wm..., wo...: a customer), not a member's. */
int wp_wecom_is_external(const char *userid);

/* --- the connector (archive.c) -------------------------------------------------------------- */

typedef struct wp_wecom_archiver wp_wecom_archiver;

typedef struct wp_wecom_archiver_config {
    wp_ingest *ingest;              /* scanning and the media store; borrowed, required */
    const unsigned char *audit_key; /* WP_AUDIT_KEY_LEN bytes, copied: opens the settings */
    const char *sdk_dirs;    /* ':'-separated directories a tenant's sdk_path may lie in
                              * (workphone.conf wecom_sdk_dirs); NULL or "": none */
    const char *sdk_default; /* the library for tenants that name none (workphone.conf
                              * wecom_sdk_path); NULL: none */
    void (*wake)(void *ctx); /* run the task again soon (a backlog is left); may be NULL */
    void *wake_ctx;
    unsigned min_gap_ms;    /* at least this between two GetChatData calls; 0: 100 */
    unsigned run_budget_ms; /* one run's time for all tenants before it yields; 0: 5000 */
} wp_wecom_archiver_config;

/* @return 0; WP_EINVAL (no ingest or key); WP_ENOMEM. Strings are copied. Caller owns *out;
 * release with wp_wecom_archiver_free() once no task runs it. */
int wp_wecom_archiver_new(wp_wecom_archiver **out, const wp_wecom_archiver_config *c);

/* Stop soon: a run in progress ends after its current pull. Any thread. */
void wp_wecom_archiver_stop(wp_wecom_archiver *a);
void wp_wecom_archiver_free(wp_wecom_archiver *a); /* NULL is a no-op */

/* Whether a tenant may name path as its SDK: an absolute path to a regular file inside one of
 * the operator's sdk_dirs (after resolving links). @return 0; WP_EINVAL with why. */
int wp_wecom_archiver_sdk_path_ok(const wp_wecom_archiver *a, const char *path);

/* The settings changed, or what was held may pass now: the task runs soon. Any thread. */
void wp_wecom_archiver_kick(wp_wecom_archiver *a);

/* The task of src/jobs (wp_jobs_fn; arg: the archiver): for every tenant whose archive is due,
 * pull pages until it is caught up, fails, or the run's budget is spent (then the task is woken
 * to go on). Each tenant's failure is recorded in its state (the back-off) and the first is
 * returned; note gets "tenants= records= stored= duplicates= held= failed=". */
int wp_wecom_archive_task(wp_store *st, void *arch, int64_t now_us, wp_buf *note);

/* What one tenant's run did. */
typedef struct wp_wecom_run {
    int64_t pulls, records, stored, duplicates, held, released;
    int caught_up; /* the last pull answered fewer records than asked for */
    int failed;    /* the run stopped on an error (recorded in the state) */
} wp_wecom_run;

/* One tenant's run now, whether due or not (tests, the benchmark). st: the caller's own
 * connection. @return 0, or the error that stopped it (also recorded in the state). */
int wp_wecom_archive_run_tenant(wp_wecom_archiver *a, wp_store *st, const char *tenant_id,
                                int64_t now_us, wp_wecom_run *out);

/* The wait after the nth failed pull in a row: 5 s doubled each time, at most max_s. */
int64_t wp_wecom_backoff_us(int64_t failures, int max_s);

#endif
