/* SPDX-License-Identifier: MIT */
/* The key hierarchy (migration 0035): wrap/unwrap, the master key's sources, the store's table. */
#include "archive_fixture.h"

#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/keys.h"
#include "util/error.h"

static int setup(void **state)
{
    struct tfx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    tfx_seed(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct tfx *f = *state;
    tfx_release(f);
    free(f);
    return 0;
}

static void master(wp_master_key *mk, unsigned char fill)
{
    unsigned char raw[WP_KEY_LEN];
    memset(raw, fill, sizeof raw);
    OK(wp_keys_master_parse(mk, (const char *)raw, sizeof raw, "test"));
}

static void test_store_keys__wrap_unwrap(void **state)
{
    (void)state;
    wp_master_key mk, other;
    unsigned char k[WP_KEY_LEN], got[WP_KEY_LEN];
    char w[WP_KEY_WRAPPED_HEX + 1], w2[WP_KEY_WRAPPED_HEX + 1];
    master(&mk, 1);
    master(&other, 2);
    randombytes_buf(k, sizeof k);
    wp_keys_wrap(w, &mk, k, "t1", "data", 1);
    assert_int_equal(strlen(w), WP_KEY_WRAPPED_HEX);
    OK(wp_keys_unwrap(got, &mk, w, "t1", "data", 1));
    assert_memory_equal(got, k, sizeof k);
    /* a fresh nonce each time: the same key wraps differently */
    wp_keys_wrap(w2, &mk, k, "t1", "data", 1);
    assert_string_not_equal(w, w2);

    /* the associated data binds owner, purpose and version */
    memset(got, 0, sizeof got);
    assert_int_equal(wp_keys_unwrap(got, &mk, w, "t2", "data", 1), WP_ECORRUPT);
    assert_int_equal(wp_keys_unwrap(got, &mk, w, "t1", "audit", 1), WP_ECORRUPT);
    assert_int_equal(wp_keys_unwrap(got, &mk, w, "t1", "data", 2), WP_ECORRUPT);
    assert_non_null(strstr(wp_error_last(), "does not open with master key"));
    /* another master key */
    assert_int_equal(wp_keys_unwrap(got, &other, w, "t1", "data", 1), WP_ECORRUPT);
    /* tampered: one hex digit of the ciphertext, of the nonce, of the tag */
    for (size_t at = 0; at < WP_KEY_WRAPPED_HEX; at += 47) {
        char t[WP_KEY_WRAPPED_HEX + 1];
        memcpy(t, w, sizeof t);
        t[at] = t[at] == '0' ? '1' : '0';
        assert_int_equal(wp_keys_unwrap(got, &mk, t, "t1", "data", 1), WP_ECORRUPT);
    }
    /* not hex, or cut short */
    char bad[WP_KEY_WRAPPED_HEX + 1];
    memcpy(bad, w, sizeof bad);
    bad[5] = 'x';
    assert_int_equal(wp_keys_unwrap(got, &mk, bad, "t1", "data", 1), WP_ECORRUPT);
    bad[5] = w[5];
    bad[WP_KEY_WRAPPED_HEX - 2] = '\0';
    assert_int_equal(wp_keys_unwrap(got, &mk, bad, "t1", "data", 1), WP_ECORRUPT);
    assert_non_null(strstr(wp_error_last(), "is damaged"));
    /* none of it wrote into the key */
    unsigned char zero[WP_KEY_LEN] = {0};
    assert_memory_equal(got, zero, sizeof zero);
}

static void test_store_keys__parse(void **state)
{
    (void)state;
    wp_master_key a, b, c;
    unsigned char raw[WP_KEY_LEN];
    char hex[2 * WP_KEY_LEN + 2], b64[64];
    for (size_t i = 0; i < sizeof raw; i++)
        raw[i] = (unsigned char)(i * 7 + 3);
    OK(wp_keys_master_parse(&a, (const char *)raw, sizeof raw, "raw"));
    sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
    hex[2 * WP_KEY_LEN] = '\n'; /* a line end after it, as echo writes */
    hex[2 * WP_KEY_LEN + 1] = '\0';
    OK(wp_keys_master_parse(&b, hex, strlen(hex), "hex"));
    sodium_bin2base64(b64, sizeof b64, raw, sizeof raw, sodium_base64_VARIANT_ORIGINAL);
    OK(wp_keys_master_parse(&c, b64, strlen(b64), "b64"));
    assert_memory_equal(a.key, raw, sizeof raw);
    assert_memory_equal(b.key, raw, sizeof raw);
    assert_memory_equal(c.key, raw, sizeof raw);
    assert_string_equal(a.fp, b.fp);
    assert_string_equal(a.fp, c.fp);
    assert_int_equal(strlen(a.fp), WP_KEY_FP_LEN);

    assert_int_equal(wp_keys_master_parse(&a, "abc", 3, "master key file '/k'"), WP_EINVAL);
    assert_string_equal(wp_error_last(), "master key file '/k': not a master key (32 bytes, 64 "
                                         "hex digits or base64 of 32 bytes)");
    assert_int_equal(wp_keys_master_parse(&a, "", 0, "x"), WP_EINVAL);
    hex[10] = 'g';
    assert_int_equal(wp_keys_master_parse(&a, hex, strlen(hex), "x"), WP_EINVAL);
    /* base64 of 31 bytes */
    sodium_bin2base64(b64, sizeof b64, raw, sizeof raw - 1, sodium_base64_VARIANT_ORIGINAL);
    assert_int_equal(wp_keys_master_parse(&a, b64, strlen(b64), "x"), WP_EINVAL);
}

static void write_file(const char *path, const void *p, size_t n, mode_t mode)
{
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, n), (ssize_t)n);
    close(fd);
    chmod(path, mode);
}

