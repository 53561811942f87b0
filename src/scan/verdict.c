/* SPDX-License-Identifier: MIT */
/* The verdict of a pre-send check as JSON: one builder for the server's check and the agent's. */
#include "scan/scan.h"
#include "scan/verdict.h"
#include "util/error.h"

int wp_scan_verdict(json_t **out, const wp_scanner *s, wp_scan_result *r, wp_buf *masked,
                    const char *text, size_t len)
{
    json_t *v = NULL, *matches = NULL;
    int err;

    *out = NULL;
    wp_buf_reset(masked);
    if ((err = wp_scan_run(s, text, len, r)) < 0 ||
        (err = wp_scan_mask(masked, text, len, r)) < 0)
        return err;
    if (!(matches = json_array()))
        return wp_error_set(WP_ENOMEM, "out of memory");
    for (size_t i = 0; i < r->n; i++) {
        const wp_scan_match *m = &r->matches[i];
        json_t *o =
            json_pack("{s:s,s:s,s:s,s:I,s:I,s:s%}", "pattern", m->pattern, "category", m->category,
                      "action", wp_scan_action_name(m->action), "start", (json_int_t)m->start,
                      "end", (json_int_t)m->end, "text", text + m->start, m->end - m->start);
        if (!o || json_array_append_new(matches, o) < 0) {
            err = wp_error_set(WP_ENOMEM, "out of memory");
            goto out;
        }
    }
    v = json_pack("{s:s,s:O,s:s%}", "action",
                  r->action == WP_SCAN_NONE ? "allow" : wp_scan_action_name(r->action), "matches",
                  matches, "masked", masked->buf, masked->len);
    if (!v) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    *out = v;
    err = 0;
out:
    json_decref(matches);
    return err;
}
