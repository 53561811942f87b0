/* SPDX-License-Identifier: MIT */
/* Sealed fields (issue 20, docs/internals/encryption.md): the format, what refuses to open,
 * the keyring the store seals with, keyed grams. */
#include "archive_fixture.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/customers.h"
#include "store/db.h"
#include "store/devices.h"
#include "store/events.h"
#include "store/grams.h"
#include "store/keys.h"
#include "store/messages.h"
#include "store/seal.h"
#include "util/clock.h"
#include "util/id.h"
#include "util/buf.h"
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
    wp_seal_keyring_set(NULL);
    tfx_release(f);
    free(f);
    return 0;
}

#define BUF_MAX (1u << 20)

static const char TEXT[] = "您好，我的电话是13812345678，身份证110101199003071234";

static void test_seal__format(void **state)
{
    (void)state;
    unsigned char key[WP_KEY_LEN], other[WP_KEY_LEN];
    wp_buf sealed, again, out;
    int64_t v = 0;
    memset(key, 7, sizeof key);
    memset(other, 8, sizeof other);
    wp_buf_init(&sealed, BUF_MAX);
    wp_buf_init(&again, BUF_MAX);
    wp_buf_init(&out, BUF_MAX);
    wp_seal_at at = {"t0000000000000000000000001", "messages", "text", "m1"};

    OK(wp_seal__seal(&sealed, key, 3, &at, TEXT, strlen(TEXT)));
    assert_true(wp_seal__is_sealed(sealed.buf));
    assert_null(strstr(sealed.buf, "13812345678"));
    assert_null(strstr(sealed.buf, "电话"));
    OK(wp_seal__version(&v, sealed.buf, sealed.len));
    assert_int_equal(v, 3);
    /* round trip */
    OK(wp_seal__open(&out, key, &at, sealed.buf, sealed.len));
    assert_string_equal(out.buf, TEXT);
    assert_int_equal(out.len, strlen(TEXT));
    /* a fresh nonce each time */
    OK(wp_seal__seal(&again, key, 3, &at, TEXT, strlen(TEXT)));
    assert_string_not_equal(sealed.buf, again.buf);
    /* the empty text seals too */
    wp_buf_reset(&again);
    wp_buf_reset(&out);
    OK(wp_seal__seal(&again, key, 1, &at, "", 0));
    OK(wp_seal__open(&out, key, &at, again.buf, again.len));
    assert_string_equal(out.buf, "");

    /* moved to another row, column, table or tenant, or another key: does not open */
    wp_seal_at row = at, col = at, table = at, tenant = at;
    row.row_id = "m2";
    col.column = "raw";
    table.table = "calls";
    tenant.tenant_id = "t0000000000000000000000002";
    const wp_seal_at *moved[] = {&row, &col, &table, &tenant};
    for (size_t i = 0; i < sizeof moved / sizeof *moved; i++) {
        wp_buf_reset(&out);
        assert_int_equal(wp_seal__open(&out, key, moved[i], sealed.buf, sealed.len), WP_ECORRUPT);
        assert_int_equal(out.len, 0);
    }
    assert_int_equal(wp_seal__open(&out, other, &at, sealed.buf, sealed.len), WP_ECORRUPT);
    /* the length prefixes keep ("ab", "c") apart from ("a", "bc") */
    wp_seal_at ab = {"t", "messages", "text", "ab"}, a_b = {"t", "messages", "textab", ""};
    wp_buf_reset(&again);
    OK(wp_seal__seal(&again, key, 1, &ab, TEXT, strlen(TEXT)));
    assert_int_equal(wp_seal__open(&out, key, &a_b, again.buf, again.len), WP_ECORRUPT);

    /* every single flipped bit of every byte after the version byte fails */
    for (size_t i = 1; i < sealed.len; i++) {
        char *c = strdup(sealed.buf);
        assert_non_null(c);
        c[i] = c[i] == 'A' ? 'B' : 'A';
        wp_buf_reset(&out);
        assert_int_equal(wp_seal__open(&out, key, &at, c, sealed.len), WP_ECORRUPT);
        free(c);
    }
    /* cut short, and the key version changed */
    assert_int_equal(wp_seal__open(&out, key, &at, sealed.buf, 20), WP_ECORRUPT);
    assert_int_equal(wp_seal__open(&out, key, &at, "\x01", 1), WP_ECORRUPT);
    wp_buf_release(&sealed);
    wp_buf_release(&again);
    wp_buf_release(&out);
}

