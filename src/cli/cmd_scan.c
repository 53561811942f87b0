/* SPDX-License-Identifier: MIT */
/* `workphone scan`: one JSON verdict per input line (CONTRACT §1-3), in constant memory. */
#include "cli/cli.h"
#include "scan/scan.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_LINE (16u << 20) /* the engine's own limit per text */
#define CHUNK (64u << 10)

static const char help[] =
    "usage: workphone scan --lexicon FILE [--no-pii]\n"
    "\n"
    "Reads text on standard input, one message per line, and writes one JSON object per line:\n"
    "  {\"line\":N,\"action\":\"block|alert|mask|none\",\"matches\":[{\"pattern\",\"category\",\n"
    "   \"action\",\"start\",\"end\",\"text\"}],\"masked\":\"...\"}\n"
    "start/end are byte offsets in the line (end exclusive). Bytes that are not UTF-8 are\n"
    "treated as noise, and shown as U+FFFD in the JSON. A line over 16 MiB is answered with\n"
    "an \"error\" object and skipped; the exit code is then 1.\n"
    "\n"
    "  --lexicon FILE  the lexicon (see the CONTRACT's lexicon format)\n"
    "  --no-pii        turn off the built-in detectors of phone, ID card, bank card, email\n"
    "\n"
    "Exit 0 also when something matched; 2 on a bad lexicon, naming its line.\n";

static int read_file(wp_buf *out, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return wp_error_set(WP_EINVAL, "cannot read lexicon '%s': %s", path, strerror(errno));
    char tmp[CHUNK];
    size_t n;
    int err = 0;
    while (!err && (n = fread(tmp, 1, sizeof tmp, f)) > 0)
        err = wp_buf_add(out, tmp, n);
    if (!err && ferror(f))
        err = wp_error_set(WP_EIO, "cannot read lexicon '%s': %s", path, strerror(errno));
    else if (err == WP_ELIMIT)
        err = wp_error_set(WP_ELIMIT, "lexicon '%s' is larger than %u bytes", path,
                           WP_SCAN_MAX_LEXICON_BYTES);
    fclose(f);
    return err;
}

static int emit(wp_buf *o, unsigned long long lineno, const char *line, size_t len,
                const wp_scan_result *r)
{
    int err = wp_buf_addf(o, "{\"line\":%llu,\"action\":\"%s\",\"matches\":[", lineno,
                          wp_scan_action_name(r->action));
    for (size_t i = 0; !err && i < r->n; i++) {
        const wp_scan_match *m = &r->matches[i];
        if ((err = wp_buf_adds(o, i ? ",{\"pattern\":" : "{\"pattern\":")) ||
            (err = wp_json_str(o, m->pattern, strlen(m->pattern))) ||
            (err = wp_buf_adds(o, ",\"category\":")) ||
            (err = wp_json_str(o, m->category, strlen(m->category))) ||
            (err = wp_buf_addf(o, ",\"action\":\"%s\",\"start\":%zu,\"end\":%zu,\"text\":",
                               wp_scan_action_name(m->action), m->start, m->end)) ||
            (err = wp_json_str(o, line + m->start, m->end - m->start)) ||
            (err = wp_buf_addc(o, '}')))
            break;
    }
    if (!err)
        err = wp_buf_adds(o, "],\"masked\":");
    if (!err) {
        wp_buf masked;
        wp_buf_init(&masked, 4 * (size_t)MAX_LINE);
        err = wp_scan_mask(&masked, line, len, r);
        if (!err)
            err = wp_json_str(o, masked.buf, masked.len);
        wp_buf_release(&masked);
    }
    return err ? err : wp_buf_adds(o, "}\n");
}

static int flush_out(wp_buf *o)
{
    if (o->len && fwrite(o->buf, 1, o->len, stdout) != o->len)
        return wp_error_set(WP_EIO, "cannot write output: %s", strerror(errno));
    wp_buf_reset(o);
    return fflush(stdout) == 0 ? 0 : wp_error_set(WP_EIO, "cannot write output");
}

