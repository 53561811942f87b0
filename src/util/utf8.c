/* SPDX-License-Identifier: MIT */
/* UTF-8 validation (RFC 3629: no overlongs, no surrogates, max U+10FFFF). */
#include "util/utf8.h"
#include "util/error.h"

size_t wp_utf8_seq(const unsigned char *s, size_t len)
{
    if (len == 0)
        return 0;
    unsigned char c = s[0];
    if (c >= 0x01 && c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return len >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (len < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
            return 0;
        if (c == 0xE0 && s[1] < 0xA0)
            return 0; /* overlong */
        if (c == 0xED && s[1] >= 0xA0)
            return 0; /* surrogate */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (len < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && s[1] < 0x90)
            return 0;
        if (c == 0xF4 && s[1] >= 0x90)
            return 0;
        return 4;
    }
    return 0;
}

int wp_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        size_t n = wp_utf8_seq(p + i, len - i);
        if (!n)
            return 0;
        i += n;
    }
    return 1;
}

size_t wp_utf8_count(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

int wp_text_check(const char *field, const char *s, size_t len, size_t max_chars, unsigned flags)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t chars = 0;
    for (size_t i = 0; i < len; chars++) {
        size_t n = wp_utf8_seq(p + i, len - i);
        if (!n)
            return wp_error_set(WP_EINVAL, "%s is not valid utf-8", field);
        unsigned cp = n == 1 ? p[i] : n == 2 ? (unsigned)(p[i] & 0x1f) << 6 | (p[i + 1] & 0x3f) : 0;
        int multiline = (flags & WP_TEXT_MULTILINE) && (cp == '\n' || cp == '\t');
        if (n <= 2 && (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) && !multiline)
            return wp_error_set(WP_EINVAL, "%s contains a control character (U+%04X)", field, cp);
        i += n;
    }
    if (chars > max_chars)
        return wp_error_set(WP_EINVAL, "%s is longer than %zu characters", field, max_chars);
    return 0;
}