static void master(wp_master_key *mk, unsigned char fill)
{
    unsigned char raw[WP_KEY_LEN];
    memset(raw, fill, sizeof raw);
    OK(wp_keys_master_parse(mk, (const char *)raw, sizeof raw, "test"));
}

static void test_seal__keyring(void **state)
{
    struct tfx *f = *state;
    wp_master_key mk;
    wp_buf b, o;
    const char *res = NULL, *plain = NULL;
    wp_buf_init(&b, BUF_MAX);
    wp_buf_init(&o, BUF_MAX);
    wp_seal_at at = {f->tenant, "messages", "text", "m1"};

    /* no keyring: nothing sealed, NULL stays NULL, legacy plaintext reads as it is */
    assert_false(wp_seal_keyring_on());
    OK(wp_seal__text(f->st, &b, &res, &at, TEXT));
    assert_ptr_equal(res, TEXT);
    OK(wp_seal__open_text(f->st, &o, &plain, &at, TEXT));
    assert_ptr_equal(plain, TEXT);

    master(&mk, 5);
    wp_seal_keyring_set(&mk);
    assert_true(wp_seal_keyring_on());
    OK(wp_seal__text(f->st, &b, &res, &at, NULL));
    assert_null(res);
    OK(wp_seal__open_text(f->st, &o, &plain, &at, NULL));
    assert_null(plain);
    OK(wp_seal__open_text(f->st, &o, &plain, &at, TEXT)); /* legacy passes */
    assert_ptr_equal(plain, TEXT);
    /* sealed under the tenant's data key v1, made on first use */
    OK(wp_seal__text(f->st, &b, &res, &at, TEXT));
    assert_true(wp_seal__is_sealed(res));
    int64_t v = 0;
    OK(wp_seal__version(&v, res, strlen(res)));
    assert_int_equal(v, 1);
    char *stored = strdup(res);
    OK(wp_seal__open_text(f->st, &o, &plain, &at, stored));
    assert_string_equal(plain, TEXT);
    /* another row: WP_EIO (a 500 that is logged, not shown) naming the place, not the text */
    wp_seal_at other = at;
    other.row_id = "m2";
    assert_int_equal(wp_seal__open_text(f->st, &o, &plain, &other, stored), WP_EIO);
    assert_null(strstr(wp_error_last(), "1381234"));
    assert_non_null(strstr(wp_error_last(), "messages.text of row m2"));

    /* a new data key version takes new writes; the old version still opens */
    int64_t nv = 0;
    OK(wp_store_keys_rotate(f->st, &nv, &mk, f->tenant, "data"));
    assert_int_equal(nv, 2);
    wp_seal_keyring_set(&mk); /* a new process: the newest version is asked of the store */
    OK(wp_seal__text(f->st, &b, &res, &at, TEXT));
    OK(wp_seal__version(&v, res, strlen(res)));
    assert_int_equal(v, 2);
    OK(wp_seal__open_text(f->st, &o, &plain, &at, res));
    assert_string_equal(plain, TEXT);
    OK(wp_seal__open_text(f->st, &o, &plain, &at, stored));
    assert_string_equal(plain, TEXT);

    /* without the keyring a sealed value does not open */
    wp_seal_keyring_set(NULL);
    assert_int_equal(wp_seal__open_text(f->st, &o, &plain, &at, stored), WP_EIO);
    free(stored);
    wp_keys_master_wipe(&mk);
    wp_buf_release(&b);
    wp_buf_release(&o);
}

