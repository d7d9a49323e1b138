/* The store's schema: the tables (schema_sql) and the migrations from each version to the
 * next, run once at open in one transaction. tests/bench/lib.sh reads both from this file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store-internal.h"
#include "util/log.h"

static const char *const schema_sql =
	"CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS services ("
	" guid TEXT PRIMARY KEY, template TEXT NOT NULL, name TEXT NOT NULL, uid TEXT NOT NULL,"
	" data TEXT NOT NULL, state TEXT NOT NULL, secret TEXT NOT NULL, created INTEGER NOT NULL,"
	" deleting INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS tasks ("
	" id INTEGER PRIMARY KEY, service TEXT NOT NULL, action TEXT NOT NULL, args TEXT NOT NULL,"
	" lane INTEGER NOT NULL, state TEXT NOT NULL, created INTEGER NOT NULL, started INTEGER,"
	" finished INTEGER, result BLOB, error TEXT, err INTEGER, attempt INTEGER,"
	" progress_done INTEGER, progress_total INTEGER);"
	"CREATE INDEX IF NOT EXISTS tasks_service ON tasks (service, id);"
	"CREATE TABLE IF NOT EXISTS repos ("
	" id TEXT PRIMARY KEY, url TEXT NOT NULL, ref TEXT, commit_id TEXT NOT NULL, pos INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS remotes ("
	" name TEXT PRIMARY KEY, url TEXT NOT NULL, token_file TEXT, pos INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS remote_consumers ("
	" producer TEXT NOT NULL, robot TEXT NOT NULL, consumer TEXT NOT NULL,"
	" PRIMARY KEY (producer, robot, consumer));"
	"CREATE TABLE IF NOT EXISTS remote_unlinks ("
	" remote TEXT NOT NULL, producer TEXT NOT NULL, consumer TEXT NOT NULL,"
	" PRIMARY KEY (remote, producer, consumer));"
	"CREATE TABLE IF NOT EXISTS processes ("
	" service TEXT PRIMARY KEY, want TEXT NOT NULL, cgroup TEXT, pid INTEGER NOT NULL,"
	" start_time INTEGER NOT NULL, failed INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS blueprints ("
	" name TEXT PRIMARY KEY, content BLOB, outcome TEXT, applied_ns INTEGER);"
	"CREATE TABLE IF NOT EXISTS webhooks ("
	" id INTEGER PRIMARY KEY, url TEXT NOT NULL, types TEXT NOT NULL, secret TEXT NOT NULL,"
	" last_seq INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS webhook_deliveries ("
	" hook INTEGER NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL,"
	" PRIMARY KEY (hook, seq));";

int zr_store__exec(sqlite3 *db, const char *sql, char **ret_err)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		if (ret_err) {
			*ret_err = strdup(msg ? msg : sqlite3_errstr(rc));
		}
		sqlite3_free(msg);
		return zr_store__errno(rc) ? zr_store__errno(rc) : -EIO;
	}
	return 0;
}

static int schema_version(sqlite3 *db)
{
	sqlite3_stmt *s;
	int v = 0;
	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema'", -1, &s, NULL) != SQLITE_OK) {
		return 0; /* no meta table: a new database */
	}
	if (sqlite3_step(s) == SQLITE_ROW) {
		v = atoi((const char *)sqlite3_column_text(s, 0));
	}
	sqlite3_finalize(s);
	return v;
}

/* Migrations from version i to i + 1, each run in the transaction that sets the new version.
 * Version 0 is an empty database. A migration adds columns (up to MIGRATION_COLUMNS; tables
 * come from schema_sql); a column already there is left alone, so a migration can run twice. */
