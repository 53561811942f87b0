/* SPDX-License-Identifier: MIT */
/* Signed checkpoints of the audit log's chains, logged by serve for keeping outside the
 * database (docs/internals/audit.md): a task of the scheduler. */
#include "jobs/jobs.h"
#include "util/error.h"
#include "util/log.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_ 512

/* The last checkpoint logged of a chain, not to log the same again. */
struct mark {
    char tenant_id[WP_ID_LEN + 1];
    int64_t seq;
};

struct wp_jobs_checkpoints {
    unsigned char key[WP_AUDIT_KEY_LEN], seed[WP_AUDIT_SIGN_SEED_LEN];
    int log_fd;
    struct mark *marks;
    size_t n_marks;
};

int wp_jobs_checkpoints_new(wp_jobs_checkpoints **out, const unsigned char *key,
                            const unsigned char *seed, int log_fd)
{
    wp_jobs_checkpoints *c = calloc(1, sizeof *c);
    if (!c)
        return wp_error_set(WP_ENOMEM, "out of memory");
    memcpy(c->key, key, sizeof c->key);
    memcpy(c->seed, seed, sizeof c->seed);
    c->log_fd = log_fd;
    *out = c;
    return 0;
}

void wp_jobs_checkpoints_free(wp_jobs_checkpoints *c)
{
    if (!c)
        return;
    free(c->marks);
    sodium_memzero(c, sizeof *c);
    free(c);
}

static struct mark *mark_of(wp_jobs_checkpoints *c, const char *tenant_id)
{
    for (size_t i = 0; i < c->n_marks; i++)
        if (!strcmp(c->marks[i].tenant_id, tenant_id))
            return &c->marks[i];
    struct mark *m = realloc(c->marks, (c->n_marks + 1) * sizeof *m);
    if (!m)
        return NULL;
    c->marks = m;
    m = &c->marks[c->n_marks++];
    snprintf(m->tenant_id, sizeof m->tenant_id, "%s", tenant_id);
    m->seq = -1;
    return m;
}

int wp_jobs_checkpoint(wp_store *st, void *arg, int64_t now_us, wp_buf *note)
{
    wp_jobs_checkpoints *c = arg;
    char(*ids)[WP_ID_LEN + 1] = NULL, line[LINE_MAX_], msg[400] = "";
    char failed_tenant[WP_ID_LEN + 1] = "";
    size_t n = 0, failed = 0;
    int err, first = 0;
    if ((err = wp_store_audit_chains(st, &ids, &n)) < 0)
        return err;
    for (size_t i = 0; i < n; i++) {
        wp_audit_checkpoint cp;
        struct mark *m = mark_of(c, ids[i]);
        err = wp_store_audit_checkpoint(st, &cp, c->key, c->seed, ids[i], now_us);
        if (err == WP_ENOTFOUND || (err == 0 && m && m->seq == cp.seq))
            continue;
        if (err < 0) { /* one chain must not stop the others' checkpoints */
            if (!failed++) {
                first = err;
                snprintf(msg, sizeof msg, "%s", wp_error_last());
                snprintf(failed_tenant, sizeof failed_tenant, "%s", ids[i]);
            }
            continue;
        }
        if (wp_audit_checkpoint_format(line, sizeof line, &cp) == 0) {
            /* the line's own "event=audit_checkpoint" goes after the log's ts= and level= */
            wp_buf b;
            wp_log_start(&b, "info", "audit_checkpoint");
            wp_log_add_fields(&b, line + strlen("event=audit_checkpoint "));
            wp_log_end(&b, c->log_fd);
        }
        if (m)
            m->seq = cp.seq;
    }
    free(ids);
    if (!failed)
        return 0;
    wp_log_addf(note, "failed", "%zu", failed);
    wp_log_add(note, "tenant", failed_tenant);
    return wp_error_set(first, "%s", msg);
}
