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
