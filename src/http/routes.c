/* SPDX-License-Identifier: MIT */
/* Route tables: the names of the rights, the matcher that walks a table, and its check. */
#include "http/internal.h"
#include "util/error.h"

#include <stdio.h>
#include <string.h>

const char *wp_http_right_name(enum wp_http_right r)
{
    switch (r) {
    case WP_RIGHT_PUBLIC: return "public";
    case WP_RIGHT_METRICS: return "metrics";
    case WP_RIGHT_DEVICE: return "device";
    case WP_RIGHT_READ: return "read";
    case WP_RIGHT_WRITE: return "write";
    case WP_RIGHT_ADMIN: return "admin";
    case WP_RIGHT_SESSION: return "session";
    case WP_RIGHT_AUDIT: return "audit";
    case WP_RIGHT_HANDLE_ALERTS: return "handle_alerts";
    case WP_RIGHT_MANAGE: return "manage";
    case WP_RIGHT_UNMASK: return "unmask";
    }
    return "?";
}

/* The segment of a pattern that starts after the '/' at *p; advances *p to the next '/' or
 * the end. 0 when *p is at the end. */
static int next_seg(const char **p, const char **seg, size_t *len)
{
    if (**p != '/')
        return 0;
    const char *s = *p + 1;
    const char *e = strchr(s, '/');
    if (!e)
        e = s + strlen(s);
    *seg = s;
    *len = (size_t)(e - s);
    *p = e;
    return 1;
}

static int is_param(const char *seg, size_t len)
{
    return len >= 3 && seg[0] == '{' && seg[len - 1] == '}';
}

/* Does pattern match segs? When params is non-NULL, fill it in. */
static int match_path(const char *pattern, char *const *segs, size_t nsegs,
                      struct wp_http__param *params, size_t *n_params)
{
    const char *p = pattern, *seg;
    size_t len, i = 0, np = 0;
    while (next_seg(&p, &seg, &len)) {
        if (i == nsegs)
            return 0;
        if (is_param(seg, len)) {
            if (segs[i][0] == '\0')
                return 0;
            if (params && np < WP_HTTP_MAX_PARAMS)
                params[np++] = (struct wp_http__param){seg + 1, len - 2, segs[i]};
        } else if (strlen(segs[i]) != len || memcmp(segs[i], seg, len) != 0) {
            return 0;
        }
        i++;
    }
    if (i != nsegs)
        return 0;
    if (n_params)
        *n_params = np;
    return 1;
}

static int method_matches(const char *route_method, const char *method)
{
    return !strcmp(route_method, method) ||
           (!strcmp(method, "HEAD") && !strcmp(route_method, "GET"));
}