static void test_seal__keyed_grams(void **state)
{
    struct tfx *f = *state;
    wp_master_key mk;
    unsigned char gk[WP_GRAM_KEY_LEN], gk2[WP_GRAM_KEY_LEN];
    int have = 1;
    wp_buf plain, keyed, q;
    size_t n_plain = 0, n_keyed = 0;
    wp_buf_init(&plain, BUF_MAX);
    wp_buf_init(&keyed, BUF_MAX);
    wp_buf_init(&q, BUF_MAX);

    OK(wp_seal__gram_key(f->st, gk, &have, f->tenant));
    assert_false(have);
    master(&mk, 6);
    wp_seal_keyring_set(&mk);
    OK(wp_seal__gram_key(f->st, gk, &have, f->tenant));
    assert_true(have);
    /* the gram key comes from data key v1: a rotation does not change it */
    int64_t nv = 0;
    OK(wp_store_keys_rotate(f->st, &nv, &mk, f->tenant, "data"));
    wp_seal_keyring_set(&mk);
    OK(wp_seal__gram_key(f->st, gk2, &have, f->tenant));
    assert_memory_equal(gk, gk2, sizeof gk);

    OK(wp_grams__make(&plain, &n_plain, "电话号码", strlen("电话号码"), 0, WP_GRAMS_SPACED));
    OK(wp_grams__make_keyed(&keyed, &n_keyed, "电话号码", strlen("电话号码"), 0, WP_GRAMS_SPACED,
                            gk));
    assert_int_equal(n_keyed, n_plain);
    assert_int_equal(n_keyed, 7); /* 4 characters, 3 pairs */
    assert_int_equal(keyed.len, 7 * WP_GRAM_KEYED_LEN + 6);
    assert_null(strstr(keyed.buf, "电"));
    for (size_t i = 0; i < keyed.len; i++)
        assert_true((keyed.buf[i] >= 'a' && keyed.buf[i] <= 'z') ||
                    (keyed.buf[i] >= '2' && keyed.buf[i] <= '7') || keyed.buf[i] == ' ');
    /* a query's grams keyed the same way are among the text's */
    OK(wp_grams__make_keyed(&q, NULL, "号码", strlen("号码"), 1, WP_GRAMS_SPACED, gk));
    assert_int_equal(q.len, WP_GRAM_KEYED_LEN);
    assert_non_null(strstr(keyed.buf, q.buf));
    /* another tenant's key gives other grams */
    wp_buf_reset(&q);
    OK(wp_grams__make_keyed(&q, NULL, "号码", strlen("号码"), 1, WP_GRAMS_SPACED, gk2 + 0));
    memset(gk2, 9, sizeof gk2);
    wp_buf other;
    wp_buf_init(&other, BUF_MAX);
    OK(wp_grams__make_keyed(&other, NULL, "号码", strlen("号码"), 1, WP_GRAMS_SPACED, gk2));
    assert_string_not_equal(other.buf, q.buf);
    wp_buf_release(&other);
    wp_keys_master_wipe(&mk);
    wp_buf_release(&plain);
    wp_buf_release(&keyed);
    wp_buf_release(&q);
}

/* --- messages written and read through the store with a keyring --------------------------- */

#define T0 INT64_C(1795766400000000)

static wp_event wecom_msg(int64_t seq, int64_t ts_us, const char *text, const char *msgid)
{
    wp_event e;
    memset(&e, 0, sizeof e);
    e.type = WP_EVENT_MESSAGE;
    e.seq = seq;
    e.ts_us = ts_us;
    e.raw = text; /* the event as sent holds the text too */
    e.size = e.amount_fen = e.duration_s = e.accuracy_cm = -1;
    e.channel = "wecom";
    e.direction = WP_DIR_OUT;
    e.peer.id = "zhangsan";
    e.peer.name = "张三";
    e.chat = "zhangsan";
    e.msgtype = "text";
    e.text = text;
    e.msgid = msgid;
    return e;
}

static void phone_device(struct tfx *f, char out[WP_ID_LEN + 1])
{
    char code[65], token[65];
    wp_device d;
    wp_token_hash(code, "code-seal");
    wp_token_hash(token, "token-seal");
    OK(wp_store_enrollment_code_create(f->st, f->tenant, f->emp1, code,
                                       wp_time_now_us() + 60000000));
    OK(wp_store_device_enroll(f->st, &d, code, "SN-SEAL", "Pixel", token, wp_time_now_us()));
    memcpy(out, d.id, WP_ID_LEN + 1);
}

static void put(struct tfx *f, const char *dev, wp_event *e, size_t n, int archive)
{
    wp_event_batch b;
    memset(&b, 0, sizeof b);
    b.tenant_id = f->tenant;
    b.device_id = dev;
    b.employee_id = f->emp1;
    b.events = e;
    b.n = n;
    b.now_us = wp_time_now_us();
    b.source = archive ? WP_BATCH_WECOM_ARCHIVE : WP_BATCH_DEVICE;
    OK(wp_store_begin(f->st));
    OK(wp_store_events_apply(f->st, &b));
    OK(wp_store_commit(f->st));
}

static size_t found(struct tfx *f, const char *q, const char **text)
{
    wp_message_page p;
    wp_message_filter mf = {.tenant_id = f->tenant, .q = q, .limit = 50};
    OK(wp_store_messages_search(f->st, &p, &mf));
    size_t n = p.n;
    if (text && n) {
        static char keep[256];
        snprintf(keep, sizeof keep, "%s", p.items[0].text);
        *text = keep;
    }
    wp_message_page_release(&p);
    return n;
}

