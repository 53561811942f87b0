/* SPDX-License-Identifier: MIT */
/* The reply boundary (src/api/view.c): what a caller without view_pii gets of an answer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "scan/scan.h"
#include "util/error.h"

/* A lexicon with a mask entry for WeChat ids after their label, as the default one has. */
static const char LEXICON[] = "飞单\tprivate_deal\tblock\n"
                              "re:(微信|vx)(号)?[a-z][a-z0-9_-]{5,19}\tcontact_leak\tmask\n";

struct fx {
    wp_http_ctx ctx;
    api_caller caller;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(wp_arena_new(&f->ctx.arena, 1 << 20), 0);
    f->caller.kind = API_CALLER_EMPLOYEE;
    f->caller.rs.view_pii = 0;
    assert_int_equal(wp_scan_compile(&f->caller.scanner, LEXICON, strlen(LEXICON), NULL), 0);
    f->ctx.auth = &f->caller;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    api_view_release(&f->ctx);
    wp_arena_free(f->ctx.arena);
    free(f);
    return 0;
}

/* body as JSON text, through the boundary, back as compact JSON with sorted keys */
static char *viewed(struct fx *f, const char *body)
{
    json_error_t e;
    json_t *j = json_loads(body, 0, &e);
    assert_non_null(j);
    assert_int_equal(api_view_reply(&f->ctx, j), 0);
    char *out = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    return out;
}

#define VIEW_IS(f, in, want)                                                                       \
    do {                                                                                           \
        char *got_ = viewed(f, in);                                                                \
        assert_string_equal(got_, want);                                                           \
        free(got_);                                                                                \
    } while (0)

static void test_api_view__every_string_but_the_system_words(void **state)
{
    struct fx *f = *state;
    /* people's text is masked wherever it stands, nested or in arrays, under any key */
    VIEW_IS(f, "{\"name\":\"刘先生13700137000\",\"x\":{\"y\":[\"邮箱 a.b@example.com\"]}}",
            "{\"name\":\"刘先生***********\",\"x\":{\"y\":[\"邮箱 ***************\"]}}");
    /* the system's own words and references pass */
    VIEW_IS(
        f,
        "{\"id\":\"13800138000\",\"owner_employee_id\":\"13800138000\",\"ts\":\"13800138000\","
        "\"target\":\"customer:0123456789abcdef01234567\",\"from\":\"0138001380001380abcdef12\","
        "\"media\":\"sha256:13800138000\"}",
        "{\"from\":\"0138001380001380abcdef12\",\"id\":\"13800138000\",\"media\":\"sha256:"
        "13800138000\",\"owner_employee_id\":\"13800138000\",\"target\":\"customer:"
        "0123456789abcdef01234567\",\"ts\":\"13800138000\"}");
    /* a reference is exactly one: a longer kind or a text after it is text */
    VIEW_IS(f, "{\"note\":\"customer:13800138000\"}", "{\"note\":\"customer:***********\"}");
    /* numbers and booleans are no one's text */
    VIEW_IS(f, "{\"n\":13800138000,\"b\":true,\"z\":null}",
            "{\"b\":true,\"n\":13800138000,\"z\":null}");
}

static void test_api_view__phones_partly(void **state)
{
    struct fx *f = *state;
    VIEW_IS(
        f, "{\"phone\":\"13800138000\",\"identities\":[\"phone:13900139000\",\"wechat:wxid_k2\"]}",
        "{\"identities\":[\"phone:139****9000\",\"wechat:wxid_k2\"],\"phone\":\"138****8000\"}");
    /* a "phone" too long to be one is text */
    VIEW_IS(f, "{\"phone\":\"call 13800138000 or 13900139000 or 13700137000 after six, thanks\"}",
            "{\"phone\":\"call *********** or *********** or *********** after six, thanks\"}");
}

static void test_api_view__lexicon_mask_entries(void **state)
{
    struct fx *f = *state;
    /* the tenant's mask entry masks; its block entry does not */
    VIEW_IS(f, "{\"text\":\"加我微信号 abcdef123，别飞单\"}",
            "{\"text\":\"加我*************，别飞单\"}");
}

