/* SPDX-License-Identifier: MIT */
/* Error codes and the thread-local last-error message shared by every module. */
#ifndef WP_UTIL_ERROR_H
#define WP_UTIL_ERROR_H

enum wp_error_code {
    WP_OK = 0,
    WP_ENOTFOUND = -1, /* the thing asked for does not exist (or is out of scope) */
    WP_EEXISTS = -2,   /* it exists already */
    WP_EINVAL = -3,    /* bad input: the message names the field, line or value */
    WP_ELIMIT = -4,    /* a size or count limit was passed */
    WP_EAUTH = -5,     /* not authenticated or not allowed */
    WP_ENOMEM = -6,
    WP_EIO = -7,       /* file system, network or database failure */
    WP_ESCHEMA = -8,   /* the store's schema is newer than this binary */
    WP_EBUSY = -9,     /* in use or in the wrong state: a unit with people, a locked account */
    WP_EQUOTA = -10,   /* a tenant's storage limit would be passed: nothing was stored */
    WP_EFULL = -11,    /* the disk is full (ENOSPC, SQLITE_FULL): nothing was stored; the same
                        * write succeeds once space returns */
    WP_EUNAVAIL = -12, /* the store cannot be reached now (PostgreSQL restarting or gone):
                        * nothing was stored; the same request may succeed later */
    WP_EOVERLOAD = -13, /* a bounded queue or share is full: nothing was done, try again later */
    WP_ECORRUPT = -14, /* stored bytes are damaged: a media file no longer matches its hash */
    WP_EDISABLED = -15, /* the tenant is disabled (`workphone tenant disable`): its data stays,
                         * its people, keys and devices are refused until it is enabled */
};

/* Set the calling thread's last error message (printf-style, one lowercase line, no period)
 * and return code, so callers can write `return wp_error_set(WP_EINVAL, "...")`. */
int wp_error_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The calling thread's last message; never NULL. Borrowed; valid until the next wp_error_set. */
const char *wp_error_last(void);

/* Forget the calling thread's last message. */
void wp_error_clear(void);

/* WP_EFULL for an errno that says the disk (or the user's disk quota) is full, else WP_EIO:
 * what a failed write(), fsync(), rename() or mkdir() returns. */
int wp_error_errno_code(int errnum);

/* A short name for a code: "not_found", "invalid", ... */
const char *wp_error_name(int code);

#endif