static void test_seal__messages(void **state)
{
    struct tfx *f = *state;
    wp_master_key mk;
    char dev[WP_ID_LEN + 1], arch[WP_ID_LEN + 1];
    const char *text = NULL;
    master(&mk, 4);
    wp_seal_keyring_set(&mk);
    phone_device(f, dev);
    OK(wp_store_device_source(f->st, arch, f->tenant, f->emp1, "wecom_archive",
                              wp_time_now_us()));

    /* the phone's copy without a msgid, and another message */
    wp_event e[2] = {wecom_msg(1, T0, TEXT, NULL), wecom_msg(2, T0 + 1000000, "明天见面", NULL)};
    put(f, dev, e, 2, 0);
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM messages"), 2);
    /* sealed text and raw, keyed grams: nothing of the text in the rows */
    assert_int_equal(tfx_raw(f,
                             "SELECT count(*) FROM messages WHERE substr(text, 1, 1) ="
                             " char(1) AND substr(raw, 1, 1) = char(1)",
                             "SELECT count(*) FROM messages WHERE substr(text, 1, 1) ="
                             " chr(1) AND substr(raw, 1, 1) = chr(1)"),
                     2);
    assert_int_equal(tfx_raw(f, "SELECT count(*) FROM messages WHERE text LIKE '%电话%'",
                             "SELECT count(*) FROM messages WHERE text LIKE '%电话%' OR"
                             " array_to_string(grams, ' ') LIKE '%电%'"),
                     0);
    /* search and the exact check on the opened text */
    assert_int_equal(found(f, "电话", &text), 1);
    assert_string_equal(text, TEXT);
    assert_int_equal(found(f, "见", NULL), 1);
    assert_int_equal(found(f, "见面", NULL), 1);
    assert_int_equal(found(f, "面见", NULL), 0);
    assert_int_equal(found(f, "13812345678", NULL), 1);

    /* the archive's record of the same message meets the phone's row by its opened text:
     * a duplicate, and the row takes the msgid; another text is a new row */
    wp_event a[2] = {wecom_msg(1, T0 + 2000000, TEXT, "arch-1"),
                     wecom_msg(2, T0 + 3000000, "另一条消息", "arch-2")};
    put(f, arch, a, 2, 1);
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM messages"), 3);
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM messages WHERE msgid = 'arch-1'"
                                 " AND device_id <> (SELECT id FROM devices WHERE serial ="
                                 " 'source:wecom_archive')"),
                     1);
    assert_int_equal(found(f, "另一", NULL), 1);

    /* a link at the lengths ingest takes (a URL of 4,000 bytes, a title of 1,000 Chinese
     * characters), sealed, reads back whole */
    static char url[4001], title[3001];
    memcpy(url, "https://example.com/", 20);
    memset(url + 20, 'a', sizeof url - 21);
    for (size_t i = 0; i + 3 < sizeof title; i += 3)
        memcpy(title + i, "链", 3);
    wp_event l = wecom_msg(3, T0 + 4000000, "看看这个链接", NULL);
    l.msgtype = "link";
    l.url = url;
    l.title = title;
    put(f, dev, &l, 1, 0);
    assert_int_equal(tfx_raw(f,
                             "SELECT count(*) FROM messages WHERE substr(url, 1, 1) = char(1)"
                             " AND substr(title, 1, 1) = char(1)",
                             "SELECT count(*) FROM messages WHERE substr(url, 1, 1) = chr(1)"
                             " AND substr(title, 1, 1) = chr(1)"),
                     1);
    wp_message_page p;
    wp_message_filter mf = {.tenant_id = f->tenant, .q = "链接", .limit = 50};
    OK(wp_store_messages_search(f->st, &p, &mf));
    assert_int_equal(p.n, 1);
    assert_string_equal(p.items[0].url, url);
    assert_string_equal(p.items[0].title, title);
    wp_message_page_release(&p);
    wp_keys_master_wipe(&mk);
}

/* Messages stored before the master key, sealed in place in batches (keys seal-data): each
 * batch resumes after the last row, the plain ones are found through the tenant's flag until
 * then and through keyed grams after, a second pass does nothing, and after a rotation every
 * row is sealed again under the new version. */
