/* SPDX-License-Identifier: MIT */
/* The web console's static files: GETs that no route answers, outside /api/ and /metrics. */
#include "http/internal.h"
#include "util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef WP_WEB_DIR
#define WP_WEB_DIR "web/dist"
#endif

#define REL_MAX 1024 /* a longer path is no file of ours */

/* An installed binary finds the console beside it: BINDIR/WP_WEB_DIR_REL (meson install puts it
 * at DATADIR/workphone/web), wherever the tree was installed to (DESTDIR, a package). A binary
 * in its build dir has none there and serves the source tree's. */
const char *wp_http_web_dir_default(void)
{
#ifdef WP_WEB_DIR_REL
    static char installed[PATH_MAX];
    char exe[PATH_MAX], probe[PATH_MAX + 32];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            int len = snprintf(installed, sizeof installed, "%s/%s", exe, WP_WEB_DIR_REL);
            if (len > 0 && (size_t)len < sizeof installed &&
                (size_t)snprintf(probe, sizeof probe, "%s/index.html", installed) < sizeof probe &&
                access(probe, R_OK) == 0)
                return installed;
        }
    }
#endif
    return WP_WEB_DIR;
}

static int has_prefix_seg(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    return !strncmp(path, prefix, n) && (path[n] == '\0' || path[n] == '/');
}

int wp_http__static_wanted(const struct wp_http__req *r)
{
    if (!r->srv->opts.web_dir || (r->method != WP_M_GET && r->method != WP_M_HEAD))
        return 0;
    /* the API and the scraper keep their JSON 404s, whatever the console holds */
    return !has_prefix_seg(r->ctx.path, "/api") && !has_prefix_seg(r->ctx.path, "/metrics");
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The request path as a relative file name ("assets/x.js"; "" for "/"), percent-decoded per
 * segment. Refused (-1): a segment that decodes to something holding '/', '\\' or NUL, or
 * starting with '.' (".", "..", hidden files), so that nothing climbs out of the directory
 * whatever the encoding; empty segments are dropped. */
int wp_http__rel_path(const char *path, char *out, size_t cap)
{
    size_t o = 0;
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        size_t start = o;
        if (o && o + 1 < cap)
            out[o++] = '/';
        size_t seg = o;
        for (; *p && *p != '/'; p++) {
            int c = (unsigned char)*p;
            if (c == '%') {
                int hi = hexval((unsigned char)p[1]);
                int lo = hi >= 0 ? hexval((unsigned char)p[2]) : -1;
                if (lo < 0)
                    return -1;
                c = hi * 16 + lo;
                p += 2;
            }
            if (c == 0 || c == '/' || c == '\\' || (o == seg && c == '.'))
                return -1;
            if (o + 1 >= cap)
                return -1;
            out[o++] = (char)c;
        }
        if (o == seg)
            o = start;
    }
    out[o] = '\0';
    return 0;
}

/* Open root/rel as a regular file that really lies inside root once symlinks are resolved.
 * @return the descriptor with *st filled in, or -1 (missing, a directory, or outside). */
static int open_inside(const char *root, const char *rel, struct stat *st)
{
    char want[PATH_MAX], real[PATH_MAX];
    if ((size_t)snprintf(want, sizeof want, "%s/%s", root, rel) >= sizeof want)
        return -1;
    if (!realpath(want, real))
        return -1;
    size_t n = strlen(root);
    if (strncmp(real, root, n) != 0 || real[n] != '/')
        return -1;
    int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
        close(fd);
        return -1;
    }
    return fd;
}

static const char *content_type(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".map", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".jpeg", "image/jpeg"},
        {".gif", "image/gif"},
        {".webp", "image/webp"},
        {".ico", "image/x-icon"},
        {".woff", "font/woff"},
        {".woff2", "font/woff2"},
        {".ttf", "font/ttf"},
        {".txt", "text/plain; charset=utf-8"},
        {".wasm", "application/wasm"},
    };
    const char *dot = strrchr(name, '.');
    if (dot && !strchr(dot, '/'))
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (!strcasecmp(dot, types[i].ext))
                return types[i].type;
    return "application/octet-stream";
}

