/* SPDX-License-Identifier: MIT */
/* Which urls a webhook may reach: the check at creation (parse, resolve, every address public
 * unless allowed), the address test the sender repeats at each connection, and the url as the
 * API shows it. */
#include "webhooks/webhooks.h"
#include "util/error.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static int v4_public(uint32_t a, const char **why)
{
    static const struct {
        uint32_t net, mask;
        const char *why;
    } blocked[] = {
        {0x00000000u, 0xff000000u, "unspecified"},                 /* 0.0.0.0/8 */
        {0x0a000000u, 0xff000000u, "private"},                     /* 10/8 */
        {0x64400000u, 0xffc00000u, "shared (carrier-grade NAT)"},  /* 100.64/10 */
        {0x7f000000u, 0xff000000u, "loopback"},                    /* 127/8 */
        {0xa9fe0000u, 0xffff0000u, "link-local"},                  /* 169.254/16 */
        {0xac100000u, 0xfff00000u, "private"},                     /* 172.16/12 */
        {0xc0000000u, 0xffffff00u, "reserved"},                    /* 192.0.0/24 */
        {0xc0000200u, 0xffffff00u, "documentation"},               /* 192.0.2/24 */
        {0xc0586300u, 0xffffff00u, "reserved"},                    /* 192.88.99/24 */
        {0xc0a80000u, 0xffff0000u, "private"},                     /* 192.168/16 */
        {0xc6120000u, 0xfffe0000u, "reserved"},                    /* 198.18/15 */
        {0xc6336400u, 0xffffff00u, "documentation"},               /* 198.51.100/24 */
        {0xcb007100u, 0xffffff00u, "documentation"},               /* 203.0.113/24 */
        {0xe0000000u, 0xf0000000u, "multicast"},                   /* 224/4 */
        {0xf0000000u, 0xf0000000u, "reserved"},                    /* 240/4, broadcast */
    };
    for (size_t i = 0; i < sizeof blocked / sizeof blocked[0]; i++)
        if ((a & blocked[i].mask) == blocked[i].net) {
            *why = blocked[i].why;
            return 0;
        }
    return 1;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int v6_public(const unsigned char *b, const char **why)
{
    static const unsigned char zero[16];
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b};
    if (!memcmp(b, zero, 15) && b[15] <= 1) {
        *why = b[15] ? "loopback" : "unspecified";
        return 0;
    }
    if (!memcmp(b, mapped, 12) || !memcmp(b, nat64, 12))
        return v4_public(be32(b + 12), why);
    if (!memcmp(b, zero, 12)) { /* ::a.b.c.d, IPv4-compatible (deprecated) */
        *why = "reserved";
        return 0;
    }
    if (b[0] == 0x20 && b[1] == 0x02) /* 2002::/16, 6to4: the IPv4 in bytes 2-5 */
        return v4_public(be32(b + 2), why);
    if ((b[0] & 0xfe) == 0xfc) {
        *why = "unique local";
        return 0;
    }
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) {
        *why = "link-local";
        return 0;
    }
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) {
        *why = "private"; /* site-local (deprecated) */
        return 0;
    }
    if (b[0] == 0xff) {
        *why = "multicast";
        return 0;
    }
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) {
        *why = "documentation";
        return 0;
    }
    if ((b[0] == 0x01 && b[1] == 0x00 && !memcmp(b + 2, zero, 6)) || /* 100::/64 discard */
        (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0)) {  /* 2001::/32 Teredo */
        *why = "reserved";
        return 0;
    }
    return 1;
}

int wp_webhooks_addr_public(const struct sockaddr *sa, const char **why)
{
    const char *w = "reserved";
    int ok = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        ok = v4_public(ntohl(in->sin_addr.s_addr), &w);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        ok = v6_public(in6->sin6_addr.s6_addr, &w);
    }
    if (why)
        *why = ok ? NULL : w;
    return ok;
}

