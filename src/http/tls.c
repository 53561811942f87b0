/* SPDX-License-Identifier: MIT */
/* The server's certificate and key: read from PEM files and checked with GnuTLS (the TLS
 * library libmicrohttpd uses on Debian) before the server starts. */
#include "http/http.h"
#include "util/error.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TLS_FILE_MAX (1024 * 1024) /* bytes of a PEM file: a chain of a few certificates */

/* The whole of path into *out (NUL-terminated), at most TLS_FILE_MAX bytes; *mode its mode.
 * 0, or WP_EINVAL naming what (the flag) and the file. */
static int read_pem(char **out, mode_t *mode, const char *what, const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    int err = 0;
    if (!f)
        return wp_error_set(WP_EINVAL, "%s '%s': cannot read it: %s", what, path,
                            strerror(errno));
    struct stat st = {0};
    if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
        err = wp_error_set(WP_EINVAL, "%s '%s': not a regular file", what, path);
        goto out;
    }
    if (st.st_size > TLS_FILE_MAX) {
        err = wp_error_set(WP_EINVAL, "%s '%s': larger than %d bytes", what, path, TLS_FILE_MAX);
        goto out;
    }
    if (!(buf = malloc((size_t)st.st_size + 1))) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    size_t n = fread(buf, 1, (size_t)st.st_size, f);
    if (ferror(f)) {
        err = wp_error_set(WP_EINVAL, "%s '%s': cannot read it", what, path);
        goto out;
    }
    buf[n] = '\0';
    if (!n || strlen(buf) != n) {
        err = wp_error_set(WP_EINVAL, "%s '%s': %s", what, path,
                           n ? "not a PEM file (it holds a NUL byte)" : "it is empty");
        goto out;
    }
    *mode = st.st_mode;
    *out = buf;
    buf = NULL;
out:
    if (buf) {
        sodium_memzero(buf, (size_t)st.st_size + 1);
        free(buf);
    }
    fclose(f);
    return err;
}

int wp_http_tls_load(wp_http_tls *out, const char *cert_path, const char *key_path)
{
    char *cert = NULL, *key = NULL;
    mode_t cmode = 0, kmode = 0;
    gnutls_x509_crt_t crt = NULL;
    gnutls_x509_privkey_t pk = NULL;
    gnutls_certificate_credentials_t cred = NULL;
    int err, rc;
    if ((err = read_pem(&cert, &cmode, "--tls-cert", cert_path)) < 0 ||
        (err = read_pem(&key, &kmode, "--tls-key", key_path)) < 0)
        goto out;
    if (kmode & S_IROTH) {
        err = wp_error_set(WP_EINVAL,
                           "--tls-key '%s': every user of this host can read it (mode %04o): "
                           "chmod o-r it, or 600",
                           key_path, (unsigned)(kmode & 07777));
        goto out;
    }
    gnutls_datum_t cd = {(unsigned char *)cert, (unsigned)strlen(cert)};
    gnutls_datum_t kd = {(unsigned char *)key, (unsigned)strlen(key)};
    if (gnutls_x509_crt_init(&crt) < 0 || gnutls_x509_privkey_init(&pk) < 0 ||
        gnutls_certificate_allocate_credentials(&cred) < 0) {
        err = wp_error_set(WP_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = gnutls_x509_crt_import(crt, &cd, GNUTLS_X509_FMT_PEM)) < 0) {
        err = wp_error_set(WP_EINVAL, "--tls-cert '%s': not a PEM certificate (%s)", cert_path,
                           gnutls_strerror(rc));
        goto out;
    }
    if ((rc = gnutls_x509_privkey_import2(pk, &kd, GNUTLS_X509_FMT_PEM, NULL,
                                          GNUTLS_PKCS_PLAIN)) < 0) {
        err = wp_error_set(WP_EINVAL,
                           "--tls-key '%s': not an unencrypted PEM private key (%s)", key_path,
                           gnutls_strerror(rc));
        goto out;
    }
    /* the pair as libmicrohttpd will load it: this checks that the key is the certificate's */
    if ((rc = gnutls_certificate_set_x509_key_mem2(cred, &cd, &kd, GNUTLS_X509_FMT_PEM, NULL,
                                                   GNUTLS_PKCS_PLAIN)) < 0) {
        err = wp_error_set(WP_EINVAL, "--tls-key '%s' is not the key of --tls-cert '%s' (%s)",
                           key_path, cert_path, gnutls_strerror(rc));
        goto out;
    }
    out->cert_pem = cert;
    out->key_pem = key;
    out->key_group_readable = (kmode & S_IRGRP) != 0;
    cert = key = NULL;
    err = 0;
out:
    if (cred)
        gnutls_certificate_free_credentials(cred);
    if (pk)
        gnutls_x509_privkey_deinit(pk);
    if (crt)
        gnutls_x509_crt_deinit(crt);
    free(cert);
    if (key) {
        sodium_memzero(key, strlen(key));
        free(key);
    }
    return err;
}

void wp_http_tls_release(wp_http_tls *t)
{
    if (!t)
        return;
    free(t->cert_pem);
    if (t->key_pem) {
        sodium_memzero(t->key_pem, strlen(t->key_pem));
        free(t->key_pem);
    }
    t->cert_pem = t->key_pem = NULL;
}
