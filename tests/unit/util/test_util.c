/* SPDX-License-Identifier: MIT */
/* Unit tests of src/util: buffers, JSON strings, UTF-8, clock, ids, passwords, key=value files,
 * log lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/geo_fence.h"
#include "util/clock.h"
#include "util/conf.h"
#include "util/error.h"
#include "util/id.h"
#include "util/json.h"
#include "util/log.h"
#include "util/password.h"
#include "util/testhooks.h"
#include "util/utf8.h"

static void test_util_buf__limit_is_enforced(void **state)
{
    wp_buf b;
    wp_buf_init(&b, 5);
    assert_string_equal(b.buf, "");
    assert_int_equal(wp_buf_adds(&b, "abc"), 0);
    assert_int_equal(wp_buf_adds(&b, "de"), 0);
    assert_int_equal(wp_buf_addc(&b, 'f'), WP_ELIMIT);
    assert_string_equal(b.buf, "abcde"); /* nothing appended on failure */
    assert_int_equal(wp_buf_addf(&b, "%d", 1), WP_ELIMIT);
    wp_buf_reset(&b);
    assert_int_equal(wp_buf_addf(&b, "%s-%d", "x", 42), 0);
    assert_string_equal(b.buf, "x-42");
    size_t n;
    char *s = wp_buf_detach(&b, &n);
    assert_string_equal(s, "x-42");
    assert_int_equal(n, 4);
    assert_string_equal(b.buf, "");
    free(s);
    wp_buf_release(&b);
}

static void test_util_buf__grows_across_many_appends(void **state)
{
    wp_buf b;
    wp_buf_init(&b, 1 << 20);
    for (int i = 0; i < 100000; i++)
        assert_int_equal(wp_buf_addc(&b, (char)('a' + i % 26)), 0);
    assert_int_equal(b.len, 100000);
    assert_int_equal(b.buf[99999], 'a' + 99999 % 26);
    assert_int_equal(b.buf[100000], '\0');
    wp_buf_release(&b);
}

static void json(const char *in, size_t len, const char *want)
{
    wp_buf b;
    wp_buf_init(&b, 1024);
    assert_int_equal(wp_json_str(&b, in, len), 0);
    assert_string_equal(b.buf, want);
    wp_buf_release(&b);
}


/* An allocation failing anywhere in the writing gives NULL (WP_ENOMEM), never other text: the
 * Nth allocation fails for N = 1, 2, ... until the text comes out whole. jansson's own
 * json_dumps gives text that is not JSON for some N (a key cut short); shown here so the reason
 * for wp_json_dumps stays visible. */
/* The hook never fails an allocation while jansson parses (wp_json_loadb: jansson 2.14 reads
 * past its buffer after one fails in its lexer), and does everywhere else: an armed Nth
 * allocation fails at the first allocation after the parse. */
static void test_util_json__loads_outside_the_hook(void **state)
{
    (void)state;
    setenv("WORKPHONE_TEST_HOOKS", "1", 1);
    assert_int_equal(wp_test_hooks_load(), 0);
    json_set_alloc_funcs(wp_test_hooks_malloc, free);
    const char *text = "{\"details\":\"a string long enough to make the lexer grow its buffer "
                       "more than once, 两次以上\",\"n\":12345678901234,\"list\":[1,2,3]}";
    json_t *want = json_loads(text, 0, NULL);
    assert_non_null(want);
    for (unsigned n = 1; n < 40; n++) {
        wp_test_hooks_alloc_arm(n);
        assert_int_equal(wp_json_parsing(), 0);
        json_t *got = wp_json_loads(text, 0, NULL);
        assert_int_equal(wp_json_parsing(), 0);
        assert_false(wp_test_hooks_alloc_fired());
        assert_non_null(got);
        assert_true(json_equal(got, want));
        json_decref(got);
        /* the armed failure is still there for what comes after: the Nth allocation */
        for (unsigned k = 1; k <= n; k++) {
            void *p = wp_test_hooks_malloc(1);
            assert_int_equal(p == NULL, k == n);
            free(p);
        }
        assert_true(wp_test_hooks_alloc_fired());
        wp_test_hooks_alloc_arm(0);
    }
    json_decref(want);
    json_set_alloc_funcs(malloc, free);
    unsetenv("WORKPHONE_TEST_HOOKS");
    assert_int_equal(wp_test_hooks_load(), 0);
}

