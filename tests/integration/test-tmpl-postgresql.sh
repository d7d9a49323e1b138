#!/bin/bash
# The built-in postgresql template with the real server (issue 13): install (initdb as user
# postgres, the cluster in the work folder), echo start → ready, psql select 1 with the
# generated password (and refused without it), the server runs as postgres, the sql action
# (admin-only) and backup (pg_dump to the work folder), process/status and stats, kill -9 →
# back with its data, rmdir → every postgres process gone and the port free.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-tmpl.sh"

need_prog psql pg_dump
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || command -v postgres >/dev/null 2>&1 ||
	skip "postgres is not installed (tests/deps.sh installs postgresql)"
id postgres >/dev/null 2>&1 || skip "there is no user postgres"
[ "$(id -u)" = 0 ] || skip "the template runs postgres as user postgres: needs root"

zr_start
port=$(free_port)
tmpl_svc postgresql main "{\"port\": $port}"
S=$SVC
W=$DATA/work/$GUID
out=$(act "$S" install)
expect_eq "$out" "cluster made in $W/pg/data" "install's result"
[ -f "$W/pg/data/PG_VERSION" ] || fail "no cluster in $W/pg/data"
expect_eq "$(stat -c %U "$W/pg/data")" postgres "owner of the cluster"
expect_eq "$(stat -c %a "$W/superuser.password")" 600 "mode of superuser.password"
expect_eq "$(act "$S" install)" "cluster already in $W/pg/data" "a second install"
ok "install: initdb made the cluster in the work folder, owned by postgres; again: nothing"

act "$S" start >/dev/null
ok "echo start > actions/start; cat results/start: ok"

export PGPASSWORD
PGPASSWORD=$(cat "$W/superuser.password")
expect_eq "$(psql -X -w -A -t -h 127.0.0.1 -p "$port" -U postgres -c 'select 1' </dev/null)" 1 \
	"psql select 1"
rc=0
PGPASSWORD=wrong psql -X -w -h 127.0.0.1 -p "$port" -U postgres -c 'select 1' </dev/null \
	>/dev/null 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "psql with a wrong password succeeded"
ok "psql -h 127.0.0.1 -p $port: select 1 → 1 with the password, refused with a wrong one"

check_ready "$S"
pid=$(server_pid "$S")
expect_eq "$(ps -o user= -p "$pid" | tr -d ' ')" postgres "user of the server"
expect_match "$(ps -o args= -p "$pid")" 'postgres -D /mnt/data' "the main process"
ok "process/status ready, adopted no; the main process is the postmaster, as postgres"

check_stats "$S" "$port"
ok "process/stats: rss $(stat_of "$S" rss), listening 127.0.0.1:$port"

act "$S" sql "query=create table t (n int); insert into t values (42)" >/dev/null
expect_eq "$(act "$S" sql "query=select n from t")" 42 "sql select"
rc=0
timeout 30 bash -c 'echo "query=select nope" >"$1/actions/sql" && cat "$1/results/sql"' _ "$S" \
	>"$TMP/sql.out" 2>&1 || rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "a bad query: rc $rc"
expect_in "$(cat "$TMP/sql.out")" 'column "nope" does not exist' "error of a bad query"
expect_eq "$(json "$MNT/@robot/templates/postgresql/manifest" 'j["actions"]["sql"]["admin"]')" \
	true "sql is admin-only"
ok "action sql: create, insert, select → 42; a bad query fails with postgres' message"

dump=$(act "$S" backup 'database=postgres')
expect_match "$dump" "^$W/backups/[0-9TZ]+-postgres\\.sql\$" "backup prints the path"
grep -q 'CREATE TABLE public.t' "$dump" || fail "the dump $dump lacks table t"
expect_eq "$(stat -c %a "$dump")" 600 "mode of the dump"
all=$(act "$S" backup)
grep -q 'CREATE ROLE postgres' "$all" || fail "the cluster dump $all lacks the roles"
ok "action backup: pg_dump to $dump (0600), pg_dumpall without a database"

q="psql -X -w -A -t -h 127.0.0.1 -p $port -U postgres -c 'select n from t' </dev/null"
pid=$(check_kill9 "$S" "[ \"\$($q 2>/dev/null)\" = 42 ]")
ok "kill -9 of the postmaster: restarted (pid $pid), restarts 1, the row is still there"

check_removed "$S" "$pid" "$port"
wait_for "! pgrep -u postgres -f 'postgres -D /mnt/data' >/dev/null" 10 || true
for p in $(pgrep -u postgres); do
	if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qxF "ZR_ROOT=$MNT"; then
		fail "postgres process $p of this test still runs after rmdir"
	fi
done
ok "rmdir postgresql/main: every postgres process of it is gone, port $port is free"
zr_stop
