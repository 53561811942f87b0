/* SPDX-License-Identifier: MIT */
/* WeCom's Finance SDK (libWeWorkFinanceSdk_C.so), loaded with dlopen. Its C interface is
 * written here from WeCom's public documentation of 会话内容存档; nothing of WeCom's is copied
 * or shipped. Slice_t and MediaData_t are used only through the library's own accessors, so
 * their layouts do not matter here. */
#include "wecom/archive.h"
#include "util/error.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

typedef struct sdk_handle sdk_handle; /* WeWorkFinanceSdk_t */
typedef struct sdk_slice sdk_slice;   /* Slice_t */
typedef struct sdk_media sdk_media;   /* MediaData_t */

/* The documented functions, as their C prototypes read. */
struct sdk_api {
    sdk_handle *(*NewSdk)(void);
    int (*Init)(sdk_handle *sdk, const char *corpid, const char *secret);
    void (*DestroySdk)(sdk_handle *sdk);
    int (*GetChatData)(sdk_handle *sdk, unsigned long long seq, unsigned int limit,
                       const char *proxy, const char *passwd, int timeout, sdk_slice *chatDatas);
    int (*DecryptData)(const char *encrypt_key, const char *encrypt_msg, sdk_slice *msg);
    int (*GetMediaData)(sdk_handle *sdk, const char *indexbuf, const char *sdkFileid,
                        const char *proxy, const char *passwd, int timeout,
                        sdk_media *media_data);
    sdk_slice *(*NewSlice)(void);
    void (*FreeSlice)(sdk_slice *slice);
    char *(*GetContentFromSlice)(sdk_slice *slice);
    int (*GetSliceLen)(sdk_slice *slice);
    sdk_media *(*NewMediaData)(void);
    void (*FreeMediaData)(sdk_media *media_data);
    char *(*GetOutIndexBuf)(sdk_media *media_data);
    char *(*GetData)(sdk_media *media_data);
    int (*GetDataLen)(sdk_media *media_data);
    int (*IsMediaDataFinish)(sdk_media *media_data);
};

struct wp_wecom_sdk {
    void *lib;
    struct sdk_api api;
    sdk_handle *sdk;
};

const char *wp_wecom_sdk_error_name(int ret)
{
    switch (ret) {
    case 0: return "ok";
    case 10000: return "bad parameters";
    case 10001: return "network error";
    case 10002: return "data could not be parsed";
    case 10003: return "system error";
    case 10004: return "the encryption key is wrong";
    case 10005: return "bad fileid";
    case 10006: return "decryption failed";
    case 10007: return "no private key of the message's version";
    case 10008: return "bad encrypt_key";
    case 10009: return "this IP is not allowed";
    case 10010: return "the data has expired";
    case 10011: return "certificate error";
    default: return "unknown error";
    }
}

int wp_wecom_sdk_error_transient(int ret)
{
    return ret == 10001 || ret == 10003 || ret == 10009 || ret == 10011 || ret < 0;
}

/* dlsym into a function pointer: through memcpy, which ISO C allows (a cast would not be). */
static int sym(void *lib, void *fnp, size_t size, const char *name)
{
    void *p = dlsym(lib, name);
    if (!p)
        return wp_error_set(WP_EIO, "the wecom sdk has no '%s'", name);
    memcpy(fnp, &p, size);
    return 0;
}

#define SYM(name) sym(s->lib, &s->api.name, sizeof s->api.name, #name)

int wp_wecom_sdk_open(wp_wecom_sdk **out, const char *path, const char *corp_id,
                      const char *secret)
{
    wp_wecom_sdk *s;
    int err;

    if (!path || !*path)
        return wp_error_set(WP_EIO, "no wecom sdk is configured (sdk_path, or the operator's"
                                    " wecom_sdk_path)");
    if (!(s = calloc(1, sizeof *s)))
        return wp_error_set(WP_ENOMEM, "out of memory");
    if (!(s->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL))) {
        const char *why = dlerror();
        err = wp_error_set(WP_EIO, "cannot load the wecom sdk '%s': %s", path, why ? why : "?");
        goto fail;
    }
    if ((err = SYM(NewSdk)) < 0 || (err = SYM(Init)) < 0 || (err = SYM(DestroySdk)) < 0 ||
        (err = SYM(GetChatData)) < 0 || (err = SYM(DecryptData)) < 0 ||
        (err = SYM(GetMediaData)) < 0 || (err = SYM(NewSlice)) < 0 || (err = SYM(FreeSlice)) < 0 ||
        (err = SYM(GetContentFromSlice)) < 0 || (err = SYM(GetSliceLen)) < 0 ||
        (err = SYM(NewMediaData)) < 0 || (err = SYM(FreeMediaData)) < 0 ||
        (err = SYM(GetOutIndexBuf)) < 0 || (err = SYM(GetData)) < 0 ||
        (err = SYM(GetDataLen)) < 0 || (err = SYM(IsMediaDataFinish)) < 0)
        goto fail;
    if (!(s->sdk = s->api.NewSdk())) {
        err = wp_error_set(WP_EIO, "the wecom sdk's NewSdk failed");
        goto fail;
    }
    int ret = s->api.Init(s->sdk, corp_id, secret);
    if (ret != 0) {
        err = wp_error_set(WP_EIO, "the wecom sdk's Init returned %d (%s)", ret,
                           wp_wecom_sdk_error_name(ret));
        goto fail;
    }
    *out = s;
    return 0;
