/* SPDX-License-Identifier: MIT */
/* Unit tests of src/wecom's chat archive: every message type mapped (shaped as WeCom's
 * documentation shows them; the values are ours), the GetChatData answer and its records,
 * sealed secrets, private keys and their keyring (RSA keys made here with libcrypto), the SDK
 * through dlopen of the fake library the suite builds, and the back-off. The connector end to
 * end runs in tests/integration/test_wecom_archive.py over the real server, on both backends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"
#include "wecom/archive.h"
#include "wecom/settings.h"

/* --- messages ------------------------------------------------------------------------------- */

struct want {
    const char *msg;     /* the decrypted message */
    const char *msgtype; /* workphone's */
    const char *text;    /* a part of the readable text; NULL: no text */
    size_t n_media;
};

#define HEAD(type) "{\"msgid\":\"m-" type "\",\"action\":\"send\",\"from\":\"zhangsan\","      \
                   "\"tolist\":[\"wmAbCdEfGhIjKlMnOpQrStUv\"],\"roomid\":\"\",\"msgtime\":"      \
                   "1764892800123,\"msgtype\":\"" type "\","

static const struct want every[] = {
    {HEAD("text") "\"text\":{\"content\":\"这笔可以飞单\"}}", "text", "飞单", 0},
    {HEAD("image") "\"image\":{\"md5sum\":\"0cc175b9c0f1b6a831c399e269772661\",\"filesize\":1,"
                   "\"sdkfileid\":\"img1\"}}",
     "image", "[图片]", 1},
    {HEAD("revoke") "\"revoke\":{\"pre_msgid\":\"m-text\"}}", "revoke", "撤回", 0},
    {HEAD("agree") "\"agree\":{\"userid\":\"wmAbCdEfGhIjKlMnOpQrStUv\",\"agree_time\":1}}",
     "agree", "同意会话存档", 0},
    {HEAD("disagree") "\"disagree\":{\"userid\":\"wmAbCdEfGhIjKlMnOpQrStUv\","
                      "\"disagree_time\":1}}",
     "disagree", "不同意会话存档", 0},
    {HEAD("voice") "\"voice\":{\"md5sum\":\"x\",\"voice_size\":4931,\"play_length\":10,"
                   "\"sdkfileid\":\"v1\"}}",
     "voice", "[语音] 10秒", 1},
    {HEAD("video") "\"video\":{\"md5sum\":\"x\",\"filesize\":1009,\"play_length\":6,"
                   "\"sdkfileid\":\"vd1\"}}",
     "video", "[视频] 6秒", 1},
    {HEAD("card") "\"card\":{\"corpname\":\"某某科技\",\"userid\":\"wmCard0123456789abc\"}}", "card",
     "[名片] 某某科技", 0},
    {HEAD("location") "\"location\":{\"longitude\":121.47,\"latitude\":31.23,\"address\":\"上海市"
                      "黄浦区\",\"title\":\"人民广场\",\"zoom\":15}}",
     "location", "[位置] 人民广场 上海市黄浦区", 0},
    {HEAD("emotion") "\"emotion\":{\"type\":1,\"width\":100,\"height\":100,\"imagesize\":799,"
                     "\"md5sum\":\"x\",\"sdkfileid\":\"e1\"}}",
     "emotion", "[表情]", 1},
    {HEAD("file") "\"file\":{\"md5sum\":\"x\",\"filename\":\"报价单.xlsx\",\"fileext\":\"xlsx\","
                  "\"filesize\":18181,\"sdkfileid\":\"f1\"}}",
     "file", "报价单.xlsx", 1},
    {HEAD("link") "\"link\":{\"title\":\"产品介绍\",\"description\":\"保本保息\",\"link_url\":"
                  "\"https://example.com/a\",\"image_url\":\"https://example.com/i.png\"}}",
     "link", "保本保息", 0},
    {HEAD("weapp") "\"weapp\":{\"title\":\"预约\",\"description\":\"看房\",\"username\":"
                   "\"gh_1@app\",\"displayname\":\"某某小程序\"}}",
     "weapp", "[小程序] 预约 看房 某某小程序", 0},
    {HEAD("chatrecord") "\"chatrecord\":{\"title\":\"群聊\",\"item\":[{\"type\":"
                        "\"ChatRecordText\",\"msgtime\":1,\"content\":\"{\\\"content\\\":"
                        "\\\"私下给你返点\\\"}\",\"from_chatroom\":false}]}}",
     "chatrecord", "私下给你返点", 0},
    {HEAD("todo") "\"todo\":{\"title\":\"回访\",\"content\":\"周五前联系\"}}", "todo",
     "[待办] 回访 周五前联系", 0},
    {HEAD("vote") "\"vote\":{\"votetitle\":\"午饭\",\"voteitem\":[\"面\",\"饭\"],\"votetype\":101,"
                  "\"voteid\":\"1\"}}",
     "vote", "[投票] 午饭 / 面 / 饭", 0},
    {HEAD("collect") "\"collect\":{\"room_name\":\"客户群\",\"creator\":\"zhangsan\","
                     "\"create_time\":\"2026-12-01 10:00:00\",\"title\":\"意向登记\","
                     "\"details\":[{\"id\":1,\"ques\":\"手机号\",\"type\":\"Text\"}]}}",
     "collect", "手机号", 0},
    {HEAD("redpacket") "\"redpacket\":{\"type\":1,\"wish\":\"恭喜发财\",\"totalcnt\":1,"
                       "\"totalamount\":880000}}",
     "redpacket", "[红包] 8800.00元 恭喜发财", 0},
    {HEAD("external_redpacket") "\"redpacket\":{\"type\":1,\"wish\":\"合作愉快\",\"totalcnt\":1,"
                                "\"totalamount\":3000}}",
     "redpacket", "[互通红包] 30.00元", 0},
    {HEAD("meeting") "\"meeting\":{\"topic\":\"签约\",\"starttime\":1,\"endtime\":2,\"address\":"
                     "\"会议室\",\"remarks\":\"带合同\",\"meetingtype\":101,\"meetingid\":1,"
                     "\"status\":1}}",
     "meeting", "[会议] 签约 会议室 带合同", 0},
    {HEAD("calendar") "\"calendar\":{\"title\":\"看房\",\"creatorname\":\"张三\","
                      "\"attendeename\":[\"李四\"],\"starttime\":1,\"endtime\":2,\"place\":\"小区"
                      "门口\",\"remarks\":\"\"}}",
     "calendar", "[日程] 看房 小区门口 张三", 0},
    {HEAD("docmsg") "\"doc\":{\"title\":\"合同草稿\",\"doc_creator\":\"zhangsan\",\"link_url\":"
                    "\"https://doc.example.com/1\"}}",
     "docmsg", "[在线文档] 合同草稿", 0},
    {HEAD("markdown") "\"info\":{\"content\":\"**加我私人微信**\"}}", "markdown", "加我私人微信",
     0},
    {HEAD("news") "\"info\":{\"item\":[{\"title\":\"新盘\",\"description\":\"首付两成\",\"url\":"
                  "\"https://example.com/n\",\"picurl\":\"https://example.com/p\"}]}}",
     "news", "[图文] 新盘 首付两成", 0},
    {HEAD("mixed") "\"mixed\":{\"item\":[{\"type\":\"text\",\"content\":\"{\\\"content\\\":"
                   "\\\"看图\\\"}\"},{\"type\":\"image\",\"content\":\"{\\\"md5sum\\\":"
                   "\\\"x\\\",\\\"filesize\\\":1,\\\"sdkfileid\\\":\\\"mx1\\\"}\"}]}}",
     "mixed", "看图\n[图片]", 1},
    {HEAD("meeting_voice_call") "\"voiceid\":\"vc1\",\"meeting_voice_call\":{\"endtime\":2,"
                                "\"sdkfileid\":\"mv1\",\"demofiledata\":[{\"filename\":\"方案."
                                "pdf\",\"demooperator\":\"zhangsan\",\"starttime\":1,"
                                "\"endtime\":2}]}}",
     "meeting_voice_call", "方案.pdf", 1},
    {HEAD("voip_doc_share") "\"voipid\":\"vp1\",\"voip_doc_share\":{\"filename\":\"报告.docx\","
                            "\"md5sum\":\"x\",\"filesize\":9,\"sdkfileid\":\"vds1\"}}",
     "voip_doc_share", "[共享文档] 报告.docx", 1},
    {HEAD("sphfeed") "\"sphfeed\":{\"feed_type\":4,\"sph_name\":\"某某官方\",\"feed_desc\":"
                     "\"新品\"}}",
     "sphfeed", "[视频号] 某某官方 新品", 0},
    {HEAD("voiptext") "\"voiptext\":{\"callduration\":63,\"invitetype\":1}}", "voiptext",
     "[音视频通话] 63秒", 0},
    {HEAD("qydiskfile") "\"qydiskfile\":{\"info\":{\"filename\":\"价目表.pdf\"}}}", "qydiskfile",
     "[微盘文件] 价目表.pdf", 0},
    {HEAD("brandnewtype") "\"brandnewtype\":{\"what\":\"加我VX\",\"n\":1}}", "brandnewtype",
     "[brandnewtype] 加我VX", 0},
    {"{\"msgid\":\"m-switch\",\"action\":\"switch\",\"time\":1764892800123,\"user\":"
     "\"zhangsan\"}",
     "switch", "[切换企业]", 0},
};