static void test_seal__seal_data(void **state)
{
    struct tfx *f = *state;
    wp_master_key mk;
    unsigned char k[WP_KEY_LEN];
    char dev[WP_ID_LEN + 1];
    int64_t after = 0, sealed = 0, resealed = 0, problems = 0, plain = 0, older = 0, v = 0;
    int done = 0, set = 0, batches = 0;
    phone_device(f, dev);
    wp_event e[5];
    for (int i = 0; i < 5; i++)
        e[i] = wecom_msg(i + 1, T0 + i * 1000000, i % 2 ? "明天见面谈价格" : "见面再说", NULL);
    put(f, dev, e, 5, 0); /* no keyring: plain text, plain grams */
    master(&mk, 5);
    wp_seal_keyring_set(&mk);
    OK(wp_store_keys_ensure(f->st, k, &mk, f->tenant, "data", NULL));
    assert_int_equal(found(f, "见面", NULL), 0); /* keyed query grams only */
    OK(wp_store_messages_plain_mark(f->st, f->tenant, &set));
    assert_int_equal(set, 1);
    assert_int_equal(found(f, "见面", NULL), 5); /* the plain grams asked too */
    assert_int_equal(found(f, "价格", NULL), 2);
    OK(wp_store_messages_seal_count(f->st, f->tenant, 1, &plain, &older));
    assert_int_equal(plain, 5);
    assert_int_equal(older, 0);
    while (!done) {
        OK(wp_store_messages_seal_batch(f->st, f->tenant, 1, &after, 2, &done, &sealed, &resealed,
                                        &problems, NULL, NULL));
        batches++;
    }
    assert_int_equal(batches, 3);
    assert_int_equal(sealed, 5);
    assert_int_equal(resealed + problems, 0);
    OK(wp_store_messages_plain_clear(f->st, f->tenant, &set));
    assert_int_equal(set, 1);
    OK(wp_store_messages_plain_get(f->st, f->tenant, &set));
    assert_int_equal(set, 0);
    assert_int_equal(tfx_raw(f,
                             "SELECT count(*) FROM messages WHERE substr(text, 1, 1) ="
                             " char(1) AND substr(raw, 1, 1) = char(1)",
                             "SELECT count(*) FROM messages WHERE substr(text, 1, 1) ="
                             " chr(1) AND substr(raw, 1, 1) = chr(1)"),
                     5);
    assert_int_equal(found(f, "见面", NULL), 5); /* keyed grams now */
    assert_int_equal(found(f, "价格", NULL), 2);
    assert_int_equal(found(f, "谈价", NULL), 2);
    /* a second pass: nothing */
    after = sealed = 0;
    done = 0;
    while (!done)
        OK(wp_store_messages_seal_batch(f->st, f->tenant, 1, &after, 2, &done, &sealed, &resealed,
                                        &problems, NULL, NULL));
    assert_int_equal(sealed + resealed + problems, 0);
    /* a rotation: every row under version 1 is sealed again under version 2 */
    OK(wp_store_keys_rotate(f->st, &v, &mk, f->tenant, "data"));
    assert_int_equal(v, 2);
    wp_seal_keyring_set(&mk); /* a new process: the newest version is asked of the store */
    OK(wp_store_messages_seal_count(f->st, f->tenant, 2, &plain, &older));
    assert_int_equal(plain, 0);
    assert_int_equal(older, 5);
    after = 0;
    done = 0;
    while (!done)
        OK(wp_store_messages_seal_batch(f->st, f->tenant, 2, &after, 500, &done, &sealed, &resealed,
                                        &problems, NULL, NULL));
    assert_int_equal(resealed, 5);
    OK(wp_store_messages_seal_count(f->st, f->tenant, 2, &plain, &older));
    assert_int_equal(plain + older, 0);
    assert_int_equal(found(f, "见面", NULL), 5);
    sodium_memzero(k, sizeof k);
    wp_keys_master_wipe(&mk);
}

/* Calls and contact events stored before the master key, sealed in place by the generic batch
 * (keys seal-data): two rows a batch, each resuming after the last, peer and raw sealed and
 * opening to what was stored, a second pass doing nothing, a rotation sealing all again. */
