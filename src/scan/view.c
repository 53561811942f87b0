/* SPDX-License-Identifier: MIT */
/* The view of people's text and numbers for a reader without the right to see them. */
#include "scan/view.h"
#include "util/error.h"
#include "util/id.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* Keys whose values are the system's own words, never people's: ids, times, names of states
 * and kinds, hashes, tokens. Everything else is people's text until shown otherwise. */
static const char *const clear_keys[] = {
    "id",          "ts",        "kind",    "status",      "category", "action",
    "channel",     "direction", "msgtype", "role",        "grade",    "stage",
    "type",        "format",    "hash",    "prev_hash",   "token",    "csrf_token",
    "next_cursor", "cursor",    "media",   "recording",   "photo",    "actor",
    "target",      "prefix",    "key",     "code",        "rights",   "store",
    "version",     "tz",        "color",   "reason_code", "username", "event",
    NULL,
};
static const char *const clear_suffixes[] = {"_id", "_ids", "_at", "_hash", NULL};

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !memcmp(s + n - k, suffix, k);
}

static int clear_key(const char *key)
{
    if (!key)
        return 0;
    for (const char *const *k = clear_keys; *k; k++)
        if (!strcmp(*k, key))
            return 1;
    for (const char *const *k = clear_suffixes; *k; k++)
        if (ends_with(key, *k))
            return 1;
    return 0;
}

