/* SPDX-License-Identifier: MIT */
/* libFuzzer target: an answer of WeCom's API through every parser the client has (gettoken,
 * a transfer's and transfer_result's customers, batch/get_by_user's contacts): what they keep
 * stays within its place. */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *tok = NULL, cursor[256];
    int64_t exp = 0, code = 0;
    size_t n = 0;

    if (wp_wecom_parse_token(&tok, &exp, &code, (const char *)data, size) == 0) {
        FUZZ_ASSERT(tok && *tok && !strpbrk(tok, " &#\r\n"), "token '%s'", tok ? tok : "");
        FUZZ_ASSERT(exp >= 60 && exp <= 86400, "expires_in %lld", (long long)exp);
        free(tok);
    }
    json_t *j = json_loadb((const char *)data, size, 0, NULL);
    if (!j)
        return 0;
    wp_wecom_customer_result r[8];
    for (int status = 0; status < 2; status++)
        if (wp_wecom_parse_customers(r, &n, 8, cursor, j, status) == 0) {
            FUZZ_ASSERT(n <= 8, "%zu customers", n);
            FUZZ_ASSERT(strlen(cursor) < sizeof cursor, "cursor");
            for (size_t i = 0; i < n; i++)
                FUZZ_ASSERT(r[i].external_userid[0] &&
                                strlen(r[i].external_userid) <= WP_WECOM_ID_MAX,
                            "external_userid");
        }
    wp_wecom_contact c[8];
    if (wp_wecom_parse_contacts(c, &n, 8, cursor, j) == 0) {
        FUZZ_ASSERT(n <= 8, "%zu contacts", n);
        for (size_t i = 0; i < n; i++) {
            FUZZ_ASSERT(c[i].external_userid[0] && c[i].userid[0], "ids");
            FUZZ_ASSERT(strlen(c[i].name) <= WP_ARCHIVE_FIELD_MAX, "name");
            FUZZ_ASSERT(c[i].createtime >= 0, "createtime");
        }
    }
    json_decref(j);
    wp_error_clear();
    return 0;
}