static void test_seal__rows(void **state)
{
    struct tfx *f = *state;
    wp_master_key mk;
    unsigned char k[WP_KEY_LEN];
    char dev[WP_ID_LEN + 1], after[WP_ID_LEN + 1] = "";
    int64_t sealed = 0, resealed = 0, problems = 0, plain = 0, older = 0, v = 0;
    int done = 0, batches = 0;
    phone_device(f, dev);
    wp_event e[4];
    for (int i = 0; i < 4; i++) {
        memset(&e[i], 0, sizeof e[i]);
        e[i].type = i < 3 ? WP_EVENT_CALL : WP_EVENT_CONTACT;
        e[i].seq = i + 1;
        e[i].ts_us = T0 + i * 1000000;
        e[i].size = e[i].amount_fen = e[i].accuracy_cm = -1;
        e[i].duration_s = 60;
        e[i].direction = WP_DIR_IN;
        e[i].channel = "wechat";
        e[i].action = "added";
        e[i].peer.name = "陈晓红";
        e[i].peer.phone = "13987654321";
        e[i].raw = "{\"peer\":{\"name\":\"陈晓红\",\"phone\":\"13987654321\"}}";
    }
    put(f, dev, e, 4, 0); /* no keyring: plain */
    master(&mk, 6);
    wp_seal_keyring_set(&mk);
    OK(wp_store_keys_ensure(f->st, k, &mk, f->tenant, "data", NULL));
    OK(wp_store_rows_seal_count(f->st, &wp_seal__calls, f->tenant, 1, &plain, &older));
    assert_int_equal(plain, 3);
    assert_int_equal(older, 0);
    while (!done) {
        OK(wp_store_rows_seal_batch(f->st, &wp_seal__calls, f->tenant, 1, after, 2, &done,
                                    &sealed, &resealed, &problems, NULL, NULL));
        batches++;
    }
    assert_int_equal(batches, 2);
    assert_int_equal(sealed, 3);
    assert_int_equal(resealed + problems, 0);
    assert_int_equal(tfx_raw(f,
                             "SELECT count(*) FROM calls WHERE substr(peer_name, 1, 1) = char(1)"
                             " AND substr(peer_phone, 1, 1) = char(1) AND substr(raw, 1, 1) ="
                             " char(1) AND raw NOT LIKE '%139%'",
                             "SELECT count(*) FROM calls WHERE substr(peer_name, 1, 1) = chr(1)"
                             " AND substr(peer_phone, 1, 1) = chr(1) AND substr(raw, 1, 1) ="
                             " chr(1) AND raw NOT LIKE '%139%'"),
                     3);
    /* the contact event is another table: still plain, then sealed by its own batch */
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM contact_events WHERE peer_phone ="
                                 " '13987654321'"),
                     1);
    after[0] = '\0';
    done = 0;
    sealed = 0;
    while (!done)
        OK(wp_store_rows_seal_batch(f->st, &wp_seal__contact_events, f->tenant, 1, after, 2,
                                    &done, &sealed, &resealed, &problems, NULL, NULL));
    assert_int_equal(sealed, 1);
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM contact_events WHERE peer_phone ="
                                 " '13987654321'"),
                     0);
    /* each value opens for its row to what was stored */
    struct wp_stmt *s = NULL;
    OK(wp_db_prepare(f->st, &s, "SELECT id, peer_name, peer_phone, raw FROM calls"));
    int rows = 0;
    while (wp_db_step(s) == WP_DB_ROW) {
        const char *cols[] = {"peer_name", "peer_phone", "raw"};
        const char *want[] = {e[0].peer.name, e[0].peer.phone, e[0].raw};
        for (int c = 0; c < 3; c++) {
            wp_buf b;
            const char *got = NULL;
            wp_buf_init(&b, BUF_MAX);
            wp_seal_at at = {f->tenant, "calls", cols[c], wp_db_col_text(s, 0)};
            OK(wp_seal__open_text(f->st, &b, &got, &at, wp_db_col_text(s, 1 + c)));
            assert_string_equal(got, want[c]);
            wp_buf_release(&b);
        }
        rows++;
    }
    wp_db_done(s);
    assert_int_equal(rows, 3);
    /* a second pass: nothing */
    after[0] = '\0';
    done = 0;
    sealed = 0;
    while (!done)
        OK(wp_store_rows_seal_batch(f->st, &wp_seal__calls, f->tenant, 1, after, 2, &done,
                                    &sealed, &resealed, &problems, NULL, NULL));
    assert_int_equal(sealed + resealed + problems, 0);
    /* a rotation: every call sealed again under version 2 */
    OK(wp_store_keys_rotate(f->st, &v, &mk, f->tenant, "data"));
    assert_int_equal(v, 2);
    wp_seal_keyring_set(&mk);
    OK(wp_store_rows_seal_count(f->st, &wp_seal__calls, f->tenant, 2, &plain, &older));
    assert_int_equal(plain, 0);
    assert_int_equal(older, 3);
    after[0] = '\0';
    done = 0;
    while (!done)
        OK(wp_store_rows_seal_batch(f->st, &wp_seal__calls, f->tenant, 2, after, 500, &done,
                                    &sealed, &resealed, &problems, NULL, NULL));
    assert_int_equal(resealed, 3);
    OK(wp_store_rows_seal_count(f->st, &wp_seal__calls, f->tenant, 2, &plain, &older));
    assert_int_equal(plain + older, 0);
    sodium_memzero(k, sizeof k);
    wp_keys_master_wipe(&mk);
}