static void test_wecom_msg__every_type(void **state)
{
    for (size_t i = 0; i < sizeof every / sizeof every[0]; i++) {
        wp_wecom_msg m;
        int err = wp_wecom_msg_parse(&m, every[i].msg, strlen(every[i].msg));
        if (err < 0)
            fail_msg("%s: %s", every[i].msg, wp_error_last());
        assert_string_equal(m.wp_msgtype, every[i].msgtype);
        if (every[i].text) {
            if (!m.text || !strstr(m.text, every[i].text))
                fail_msg("%s: text '%s' lacks '%s'", every[i].msgtype, m.text ? m.text : "(null)",
                         every[i].text);
        } else {
            assert_null(m.text);
        }
        assert_int_equal(m.n_media, every[i].n_media);
        /* a mixed message's media come from its items' JSON: alive until the release */
        if (!strcmp(every[i].msgtype, "mixed")) {
            json_t *churn = json_loads("{\"sdkfileid\":\"zzzzzzzzzzzz\"}", 0, NULL);
            assert_string_equal(m.media[0].sdkfileid, "mx1");
            assert_string_equal(m.media[0].md5sum, "x");
            json_decref(churn);
        }
        assert_true(m.ts_us == 1764892800123000LL);
        assert_string_equal(m.from, "zhangsan");
        wp_wecom_msg_release(&m);
    }
}

