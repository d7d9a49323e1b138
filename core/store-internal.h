/* The store: what store.c and store-read.c share, and nobody else. */
#pragma once
#include <sqlite3.h>

struct zr_store;

/* SQLite's result code as a negative errno (0 for OK, DONE and ROW). */
int zr_store__errno(int rc);
/* Runs a query and calls row for each row until it returns < 0 (that error is returned); for
 * reading only, before the writer thread starts. */
int zr_store__each_row(struct zr_store *st, const char *sql,
		       int (*row)(sqlite3_stmt *s, void *ctx), void *ctx);
/* Runs sql (several statements allowed); *ret_err (may be NULL) gets SQLite's message. */
int zr_store__exec(sqlite3 *db, const char *sql, char **ret_err);
/* Brings the database at path (open as db) to ZR_STORE_SCHEMA, in one transaction. */
int zr_store__migrate(sqlite3 *db, const char *path, char **ret_err);
