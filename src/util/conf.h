/* SPDX-License-Identifier: MIT */
/* The one reader of key=value files: DIR/workphone.conf (and the demo's mark). */
#ifndef WP_UTIL_CONF_H
#define WP_UTIL_CONF_H

#define WP_CONF_MAX_BYTES (64 * 1024) /* the largest file read */
#define WP_CONF_LINE_MAX 4096         /* bytes of one line, without its line end */
#define WP_CONF_KEY_MAX 64            /* bytes of a key */

typedef struct wp_conf wp_conf;

/* Read a key=value file: one setting a line, `key=value`; blank lines and lines whose first
 * non-blank character is '#' are skipped; blanks (space, tab) around the key and the value
 * are dropped, a CR before the LF too; a key is letters, digits, '_', '.' and '-'; the value
 * is the rest of the line as is ('#' in it is no comment); a key given twice keeps its last
 * value; keys nobody asks for are kept and ignored.
 * @param[out] out  the settings; untouched on failure
 * @param path      the file
 * @return 0; WP_ENOTFOUND when there is no file; WP_EINVAL naming the file and the line
 *         ("'d/workphone.conf' line 3: no '=' in it"); WP_ELIMIT (a file over
 *         WP_CONF_MAX_BYTES, a line over WP_CONF_LINE_MAX); WP_EIO; WP_ENOMEM
 * Caller owns *out; release with wp_conf_free(). */
int wp_conf_read(wp_conf **out, const char *path);

/* wp_conf_read() of DIR/workphone.conf, the mark of an initialized data dir. */
int wp_conf_read_dir(wp_conf **out, const char *dir);

/* The value of key, or NULL when the file does not set it ("" when it sets it empty).
 * Borrowed; valid until wp_conf_free(c). */
const char *wp_conf_get(const wp_conf *c, const char *key);

/* NULL is a no-op. */
void wp_conf_free(wp_conf *c);

#endif
