/* SPDX-License-Identifier: MIT */
/* Notice and consent, and what employees see about themselves (issue 20; migration 0038;
 * ops_privacy.c; docs/internals/transparency.md): how each customer was told that
 * conversations are recorded, the notice employees are given on enrollment and their
 * acknowledgements, and who viewed an employee's conversations (read from the audit log). */
#ifndef WP_STORE_PRIVACY_H
#define WP_STORE_PRIVACY_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "util/id.h"

#define WP_CONSENT_NOTE_MAX 500    /* characters */
#define WP_CONSENTS_MAX 100        /* records of one customer */
#define WP_NOTICE_TEXT_MAX 2000    /* characters of the enrollment notice */
#define WP_AUTO_MESSAGE_MAX 500    /* characters of the automatic first message */
#define WP_ACTOR_MAX 80            /* "employee:<id>" and the like */

/* One record of how a customer was told. method: "auto_message", "signed_form", "verbal",
 * "other". */
typedef struct wp_consent {
    char id[WP_ID_LEN + 1];
    char customer_id[WP_ID_LEN + 1];
    char method[16];
    int64_t at_us, created_us;
    char by[WP_ACTOR_MAX];
    char *note, *evidence; /* owned; NULL when none */
} wp_consent;

/* 1 when method is one of the four. */
int wp_consent_method_ok(const char *method);

/* Record one (the caller has checked that the customer exists and may be written). note: at
 * most WP_CONSENT_NOTE_MAX characters; evidence a media ref "sha256:<hex>" or NULL.
 * WP_EINVAL naming the field; WP_ELIMIT past WP_CONSENTS_MAX records. out->id gets the id. */
int wp_store_consent_add(wp_store *st, wp_consent *out, const char *tenant_id,
                         const char *customer_id, const char *method, int64_t at_us,
                         const char *by, const char *note, const char *evidence, int64_t now_us);

/* The customer's records, newest (at) first. Release with wp_consents_free(). */
int wp_store_consents_list(wp_store *st, wp_consent **out, size_t *n, const char *tenant_id,
                           const char *customer_id);
void wp_consents_free(wp_consent *v, size_t n);

/* The notice employees are told on enrollment, and the automatic first message. */
typedef struct wp_notice {
    char *text;          /* owned; the default (WP_NOTICE_DEFAULT) when the tenant set none */
    int64_t version;     /* 0: the default */
    char *auto_message;  /* owned; NULL when none */
    int64_t updated_us;
} wp_notice;

#define WP_NOTICE_DEFAULT                                                                     \
    "本工作手机为公司资产。为满足合规要求，您在本机上与客户的聊天、通话录音及工作时间内的位置" \
    "将被记录并保存，保存期限以公司的保留规则为准。您可以在管理后台的“我的隐私”页面查看被" \
    "记录的内容、保存多久以及谁查看过您的会话。"

int wp_store_notice_get(wp_store *st, wp_notice *out, const char *tenant_id);
void wp_notice_release(wp_notice *n);

/* Set the text (NULL: keep), the automatic message (set_auto: replace it with auto_message,
 * NULL or "" clears it); a changed text moves the notice's version, and either change moves
 * the policy version (wp_store_policy_touch) so that phones fetch it. *out gets the result. */
int wp_store_notice_put(wp_store *st, wp_notice *out, const char *tenant_id, const char *text,
                        int set_auto, const char *auto_message, int64_t now_us);

/* The employee acknowledged version of the notice on device_id (once per version: a repeat
 * keeps the first time; *created 0 then). WP_EINVAL for a version the tenant has not given. */
int wp_store_notice_ack(wp_store *st, int *created, int64_t *acked_us, const char *tenant_id,
                        const char *employee_id, const char *device_id, int64_t version,
                        int64_t now_us);

/* The version the employee last acknowledged and when (0, 0: never). */
int wp_store_notice_acked(wp_store *st, int64_t *version, int64_t *acked_us,
                          const char *tenant_id, const char *employee_id);

/* Each active employee of the tenant with the last notice version they acknowledged, by id,
 * after cursor (an employee id, or NULL), at most limit (1..WP_PAGE_MAX). */
typedef struct wp_notice_ack_row {
    char employee_id[WP_ID_LEN + 1];
    char *name; /* owned */
    int64_t version, acked_us; /* 0, 0: never */
} wp_notice_ack_row;

int wp_store_notice_acks_list(wp_store *st, wp_notice_ack_row **out, size_t *n, int *more,
                              const char *tenant_id, const char *cursor, unsigned limit);
void wp_notice_ack_rows_free(wp_notice_ack_row *v, size_t n);

/* One audit row that viewed the employee's conversations or unmasked their customers' data. */
typedef struct wp_viewer {
    int64_t seq, ts_us;
    char actor[WP_ACTOR_MAX];
    char action[40];
    char target[WP_ACTOR_MAX];
    char *name, *role; /* owned; NULL for an actor that is not an employee */
} wp_viewer;

typedef struct wp_viewer_page {
    wp_viewer *items;
    size_t n;
    char next_cursor[48]; /* "" at the end */
} wp_viewer_page;

/* Who viewed employee_id's conversations, newest (time, then seq) first: messages.read of the employee,
 * messages.read, timeline.read and customer.unmask of a customer the employee owns, and
 * message.unmask of a message of the employee; the employee's own reads are left out.
 * cursor: NULL or what the last page gave; limit 1..WP_PAGE_MAX. */
int wp_store_viewers_list(wp_store *st, wp_viewer_page *out, const char *tenant_id,
                          const char *employee_id, const char *cursor, unsigned limit);
void wp_viewer_page_release(wp_viewer_page *p);

#endif