static void test_util_json__dumps_fails_whole(void **state)
{
    setenv("WORKPHONE_TEST_HOOKS", "1", 1);
    assert_int_equal(wp_test_hooks_load(), 0);
    json_set_alloc_funcs(wp_test_hooks_malloc, free);
    json_t *o = json_pack("{s:s,s:[i,i],s:{s:s}}", "a_rather_long_key_to_grow_the_buffer", "v",
                          "list", 1, 2, "nested", "another_long_key_inside", "x");
    assert_non_null(o);
    char *want = wp_json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    assert_non_null(want);
    int failed = 0, broken = 0;
    for (unsigned n = 1;; n++) {
        wp_error_clear();
        wp_test_hooks_alloc_arm(n);
        char *got = wp_json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
        int fired = wp_test_hooks_alloc_fired();
        wp_test_hooks_alloc_arm(0);
        if (!fired) {
            assert_non_null(got);
            assert_string_equal(got, want);
            free(got);
            break;
        }
        assert_null(got);
        assert_string_equal(wp_error_last(), "out of memory");
        failed++;
    }
    assert_true(failed > 0);
    for (unsigned n = 1; n < 64; n++) {
        wp_test_hooks_alloc_arm(n);
        char *got = json_dumps(o, JSON_COMPACT);
        wp_test_hooks_alloc_arm(0);
        json_t *back = got ? json_loads(got, 0, NULL) : NULL;
        broken += got && !back;
        json_decref(back);
        free(got);
    }
    assert_true(broken > 0); /* remove with a jansson that fails whole */
    free(want);
    json_decref(o);
    json_set_alloc_funcs(malloc, free);
    unsetenv("WORKPHONE_TEST_HOOKS");
    assert_int_equal(wp_test_hooks_load(), 0);
}