fail:
    wp_wecom_sdk_free(s);
    return err;
}

void wp_wecom_sdk_free(wp_wecom_sdk *s)
{
    if (!s)
        return;
    if (s->sdk && s->api.DestroySdk)
        s->api.DestroySdk(s->sdk);
    if (s->lib)
        dlclose(s->lib);
    free(s);
}

/* A slice's content, copied (at most max bytes). */
static int slice_copy(wp_wecom_sdk *s, sdk_slice *sl, char **out, size_t *len, size_t max)
{
    const char *p = s->api.GetContentFromSlice(sl);
    int n = s->api.GetSliceLen(sl);
    if (n < 0 || (n > 0 && !p))
        return wp_error_set(WP_EIO, "the wecom sdk gave a bad slice");
    if ((size_t)n > max)
        return wp_error_set(WP_ELIMIT, "the wecom sdk answered %d bytes (at most %zu)", n, max);
    char *c = malloc((size_t)n + 1);
    if (!c)
        return wp_error_set(WP_ENOMEM, "out of memory");
    if (n)
        memcpy(c, p, (size_t)n);
    c[n] = '\0';
    *out = c;
    *len = (size_t)n;
    return 0;
}

int wp_wecom_sdk_chat(wp_wecom_sdk *s, char **json, size_t *len, int *ret, uint64_t seq,
                      unsigned limit, const char *proxy, const char *passwd, int timeout_s)
{
    sdk_slice *sl = s->api.NewSlice();
    int err;
    if (!sl)
        return wp_error_set(WP_ENOMEM, "the wecom sdk's NewSlice failed");
    *ret = s->api.GetChatData(s->sdk, (unsigned long long)seq, limit, proxy ? proxy : "",
                              passwd ? passwd : "", timeout_s, sl);
    if (*ret != 0)
        err = wp_error_set(WP_EIO, "GetChatData returned %d (%s)", *ret,
                           wp_wecom_sdk_error_name(*ret));
    else
        err = slice_copy(s, sl, json, len, WP_WECOM_PAGE_MAX);
    s->api.FreeSlice(sl);
    return err;
}

int wp_wecom_sdk_decrypt(wp_wecom_sdk *s, char **out, size_t *len, int *ret, const char *key,
                         const char *msg)
{
    sdk_slice *sl = s->api.NewSlice();
    int err;
    if (!sl)
        return wp_error_set(WP_ENOMEM, "the wecom sdk's NewSlice failed");
    *ret = s->api.DecryptData(key, msg, sl);
    if (*ret != 0)
        err = wp_error_set(WP_EINVAL, "DecryptData returned %d (%s)", *ret,
                           wp_wecom_sdk_error_name(*ret));
    else
        err = slice_copy(s, sl, out, len, WP_WECOM_RECORD_MAX);
    s->api.FreeSlice(sl);
    return err;
}

int wp_wecom_sdk_media_chunk(wp_wecom_sdk *s, char **next, int *ret, const char *indexbuf,
                             const char *fileid, const char *proxy, const char *passwd,
                             int timeout_s, int (*fn)(void *arg, const void *p, size_t n),
                             void *arg)
{
    sdk_media *m = s->api.NewMediaData();
    int err = 0;
    *next = NULL;
    if (!m)
        return wp_error_set(WP_ENOMEM, "the wecom sdk's NewMediaData failed");
    *ret = s->api.GetMediaData(s->sdk, indexbuf, fileid, proxy ? proxy : "",
                               passwd ? passwd : "", timeout_s, m);
    if (*ret != 0) {
        err = wp_error_set(WP_EIO, "GetMediaData returned %d (%s)", *ret,
                           wp_wecom_sdk_error_name(*ret));
        goto out;
    }
    int n = s->api.GetDataLen(m);
    const char *p = s->api.GetData(m);
    if (n < 0 || (n > 0 && !p)) {
        err = wp_error_set(WP_EIO, "GetMediaData gave a bad chunk");
        goto out;
    }
    if (n > 0 && (err = fn(arg, p, (size_t)n)) < 0)
        goto out;
    if (!s->api.IsMediaDataFinish(m)) {
        const char *ix = s->api.GetOutIndexBuf(m);
        if (!ix || !*ix) {
            err = wp_error_set(WP_EIO, "GetMediaData is not finished but gave no index");
            goto out;
        }
        if (!(*next = strdup(ix)))
            err = wp_error_set(WP_ENOMEM, "out of memory");
    }
out:
    s->api.FreeMediaData(m);
    return err;
}
