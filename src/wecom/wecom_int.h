/* SPDX-License-Identifier: MIT */
/* Inside src/wecom: the module's object and what its files share. */
#ifndef WP_WECOM_INT_H
#define WP_WECOM_INT_H

#include <pthread.h>

#include "store/audit.h"
#include "wecom/wecom.h"

/* A tenant's access token, fetched with the settings fingerprinted in fp. */
struct wecom_token {
    char tenant_id[WP_ID_LEN + 1];
    unsigned char fp[32]; /* BLAKE2b of api_base, corp_id and contact_secret */
    char *token;          /* malloc */
    int64_t expires_us;
};

struct wp_wecom {
    wp_wecom_options o;
    unsigned char key[WP_AUDIT_KEY_LEN]; /* the audit key: opens the settings */
    pthread_mutex_t mu; /* guards tokens */
    struct wecom_token *tokens;
    size_t n_tokens, cap_tokens;
};

/* The tenant's settings through a connection of the pool. WP_ENOTFOUND. */
int wp_wecom__config(wp_wecom *w, wp_wecom_config *out, const char *tenant_id);
/* The same through st. WP_ENOTFOUND; WP_EINVAL (a secret does not open); store errors. */
int wp_wecom__config_st(wp_wecom *w, wp_store *st, wp_wecom_config *out, const char *tenant_id);

#endif