static void test_util_json__escapes_and_replaces_invalid_utf8(void **state)
{
    json("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
    json("\n\t\r\x01", 4, "\"\\n\\t\\r\\u0001\"");
    json("飞单", strlen("飞单"), "\"飞单\"");
    json("a\xff" "b", 3, "\"a\xEF\xBF\xBD" "b\"");
    json("\xe9\xa3", 2, "\"\xEF\xBF\xBD\xEF\xBF\xBD\""); /* truncated sequence */
    json("a\0b", 3, "\"a\\u0000b\"");
}

static void test_util_utf8__validation(void **state)
{
    assert_true(wp_utf8_valid("飞单 ok", strlen("飞单 ok")));
    assert_false(wp_utf8_valid("\xc0\xaf", 2));     /* overlong */
    assert_false(wp_utf8_valid("\xed\xa0\x80", 3)); /* surrogate */
    assert_false(wp_utf8_valid("\xf4\x90\x80\x80", 4));
    assert_false(wp_utf8_valid("a\0", 2));
    assert_true(wp_utf8_valid("\xf0\x9f\x98\x80", 4));
    assert_int_equal(wp_utf8_count("飞单ab", strlen("飞单ab")), 4);
}

static void test_util_clock__rfc3339_round_trip(void **state)
{
    int64_t us;
    char out[40];
    assert_int_equal(wp_time_parse(&us, "2026-11-22T10:00:00+08:00"), 0);
    assert_int_equal(us, (int64_t)1795312800 * 1000000);
    wp_time_format(out, us, 480);
    assert_string_equal(out, "2026-11-22T10:00:00+08:00");
    wp_time_format(out, us, 0);
    assert_string_equal(out, "2026-11-22T02:00:00Z");
    assert_int_equal(wp_time_parse(&us, "2024-02-29T23:59:59.5-05:30"), 0);
    wp_time_format(out, us, -330);
    assert_string_equal(out, "2024-02-29T23:59:59.500000-05:30");
    assert_int_equal(wp_time_parse(&us, "1969-12-31T23:59:59Z"), 0);
    assert_int_equal(us, -1000000);
    wp_time_format(out, us, 0);
    assert_string_equal(out, "1969-12-31T23:59:59Z");
}

static void test_util_clock__rejects_bad_times(void **state)
{
    int64_t us = 7;
    const char *bad[] = {"", "2026-11-22", "2026-11-22T10:00:00", "2026-13-01T00:00:00Z",
                         "2026-02-29T00:00:00Z", "2026-11-22T24:00:00Z", "2026-11-22T10:00:00+8",
                         "2026-11-22T10:00:00Zjunk", "2026-11-22T10:00:00.Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(wp_time_parse(&us, bad[i]), WP_EINVAL);
        assert_int_equal(us, 7);
    }
}

static void test_util_clock__fake_clock(void **state)
{
    wp_time_set_fake(1234567);
    assert_int_equal(wp_time_now_us(), 1234567);
    wp_time_set_fake(0);
    assert_true(wp_time_now_us() > (int64_t)1700000000 * 1000000);
}

static void test_util_id__shape_and_uniqueness(void **state)
{
    char a[WP_ID_LEN + 1], b[WP_ID_LEN + 1];
    wp_id_new(a);
    wp_id_new(b);
    assert_int_equal(strlen(a), WP_ID_LEN);
    assert_int_equal(strspn(a, "0123456789abcdef"), WP_ID_LEN);
    assert_string_not_equal(a, b);
    char tok[80], h1[65], h2[65];
    assert_int_equal(wp_token_new(tok, sizeof tok, "wpk_"), 0);
    assert_memory_equal(tok, "wpk_", 4);
    assert_int_equal(strlen(tok), 4 + 43);
    assert_int_equal(wp_token_new(tok, 10, "wpk_"), WP_ELIMIT);
    wp_token_hash(h1, "abc");
    wp_token_hash(h2, "abc");
    assert_string_equal(h1, h2);
    assert_string_equal(h1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_util_password__policy_hash_verify(void **state)
{
    char h[WP_PASSWORD_HASH_MAX];
    assert_int_equal(wp_password_check(""), WP_EINVAL);
    assert_int_equal(wp_password_check("short"), WP_EINVAL);
    assert_int_equal(wp_password_check("        "), WP_EINVAL);
    assert_int_equal(wp_password_check("\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8"), WP_EINVAL);
    assert_int_equal(wp_password_check("八个汉字的密码啊"), 0);
    assert_int_equal(wp_password_hash(h, "correct horse"), 0);
    assert_memory_equal(h, "$argon2id$", 10);
    assert_null(strstr(h, "correct horse"));
    assert_true(wp_password_verify(h, "correct horse"));
    assert_false(wp_password_verify(h, "correct horsE"));
    assert_false(wp_password_verify("garbage", "correct horse"));
}

/* One line or free text: every C0 control, DEL and every C1 control is refused (LF and TAB
 * allowed in free text), and the message names the field and the character. */
static void test_util_utf8__text_check(void **state)
{
    char s[8];
    for (unsigned c = 0x01; c < 0xa0; c++) {
        size_t n = 0;
        s[n++] = 'a';
        if (c < 0x80) {
            s[n++] = (char)c;
        } else {
            s[n++] = (char)(0xc0 | c >> 6);
            s[n++] = (char)(0x80 | (c & 0x3f));
        }
        s[n++] = 'b';
        int control = c < 0x20 || c >= 0x7f;
        assert_int_equal(wp_text_check("'name'", s, n, 100, 0), control ? WP_EINVAL : 0);
        int free_ok = !control || c == '\n' || c == '\t';
        assert_int_equal(wp_text_check("'notes'", s, n, 100, WP_TEXT_MULTILINE),
                         free_ok ? 0 : WP_EINVAL);
    }
    assert_int_equal(wp_text_check("'name'", "a\tb", 3, 100, 0), WP_EINVAL);
    assert_string_equal(wp_error_last(), "'name' contains a control character (U+0009)");
    assert_int_equal(wp_text_check("'notes'", "a\rb", 3, 100, WP_TEXT_MULTILINE), WP_EINVAL);
    assert_string_equal(wp_error_last(), "'notes' contains a control character (U+000D)");
    assert_int_equal(wp_text_check("title", "x\xc2\x9b[31m", 7, 100, 0), WP_EINVAL);
    assert_string_equal(wp_error_last(), "title contains a control character (U+009B)");
    assert_int_equal(wp_text_check("'name'", "a\0b", 3, 100, 0), WP_EINVAL);
    assert_string_equal(wp_error_last(), "'name' is not valid utf-8");
    assert_int_equal(wp_text_check("'name'", "\xc3\x28", 2, 100, 0), WP_EINVAL);
    assert_string_equal(wp_error_last(), "'name' is not valid utf-8");
    /* U+00A0 and on are text; lengths count code points */
    assert_int_equal(wp_text_check("'name'", "\xc2\xa0\xe7\x8e\x8b\xf0\x9f\x98\x80", 9, 3, 0), 0);
    assert_int_equal(wp_text_check("'name'", "\xe7\x8e\x8b\xe7\x8e\x8b", 6, 1, 0), WP_EINVAL);
    assert_string_equal(wp_error_last(), "'name' is longer than 1 characters");
    assert_int_equal(wp_text_check("'name'", "", 0, 1, 0), 0); /* emptiness is the caller's */
}

/* --- key=value files (conf.c) ---------------------------------------------------------------- */

/* A file holding text[0..len), its path in path (a fresh temp file). */
static void conf_file(char path[64], const char *text, size_t len)
{
    snprintf(path, 64, "/tmp/wp-conf-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
}

/* wp_conf_read() of text: its result, *out the settings on success. */
static int conf_of(wp_conf **out, const char *text, size_t len)
{
    char path[64];
    conf_file(path, text, len);
    int err = wp_conf_read(out, path);
    unlink(path);
    return err;
}

static void test_util_conf__reads_what_init_writes_and_more(void **state)
{
    static const char text[] =
        "# written by workphone init; marks this directory as a workphone data dir\n"
        "tenant_id=0123456789abcdef01234567\n"
        "backend=sqlite\n"
        "\n"
        "   # an indented comment\r\n"
        " metrics_token_file = token file#1=x \r\n"
        "backend=postgresql\n"
        "empty=\n"
        "last.one-key_2=no line end";
    wp_conf *c = NULL;
    assert_int_equal(conf_of(&c, text, sizeof text - 1), 0);
    assert_string_equal(wp_conf_get(c, "tenant_id"), "0123456789abcdef01234567");
    assert_string_equal(wp_conf_get(c, "backend"), "postgresql"); /* the last one wins */
    assert_string_equal(wp_conf_get(c, "metrics_token_file"), "token file#1=x");
    assert_string_equal(wp_conf_get(c, "empty"), "");
    assert_string_equal(wp_conf_get(c, "last.one-key_2"), "no line end");
    assert_null(wp_conf_get(c, "missing"));
    assert_null(wp_conf_get(c, "#"));
    wp_conf_free(c);
    assert_int_equal(conf_of(&c, "", 0), 0); /* an empty file sets nothing */
    assert_null(wp_conf_get(c, "backend"));
    wp_conf_free(c);
    wp_conf_free(NULL);
}

static void test_util_conf__names_the_file_and_the_bad_line(void **state)
{
    static const struct {
        const char *text, *msg;
        int err;
    } bad[] = {
        {"a=1\nb=2\njust words\n", "line 3: no '=' in it", WP_EINVAL},
        {"a=1\n = 2\n", "line 2: no key before '='", WP_EINVAL},
        {"a b=1\n", "line 1: a key is letters", WP_EINVAL},
        {"k\xc3\xa9=1\n", "line 1: a key is letters", WP_EINVAL},
        {"a=1\nb=\x01\n", "line 2: a control character (0x01)", WP_EINVAL},
        {"a=\xc3\x28\n", "line 1: not valid UTF-8", WP_EINVAL},
        {"a=1\rb=2\n", "line 1: a control character (0x0d)", WP_EINVAL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        wp_conf *c = (wp_conf *)1;
        char path[64];
        conf_file(path, bad[i].text, strlen(bad[i].text));
        assert_int_equal(wp_conf_read(&c, path), bad[i].err);
        assert_ptr_equal(c, (wp_conf *)1); /* untouched */
        assert_non_null(strstr(wp_error_last(), path));
        if (!strstr(wp_error_last(), bad[i].msg))
            fail_msg("case %zu: '%s' lacks '%s'", i, wp_error_last(), bad[i].msg);
        unlink(path);
    }
    wp_conf *c = NULL;
    assert_int_equal(wp_conf_read(&c, "/nonexistent/workphone.conf"), WP_ENOTFOUND);
    assert_int_equal(wp_conf_read_dir(&c, "/nonexistent"), WP_ENOTFOUND);
    assert_non_null(strstr(wp_error_last(), "/nonexistent/workphone.conf"));
    assert_null(c);
}

static void test_util_conf__limits(void **state)
{
    size_t n = WP_CONF_MAX_BYTES + 1;
    char *text = malloc(n);
    wp_conf *c = NULL;
    assert_non_null(text);
    memset(text, '#', n); /* one long comment line */
    assert_int_equal(conf_of(&c, text, n), WP_ELIMIT);
    assert_non_null(strstr(wp_error_last(), "larger than"));
    text[WP_CONF_LINE_MAX + 1] = '\n';
    assert_int_equal(conf_of(&c, text, WP_CONF_LINE_MAX + 2), WP_ELIMIT);
    assert_non_null(strstr(wp_error_last(), "line 1: longer than"));
    text[WP_CONF_LINE_MAX] = '\n'; /* a line of exactly the limit is fine */
    assert_int_equal(conf_of(&c, text, WP_CONF_LINE_MAX + 1), 0);
    wp_conf_free(c);
    memset(text, 'k', WP_CONF_KEY_MAX + 1);
    text[WP_CONF_KEY_MAX + 1] = '=';
    assert_int_equal(conf_of(&c, text, WP_CONF_KEY_MAX + 2), WP_EINVAL);
    assert_non_null(strstr(wp_error_last(), "a key longer than"));
    free(text);
}

/* --- log lines (log.c) ------------------------------------------------------------------------ */

/* What b holds after its ts= field (the time is the wall clock's, not checked here). */
static const char *after_ts(const wp_buf *b)
{
    assert_int_equal(strncmp(b->buf, "ts=", 3), 0);
    const char *p = strchr(b->buf, ' ');
    assert_non_null(p);
    return p + 1;
}

static void test_util_log__quotes_and_escapes_what_is_not_quiet(void **state)
{
    wp_buf b;
    wp_log_start(&b, "info", "http");
    wp_log_add(&b, "path", "/api/v1/x_y.z~:%@!$&'()*+,;=-{}[]");
    wp_log_add(&b, "empty", "");
    wp_log_add(&b, "blank", "two words");
    wp_log_add(&b, "forge", "x\" level=error event=forged\nts=1");
    wp_log_add(&b, "bytes", "\\\x7f\xe7\x8e\x8b\t");
    wp_log_addn(&b, "cut", "abcdef", 3);
    wp_log_addn(&b, "fits", "abc", 3);
    wp_log_addf(&b, "n", "%d", -42);
    wp_log_add_fields(&b, "k=v k2=\"a b\"");
    wp_log_add_fields(&b, " k3=v\nts=forged"); /* left out: a line break */
    assert_string_equal(after_ts(&b),
                        "level=info event=http path=/api/v1/x_y.z~:%@!$&'()*+,;=-{}[] "
                        "empty=\"\" blank=\"two words\" "
                        "forge=\"x\\\" level=error event=forged\\x0ats=1\" "
                        "bytes=\"\\\\\\x7f\\xe7\\x8e\\x8b\\x09\" cut=\"abc...\" fits=abc n=-42 "
                        "k=v k2=\"a b\"");
    wp_log_end(&b, -1);
}

static void test_util_log__one_write_per_line_within_the_cap(void **state)
{
    int fds[2];
    char big[WP_LOG_LINE_MAX], got[3 * WP_LOG_LINE_MAX];
    assert_int_equal(pipe(fds), 0);
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    wp_buf b;
    wp_log_start(&b, "warn", "big");
    wp_log_add(&b, "small", "1");
    wp_log_add(&b, "huge", big); /* does not fit: left out whole */
    wp_log_add(&b, "after", "2");
    wp_log_end(&b, fds[1]);
    wp_log_line(fds[1], "info", "pairs", "a", "1", "b", "x y", "c", NULL, (char *)NULL);
    wp_log_line(-1, "info", "nowhere", "a", "1", (char *)NULL);
    close(fds[1]);
    ssize_t n = read(fds[0], got, sizeof got - 1), m;
    while (n > 0 && (m = read(fds[0], got + n, sizeof got - 1 - (size_t)n)) > 0)
        n += m;
    close(fds[0]);
    assert_true(n > 0);
    got[n] = '\0';
    char *second = strchr(got, '\n');
    assert_non_null(second);
    *second++ = '\0';
    assert_non_null(strstr(got, " level=warn event=big small=1 after=2"));
    assert_null(strstr(got, "huge="));
    assert_non_null(strstr(second, " level=info event=pairs a=1 b=\"x y\" c=\"\"\n"));
    assert_null(strchr(strchr(second, '\n') + 1, '\n'));
    /* a full line stays within the cap, LF included, and ends with a whole field */
    wp_log_start(&b, "info", "full");
    for (int i = 0; i < 100; i++)
        wp_log_add(&b, "x", "\"quoted and escaped, 40 bytes or so\"");
    assert_true(b.len <= WP_LOG_LINE_MAX - 1);
    assert_int_equal(b.buf[b.len - 1], '"');
    wp_log_end(&b, -1);
}

/* --- the test hooks' switch (testhooks.c) and the clock file (clock.c) ------------------------ */

static void clock_file(const char *path, const char *text)
{
    char tmp[80];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(rename(tmp, path), 0);
}

static void test_util_testhooks__one_switch_and_a_clock_that_moves(void **state)
{
    char path[64];
    int64_t t0, t1;
    assert_int_equal(wp_time_parse(&t0, "2026-11-28T10:00:00+08:00"), 0);
    assert_int_equal(wp_time_parse(&t1, "2026-11-28T23:00:00+08:00"), 0);
    snprintf(path, sizeof path, "/tmp/wp-clock-%ld", (long)getpid());
    clock_file(path, "2026-11-28T10:00:00+08:00\n");
    setenv("WORKPHONE_FAKE_NOW", "2001-02-03T04:05:06Z", 1);
    setenv("WORKPHONE_TEST_CLOCK", path, 1);
    setenv("WORKPHONE_JOBS_INTERVAL_S", "7", 1);

    /* off: unset, empty or 0, and nothing else is read */
    const char *off[] = {NULL, "", "0"};
    for (size_t i = 0; i < 3; i++) {
        if (off[i])
            setenv("WORKPHONE_TEST_HOOKS", off[i], 1);
        else
            unsetenv("WORKPHONE_TEST_HOOKS");
        assert_int_equal(wp_test_hooks_load(), 0);
        assert_false(wp_test_hooks_get()->on);
        assert_int_equal(wp_test_hooks_get()->jobs_interval_s, 0);
        assert_true(wp_time_now_us() > (int64_t)1700000000 * 1000000); /* the real clock */
    }
    setenv("WORKPHONE_TEST_HOOKS", "yes", 1);
    assert_int_equal(wp_test_hooks_load(), WP_EINVAL);
    assert_false(wp_test_hooks_get()->on);
    setenv("WORKPHONE_TEST_HOOKS", "1", 1);
    setenv("WORKPHONE_JOBS_INTERVAL_S", "86401", 1);
    assert_int_equal(wp_test_hooks_load(), WP_EINVAL);
    assert_string_equal(wp_error_last(), "WORKPHONE_JOBS_INTERVAL_S must be 1..86400");
    assert_false(wp_test_hooks_get()->on);
    assert_true(wp_time_now_us() > (int64_t)1700000000 * 1000000); /* nothing half applied */

    /* on: the clock file, where there is one, wins over WORKPHONE_FAKE_NOW, and moves */
    setenv("WORKPHONE_JOBS_INTERVAL_S", "7", 1);
    assert_int_equal(wp_test_hooks_load(), 0);
    assert_true(wp_test_hooks_get()->on);
    assert_int_equal(wp_test_hooks_get()->jobs_interval_s, 7);
    assert_int_equal(wp_time_now_us(), t0);
    clock_file(path, "2026-11-28T23:00:00+08:00");
    assert_int_equal(wp_time_now_us(), t1);
    clock_file(path, "not a time\n"); /* changes nothing */
    assert_int_equal(wp_time_now_us(), t1);
    unlink(path); /* neither does a missing file */
    assert_int_equal(wp_time_now_us(), t1);
    clock_file(path, "2026-11-28T10:00:00+08:00");
    assert_int_equal(wp_time_now_us(), t0);

    /* the SQLite durability hook (issue 17): 1 or 0, only with the switch on */
    assert_false(wp_test_hooks_get()->sqlite_not_full);
    setenv("WORKPHONE_TEST_SQLITE_NOT_FULL", "yes", 1);
    assert_int_equal(wp_test_hooks_load(), WP_EINVAL);
    assert_string_equal(wp_error_last(), "WORKPHONE_TEST_SQLITE_NOT_FULL must be 1 or 0");
    assert_false(wp_test_hooks_get()->on);
    setenv("WORKPHONE_TEST_SQLITE_NOT_FULL", "1", 1);
    assert_int_equal(wp_test_hooks_load(), 0);
    assert_true(wp_test_hooks_get()->sqlite_not_full);
    setenv("WORKPHONE_TEST_HOOKS", "0", 1);
    assert_int_equal(wp_test_hooks_load(), 0);
    assert_false(wp_test_hooks_get()->sqlite_not_full);
    unsetenv("WORKPHONE_TEST_SQLITE_NOT_FULL");

    /* the upgrade and audit worker hooks (issue 17): a number in range, only with the switch */
    setenv("WORKPHONE_TEST_HOOKS", "1", 1);
    setenv("WORKPHONE_TEST_MIGRATE_TO", "0", 1);
    assert_int_equal(wp_test_hooks_load(), WP_EINVAL);
    assert_string_equal(wp_error_last(), "WORKPHONE_TEST_MIGRATE_TO must be 1..100000");
    setenv("WORKPHONE_TEST_MIGRATE_TO", "12", 1);
    setenv("WORKPHONE_TEST_AUDIT_FAIL_BATCHES", "1000001", 1);
    assert_int_equal(wp_test_hooks_load(), WP_EINVAL);
    assert_string_equal(wp_error_last(), "WORKPHONE_TEST_AUDIT_FAIL_BATCHES must be 1..1000000");
    assert_int_equal(wp_test_hooks_get()->migrate_to, 0);
    setenv("WORKPHONE_TEST_AUDIT_FAIL_BATCHES", "3", 1);
    assert_int_equal(wp_test_hooks_load(), 0);
    assert_int_equal(wp_test_hooks_get()->migrate_to, 12);
    assert_int_equal(wp_test_hooks_get()->audit_fail_batches, 3);
    setenv("WORKPHONE_TEST_HOOKS", "0", 1);
    assert_int_equal(wp_test_hooks_load(), 0);
    assert_int_equal(wp_test_hooks_get()->migrate_to, 0);
    assert_int_equal(wp_test_hooks_get()->audit_fail_batches, 0);
    unsetenv("WORKPHONE_TEST_MIGRATE_TO");
    unsetenv("WORKPHONE_TEST_AUDIT_FAIL_BATCHES");

    /* the rolling upgrade's newer release (issue 19): 1 only, only with the switch */
    setenv("WORKPHONE_TEST_HOOKS", "1", 1);
    setenv("WORKPHONE_TEST_MIGRATION_EXTRA", "2", 1);
    assert_int_equal(wp_test_hooks_load(), WP_EINVAL);
    assert_string_equal(wp_error_last(), "WORKPHONE_TEST_MIGRATION_EXTRA must be 1..1");
    setenv("WORKPHONE_TEST_MIGRATION_EXTRA", "1", 1);
    assert_int_equal(wp_test_hooks_load(), 0);
    assert_int_equal(wp_test_hooks_get()->migration_extra, 1);
    setenv("WORKPHONE_TEST_HOOKS", "0", 1);
    assert_int_equal(wp_test_hooks_load(), 0);
    assert_int_equal(wp_test_hooks_get()->migration_extra, 0);
    unsetenv("WORKPHONE_TEST_MIGRATION_EXTRA");

    unlink(path);
    assert_int_equal(wp_time__follow(""), 0); /* the rest of the tests: the real clock */
    wp_time_set_fake(0);
    unsetenv("WORKPHONE_TEST_HOOKS");
    assert_int_equal(wp_test_hooks_load(), 0);
}

/* Metres from the edge, negative inside: a circle, and a square of about 1.1 km a side. */
static void test_util_geo_fence__distances_to_the_edge(void **state)
{
    (void)state;
    const double m = 1 / WP_GEO_M_PER_E7; /* e7 degrees of latitude per metre */
    wp_geo_fence c = {.lat_e7 = 312300000, .lon_e7 = 1214700000, .radius_m = 200};
    assert_true(fabs(wp_geo_fence_distance(&c, 312300000, 1214700000) + 200) < 0.01);
    assert_true(fabs(wp_geo_fence_distance(&c, 312300000 + (int64_t)(260 * m), 1214700000) - 60) <
                0.01);
    assert_true(fabs(wp_geo_fence_distance(&c, 312300000 - (int64_t)(150 * m), 1214700000) + 50) <
                0.01);
    static const int64_t sq[4][2] = {{1214700000, 312300000}, {1214800000, 312300000},
                                     {1214800000, 312400000}, {1214700000, 312400000}};
    wp_geo_fence p = {.polygon = 1, .pts = sq, .n = 4};
    /* 10 m inside the south edge, 10 m outside it, the middle, far east */
    assert_true(fabs(wp_geo_fence_distance(&p, 312300000 + (int64_t)(10 * m), 1214750000) + 10) <
                0.05);
    assert_true(fabs(wp_geo_fence_distance(&p, 312300000 - (int64_t)(10 * m), 1214750000) - 10) <
                0.05);
    /* the middle: half the east-west side, 0.005 degrees * cos(31.235) */
    double mid = wp_geo_fence_distance(&p, 312350000, 1214750000);
    assert_true(mid > -480 && mid < -470);
    assert_true(wp_geo_fence_distance(&p, 312350000, 1215000000) > 1800);
    int64_t a, b, x, y;
    wp_geo_fence_bbox(&p, &a, &b, &x, &y);
    assert_true(a == 312300000 && b == 312400000 && x == 1214700000 && y == 1214800000);
    wp_geo_fence_bbox(&c, &a, &b, &x, &y);
    assert_true(b - a > (int64_t)(399 * m) && b - a < (int64_t)(401 * m) && y - x > b - a);
    /* by a pole: every longitude, and no latitude past it */
    wp_geo_fence polar = {.lat_e7 = 899900000, .lon_e7 = 1799000000, .radius_m = 50000};
    wp_geo_fence_bbox(&polar, &a, &b, &x, &y);
    assert_true(b == 900000000 && x == -1800000000 && y == 1800000000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_util_buf__limit_is_enforced),
        cmocka_unit_test(test_util_geo_fence__distances_to_the_edge),
        cmocka_unit_test(test_util_buf__grows_across_many_appends),
        cmocka_unit_test(test_util_json__escapes_and_replaces_invalid_utf8),
        cmocka_unit_test(test_util_json__dumps_fails_whole),
        cmocka_unit_test(test_util_json__loads_outside_the_hook),
        cmocka_unit_test(test_util_utf8__validation),
        cmocka_unit_test(test_util_utf8__text_check),
        cmocka_unit_test(test_util_clock__rfc3339_round_trip),
        cmocka_unit_test(test_util_clock__rejects_bad_times),
        cmocka_unit_test(test_util_clock__fake_clock),
        cmocka_unit_test(test_util_id__shape_and_uniqueness),
        cmocka_unit_test(test_util_password__policy_hash_verify),
        cmocka_unit_test(test_util_conf__reads_what_init_writes_and_more),
        cmocka_unit_test(test_util_conf__names_the_file_and_the_bad_line),
        cmocka_unit_test(test_util_conf__limits),
        cmocka_unit_test(test_util_log__quotes_and_escapes_what_is_not_quiet),
        cmocka_unit_test(test_util_log__one_write_per_line_within_the_cap),
        cmocka_unit_test(test_util_testhooks__one_switch_and_a_clock_that_moves),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