static void test_wecom_msg__fields(void **state)
{
    wp_wecom_msg m;
    const char *red = every[17].msg, *file = every[10].msg, *revoke = every[2].msg;
    assert_int_equal(wp_wecom_msg_parse(&m, red, strlen(red)), 0);
    assert_int_equal(m.amount_fen, 880000);
    assert_string_equal(m.memo, "恭喜发财");
    wp_wecom_msg_release(&m);
    assert_int_equal(wp_wecom_msg_parse(&m, file, strlen(file)), 0);
    assert_string_equal(m.filename, "报价单.xlsx");
    assert_int_equal(m.size, 18181);
    assert_string_equal(m.media[0].sdkfileid, "f1");
    assert_string_equal(m.media[0].md5sum, "x");
    wp_wecom_msg_release(&m);
    assert_int_equal(wp_wecom_msg_parse(&m, revoke, strlen(revoke)), 0);
    assert_string_equal(m.revoked_msgid, "m-text");
    assert_int_equal(m.n_to, 1);
    assert_true(wp_wecom_is_external(m.tolist[0]));
    assert_false(wp_wecom_is_external(m.from));
    wp_wecom_msg_release(&m);
}

static void test_wecom_msg__refused(void **state)
{
    static const char *bad[] = {
        "", "[]", "{\"msgid\": 1}", "not json",
        "{\"msgid\":\"a\",\"from\":\"x\",\"msgtype\":\"text\"}",             /* no time */
        "{\"msgid\":\"a\",\"msgtime\":1,\"msgtype\":\"text\"}",             /* no sender */
        "{\"msgid\":\"a\",\"from\":\"x\",\"msgtime\":1}",                   /* no msgtype */
        "{\"msgid\":\"a\",\"from\":\"x\",\"msgtime\":-5,\"msgtype\":\"t\"}", /* bad time */
        "{\"msgid\":\"a\",\"action\":\"switch\",\"user\":\"x\"}",           /* switch, no time */
        "{\"msgid\":\"a\",\"msgid\":\"b\",\"from\":\"x\",\"msgtime\":1,\"msgtype\":\"t\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        wp_wecom_msg m;
        if (wp_wecom_msg_parse(&m, bad[i], strlen(bad[i])) != WP_EINVAL)
            fail_msg("accepted: %s", bad[i]);
        wp_wecom_msg_release(&m);
    }
}