static void test_store_keys__master_file(void **state)
{
    struct tfx *f = *state;
    wp_master_key mk;
    char path[PATH_MAX + 32], sub[PATH_MAX + 32], msg[2 * PATH_MAX];
    unsigned char raw[WP_KEY_LEN];
    memset(raw, 9, sizeof raw);
    snprintf(path, sizeof path, "%s/master.key", f->dir);
    assert_int_equal(wp_keys_master_from_file(&mk, path, NULL), WP_ENOTFOUND);
    snprintf(msg, sizeof msg, "master key file '%s' does not exist", path);
    assert_string_equal(wp_error_last(), msg);
    write_file(path, raw, sizeof raw, 0600);
    OK(wp_keys_master_from_file(&mk, path, NULL));
    assert_memory_equal(mk.key, raw, sizeof raw);
    chmod(path, 0640);
    assert_int_equal(wp_keys_master_from_file(&mk, path, NULL), WP_EIO);
    snprintf(msg, sizeof msg, "master key file '%s' is readable by others: chmod 600 it", path);
    assert_string_equal(wp_error_last(), msg);
    chmod(path, 0600);
    /* inside the data dir: a backup would copy it */
    snprintf(sub, sizeof sub, "%s/data", f->dir);
    mkdir(sub, 0700);
    snprintf(path, sizeof path, "%s/data/master.key", f->dir);
    write_file(path, raw, sizeof raw, 0600);
    assert_int_equal(wp_keys_master_from_file(&mk, path, sub), WP_EINVAL);
    assert_non_null(strstr(wp_error_last(), "which backups copy: keep it apart"));
    unlink(path);
    rmdir(sub);
}

static void test_store_keys__master_command(void **state)
{
    struct tfx *f = *state;
    wp_master_key mk;
    char path[PATH_MAX + 32], cmd[2 * PATH_MAX];
    const char ok[] = "#!/bin/sh\necho 'log line' >&2\n"
                      "echo 0909090909090909090909090909090909090909090909090909090909090909\n";
    const char fails[] = "#!/bin/sh\necho 0909 \nexit 3\n";
    const char empty[] = "#!/bin/sh\nexit 0\n";
    const char hangs[] = "#!/bin/sh\nsleep 30\n";
    unsigned char want[WP_KEY_LEN];
    memset(want, 9, sizeof want);
    snprintf(path, sizeof path, "%s/key.sh", f->dir);
    write_file(path, ok, sizeof ok - 1, 0700);
    OK(wp_keys_master_from_command(&mk, path, 5000));
    assert_memory_equal(mk.key, want, sizeof want);
    /* arguments split at blanks, no shell */
    snprintf(cmd, sizeof cmd, "/bin/echo   %s",
             "0909090909090909090909090909090909090909090909090909090909090909");
    OK(wp_keys_master_from_command(&mk, cmd, 5000));
    assert_memory_equal(mk.key, want, sizeof want);

    write_file(path, fails, sizeof fails - 1, 0700);
    assert_int_equal(wp_keys_master_from_command(&mk, path, 5000), WP_EIO);
    snprintf(cmd, sizeof cmd, "master key command '%s' failed: exit status 3", path);
    assert_string_equal(wp_error_last(), cmd);
    write_file(path, empty, sizeof empty - 1, 0700);
    assert_int_equal(wp_keys_master_from_command(&mk, path, 5000), WP_EIO);
    assert_non_null(strstr(wp_error_last(), "not a master key"));
    write_file(path, hangs, sizeof hangs - 1, 0700);
    assert_int_equal(wp_keys_master_from_command(&mk, path, 300), WP_EIO);
    snprintf(cmd, sizeof cmd, "master key command '%s' timed out after 300 ms", path);
    assert_string_equal(wp_error_last(), cmd);
    assert_int_equal(wp_keys_master_from_command(&mk, "/nonexistent/cmd", 5000), WP_EIO);
    assert_string_equal(wp_error_last(), "master key command '/nonexistent/cmd' could not be run");
    assert_int_equal(wp_keys_master_from_command(&mk, "  ", 5000), WP_EINVAL);
    unlink(path);
}

