/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the chat archive's parsers (src/wecom/archive_msg.c) on any input, as a
 * GetChatData answer and as a decrypted message: what they keep stays within its place (a text
 * valid UTF-8 within WP_ARCHIVE_TEXT_MAX, at most WP_WECOM_MEDIA_PER_MSG media each with an id,
 * a msgid and a sender on success), and every pointer they leave is readable until the release
 * (the items of a chat record or a mixed message included). */
#include "util/error.h"
#include "util/utf8.h"
#include "wecom/archive.h"

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

static size_t touch(const char *s)
{
    return s ? strlen(s) : 0; /* reads every byte: ASan sees a freed one */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wp_wecom_page p;
    if (wp_wecom_page_parse(&p, (const char *)data, size) == 0) {
        FUZZ_ASSERT(p.n <= WP_WECOM_PULL_MAX, "%zu records", p.n);
        for (size_t i = 0; i < p.n; i++) {
            const wp_wecom_record *r = &p.records[i];
            if (!r->reason[0])
                FUZZ_ASSERT(r->seq > 0 && r->encrypt_random_key && r->encrypt_chat_msg,
                            "record %zu usable without its fields", i);
            touch(r->msgid);
        }
    }
    wp_wecom_page_release(&p);

    wp_wecom_msg m;
    if (wp_wecom_msg_parse(&m, (const char *)data, size) == 0) {
        FUZZ_ASSERT(m.msgid && *m.msgid && m.wp_msgtype && *m.wp_msgtype, "msgid, msgtype");
        FUZZ_ASSERT(m.n_media <= WP_WECOM_MEDIA_PER_MSG, "%zu media", m.n_media);
        for (size_t i = 0; i < m.n_media; i++) {
            FUZZ_ASSERT(touch(m.media[i].sdkfileid) > 0, "media %zu without an id", i);
            touch(m.media[i].md5sum);
            touch(m.media[i].filename);
        }
        if (m.text) {
            size_t n = strlen(m.text);
            FUZZ_ASSERT(n <= WP_ARCHIVE_TEXT_MAX, "text of %zu bytes", n);
            FUZZ_ASSERT(wp_utf8_valid(m.text, n), "text not UTF-8");
        }
        touch(m.url), touch(m.title), touch(m.filename), touch(m.memo), touch(m.revoked_msgid);
        touch(m.from), touch(m.roomid);
        for (size_t i = 0; i < m.n_to; i++)
            touch(m.tolist[i]);
    }
    wp_wecom_msg_release(&m);
    wp_error_clear();
    return 0;
}