static void addr_text(char *out, size_t cap, const struct sockaddr *sa)
{
    const void *p = sa->sa_family == AF_INET
                        ? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
                        : (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (!inet_ntop(sa->sa_family, p, out, (socklen_t)cap))
        snprintf(out, cap, "an address");
}

/* Every address host resolves to must be public. */
static int check_host(const char *field, const char *host)
{
    struct addrinfo hints, *res = NULL;
    char name[256], text[INET6_ADDRSTRLEN];
    const char *why;
    size_t n = strlen(host);
    int err = 0;

    /* "[::1]" as curl gives it; a zone ("%eth0") makes it link-local anyway */
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']')
        snprintf(name, sizeof name, "%.*s", (int)(n - 2), host + 1);
    else
        snprintf(name, sizeof name, "%s", host);
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(name, NULL, &hints, &res) != 0 || !res)
        return wp_error_set(WP_EINVAL, "'%s': host '%.200s' does not resolve", field, name);
    for (struct addrinfo *ai = res; ai && err == 0; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        if (!wp_webhooks_addr_public(ai->ai_addr, &why)) {
            addr_text(text, sizeof text, ai->ai_addr);
            err = wp_error_set(WP_EINVAL,
                               "'%s': host '%.200s' is %s, a %s address (set allow_private to send "
                               "there)",
                               field, name, text, why);
        }
    }
    freeaddrinfo(res);
    return err;
}

int wp_webhooks_url_check(const char *field, const char *url, int allow_private)
{
    CURLU *u = NULL;
    char *scheme = NULL, *host = NULL, *user = NULL, *pass = NULL, *frag = NULL;
    int err = 0;

    if (!url || !*url)
        return wp_error_set(WP_EINVAL, "'%s' is required", field);
    if (strlen(url) > WP_WEBHOOK_URL_MAX)
        return wp_error_set(WP_EINVAL, "'%s' is longer than %d bytes", field, WP_WEBHOOK_URL_MAX);
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return wp_error_set(WP_EINVAL, "'%s' holds a space or a control character", field);
    if (!(u = curl_url()))
        return wp_error_set(WP_ENOMEM, "out of memory");
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host) {
        err = wp_error_set(WP_EINVAL, "'%s' is not a url (https://host/path)", field);
        goto out;
    }
    if (strcmp(scheme, "http") && strcmp(scheme, "https")) {
        err = wp_error_set(WP_EINVAL, "'%s' must be an http or https url", field);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
        curl_url_get(u, CURLUPART_PASSWORD, &pass, 0) == CURLUE_OK) {
        err = wp_error_set(WP_EINVAL, "'%s' must not hold a user or password", field);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0) == CURLUE_OK) {
        err = wp_error_set(WP_EINVAL, "'%s' must not hold a fragment (#...)", field);
        goto out;
    }
    if (!allow_private)
        err = check_host(field, host);
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    curl_free(pass);
    curl_free(frag);
    curl_url_cleanup(u);
    return err;
}

static int token_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           c == '-' || c == '_';
}

void wp_webhooks_url_shown(char *out, size_t cap, const char *url)
{
    size_t o = 0, n = url ? strlen(url) : 0, i = 0;
    if (!cap)
        return;
    const char *scheme_end = url ? strstr(url, "://") : NULL;
    if (scheme_end) { /* the scheme and host stay as they are */
        i = (size_t)(scheme_end - url) + 3;
        while (i < n && url[i] != '/' && url[i] != '?' && url[i] != '#')
            i++;
    }
    size_t keep = i < cap - 1 ? i : cap - 1;
    memcpy(out, url ? url : "", keep);
    o = keep;
    while (i < n && o + 1 < cap) {
        size_t j = i;
        while (j < n && token_char(url[j]))
            j++;
        if (j - i >= 16) {
            int w = snprintf(out + o, cap - o, "%.4s****", url + i);
            o = w < 0 ? o : (o + (size_t)w < cap ? o + (size_t)w : cap - 1);
            i = j;
        } else if (j > i) {
            while (i < j && o + 1 < cap)
                out[o++] = url[i++];
        } else {
            out[o++] = url[i++];
        }
    }
    out[o] = '\0';
}