static int hex_run(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* An id (24 lowercase hex digits), "<kind>:<id>" or "sha256:<64 hex>": the system's own
 * reference wherever it stands (a timeline event's "from", an audit row's target). */
static int is_reference(const char *s, size_t n)
{
    if (n == WP_ID_LEN && hex_run(s, n))
        return 1;
    const char *colon = memchr(s, ':', n < 33 ? n : 33);
    if (!colon || colon == s)
        return 0;
    size_t k = (size_t)(colon - s), rest = n - k - 1;
    /* "sha256" is the one kind with digits in it */
    if (k == 6 && rest == 64 && !memcmp(s, "sha256", 6))
        return hex_run(colon + 1, rest);
    for (size_t i = 0; i < k; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_'))
            return 0;
    return rest == WP_ID_LEN && hex_run(colon + 1, rest);
}

/* --- texts ---------------------------------------------------------------------------------- */

static wp_scanner *pii_scanner;
static pthread_once_t pii_once = PTHREAD_ONCE_INIT;

static void pii_compile(void)
{
    if (wp_scan_compile(&pii_scanner, "", 0, NULL) < 0)
        pii_scanner = NULL;
}

const wp_scanner *wp_scan_view_pii(void)
{
    pthread_once(&pii_once, pii_compile);
    return pii_scanner;
}

/* The scan's mask matches (personal-data detectors, the lexicon's mask entries such as a QQ
 * or WeChat id) replaced by one '*' per character into out; alert and block matches stay.
 * *changed: whether anything was masked. */
static int mask_once(const wp_scanner *s, wp_scan_result *r, wp_buf *out, int *changed,
                     const char *text, size_t len)
{
    int err;
    if ((err = wp_scan_run(s, text, len, r)) < 0)
        return err;
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++)
        if (r->matches[i].action == WP_SCAN_MASK)
            r->matches[k++] = r->matches[i];
    r->n = k;
    *changed = k > 0;
    return k ? wp_scan_mask(out, text, len, r) : wp_buf_add(out, text, len);
}

/* Mask until nothing more is found: so a masked text masks to itself, and a text the search
 * gave out (highlights computed on it) passes the reply boundary unchanged. */
#define MASK_ROUNDS 8

int wp_scan_view_text(const wp_scanner *s, wp_buf *out, int *changed, const char *text,
                      size_t len)
{
    wp_scan_result r;
    wp_buf cur, next;
    int more = 0, err;

    *changed = 0;
    if (!s)
        return wp_error_set(WP_ENOMEM, "cannot build the personal data detectors");
    wp_scan_result_init(&r);
    wp_buf_init(&cur, len + 1);
    wp_buf_init(&next, len + 1);
    if ((err = mask_once(s, &r, &cur, &more, text, len)) < 0)
        goto out;
    for (int round = 1; more && round < MASK_ROUNDS; round++) {
        *changed = 1;
        wp_buf_reset(&next);
        if ((err = mask_once(s, &r, &next, &more, cur.buf, cur.len)) < 0)
            goto out;
        wp_buf swap = cur;
        cur = next;
        next = swap;
    }
    if (more) {
        /* still finding more after MASK_ROUNDS rounds: nothing of it is shown */
        wp_buf_reset(&cur);
        for (size_t i = 0; i < len && err == 0; i++)
            if (((unsigned char)text[i] & 0xc0) != 0x80)
                err = wp_buf_addc(&cur, '*');
        if (err < 0)
            goto out;
    }
    err = wp_buf_add(out, cur.buf, cur.len);
out:
    wp_buf_release(&cur);
    wp_buf_release(&next);
    wp_scan_result_release(&r);
    return err;
}

void wp_scan_view_phone(char *out, size_t cap, const char *phone)
{
    size_t n = phone ? strlen(phone) : 0;
    if (n >= 11) /* 138****8000; +8613800138000 → +86138****8000 */
        snprintf(out, cap, "%.*s****%s", (int)(n - 8), phone, phone + n - 4);
    else if (n >= 7)
        snprintf(out, cap, "****%s", phone + n - 4);
    else
        snprintf(out, cap, "%s", n ? "****" : "");
}

/* --- JSON values ------------------------------------------------------------------------------ */

/* A value of a "phone" key, or a "phone:..." identity: partly shown. 0, WP_ENOMEM, or 1: no
 * phone (too long), to be masked as text. */
static int phone_value(json_t *v, const char *s, size_t n, size_t skip)
{
    char m[WP_SCAN_VIEW_PHONE_MAX + 16], p[WP_SCAN_VIEW_PHONE_MAX + 1];
    if (n - skip > WP_SCAN_VIEW_PHONE_MAX)
        return 1;
    memcpy(p, s + skip, n - skip);
    p[n - skip] = '\0';
    if (strchr(p, '*'))
        return 0; /* masked already */
    snprintf(m, sizeof m, "%.*s", (int)skip, s);
    wp_scan_view_phone(m + skip, sizeof m - skip, p);
    return json_string_set(v, m) < 0 ? wp_error_set(WP_ENOMEM, "out of memory") : 0;
}

static int view_string(const wp_scanner *s, json_t *v, const char *key)
{
    const char *text = json_string_value(v);
    size_t n = json_string_length(v);
    wp_buf b;
    int changed = 0, err;

    if (!n || clear_key(key) || is_reference(text, n))
        return 0;
    /* a phone that cannot be set for want of memory fails the reply: masking it as text
     * instead would answer a phone shown otherwise than documented */
    if (key && !strcmp(key, "phone") && (err = phone_value(v, text, n, 0)) != 1)
        return err;
    if (key && !strcmp(key, "identities") && n > 6 && !memcmp(text, "phone:", 6) &&
        (err = phone_value(v, text, n, 6)) != 1)
        return err;
    wp_buf_init(&b, n + 1);
    if ((err = wp_scan_view_text(s, &b, &changed, text, n)) == 0 && changed &&
        json_string_setn(v, b.buf, b.len) < 0)
        err = wp_error_set(WP_ENOMEM, "out of memory");
    wp_buf_release(&b);
    return err;
}

static int view_value(const wp_scanner *s, json_t *v, const char *key, int depth)
{
    const char *k;
    json_t *x;
    size_t i;
    int err = 0;

    if (depth > 64)
        return wp_error_set(WP_EINVAL, "reply nested too deep to check");
    switch (json_typeof(v)) {
    case JSON_STRING:
        return view_string(s, v, key);
    case JSON_ARRAY:
        json_array_foreach(v, i, x)
        {
            if ((err = view_value(s, x, key, depth + 1)) < 0)
                return err;
        }
        return 0;
    case JSON_OBJECT:
        json_object_foreach(v, k, x)
        {
            if ((err = view_value(s, x, k, depth + 1)) < 0)
                return err;
        }
        return 0;
    default:
        return 0;
    }
}

int wp_scan_view_json(const wp_scanner *s, json_t *v)
{
    return view_value(s, v, NULL, 0);
}