long wp_http__route_find(const wp_http_route *rt, size_t n, const char *method,
                         char *const *segs, size_t nsegs, struct wp_http__param *params,
                         size_t *n_params, char *allow, size_t allow_cap)
{
    unsigned seen = 0;
    for (size_t i = 0; i < n; i++) {
        if (!match_path(rt[i].pattern, segs, nsegs, NULL, NULL))
            continue;
        if (method_matches(rt[i].method, method)) {
            match_path(rt[i].pattern, segs, nsegs, params, n_params);
            return (long)i;
        }
        seen |= 1u << wp_http__method_index(rt[i].method);
    }
    if (!seen)
        return -1;
    if (seen & (1u << WP_M_GET))
        seen |= 1u << WP_M_HEAD;
    seen |= 1u << WP_M_OPTIONS;
    size_t used = 0;
    if (allow_cap)
        allow[0] = '\0';
    for (int m = 0; m < WP_M_OTHER; m++) {
        if (!(seen & (1u << m)))
            continue;
        const char *name = wp_http__method_name(m);
        size_t need = strlen(name) + (used ? 2 : 0);
        if (used + need + 1 > allow_cap)
            break;
        if (used) {
            memcpy(allow + used, ", ", 2);
            used += 2;
        }
        memcpy(allow + used, name, strlen(name) + 1);
        used += strlen(name);
    }
    return -2;
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

int wp_http__split_path(wp_arena *a, const char *path, size_t len, char **segs, size_t *nsegs)
{
    if (len == 0 || path[0] != '/')
        return wp_error_set(WP_EINVAL, "the path must start with '/'");
    size_t n = 0, i = 1;
    for (;;) {
        size_t start = i;
        while (i < len && path[i] != '/')
            i++;
        if (n == WP_HTTP_MAX_SEGMENTS)
            return wp_error_set(WP_ELIMIT, "the path has more than %d segments",
                                WP_HTTP_MAX_SEGMENTS);
        char *out = wp_arena_alloc(a, i - start + 1);
        if (!out)
            return WP_ENOMEM;
        size_t o = 0;
        for (size_t k = start; k < i; k++) {
            if (path[k] != '%') {
                out[o++] = path[k];
                continue;
            }
            int hi = k + 2 < i ? hexval((unsigned char)path[k + 1]) : -1;
            int lo = hi >= 0 ? hexval((unsigned char)path[k + 2]) : -1;
            if (lo < 0)
                return wp_error_set(WP_EINVAL, "the path has a bad %%-escape");
            if (hi == 0 && lo == 0)
                return wp_error_set(WP_EINVAL, "the path has a NUL byte");
            out[o++] = (char)(hi * 16 + lo);
            k += 2;
        }
        out[o] = '\0';
        segs[n++] = out;
        if (i >= len)
            break;
        i++; /* past the '/' */
    }
    *nsegs = n;
    return 0;
}

static int check_pattern(const char *pattern)
{
    if (pattern[0] != '/')
        return wp_error_set(WP_EINVAL, "must start with '/'");
    if (!strcmp(pattern, "/"))
        return 0;
    const char *p = pattern, *seg;
    size_t len, nseg = 0, nparam = 0;
    const char *names[WP_HTTP_MAX_PARAMS];
    size_t name_lens[WP_HTTP_MAX_PARAMS];
    while (next_seg(&p, &seg, &len)) {
        if (++nseg > WP_HTTP_MAX_SEGMENTS)
            return wp_error_set(WP_EINVAL, "more than %d segments", WP_HTTP_MAX_SEGMENTS);
        if (len == 0)
            return wp_error_set(WP_EINVAL, "empty segment");
        if (is_param(seg, len)) {
            if (nparam == WP_HTTP_MAX_PARAMS)
                return wp_error_set(WP_EINVAL, "more than %d parameters", WP_HTTP_MAX_PARAMS);
            const char *name = seg + 1;
            size_t nl = len - 2;
            if (!(name[0] == '_' || (name[0] >= 'a' && name[0] <= 'z')) ||
                strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") < nl)
                return wp_error_set(WP_EINVAL, "parameter '%.*s' is not [a-z_][a-z0-9_]*",
                                    (int)nl, name);
            for (size_t k = 0; k < nparam; k++)
                if (name_lens[k] == nl && !memcmp(names[k], name, nl))
                    return wp_error_set(WP_EINVAL, "parameter '%.*s' twice", (int)nl, name);
            names[nparam] = name;
            name_lens[nparam++] = nl;
            continue;
        }
        /* literals are compared with decoded segments, so they hold no escapes */
        for (size_t k = 0; k < len; k++)
            if (strchr("{}%?#", seg[k]) || (unsigned char)seg[k] <= 0x20)
                return wp_error_set(WP_EINVAL, "segment '%.*s' has '%c'", (int)len, seg,
                                    seg[k]);
    }
    return 0;
}

/* Does row a match every path that row b matches (so that b, coming later, never answers)? */
static int hides(const char *a, const char *b)
{
    const char *pa = a, *pb = b, *sa, *sb;
    size_t la, lb;
    for (;;) {
        int ma = next_seg(&pa, &sa, &la), mb = next_seg(&pb, &sb, &lb);
        if (!ma || !mb)
            return !ma && !mb;
        if (is_param(sa, la))
            continue;
        if (is_param(sb, lb) || la != lb || memcmp(sa, sb, la) != 0)
            return 0;
    }
}

int wp_http_routes_check(const wp_http_route *rt, size_t n)
{
    static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
    for (size_t i = 0; i < n; i++) {
        const wp_http_route *r = &rt[i];
        int ok = 0;
        if (!r->method || !r->pattern)
            return wp_error_set(WP_EINVAL, "route %zu: no method or pattern", i);
        for (size_t k = 0; k < sizeof methods / sizeof methods[0]; k++)
            ok |= !strcmp(r->method, methods[k]);
        if (!ok)
            return wp_error_set(WP_EINVAL, "route %zu (%s %s): unknown method", i, r->method,
                                r->pattern);
        if (!r->handler)
            return wp_error_set(WP_EINVAL, "route %zu (%s %s): no handler", i, r->method,
                                r->pattern);
        if ((int)r->right < WP_RIGHT_PUBLIC || (int)r->right > WP_RIGHT_COUNT)
            return wp_error_set(WP_EINVAL, "route %zu (%s %s): unknown right", i, r->method,
                                r->pattern);
        if (check_pattern(r->pattern) < 0) {
            char why[200];
            snprintf(why, sizeof why, "%s", wp_error_last());
            return wp_error_set(WP_EINVAL, "route %zu (%s %s): pattern %s", i, r->method,
                                r->pattern, why);
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(rt[j].method, r->method) && hides(rt[j].pattern, r->pattern))
                return wp_error_set(WP_EINVAL, "route %zu (%s %s) is hidden by route %zu (%s)",
                                    i, r->method, r->pattern, j, rt[j].pattern);
    }
    return 0;
}