/* Does Accept-Encoding allow gzip? "gzip" or "*" as a token, unless its q is 0. */
static int accepts_gzip(const char *ae)
{
    while (ae && *ae) {
        while (*ae == ' ' || *ae == ',')
            ae++;
        size_t n = strcspn(ae, ",;");
        int match = (n == 4 && !strncasecmp(ae, "gzip", 4)) || (n == 1 && *ae == '*');
        const char *end = ae + strcspn(ae, ",");
        if (match) {
            const char *q = memchr(ae, ';', (size_t)(end - ae));
            if (!q)
                return 1;
            q++;
            while (*q == ' ')
                q++;
            if (strncasecmp(q, "q=", 2) != 0 || strtod(q + 2, NULL) > 0)
                return 1;
        }
        ae = end;
    }
    return 0;
}

/* The page at every console path while web_dir holds no index.html: the API works, and the
 * operator learns how to get the console. Says nothing about the server's file system. */
static const char not_built[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<title>workphone: the console is not built</title>"
    "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:42em;margin:3em auto;padding:0 1em}"
    "code,pre{background:#f3f3f3;padding:.1em .3em}</style></head><body>\n"
    "<h1>workphone is running; its web console is not built</h1>\n"
    "<p>The API answers under <code>/api/v1/</code>. To get the console (工作手机管理控制台), "
    "build it from the source tree (Node.js 20 and npm):</p>\n"
    "<pre>make web        # or: cd web &amp;&amp; npm ci &amp;&amp; npm run build</pre>\n"
    "<p>then reload this page. A server whose console lives elsewhere is started with "
    "<code>workphone serve --web DIR</code> or <code>WORKPHONE_WEB_DIR=DIR</code>; the "
    "server's start line names the directory it looks in.</p>\n</body></html>\n";

static int add(struct MHD_Response *resp, const char *name, const char *value)
{
    return MHD_add_response_header(resp, name, value) == MHD_YES ? 0 : -1;
}

/* Queue resp with the headers every reply here has; takes it over. */
static int send_resp(struct wp_http__req *r, unsigned status, struct MHD_Response *resp,
                     const char *ctype, const char *cache, size_t len, int html)
{
    int bad = 0;
    if (ctype)
        bad |= add(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    bad |= add(resp, MHD_HTTP_HEADER_CACHE_CONTROL, cache);
    bad |= add(resp, "X-Request-Id", r->id);
    bad |= add(resp, "X-Content-Type-Options", "nosniff");
    bad |= add(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
    if (r->srv->tls_cert)
        bad |= add(resp, "Strict-Transport-Security", WP_HTTP_HSTS);
    if (html) {
        /* the console loads only its own scripts; Element Plus sets inline styles, QR codes
         * are data: images */
        bad |= add(resp, "Content-Security-Policy",
                   "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                   "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
                   "object-src 'none'; base-uri 'self'; form-action 'self'; "
                   "frame-ancestors 'none'");
        bad |= add(resp, "X-Frame-Options", "DENY");
        bad |= add(resp, "Referrer-Policy", "same-origin");
    }
    for (const struct wp_http__header *h = r->headers; h; h = h->next)
        bad |= add(resp, h->name, h->value);
    if (atomic_load(&r->srv->stopping))
        bad |= add(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    int ok = !bad && MHD_queue_response(r->conn, status, resp) == MHD_YES;
    MHD_destroy_response(resp);
    if (!ok)
        return wp_error_set(WP_EIO, "libmicrohttpd refused the reply");
    r->replied = 1;
    r->status = status;
    r->bytes = len;
    return 0;
}

/* An error reply for a failure past the point of no return; the reply is made either way. */
static int fail(struct wp_http__req *r, int err)
{
    wp_http_reply_error(&r->ctx, err);
    return 0;
}

static int reply_not_built(struct wp_http__req *r)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        sizeof not_built - 1, (void *)not_built, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return fail(r, wp_error_set(WP_ENOMEM, "out of memory"));
    int err = send_resp(r, 200, resp, "text/html; charset=utf-8", "no-cache",
                        sizeof not_built - 1, 1);
    return err < 0 ? fail(r, err) : 0;
}

/* Reply with root/rel (or rel.gz): 0 once a reply is made, -1 when there is no such file.
 * Names under assets/ carry a hash of their content (Vite): they never change, so browsers
 * keep them for a year; everything else (index.html above all) is checked every time. */
static int reply_file(struct wp_http__req *r, const char *root, const char *rel)
{
    struct stat st;
    int fd = open_inside(root, rel, &st);
    if (fd < 0)
        return -1;
    int gz = 0;
    char gzrel[REL_MAX + 4];
    if (accepts_gzip(wp_http_header(&r->ctx, MHD_HTTP_HEADER_ACCEPT_ENCODING)) &&
        (size_t)snprintf(gzrel, sizeof gzrel, "%s.gz", rel) < sizeof gzrel) {
        struct stat gst;
        int gfd = open_inside(root, gzrel, &gst);
        if (gfd >= 0) {
            close(fd);
            fd = gfd;
            st = gst;
            gz = 1;
        }
    }
    int immutable = !strncmp(rel, "assets/", 7);
    const char *cache = immutable ? "public, max-age=31536000, immutable" : "no-cache";
    char etag[96];
    snprintf(etag, sizeof etag, "\"%llx-%llx%s\"", (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtim.tv_sec * 1000000000ull +
                 (unsigned long long)st.st_mtim.tv_nsec,
             gz ? "-gz" : "");
    const char *inm = wp_http_header(&r->ctx, MHD_HTTP_HEADER_IF_NONE_MATCH);
    int err;
    struct MHD_Response *resp;
    if (inm && strstr(inm, etag)) {
        close(fd);
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        if (!resp)
            return fail(r, wp_error_set(WP_ENOMEM, "out of memory"));
        if (add(resp, MHD_HTTP_HEADER_ETAG, etag) < 0) {
            MHD_destroy_response(resp);
            return fail(r, wp_error_set(WP_ENOMEM, "out of memory"));
        }
        err = send_resp(r, 304, resp, NULL, cache, 0, 0);
        return err < 0 ? fail(r, err) : 0;
    }
    /* the descriptor goes to libmicrohttpd, which sends it with sendfile() and closes it */
    resp = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
    if (!resp) {
        close(fd);
        return fail(r, wp_error_set(WP_ENOMEM, "out of memory"));
    }
    if (add(resp, MHD_HTTP_HEADER_ETAG, etag) < 0 ||
        (gz && add(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip") < 0)) {
        MHD_destroy_response(resp);
        return fail(r, wp_error_set(WP_ENOMEM, "out of memory"));
    }
    const char *ctype = content_type(rel);
    err = send_resp(r, 200, resp, ctype, cache, (size_t)st.st_size,
                    !strncmp(ctype, "text/html", 9));
    return err < 0 ? fail(r, err) : 0;
}

int wp_http__static_serve(struct wp_http__req *r)
{
    char root[PATH_MAX], rel[REL_MAX];
    const char *path = r->ctx.path;
    if (wp_http__rel_path(path, rel, sizeof rel) < 0)
        return wp_http_reply_fail(&r->ctx, 404, "not_found", NULL, "no file at '%.200s'", path);
    /* resolved on every request: a console built (or rebuilt) while the server runs is
     * served at once, without a restart */
    struct stat st;
    int fd;
    if (!realpath(r->srv->opts.web_dir, root) || (fd = open_inside(root, "index.html", &st)) < 0)
        return reply_not_built(r);
    close(fd);
    if (*rel && reply_file(r, root, rel) == 0)
        return 0;
    /* a missing asset is a 404, never index.html: the browser would keep HTML as a script
     * for a year */
    if (!strncmp(rel, "assets/", 7) || !strcmp(rel, "assets"))
        return wp_http_reply_fail(&r->ctx, 404, "not_found", NULL, "no file at '%.200s'", path);
    /* every other path is a page of the single-page console: its router reads the path */
    if (reply_file(r, root, "index.html") == 0)
        return 0;
    return reply_not_built(r);
}