/* A text past 64 KiB is cut on a character, never split inside one. */
static void test_wecom_msg__long_text(void **state)
{
    size_t n = 70000;
    wp_buf b;
    wp_buf_init(&b, 1 << 20);
    assert_int_equal(wp_buf_adds(&b, HEAD("text") "\"text\":{\"content\":\""), 0);
    for (size_t i = 0; i < n / 3; i++)
        assert_int_equal(wp_buf_adds(&b, "单"), 0);
    assert_int_equal(wp_buf_adds(&b, "\"}}"), 0);
    wp_wecom_msg m;
    assert_int_equal(wp_wecom_msg_parse(&m, b.buf, b.len), 0);
    size_t len = strlen(m.text);
    assert_true(len <= WP_ARCHIVE_TEXT_MAX && len > WP_ARCHIVE_TEXT_MAX - 3);
    assert_int_equal(len % 3, 0);
    wp_wecom_msg_release(&m);
    wp_buf_release(&b);
}

/* --- the page ------------------------------------------------------------------------------- */

static void test_wecom_page__records(void **state)
{
    const char *text =
        "{\"errcode\":0,\"errmsg\":\"ok\",\"chatdata\":["
        "{\"seq\":196,\"msgid\":\"CAQQ2fbb4QUY0On2rYSAgAMgip/yzgs=\",\"publickey_ver\":3,"
        "\"encrypt_random_key\":\"a2V5\",\"encrypt_chat_msg\":\"bXNn\"},"
        "{\"seq\":197,\"msgid\":\"x\",\"publickey_ver\":3,\"encrypt_random_key\":\"a2V5\"},"
        "{\"msgid\":\"y\"},7]}";
    wp_wecom_page p;
    assert_int_equal(wp_wecom_page_parse(&p, text, strlen(text)), 0);
    assert_int_equal(p.n, 4);
    assert_int_equal(p.records[0].seq, 196);
    assert_int_equal(p.records[0].publickey_ver, 3);
    assert_string_equal(p.records[0].reason, "");
    assert_int_equal(p.records[1].seq, 197);
    assert_non_null(strstr(p.records[1].reason, "encrypt_chat_msg"));
    assert_int_equal(p.records[2].seq, 0);
    assert_non_null(strstr(p.records[2].reason, "seq"));
    assert_non_null(strstr(p.records[3].reason, "not a json object"));
    assert_string_equal(p.records[3].text, "7");
    wp_wecom_page_release(&p);

    const char *err = "{\"errcode\":301042,\"errmsg\":\"ip not in whitelist\"}";
    assert_int_equal(wp_wecom_page_parse(&p, err, strlen(err)), 0);
    assert_int_equal(p.errcode, 301042);
    assert_string_equal(p.errmsg, "ip not in whitelist");
    wp_wecom_page_release(&p);

    static const char *bad[] = {"", "[]", "{}", "{\"errcode\":0,\"chatdata\":{}}", "nope"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(wp_wecom_page_parse(&p, bad[i], strlen(bad[i])), WP_EINVAL);
        wp_wecom_page_release(&p);
    }
}

/* --- secrets and keys --------------------------------------------------------------------- */

static unsigned char key[WP_AUDIT_KEY_LEN];
static const char *tenant = "0123456789abcdef0123456789abcdef";

static void test_wecom_settings__seal(void **state)
{
    char *sealed = NULL, *plain = NULL;
    randombytes_buf(key, sizeof key);
    assert_int_equal(wp_wecom_seal(&sealed, key, tenant, "archive_secret", "s3cr3t-秘密"), 0);
    assert_non_null(strstr(sealed, "s1:"));
    assert_null(strstr(sealed, "s3cr3t"));
    assert_int_equal(wp_wecom_unseal(&plain, key, tenant, "archive_secret", sealed), 0);
    assert_string_equal(plain, "s3cr3t-秘密");
    free(plain);
    /* bound to the tenant and the field, and to the key */
    assert_int_equal(wp_wecom_unseal(&plain, key, "fedcba9876543210fedcba9876543210",
                                     "archive_secret", sealed),
                     WP_EINVAL);
    assert_int_equal(wp_wecom_unseal(&plain, key, tenant, "contact_secret", sealed), WP_EINVAL);
    unsigned char other[WP_AUDIT_KEY_LEN];
    randombytes_buf(other, sizeof other);
    assert_int_equal(wp_wecom_unseal(&plain, other, tenant, "archive_secret", sealed), WP_EINVAL);
    assert_null(strstr(wp_error_last(), "s3cr3t"));
    sealed[10] ^= 1;
    assert_int_equal(wp_wecom_unseal(&plain, key, tenant, "archive_secret", sealed), WP_EINVAL);
    free(sealed);
    assert_int_equal(wp_wecom_unseal(&plain, key, tenant, "archive_secret", "plain"), WP_EINVAL);
}