static void test_api_view__masked_masks_to_itself(void **state)
{
    struct fx *f = *state;
    static const char *const texts[] = {
        "电话13800138000，身份证11010519491231002X",
        "微信 13800138000 号 abcdefg",
        "vx*13800138000*abcdefgh",
        "卡号 6222 0212 3456 7890 128 或 a@b.cn 或 微信号abc_def_gh",
        "",
    };
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        const char *once, *twice;
        size_t n1, n2;
        assert_int_equal(api_view_text(&f->ctx, &once, &n1, texts[i], strlen(texts[i])), 0);
        assert_int_equal(api_view_text(&f->ctx, &twice, &n2, once, n1), 0);
        assert_int_equal(n1, n2);
        assert_memory_equal(once, twice, n1);
        assert_ptr_equal(twice, once); /* nothing left to mask: the same text back */
    }
}

static void test_api_view__clear_callers_and_revealed(void **state)
{
    struct fx *f = *state;
    f->caller.rs.view_pii = 1;
    VIEW_IS(f, "{\"name\":\"刘先生13700137000\"}", "{\"name\":\"刘先生13700137000\"}");
    f->caller.rs.view_pii = 0;
    f->caller.kind = API_CALLER_DEVICE;
    VIEW_IS(f, "{\"name\":\"刘先生13700137000\"}", "{\"name\":\"刘先生13700137000\"}");
    f->caller.kind = API_CALLER_KEY;
    VIEW_IS(f, "{\"name\":\"刘先生13700137000\"}", "{\"name\":\"刘先生***********\"}");
    f->caller.reveal = 1;
    VIEW_IS(f, "{\"name\":\"刘先生13700137000\"}", "{\"name\":\"刘先生13700137000\"}");
    f->caller.reveal = 0;
    f->caller.kind = API_CALLER_EMPLOYEE;
    /* nobody (a public route): the detectors alone */
    f->ctx.auth = NULL;
    VIEW_IS(f, "{\"name\":\"刘先生13700137000 微信号abcdefg\"}",
            "{\"name\":\"刘先生*********** 微信号abcdefg\"}");
    f->ctx.auth = &f->caller;
}

static void test_api_view__edits_of_what_was_shown(void **state)
{
    struct fx *f = *state;
    const char *v = "刘先生***********";
    assert_int_equal(api_view_edit(&f->ctx, "name", "刘先生13700137000", &v), 0);
    assert_null(v); /* the form sent back what it was shown: unchanged */
    v = "刘总***********";
    assert_int_equal(api_view_edit(&f->ctx, "name", "刘先生13700137000", &v), WP_EINVAL);
    v = "刘总 13700137000";
    assert_int_equal(api_view_edit(&f->ctx, "name", "刘先生13700137000", &v), 0);
    assert_string_equal(v, "刘总 13700137000"); /* replaced whole: the caller's own value */
    v = "王** 女士";
    assert_int_equal(api_view_edit(&f->ctx, "name", "王女士", &v), 0); /* nothing was hidden */
    assert_string_equal(v, "王** 女士");
}

/* The view the store's searches get (wp_text_view): what each caller sees, as the JSON
 * boundary shows it; none at all for a caller who sees everything. */
static void mask_buf_is(struct fx *f, const char *in, const char *want, int want_changed)
{
    wp_buf b;
    int changed = -1;
    wp_buf_init(&b, 64);
    assert_int_equal(api_view_mask_buf(&f->ctx, &b, &changed, in, strlen(in)), 0);
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.buf, want, b.len);
    assert_int_equal(changed, want_changed);
    wp_buf_release(&b);
}

