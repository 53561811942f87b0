/* SPDX-License-Identifier: MIT */
/* Devices and their enrollment codes (migration 0002; ops_device.c). */
#ifndef WP_STORE_DEVICES_H
#define WP_STORE_DEVICES_H

#include <stddef.h>
#include <stdint.h>

#include "store/scope.h"
#include "store/store.h"
#include "util/id.h"

typedef struct wp_device {
    char id[WP_ID_LEN + 1];
    char tenant_id[WP_ID_LEN + 1];
    char employee_id[WP_ID_LEN + 1];
    char serial[WP_ARCHIVE_FIELD_MAX + 1];
    char model[WP_ARCHIVE_FIELD_MAX + 1];
    int64_t acked_seq; /* every event up to it is stored */
    int revoked;                      /* for good: the phone enrolls again */
    int64_t disabled_us;              /* 0: works; else disabled since, until enabled */
    int64_t created_us, last_seen_us; /* last_seen_us 0: never reported */
} wp_device;

/* Store an enrollment code for an employee, by its hash (wp_token_hash of the code), valid
 * until expires_us. WP_ENOTFOUND when the employee is not in the tenant; WP_EINVAL when it is
 * inactive; WP_EEXISTS on a hash collision (make a new code). */
int wp_store_enrollment_code_create(wp_store *st, const char *tenant_id, const char *employee_id,
                                    const char code_hash[65], int64_t expires_us);

/* In one transaction: consume the code (unused, unexpired at now_us, employee active), revoke
 * the tenant's earlier devices with the same serial (a re-enrolled phone restarts its seq), and
 * create the device with the token's hash. WP_EAUTH when the code is unknown, used or expired
 * or its employee inactive (one message for all, so a caller cannot probe codes); WP_EINVAL
 * for a bad serial or model. out gets the new device. */
int wp_store_device_enroll(wp_store *st, wp_device *out, const char code_hash[65],
                           const char *serial, const char *model, const char token_hash[65],
                           int64_t now_us);

/* The device holding the token with this hash. WP_EAUTH when none, when it is revoked or
 * disabled, or when its employee is inactive (an employee who left stops working at once). */
int wp_store_device_auth(wp_store *st, wp_device *out, const char token_hash[65]);

int wp_store_device_get(wp_store *st, wp_device *out, const char *tenant_id, const char *id);

/* Revoke a device (its token stops working). WP_ENOTFOUND. */
int wp_store_device_revoke(wp_store *st, const char *tenant_id, const char *id);

/* Disable a device (its token is refused from now on, as a revoked one's) or enable it again.
 * Disabling a disabled device keeps its first time. out (may be NULL) gets the device as it is
 * now. WP_ENOTFOUND; WP_EBUSY when the device is revoked (revoking is for good). */
int wp_store_device_set_disabled(wp_store *st, wp_device *out, const char *tenant_id,
                                 const char *id, int disabled, int64_t now_us);

typedef struct wp_device_filter {
    const char *tenant_id;
    const char *employee_id; /* NULL: all */
    const char *cursor;      /* NULL or "": first page */
    unsigned limit;          /* 0: WP_PAGE_DEFAULT; at most WP_PAGE_MAX */
    const wp_scope *scope;   /* NULL: any; else devices of the employees in it */
} wp_device_filter;

typedef struct wp_device_page {
    wp_device *items;
    size_t n;
    char next_cursor[WP_ARCHIVE_CURSOR_MAX]; /* "" on the last page */
} wp_device_page;

/* Devices, newest enrolled first. Release the page with wp_device_page_release(). */
/* The device through which a server reports for an employee (source "wecom": WeCom's
 * customer-contact callback and contact list, src/wecom), made on first use (ops_source.c):
 * serial "source:<source>", model source, a token_hash no token has ("source:<source>:<id>"),
 * so it can never authenticate; its events go through the device path (acked_seq, customers,
 * alerts) and a departure revokes it like the employee's phones. A revoked one is replaced by a
 * new one. *out its id. WP_ENOTFOUND (employee); WP_EINVAL (source not 1..32 of [a-z0-9_]). */
int wp_store_device_source(wp_store *st, char out[WP_ID_LEN + 1], const char *tenant_id,
                           const char *employee_id, const char *source, int64_t now_us);

int wp_store_devices_list(wp_store *st, wp_device_page *out, const wp_device_filter *f);
void wp_device_page_release(wp_device_page *p);

#endif