static void test_store_keys__store(void **state)
{
    struct tfx *f = *state;
    wp_master_key mk, other;
    unsigned char k1[WP_KEY_LEN], k2[WP_KEY_LEN], k3[WP_KEY_LEN], imp[WP_KEY_LEN];
    char fp[WP_KEY_FP_LEN + 1], msg[300];
    int64_t v = 0, n = 0;
    master(&mk, 1);
    master(&other, 2);

    OK(wp_store_keys_master_fp(f->st, fp));
    assert_string_equal(fp, "");
    assert_int_equal(wp_store_keys_get(f->st, k1, NULL, &mk, f->tenant, "data", 0), WP_ENOTFOUND);
    assert_int_equal(wp_store_keys_rotate(f->st, &v, &mk, f->tenant, "data"), WP_ENOTFOUND);

    /* made once, then read back */
    OK(wp_store_keys_ensure(f->st, k1, &mk, f->tenant, "data", NULL));
    OK(wp_store_keys_ensure(f->st, k2, &mk, f->tenant, "data", NULL));
    assert_memory_equal(k1, k2, sizeof k1);
    /* an import equal to what is there is fine; another is refused */
    OK(wp_store_keys_ensure(f->st, k2, &mk, f->tenant, "data", k1));
    memset(imp, 5, sizeof imp);
    assert_int_equal(wp_store_keys_ensure(f->st, k2, &mk, f->tenant, "data", imp), WP_EEXISTS);
    OK(wp_store_keys_ensure(f->st, k3, &mk, WP_KEY_OWNER_DEPLOYMENT, "audit", imp));
    assert_memory_equal(k3, imp, sizeof imp);
    OK(wp_store_keys_master_fp(f->st, fp));
    assert_string_equal(fp, mk.fp);

    /* another master key: the mismatch names both fingerprints */
    assert_int_equal(wp_store_keys_get(f->st, k2, NULL, &other, f->tenant, "data", 1), WP_EAUTH);
    snprintf(msg, sizeof msg,
             "master key fingerprint mismatch: the store's keys are wrapped by master key %s, "
             "the configured one is %s",
             mk.fp, other.fp);
    assert_string_equal(wp_error_last(), msg);

    /* rotation: a new version, the newest by default; the old one still readable */
    OK(wp_store_keys_rotate(f->st, &v, &mk, f->tenant, "data"));
    assert_int_equal(v, 2);
    OK(wp_store_keys_get(f->st, k2, &v, &mk, f->tenant, "data", 0));
    assert_int_equal(v, 2);
    assert_memory_not_equal(k1, k2, sizeof k1);
    OK(wp_store_keys_get(f->st, k3, &v, &mk, f->tenant, "data", 1));
    assert_memory_equal(k1, k3, sizeof k1);

    /* a wrapped key moved onto another row does not open */
    tfx_exec(f, "UPDATE wrapped_keys SET wrapped = (SELECT wrapped FROM wrapped_keys WHERE "
                "purpose = 'audit') WHERE purpose = 'data' AND version = 2");
    assert_int_equal(wp_store_keys_get(f->st, k2, NULL, &mk, f->tenant, "data", 2), WP_ECORRUPT);
    /* and the master key's rotation refuses it, changing nothing */
    assert_int_equal(wp_store_keys_rewrap(f->st, &n, &mk, &other), WP_ECORRUPT);
    OK(wp_store_keys_get(f->st, k3, NULL, &mk, f->tenant, "data", 1));
    tfx_exec(f, "DELETE FROM wrapped_keys WHERE purpose = 'data' AND version = 2");

    /* rewrap: every row to the new master key, the keys unchanged */
    OK(wp_store_keys_rewrap(f->st, &n, &mk, &other));
    assert_int_equal(n, 2);
    assert_int_equal(wp_store_keys_get(f->st, k3, NULL, &mk, f->tenant, "data", 1), WP_EAUTH);
    OK(wp_store_keys_get(f->st, k3, NULL, &other, f->tenant, "data", 1));
    assert_memory_equal(k1, k3, sizeof k1);
    OK(wp_store_keys_get(f->st, k3, NULL, &other, WP_KEY_OWNER_DEPLOYMENT, "audit", 1));
    assert_memory_equal(k3, imp, sizeof imp);

    wp_key_info *all = NULL;
    size_t len = 0;
    OK(wp_store_keys_list(f->st, &all, &len));
    assert_int_equal(len, 2);
    assert_string_equal(all[0].purpose, "data");
    assert_string_equal(all[0].master_fp, other.fp);
    assert_string_equal(all[1].owner, WP_KEY_OWNER_DEPLOYMENT);
    free(all);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
static const struct CMUnitTest suite[] = {
    T(test_store_keys__wrap_unwrap),    T(test_store_keys__parse), T(test_store_keys__master_file),
    T(test_store_keys__master_command), T(test_store_keys__store),
};

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    return tfx_run("store_keys", suite, sizeof suite / sizeof suite[0]) ? 1 : 0;
}
