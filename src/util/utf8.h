/* SPDX-License-Identifier: MIT */
/* Small UTF-8 checks used to validate input. */
#ifndef WP_UTIL_UTF8_H
#define WP_UTIL_UTF8_H

#include <stddef.h>

/* 1 when s[0..len) is well-formed UTF-8 (no overlongs, surrogates or NUL bytes). */
int wp_utf8_valid(const char *s, size_t len);

/* Number of code points in well-formed UTF-8. */
size_t wp_utf8_count(const char *s, size_t len);

/* Length in bytes of the well-formed UTF-8 sequence at s (at most len), or 0 if invalid. */
size_t wp_utf8_seq(const unsigned char *s, size_t len);

enum wp_text_flags {
    WP_TEXT_MULTILINE = 1 << 0, /* free text (a note, a comment): LF and TAB are allowed */
};

/* The one check of text a person types into a field (names, titles, notes): refused are
 * invalid UTF-8 (NUL included), the C0 controls U+0000..U+001F (LF and TAB allowed with
 * WP_TEXT_MULTILINE; CR never), DEL and the C1 controls U+0080..U+009F, and more than
 * max_chars code points. They break logs, CSV exports and terminals, and hide text.
 * @param field  how messages name the field ("'name'", "org unit name")
 * @return 0, or WP_EINVAL with the message naming field and the first bad character:
 *         "'name' contains a control character (U+0009)" */
int wp_text_check(const char *field, const char *s, size_t len, size_t max_chars, unsigned flags);

#endif
