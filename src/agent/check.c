/* SPDX-License-Identifier: MIT */
/* The offline pre-send check: the policy's lexicon compiled by the server's engine (src/scan),
 * and the verdict written exactly as POST /api/v1/device/check writes it. */
#include "agent/agent_int.h"
#include "scan/verdict.h"
#include "util/error.h"
#include "util/json.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int wp_agent__policy_install(wp_agent *a, const char *lexicon, size_t len)
{
    wp_scanner *s = NULL, *old;
    /* The server compiles a tenant's lexicon with the default options (PII detectors on),
     * named "lexicon" (src/ingest/policy.c): the same here, so both see the same matches. */
    wp_scan_options opts = WP_SCAN_OPTIONS_INIT;
    opts.source_name = "lexicon";
    int err = wp_scan_compile(&s, lexicon, len, &opts);
    if (err < 0)
        return wp_agent__from_wp(a, err);
    pthread_mutex_lock(&a->check_mu);
    old = a->scanner;
    a->scanner = s;
    pthread_mutex_unlock(&a->check_mu);
    wp_scanner_unref(old);
    return 0;
}

/* The same builder as the server's check (src/scan/verdict.c), dumped as wp_http_reply_json
 * dumps it: tests/unit/agent compares both byte for byte. json NULL: the action alone (r). */
int wp_agent__verdict(char **json, const wp_scanner *s, wp_scan_result *r, wp_buf *masked,
                      const char *text, size_t len)
{
    json_t *out = NULL;
    int err;

    if (!json) {
        wp_buf_reset(masked);
        return wp_scan_run(s, text, len, r);
    }
    if ((err = wp_scan_verdict(&out, s, r, masked, text, len)) < 0)
        return err;
    if (!(*json = wp_json_dumps(out, JSON_COMPACT)))
        err = wp_error_set(WP_ENOMEM, "out of memory");
    json_decref(out);
    return err;
}

int wp_agent_check(wp_agent *a, enum wp_agent_action *out_action, char **out_json,
                   const char *text, size_t len)
{
    char *json = NULL;
    int err;
    if (!text && len)
        return wp_agent__fail(a, WP_AGENT_EINVAL, "no text");
    if (len > WP_AGENT_TEXT_MAX)
        return wp_agent__fail(a, WP_AGENT_EINVAL, "\"text\" is longer than %d bytes",
                              WP_AGENT_TEXT_MAX);
    pthread_mutex_lock(&a->check_mu);
    if (!a->scanner) {
        pthread_mutex_unlock(&a->check_mu);
        return wp_agent__fail(a, WP_AGENT_ENOPOLICY,
                              "no policy yet: sync once with the server to fetch it");
    }
    /* The engine's own text limit is far above 64 KiB: it cannot refuse here but on ENOMEM. */
    err = wp_agent__verdict(out_json ? &json : NULL, a->scanner, &a->result, &a->masked,
                            text ? text : "", len);
    enum wp_scan_action action = a->result.action;
    pthread_mutex_unlock(&a->check_mu);
    if (err < 0)
        return wp_agent__from_wp(a, err);
    if (out_action)
        *out_action = (enum wp_agent_action)action;
    if (out_json)
        *out_json = json;
    return 0;
}
