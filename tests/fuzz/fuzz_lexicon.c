/* SPDX-License-Identifier: MIT */
/* libFuzzer target: arbitrary bytes as a lexicon. It compiles, or fails with WP_EINVAL or
 * WP_ELIMIT and a message "fuzz.lex:<line>: ..." naming a line of the input; a scanner that
 * compiles then scans sample texts and the lexicon's own bytes with valid results. */
#include "fuzz_check.h"
#include "scan/scan.h"
#include "util/error.h"

#include <stddef.h>
#include <stdint.h>

#define SOURCE "fuzz.lex"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const samples[] = {
    "这笔可以飞*单给你，返5个点，加我ＶＸ：abc12345",
    "王女士您好，电话13800138000，身份证11010519491231002X，卡号6222020200112233445",
    "ABC abc Ａｂｃ ①② 𝟏𝟐 Ⓐ 飛單 保 本 保 息 \xe2\x80\x8b zero\xe2\x80\x8bwidth 😊",
    "\xff\xfe invalid \xc3 bytes \xed\xa0\x80 surrogate \xe4\xbd",
    "",
};

/* Lines in the input as the lexicon format counts them: a final line without '\n' counts. */
static size_t count_lines(const uint8_t *data, size_t size)
{
    size_t n = 1;
    for (size_t i = 0; i < size; i++)
        if (data[i] == '\n' && i + 1 < size)
            n++;
    return n;
}

static void check_error(int rc, const uint8_t *data, size_t size)
{
    const char *msg = wp_error_last();
    FUZZ_ASSERT(rc == WP_EINVAL || rc == WP_ELIMIT, "compile returned %d: %s", rc, msg);
    FUZZ_ASSERT(strncmp(msg, SOURCE ":", sizeof SOURCE) == 0,
                "message does not start with the source name: '%s'", msg);
    if (rc != WP_EINVAL)
        return;
    /* "<source>:<line>: <what>" with 1 <= line <= the number of lines. */
    const char *p = msg + sizeof SOURCE;
    size_t line = 0;
    int digits = 0;
    for (; *p >= '0' && *p <= '9' && digits < 12; p++, digits++)
        line = line * 10 + (size_t)(*p - '0');
    FUZZ_ASSERT(digits > 0 && p[0] == ':' && p[1] == ' ' && p[2] != '\0',
                "message is not '" SOURCE ":<line>: <what>': '%s'", msg);
    FUZZ_ASSERT(line >= 1 && line <= count_lines(data, size), "message names line %zu of %zu: '%s'",
                line, count_lines(data, size), msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The flags change how patterns are compiled (normalized or not); take them from the
     * size so that every input still is a lexicon from its first byte on. */
    static const unsigned flag_sets[] = {0, WP_SCAN_NO_PII, WP_SCAN_NO_NORMALIZE | WP_SCAN_NO_PII};
    unsigned flags = flag_sets[size % 3];
    wp_scan_options o = WP_SCAN_OPTIONS_INIT;
    o.flags = flags;
    o.source_name = SOURCE;

    wp_scanner *untouched = (wp_scanner *)&o; /* any non-NULL address that is not a scanner */
    wp_scanner *s = untouched;
    wp_error_clear();
    int rc = wp_scan_compile(&s, (const char *)data, size, &o);
    if (rc < 0) {
        FUZZ_ASSERT(s == untouched, "the out parameter was written on failure");
        check_error(rc, data, size);
        return 0;
    }
    FUZZ_ASSERT(rc == 0 && s != NULL && s != untouched, "compile returned %d", rc);
    FUZZ_ASSERT(wp_scanner_pattern_count(s) <= count_lines(data, size), "%zu entries in %zu lines",
                wp_scanner_pattern_count(s), count_lines(data, size));
    FUZZ_ASSERT(wp_scanner_memory(s) > 0, "a scanner holding no memory");

    /* A second reference keeps the scanner alive after the first is dropped. */
    wp_scanner *ref = wp_scanner_ref(s);
    FUZZ_ASSERT(ref == s, "wp_scanner_ref returned another pointer");
    wp_scanner_unref(s);

    fuzz_lexicon_names_pii = fuzz_mentions_pii(data, size);
    wp_scan_result r;
    wp_scan_result_init(&r);
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++)
        fuzz_scan_and_check(ref, flags, samples[i], strlen(samples[i]), &r);
    fuzz_scan_and_check(ref, flags, (const char *)data, size, &r);
    wp_scan_result_release(&r);
    wp_scanner_unref(ref);
    return 0;
}
