/* SPDX-License-Identifier: MIT */
/* The embedded migrations (generated from migrations/<backend>/NNNN_name.sql). */
#ifndef WP_STORE_MIGRATIONS_H
#define WP_STORE_MIGRATIONS_H

struct wp_migration {
    int version; /* 1, 2, 3, ... with no gaps */
    const char *name; /* "0001_init": the file name without .sql, kept in schema_version */
    const char *sql;
};

/* Terminated by an entry with version 0. */
extern const struct wp_migration wp_migrations_sqlite[];
extern const struct wp_migration wp_migrations_pg[];

#endif
