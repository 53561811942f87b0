/* SPDX-License-Identifier: MIT */
/* libFuzzer target: a console request's JSON body as src/http and src/api read it: the
 * nesting check before parsing (wp_http__json_depth_ok), jansson with duplicate keys refused,
 * then the field helpers every write handler uses (api_body_check_fields, api_body_str). The
 * nesting check agrees with the parsed depth; the helpers answer as documented; and every
 * error message goes out as a JSON error body that parses, in valid UTF-8. */
#include "api/api.h"
#include "http/internal.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/json.h"
#include "util/utf8.h"

#include <jansson.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_assert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int depth(const json_t *v)
{
    int max = 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *m;
        json_object_foreach((json_t *)v, k, m)
        {
            int d = depth(m);
            if (d > max)
                max = d;
        }
        return max + 1;
    }
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            int d = depth(json_array_get(v, i));
            if (d > max)
                max = d;
        }
        return max + 1;
    }
    return 0;
}

/* The error body the server would send for the last error: valid JSON, the message back. */
static void check_error_body(void)
{
    const char *msg = wp_error_last();
    FUZZ_ASSERT(wp_utf8_valid(msg, strlen(msg)), "the message is not valid UTF-8: %s", msg);
    wp_buf b;
    wp_buf_init(&b, 64 * 1024);
    FUZZ_ASSERT(wp_buf_adds(&b, "{\"error\":{\"code\":\"invalid\",\"message\":") == 0 &&
                    wp_json_str(&b, msg, strlen(msg)) == 0 && wp_buf_adds(&b, "}}") == 0,
                "error body");
    json_error_t je;
    json_t *j = json_loadb(b.buf, b.len, 0, &je);
    FUZZ_ASSERT(j != NULL, "error body does not parse: %s: %s", je.text, b.buf);
    const char *back = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    FUZZ_ASSERT(back && wp_utf8_valid(back, strlen(back)), "message lost");
    FUZZ_ASSERT(!wp_utf8_valid(msg, strlen(msg)) || !strcmp(back, msg), "message changed");
    json_decref(j);
    wp_buf_release(&b);
}

static const char *const allowed[] = {"name", "unit_id", "role",   "note",    "phone", "email",
                                      "tags", "stage",   "amount", "enabled", NULL};

static void check_str(json_t *body, const char *field)
{
    for (unsigned flags = 0; flags < 4; flags++) {
        const char *out = (const char *)1;
        int err = api_body_str(body, field, flags, &out);
        json_t *v = json_object_get(body, field);
        int absent = !v || (json_is_null(v) && !(flags & API_FIELD_NOT_NULL));
        if (absent && (flags & API_FIELD_REQUIRED)) {
            FUZZ_ASSERT(err == WP_EINVAL && out == NULL, "'%s' required: %d", field, err);
            check_error_body();
        } else if (absent) {
            FUZZ_ASSERT(err == 0 && out == NULL, "'%s' absent: %d", field, err);
        } else if (!json_is_string(v)) {
            FUZZ_ASSERT(err == WP_EINVAL && out == NULL, "'%s' not a string: %d", field, err);
            /* a handler's field names are short; a body's keys (checked too) may not be, and
             * then the message is cut short, on a character */
            FUZZ_ASSERT(strlen(field) > 256 || strstr(wp_error_last(), "must be a string"), "%s",
                        wp_error_last());
            check_error_body();
        } else {
            FUZZ_ASSERT(err == 0 && out == json_string_value(v), "'%s': %d", field, err);
            FUZZ_ASSERT(wp_utf8_valid(out, strlen(out)) && strlen(out) == json_string_length(v),
                        "'%s' holds a NUL or bad UTF-8", field);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    int ok = wp_http__json_depth_ok(s, size, WP_HTTP_MAX_JSON_DEPTH);
    json_error_t je;
    json_t *body = json_loadb(s, size, JSON_REJECT_DUPLICATES, &je);
    if (!body)
        return 0;
    int d = depth(body);
    FUZZ_ASSERT(ok == (d <= WP_HTTP_MAX_JSON_DEPTH), "depth %d, the check said %d", d, ok);
    if (json_is_object(body)) {
        int err = api_body_check_fields(body, allowed);
        if (err)
            check_error_body();
        int all_known = 1;
        const char *k;
        json_t *v;
        json_object_foreach(body, k, v)
        {
            int known = 0;
            for (const char *const *a = allowed; *a; a++)
                known |= !strcmp(*a, k);
            all_known &= known;
            check_str(body, k);
        }
        FUZZ_ASSERT(err == (all_known ? 0 : WP_EINVAL), "check_fields %d, all known %d", err,
                    all_known);
        for (const char *const *a = allowed; *a; a++)
            check_str(body, *a);
    }
    json_decref(body);
    return 0;
}