/* An RSA key made here; *pub its public PEM. Caller frees both. */
static char *make_rsa(int bits, char **pub)
{
    EVP_PKEY *pk = EVP_RSA_gen((unsigned)bits);
    BIO *b = BIO_new(BIO_s_mem()), *p = BIO_new(BIO_s_mem());
    char *data;
    assert_non_null(pk);
    assert_int_equal(PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL), 1);
    assert_int_equal(PEM_write_bio_PUBKEY(p, pk), 1);
    long n = BIO_get_mem_data(b, &data);
    char *priv = strndup(data, (size_t)n);
    n = BIO_get_mem_data(p, &data);
    *pub = strndup(data, (size_t)n);
    BIO_free(b);
    BIO_free(p);
    EVP_PKEY_free(pk);
    return priv;
}

/* base64 of RSA PKCS#1 v1.5 of msg under pub. */
static char *rsa_encrypt(const char *pub, const char *msg)
{
    BIO *b = BIO_new_mem_buf(pub, -1);
    EVP_PKEY *pk = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pk, NULL);
    unsigned char out[1024];
    size_t n = sizeof out;
    assert_true(EVP_PKEY_encrypt_init(ctx) > 0);
    assert_true(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0);
    assert_true(EVP_PKEY_encrypt(ctx, out, &n, (const unsigned char *)msg, strlen(msg)) > 0);
    char *s = malloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)s, out, (int)n);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pk);
    BIO_free(b);
    return s;
}

static void test_wecom_keys__check_and_decrypt(void **state)
{
    char *pub1, *pub2, *pub_small;
    char *k1 = make_rsa(2048, &pub1), *k2 = make_rsa(2048, &pub2), *small = make_rsa(512, &pub_small);
    wp_wecom_key_info info;
    assert_int_equal(wp_wecom_key_check(&info, k1), 0);
    assert_int_equal(info.bits, 2048);
    assert_int_equal(strlen(info.fingerprint), strlen("sha256:") + 16);
    assert_int_equal(wp_wecom_key_check(&info, small), WP_EINVAL);
    assert_int_equal(wp_wecom_key_check(&info, pub1), WP_EINVAL);
    assert_int_equal(wp_wecom_key_check(&info, "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n"),
                     WP_EINVAL);
    assert_null(strstr(wp_error_last(), "AAAA")); /* never the key in a message */

    /* two versions, as WeCom rotates them */
    int64_t versions[] = {1, 2};
    const char *pems[] = {k1, k2};
    wp_wecom_keyring *kr;
    char out[256];
    assert_int_equal(wp_wecom_keyring_from_pem(&kr, versions, pems, 2), 0);
    char *ct1 = rsa_encrypt(pub1, "random-key-1"), *ct2 = rsa_encrypt(pub2, "random-key-2");
    assert_int_equal(wp_wecom_keyring_decrypt(kr, out, sizeof out, 1, ct1), 0);
    assert_string_equal(out, "random-key-1");
    assert_int_equal(wp_wecom_keyring_decrypt(kr, out, sizeof out, 2, ct2), 0);
    assert_string_equal(out, "random-key-2");
    assert_int_equal(wp_wecom_keyring_decrypt(kr, out, sizeof out, 3, ct1), WP_ENOTFOUND);
    assert_int_equal(wp_wecom_keyring_decrypt(kr, out, sizeof out, 2, ct1), WP_EINVAL);
    assert_int_equal(wp_wecom_keyring_decrypt(kr, out, sizeof out, 1, "%%%"), WP_EINVAL);
    wp_wecom_keyring_free(kr);

    /* through the sealed rows, as the connector opens them */
    char *s1 = NULL;
    assert_int_equal(wp_wecom_seal(&s1, key, tenant, "archive_key_7", k1), 0);
    wp_wecom_key_row row = {.version = 7, .pem = s1};
    assert_int_equal(wp_wecom_keyring_new(&kr, &row, 1, key, tenant), 0);
    assert_int_equal(wp_wecom_keyring_decrypt(kr, out, sizeof out, 7, ct1), 0);
    wp_wecom_keyring_free(kr);
    row.version = 8; /* sealed for another version's field: left out */
    assert_int_equal(wp_wecom_keyring_new(&kr, &row, 1, key, tenant), 0);
    assert_int_equal(wp_wecom_keyring_decrypt(kr, out, sizeof out, 8, ct1), WP_ENOTFOUND);
    wp_wecom_keyring_free(kr);
    free(s1);
    free(ct1);
    free(ct2);
    free(k1);
    free(k2);
    free(small);
    free(pub1);
    free(pub2);
    free(pub_small);
}