#define MIGRATION_COLUMNS 2
struct migration {
	struct column {
		const char *table, *column, *type;
	} add[MIGRATION_COLUMNS];
};
static const struct migration migrations[ZR_STORE_SCHEMA] = {
	[0] = {{{0}}}, /* 0 → 1: the tables of schema_sql */
	[1] = {{{0}}}, /* 1 → 2: the repos table, made by schema_sql */
	/* 2 → 3: the remotes, remote_consumers and remote_unlinks tables (made by schema_sql),
	 * and the version a service moves to once its running task ends (not in schema_sql:
	 * added here, also to a new database, which goes through every migration). */
	[2] = {{{"services", "upgrade_to", "TEXT"}}},
	/* 3 → 4: who created a service (a creator id, never a token); services made before
	 * the role model were made by the admin. */
	[3] = {{{"services", "creator", "TEXT NOT NULL DEFAULT 'admin'"}}},
	/* 4 → 5: the processes table (made by schema_sql): per supervised service its want,
	 * the pid and start time of its running server, its cgroup and whether its start
	 * budget ran out. A table of its own, not columns: most services have no server. */
	[4] = {{{0}}},
	/* 5 → 6: blueprints (DESIGN §8). A service's AYS parent ("T/S") and the stored apply it
	 * carries (both NULL: none), and the blueprints table of stored applies (made by
	 * schema_sql). */
	[5] = {{{"services", "parent", "TEXT"}, {"services", "blueprint", "TEXT"}}},
	/* 6 → 7: webhooks (README "Webhooks"): the webhooks and webhook_deliveries tables (made
	 * by schema_sql), the deliveries a hook still owes, kept until a receiver took them. */
	[6] = {{{0}}},
};

static int add_column(sqlite3 *db, const struct column *m, char **ret_err)
{
	sqlite3_stmt *st = NULL;
	char *sql = NULL;
	int rc = sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		(void)sqlite3_bind_text(st, 1, m->table, -1, SQLITE_STATIC);
		(void)sqlite3_bind_text(st, 2, m->column, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW) {
		return 0;
	}
	if (rc != SQLITE_DONE) {
		if (asprintf(ret_err, "cannot read the columns of %s: %s", m->table, sqlite3_errmsg(db)) < 0) {
			*ret_err = NULL;
		}
		return zr_store__errno(rc) ? zr_store__errno(rc) : -EIO;
	}
	if (asprintf(&sql, "ALTER TABLE %s ADD COLUMN %s %s", m->table, m->column, m->type) < 0) {
		return -ENOMEM;
	}
	int err = zr_store__exec(db, sql, ret_err);
	free(sql);
	return err;
}

static int run_migration(sqlite3 *db, const struct migration *m, char **ret_err)
{
	int err = 0;
	for (int i = 0; err == 0 && i < MIGRATION_COLUMNS && m->add[i].table; i++) {
		err = add_column(db, &m->add[i], ret_err);
	}
	return err;
}

int zr_store__migrate(sqlite3 *db, const char *path, char **ret_err)
{
	int v = schema_version(db);
	if (v > ZR_STORE_SCHEMA) {
		if (asprintf(ret_err, "%s has schema version %d, newer than this zrobot's %d: refusing to "
			     "touch it (run a newer zrobot)", path, v, ZR_STORE_SCHEMA) < 0) {
			*ret_err = NULL;
		}
		return -EPROTO;
	}
	if (v == ZR_STORE_SCHEMA) {
		return zr_store__exec(db, schema_sql, ret_err);
	}
	char *sql = NULL;
	int err = zr_store__exec(db, "BEGIN IMMEDIATE", ret_err);
	if (err < 0) {
		return err;
	}
	err = zr_store__exec(db, schema_sql, ret_err);
	for (int i = v; err == 0 && i < ZR_STORE_SCHEMA; i++) {
		err = run_migration(db, &migrations[i], ret_err);
	}
	if (err == 0 && asprintf(&sql, "INSERT OR REPLACE INTO meta VALUES ('schema', '%d')", ZR_STORE_SCHEMA) >= 0) {
		err = zr_store__exec(db, sql, ret_err);
		free(sql);
	}
	if (err == 0) {
		err = zr_store__exec(db, "COMMIT", ret_err);
	}
	if (err < 0) {
		(void)zr_store__exec(db, "ROLLBACK", NULL);
		return err;
	}
	if (v > 0) {
		log_info("Migrated %s from schema %d to %d", path, v, ZR_STORE_SCHEMA);
	}
	return 0;
}

/* Finalizes the statements (those prepared; the others are NULL) and closes the database. */