/* A phone identity's blind index: the value itself without a keyring and for other kinds;
 * with one, 0x02 and 22 base64 characters, the same for the same number, another for another
 * number or tenant key, unchanged by a rotation of the data key. */
static void test_seal__blind(void **state)
{
    struct tfx *f = *state;
    wp_master_key mk;
    char b1[WP_SEAL_BLIND_LEN + 1], b2[WP_SEAL_BLIND_LEN + 1], b3[WP_SEAL_BLIND_LEN + 1];
    const char *res = NULL, *phone = "13812345678", *other = "13812345679";
    unsigned char k1[WP_KEY_LEN], k2[WP_KEY_LEN];

    OK(wp_seal__lookup(f->st, b1, &res, f->tenant, "phone", phone));
    assert_ptr_equal(res, phone);
    master(&mk, 8);
    wp_seal_keyring_set(&mk);
    OK(wp_seal__lookup(f->st, b1, &res, f->tenant, "wechat", "wxid_a"));
    assert_string_equal(res, "wxid_a");
    OK(wp_seal__lookup(f->st, b1, &res, f->tenant, "phone", phone));
    assert_ptr_equal(res, b1);
    assert_int_equal(b1[0], WP_SEAL_BLIND);
    assert_int_equal(strlen(b1), 1 + 22);
    assert_null(strstr(b1, "1381"));
    OK(wp_seal__lookup(f->st, b2, &res, f->tenant, "phone", phone));
    assert_string_equal(b1, b2);
    OK(wp_seal__lookup(f->st, b3, &res, f->tenant, "phone", other));
    assert_string_not_equal(b1, b3);
    /* the index key comes from data key v1: a rotation does not change the index */
    int64_t nv = 0;
    OK(wp_store_keys_rotate(f->st, &nv, &mk, f->tenant, "data"));
    wp_seal_keyring_set(&mk);
    OK(wp_seal__lookup(f->st, b2, &res, f->tenant, "phone", phone));
    assert_string_equal(b1, b2);
    /* another key, another index */
    memset(k1, 1, sizeof k1);
    memset(k2, 2, sizeof k2);
    wp_seal__blind_make(b2, k1, phone);
    wp_seal__blind_make(b3, k2, phone);
    assert_string_not_equal(b2, b3);
    assert_string_not_equal(b1, b2);
}

static void count_bad(void *ctx, const char *what, const char *id, const char *why)
{
    (void)id;
    assert_string_equal(what, "phone identity of customer");
    assert_non_null(strstr(why, "merge the two"));
    (*(int *)ctx)++;
}

/* Phone identities stored by number before the master key: found (customer_find), taken
 * (identity_add converts it on the way) and indexed by the seal-data batch, which drops a
 * number whose blind index the same customer holds already and reports one that another
 * customer's blind row holds; a second pass does nothing. */