/* --- the SDK through dlopen ---------------------------------------------------------------- */

static int collect(void *arg, const void *p, size_t n)
{
    wp_buf *b = arg;
    return wp_buf_add(b, p, n);
}

static void test_wecom_sdk__fake(void **state)
{
    const char *lib = getenv("WORKPHONE_WECOM_FAKE_SDK");
    char dir[] = "/tmp/wp-wecom-unit.XXXXXX", path[256];
    wp_wecom_sdk *sdk;
    assert_non_null(lib);
    assert_non_null(mkdtemp(dir));
    setenv("WECOM_FAKE_DIR", dir, 1);
    snprintf(path, sizeof path, "%s/media", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/media/f1", dir);
    FILE *f = fopen(path, "w");
    for (int i = 0; i < 1000; i++)
        fputs("0123456789", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/control.json", dir);
    f = fopen(path, "w");
    fputs("{\"chunk\": 3000}", f);
    fclose(f);

    assert_int_equal(wp_wecom_sdk_open(&sdk, "/nonexistent/libWeWorkFinanceSdk_C.so", "ww1", "s"),
                     WP_EIO);
    assert_int_equal(wp_wecom_sdk_open(&sdk, lib, "ww1", "secret"), 0);
    char *json = NULL;
    size_t len = 0;
    int ret = -1;
    assert_int_equal(wp_wecom_sdk_chat(sdk, &json, &len, &ret, 0, 100, NULL, NULL, 5), 0);
    assert_int_equal(ret, 0);
    assert_non_null(strstr(json, "\"chatdata\":[]"));
    free(json);
    /* media in chunks: 10,000 bytes in 3,000-byte pieces */
    wp_buf b;
    wp_buf_init(&b, 1 << 20);
    char *index = NULL, *next = NULL;
    int calls = 0;
    do {
        assert_int_equal(wp_wecom_sdk_media_chunk(sdk, &next, &ret, index ? index : "", "f1", NULL,
                                                  NULL, 5, collect, &b),
                         0);
        free(index);
        index = next;
        calls++;
    } while (index);
    assert_int_equal(calls, 4);
    assert_int_equal(b.len, 10000);
    assert_int_equal(wp_wecom_sdk_media_chunk(sdk, &next, &ret, "", "nosuchfile", NULL, NULL, 5,
                                              collect, &b),
                     WP_EIO);
    assert_int_equal(ret, 10005);
    assert_false(wp_wecom_sdk_error_transient(ret));
    assert_true(wp_wecom_sdk_error_transient(10001));
    /* DecryptData refuses what its own transform did not make */
    char *out = NULL;
    assert_int_equal(wp_wecom_sdk_decrypt(sdk, &out, &len, &ret, "k1", "QUJDREVGR0g="), WP_EINVAL);
    assert_int_equal(ret, 10006);
    wp_buf_release(&b);
    wp_wecom_sdk_free(sdk);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_wecom_backoff(void **state)
{
    assert_int_equal(wp_wecom_backoff_us(1, 600), 5000000);
    assert_int_equal(wp_wecom_backoff_us(2, 600), 10000000);
    assert_int_equal(wp_wecom_backoff_us(4, 600), 40000000);
    assert_int_equal(wp_wecom_backoff_us(30, 600), 600000000);
    assert_int_equal(wp_wecom_backoff_us(3, 7), 7000000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wecom_msg__every_type),
        cmocka_unit_test(test_wecom_msg__fields),
        cmocka_unit_test(test_wecom_msg__refused),
        cmocka_unit_test(test_wecom_msg__long_text),
        cmocka_unit_test(test_wecom_page__records),
        cmocka_unit_test(test_wecom_settings__seal),
        cmocka_unit_test(test_wecom_keys__check_and_decrypt),
        cmocka_unit_test(test_wecom_sdk__fake),
        cmocka_unit_test(test_wecom_backoff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
