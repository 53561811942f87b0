/* SPDX-License-Identifier: MIT */
/* libFuzzer target: a WeCom callback's XML, as the envelope (the body) and as the decrypted
 * event, and the input as the base64 a callback's Encrypt carries (decrypted with a fixed key,
 * then parsed): every field a caller gets is NUL-terminated within its place. */
#include "util/error.h"
#include "wecom/wecom.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_ASSERT(cond, ...)                                                                     \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz invariant broken at %s:%d: %s: ", __FILE__, __LINE__, #cond);    \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void event(const char *xml, size_t len)
{
    wp_wecom_event e;
    if (wp_wecom_event_parse(&e, xml, len) != 0)
        return;
    FUZZ_ASSERT(strlen(e.user_id) <= WP_WECOM_ID_MAX, "UserID");
    FUZZ_ASSERT(strlen(e.external_user_id) <= WP_WECOM_ID_MAX, "ExternalUserID");
    FUZZ_ASSERT(strlen(e.change_type) < sizeof e.change_type, "ChangeType");
    FUZZ_ASSERT(e.create_time >= 0, "CreateTime %lld", (long long)e.create_time);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"ToUserName", "Encrypt", "AgentID"};
    char *v[3];
    const char *xml = (const char *)data;

    if (wp_wecom_xml_fields(v, names, 3, xml, size) == 0) {
        for (int i = 0; i < 3; i++)
            FUZZ_ASSERT(!v[i] || strlen(v[i]) <= WP_WECOM_XML_FIELD_MAX, "field %d", i);
        wp_wecom_xml_free(v, 3);
    } else {
        for (int i = 0; i < 3; i++)
            FUZZ_ASSERT(!v[i], "field %d left after a failure", i);
    }
    event(xml, size);

    /* the input as an Encrypt value */
    char *b64 = malloc(size + 1), *plain = NULL, recv[WP_WECOM_ID_MAX + 1];
    size_t len = 0;
    if (!b64)
        return 0;
    memcpy(b64, data, size);
    b64[size] = '\0';
    if (wp_wecom_decrypt(&plain, &len, recv, "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", b64) ==
        0) {
        FUZZ_ASSERT(plain[len] == '\0', "decrypted text not terminated");
        FUZZ_ASSERT(strlen(recv) <= WP_WECOM_ID_MAX, "receiver");
        event(plain, len);
        free(plain);
    }
    free(b64);
    wp_error_clear();
    return 0;
}