static void test_api_view__store_view_by_caller(void **state)
{
    struct fx *f = *state;
    const wp_text_view *v = NULL;
    /* a salesperson without view_pii: a view that masks, and the lexicon's entries with it */
    assert_int_equal(api_view_for_store(&f->ctx, &v), 0);
    assert_non_null(v);
    wp_buf b;
    int changed = 0;
    wp_buf_init(&b, 64);
    const char *t = "电话13700137000 微信号abcdefg";
    assert_int_equal(v->fn(v->arg, &b, &changed, t, strlen(t)), 0);
    assert_int_equal(changed, 1);
    assert_int_equal(b.len, strlen("电话*********** **********"));
    assert_memory_equal(b.buf, "电话*********** **********", b.len);
    wp_buf_release(&b);
    mask_buf_is(f, "no number here", "no number here", 0);
    /* view_pii, a device: no view, the text as it is */
    f->caller.rs.view_pii = 1;
    assert_int_equal(api_view_clear(&f->ctx), 1);
    assert_int_equal(api_view_for_store(&f->ctx, &v), 0);
    assert_null(v);
    mask_buf_is(f, "电话13700137000", "电话13700137000", 0);
    f->caller.rs.view_pii = 0;
    f->caller.kind = API_CALLER_DEVICE;
    assert_int_equal(api_view_for_store(&f->ctx, &v), 0);
    assert_null(v);
    /* an API key follows its role's setting; a reveal is for one reply, not for searches */
    f->caller.kind = API_CALLER_KEY;
    f->caller.reveal = 1;
    assert_int_equal(api_view_clear(&f->ctx), 0);
    mask_buf_is(f, "电话13700137000", "电话***********", 1);
    f->caller.reveal = 0;
    f->caller.rs.view_pii = 1;
    assert_int_equal(api_view_clear(&f->ctx), 1);
    f->caller.rs.view_pii = 0;
    f->caller.kind = API_CALLER_EMPLOYEE;
    /* nobody: the detectors alone */
    f->ctx.auth = NULL;
    assert_int_equal(api_view_clear(&f->ctx), 0);
    mask_buf_is(f, "13700137000 微信号abcdefg", "*********** 微信号abcdefg", 1);
    f->ctx.auth = &f->caller;
}

static void test_api_view__text_edges(void **state)
{
    struct fx *f = *state;
    const char *out;
    size_t n;
    /* empty and NULL texts come back as they are */
    assert_int_equal(api_view_text(&f->ctx, &out, &n, "", 0), 0);
    assert_string_equal(out, "");
    assert_int_equal(n, 0);
    assert_int_equal(api_view_text(&f->ctx, &out, &n, NULL, 0), 0);
    assert_null(out);
    /* phones for people without the right: 138****8000 */
    char m[32];
    api_mask_phone(m, sizeof m, "13800138000");
    assert_string_equal(m, "138****8000");
    /* an edit with no value, no current value, or by a caller who sees everything: as sent */
    const char *v = NULL;
    assert_int_equal(api_view_edit(&f->ctx, "name", "刘先生13700137000", &v), 0);
    assert_null(v);
    v = "刘总***********";
    assert_int_equal(api_view_edit(&f->ctx, "name", NULL, &v), 0);
    assert_string_equal(v, "刘总***********");
    assert_int_equal(api_view_edit(&f->ctx, "name", "", &v), 0);
    assert_string_equal(v, "刘总***********");
    f->caller.rs.view_pii = 1;
    assert_int_equal(api_view_edit(&f->ctx, "name", "刘先生13700137000", &v), 0);
    assert_string_equal(v, "刘总***********"); /* such a caller saw the number: stars are text */
    f->caller.rs.view_pii = 0;
    /* a reveal lets one reply through unmasked */
    f->caller.reveal = 1;
    VIEW_IS(f, "{\"name\":\"刘先生13700137000\"}", "{\"name\":\"刘先生13700137000\"}");
    f->caller.reveal = 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_api_view__every_string_but_the_system_words, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_api_view__phones_partly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_view__lexicon_mask_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_view__masked_masks_to_itself, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_view__clear_callers_and_revealed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_view__edits_of_what_was_shown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_view__store_view_by_caller, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_view__text_edges, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