static void test_seal__identities(void **state)
{
    struct tfx *f = *state;
    wp_master_key mk;
    unsigned char k[WP_KEY_LEN];
    wp_crm_actor who = {.actor = "system"};
    const char *field = NULL, *phones[4] = {"13800000001", "13800000002", "13800000003",
                                            "13800000004"};
    char cust[4][WP_ID_LEN + 1], existing[WP_ID_LEN + 1], got[WP_ID_LEN + 1], sql[512];
    char blind[WP_SEAL_BLIND_LEN + 1], after[64] = "";
    const char *look = NULL;
    int64_t indexed = 0, resealed = 0, problems = 0;
    int done = 0, bads = 0;
    for (int i = 0; i < 4; i++) {
        wp_customer_new cn = {.name = "客户", .phone = phones[i], .owner_employee_id = f->emp1,
                              .via = "api"};
        OK(wp_store_customer_create(f->st, cust[i], existing, &field, f->tenant, &cn, &who,
                                    wp_time_now_us()));
    }
    master(&mk, 9);
    wp_seal_keyring_set(&mk);
    OK(wp_store_keys_ensure(f->st, k, &mk, f->tenant, "data", NULL));
    /* found by number while it is stored so */
    OK(wp_store_customer_find(f->st, got, f->tenant, "phone", phones[0]));
    assert_string_equal(got, cust[0]);
    /* given to another customer: taken, naming its owner */
    assert_int_equal(wp_store_customer_identity_add(f->st, existing, f->tenant, cust[1], "phone",
                                                    phones[0], &who, wp_time_now_us()),
                     WP_EEXISTS);
    assert_string_equal(existing, cust[0]);
    /* SMS from phones 1 and 2: their customers', the two numbers indexed on the way */
    char dev[WP_ID_LEN + 1];
    phone_device(f, dev);
    wp_event e[2];
    for (int i = 0; i < 2; i++) {
        e[i] = wecom_msg(i + 1, T0 + i * 1000000, "短信", NULL);
        e[i].channel = "sms";
        e[i].peer.id = e[i].chat = NULL;
        e[i].peer.name = NULL;
        e[i].peer.phone = phones[i];
    }
    put(f, dev, e, 2, 0);
    for (int i = 0; i < 2; i++) {
        OK(wp_seal__lookup(f->st, blind, &look, f->tenant, "phone", phones[i]));
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM customer_identities WHERE value = '%s' AND customer_id ="
                 " '%s' AND sealed IS NOT NULL",
                 look, cust[i]);
        assert_int_equal(tfx_raw1(f, sql), 1);
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM messages WHERE customer_id = '%s'", cust[i]);
        assert_int_equal(tfx_raw1(f, sql), 1);
    }
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM customers"), 4);
    /* a node without the key writes the numbers again: phone 1 for its own customer (dropped
     * by the batch), phone 2 for customer 3 (left, reported: the two are to be merged) */
    snprintf(sql, sizeof sql,
             "INSERT INTO customer_identities (tenant_id, kind, value, customer_id, created_us)"
             " VALUES ('%s', 'phone', '%s', '%s', 1), ('%s', 'phone', '%s', '%s', 1)",
             f->tenant, phones[0], cust[0], f->tenant, phones[1], cust[2]);
    tfx_exec(f, sql);
    while (!done)
        OK(wp_store_identities_seal_batch(f->st, f->tenant, 1, after, sizeof after, 1, &done,
                                          &indexed, &resealed, &problems, count_bad, &bads));
    assert_int_equal(indexed, 3); /* phones 3 and 4 converted, phone 1's number dropped */
    assert_int_equal(problems, 1);
    assert_int_equal(bads, 1);
    assert_int_equal(resealed, 0);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM customer_identities WHERE kind = 'phone' AND value = '%s'"
             " AND customer_id = '%s'",
             phones[1], cust[2]);
    assert_int_equal(tfx_raw1(f, sql), 1); /* phone 2's number, left */
    assert_int_equal(tfx_raw1(f, "SELECT count(*) FROM customer_identities WHERE kind = 'phone'"
                                 " AND value LIKE '1380000000%'"),
                     1);
    for (int i = 0; i < 4; i++) {
        OK(wp_store_customer_find(f->st, got, f->tenant, "phone", phones[i]));
        assert_string_equal(got, cust[i]);
    }
    /* a second pass: only the one left, again */
    after[0] = '\0';
    done = 0;
    indexed = problems = 0;
    while (!done)
        OK(wp_store_identities_seal_batch(f->st, f->tenant, 1, after, sizeof after, 500, &done,
                                          &indexed, &resealed, &problems, NULL, NULL));
    assert_int_equal(indexed + resealed, 0);
    assert_int_equal(problems, 1);
    sodium_memzero(k, sizeof k);
    wp_keys_master_wipe(&mk);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
static const struct CMUnitTest suite[] = {
    T(test_seal__format),
    T(test_seal__keyring),
    T(test_seal__keyed_grams),
    T(test_seal__messages),
    T(test_seal__blind),
    T(test_seal__seal_data),
    T(test_seal__rows),
    T(test_seal__identities),
};

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    return tfx_run("store_seal", suite, sizeof suite / sizeof suite[0]) ? 1 : 0;
}
