/* SPDX-License-Identifier: MIT */
/* libFuzzer target: workphone.conf (src/util/conf.c). What parses is a set of distinct keys of
 * letters, digits, '_', '.' and '-', with values that are UTF-8 without line ends, control
 * characters or blanks around them; wp_conf_get() finds each; and writing them back as
 * key=value lines reads back the same. */
#include "util/conf_int.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/utf8.h"

#include <stdint.h>
#include <string.h>

#include "fuzz_assert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const wp_conf *c)
{
    size_t n = wp_conf__count(c);
    for (size_t i = 0; i < n; i++) {
        const char *k, *v;
        wp_conf__at(c, i, &k, &v);
        size_t kl = strlen(k), vl = strlen(v);
        FUZZ_ASSERT(kl >= 1 && kl <= WP_CONF_KEY_MAX, "key of %zu bytes", kl);
        FUZZ_ASSERT(
            strspn(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == kl,
            "key '%s'", k);
        FUZZ_ASSERT(vl <= WP_CONF_LINE_MAX && wp_utf8_valid(v, vl), "value of key '%s'", k);
        for (size_t j = 0; j < vl; j++)
            FUZZ_ASSERT(((unsigned char)v[j] >= 0x20 || v[j] == '\t') && v[j] != 0x7f,
                        "control character in the value of '%s'", k);
        FUZZ_ASSERT(!vl || (v[0] != ' ' && v[0] != '\t' && v[vl - 1] != ' ' && v[vl - 1] != '\t'),
                    "blanks around the value of '%s'", k);
        FUZZ_ASSERT(wp_conf_get(c, k) == v, "wp_conf_get('%s') is not its value", k);
        for (size_t j = 0; j < i; j++) {
            const char *k2, *v2;
            wp_conf__at(c, j, &k2, &v2);
            FUZZ_ASSERT(strcmp(k, k2) != 0, "key '%s' twice", k);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wp_conf *c = NULL;
    int err = wp_conf__parse(&c, "fuzz.conf", (const char *)data, size);
    if (err < 0) {
        FUZZ_ASSERT(err == WP_EINVAL || err == WP_ELIMIT, "error %d: %s", err, wp_error_last());
        FUZZ_ASSERT(strstr(wp_error_last(), "fuzz.conf") != NULL, "message without the file: %s",
                    wp_error_last());
        return 0;
    }
    check(c);
    wp_buf out;
    wp_buf_init(&out, 2 * WP_CONF_MAX_BYTES + 64);
    size_t n = wp_conf__count(c);
    for (size_t i = 0; i < n; i++) {
        const char *k, *v;
        wp_conf__at(c, i, &k, &v);
        FUZZ_ASSERT(wp_buf_addf(&out, "%s=%s\n", k, v) == 0, "out of memory");
    }
    wp_conf *again = NULL;
    err = wp_conf__parse(&again, "again.conf", out.buf ? out.buf : "", out.len);
    FUZZ_ASSERT(err == 0, "the settings written back do not read: %s", wp_error_last());
    FUZZ_ASSERT(wp_conf__count(again) == n, "%zu settings, then %zu", n, wp_conf__count(again));
    for (size_t i = 0; i < n; i++) {
        const char *k, *v, *k2, *v2;
        wp_conf__at(c, i, &k, &v);
        wp_conf__at(again, i, &k2, &v2);
        FUZZ_ASSERT(!strcmp(k, k2) && !strcmp(v, v2), "setting %zu changed: '%s' -> '%s'", i, k,
                    k2);
    }
    wp_conf_free(again);
    wp_buf_release(&out);
    wp_conf_free(c);
    return 0;
}
