/* SPDX-License-Identifier: MIT */
/* libFuzzer target: a list's ?cursor= (src/store/internal.c), "<int64>.<id>" as every list
 * hands it out. A cursor that parses is one the server could have made: writing it back gives
 * the same text, so two spellings never name one position. */
#include "store/internal.h"
#include "util/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_assert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    FUZZ_ASSERT(s != NULL, "out of memory");
    memcpy(s, data, size);
    s[size] = '\0'; /* a query value never holds a NUL: the text ends at the first one */
    int has = -1;
    int64_t t = 0;
    char id[WP_ID_LEN + 1];
    int err = wp_cursor__parse(&has, &t, id, s);
    if (err < 0) {
        FUZZ_ASSERT(err == WP_EINVAL && has == 0, "error %d, has %d", err, has);
    } else if (!has) {
        FUZZ_ASSERT(s[0] == '\0', "'%s' parsed as no cursor", s);
    } else {
        FUZZ_ASSERT(strlen(id) == WP_ID_LEN && strspn(id, "0123456789abcdef") == WP_ID_LEN,
                    "id '%s'", id);
        char again[WP_ARCHIVE_CURSOR_MAX];
        wp_cursor__make(again, t, id);
        FUZZ_ASSERT(!strcmp(again, s), "'%s' parsed, written back as '%s'", s, again);
        int has2 = 0;
        int64_t t2 = 0;
        char id2[WP_ID_LEN + 1];
        FUZZ_ASSERT(wp_cursor__parse(&has2, &t2, id2, again) == 0 && has2 && t2 == t &&
                        !strcmp(id2, id),
                    "'%s' does not parse back", again);
    }
    free(s);
    return 0;
}