/* Scan stdin line by line. The line buffer never holds more than MAX_LINE + CHUNK bytes. */
static int scan_stream(const wp_scanner *sc, int *too_long)
{
    wp_buf line, out;
    wp_scan_result r;
    wp_buf_init(&line, MAX_LINE + CHUNK);
    wp_buf_init(&out, 8 * (size_t)MAX_LINE + 4096);
    wp_scan_result_init(&r);
    unsigned long long lineno = 0;
    int skipping = 0, err = 0;
    char chunk[CHUNK];
    ssize_t n;
    for (;;) {
        n = read(STDIN_FILENO, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err = wp_error_set(WP_EIO, "cannot read standard input: %s", strerror(errno));
            break;
        }
        size_t pos = 0, len = (size_t)n;
        while (pos < len || (n == 0 && (line.len || skipping))) {
            char *nl = n ? memchr(chunk + pos, '\n', len - pos) : NULL;
            size_t take = nl ? (size_t)(nl - (chunk + pos)) : len - pos;
            if (!skipping && line.len + take > MAX_LINE) {
                skipping = 1;
                wp_buf_reset(&line);
            }
            if (!skipping && (err = wp_buf_add(&line, chunk + pos, take)) < 0)
                goto out;
            pos += take + (nl != NULL);
            if (!nl && n)
                break; /* the line goes on in the next chunk */
            lineno++;
            if (skipping) {
                *too_long = 1;
                fprintf(stderr, "workphone scan: line %llu is longer than %u bytes; skipped\n",
                        lineno, MAX_LINE);
                err = wp_buf_addf(&out,
                                  "{\"line\":%llu,\"error\":{\"code\":\"line_too_long\","
                                  "\"message\":\"line is longer than %u bytes\"}}\n",
                                  lineno, MAX_LINE);
                skipping = 0;
            } else {
                size_t l = line.len;
                if (l && line.buf[l - 1] == '\r')
                    l--;
                err = wp_scan_run(sc, line.buf, l, &r);
                if (!err)
                    err = emit(&out, lineno, line.buf, l, &r);
                wp_buf_reset(&line);
            }
            if (err < 0)
                goto out;
            if (out.len > (1u << 20) && (err = flush_out(&out)) < 0)
                goto out;
        }
        if ((err = flush_out(&out)) < 0 || n == 0)
            break;
    }
out:
    wp_scan_result_release(&r);
    wp_buf_release(&line);
    wp_buf_release(&out);
    return err;
}

int cmd_scan(int argc, char **argv)
{
    const char *lexpath = NULL;
    wp_scan_options opts = WP_SCAN_OPTIONS_INIT;
    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return WP_EXIT_OK;
    }
    for (int i = 1; i < argc; i++) {
        int r = cli_opt(argc, argv, &i, "scan", "lexicon", &lexpath);
        if (r < 0)
            return WP_EXIT_USAGE;
        if (r)
            continue;
        if (!strcmp(argv[i], "--no-pii")) {
            opts.flags |= WP_SCAN_NO_PII;
            continue;
        }
        return cli_usage_error("scan", "unknown argument '%s'; see 'workphone scan --help'",
                               argv[i]);
    }
    if (!lexpath)
        return cli_usage_error("scan", "missing --lexicon FILE");

    wp_buf lex;
    wp_buf_init(&lex, WP_SCAN_MAX_LEXICON_BYTES);
    wp_scanner *sc = NULL;
    int err = read_file(&lex, lexpath);
    if (!err) {
        opts.source_name = lexpath;
        err = wp_scan_compile(&sc, lex.buf, lex.len, &opts);
    }
    wp_buf_release(&lex);
    if (err < 0)
        return err == WP_ENOMEM || err == WP_EIO ? cli_fail("scan", "%s", wp_error_last())
                                                 : cli_usage_error("scan", "%s", wp_error_last());
    int too_long = 0;
    err = scan_stream(sc, &too_long);
    wp_scanner_unref(sc);
    if (err < 0)
        return cli_fail("scan", "%s", wp_error_last());
    return too_long ? WP_EXIT_FAIL : WP_EXIT_OK;
}
