#!/bin/bash
# Templates from git repositories made here (git init, commits, tags; no network): clone with
# progress, two versions side by side, fetch of a new commit, checkout of a tag, upgrade of a
# busy service with its queue intact, every bad input, restart without re-cloning, the CLI,
# and the scaffold.
. "$(dirname "$0")/lib.sh"

command -v git >/dev/null || skip "git is not installed"
G=(git -c user.name=zr -c user.email=zr@example.invalid -c init.defaultBranch=main)
SRC=$TMP/src
mkdir -p "$SRC"
unset GIT_DIR GIT_WORK_TREE
export GIT_CEILING_DIRECTORIES=$TMP

# mk_repo NAME: a repository with template "hello" 1.0.0 under templates/, tagged v1.0.0.
mk_repo() {
	local r=$SRC/$1
	"${G[@]}" init -q "$r"
	mk_template "$r/templates" hello '{"name": "hello", "version": "1.0.0",
	  "actions": {"say": {}, "slow": {"args": {"secs": {"type": "number", "default": 1}}}}}'
	mk_action "$r/templates/hello" say 'echo "hello v1"'
	mk_action "$r/templates/hello" slow 'sleep "$ARG_SECS"; echo slow-v1'
	# Enough objects for the clone to report progress.
	mkdir -p "$r/templates/hello/doc"
	for i in $(seq 200); do echo "page $i" >"$r/templates/hello/doc/p$i"; done
	"${G[@]}" -C "$r" add -A
	"${G[@]}" -C "$r" commit -qm v1
	"${G[@]}" -C "$r" tag v1.0.0
}

# bump REPO VERSION WORD: a new commit with that version, its say printing WORD.
bump() {
	local r=$SRC/$1
	sed -i "s/\"version\": \"[^\"]*\"/\"version\": \"$2\"/" "$r/templates/hello/template.json"
	mk_action "$r/templates/hello" say "echo 'hello $3'"
	mk_action "$r/templates/hello" slow 'sleep "$ARG_SECS"; echo slow-new'
	"${G[@]}" -C "$r" commit -qam "$2"
	"${G[@]}" -C "$r" tag "v$2"
}

# repo_wait ID: waits until the status says ready or failed; prints it.
repo_wait() {
	local st i
	for i in $(seq 100); do
		st=$(timeout 5 cat "$MNT/@robot/repos/$1/status" 2>/dev/null)
		case $st in "state ready"* | "state failed"*) printf '%s\n' "$st"; return 0 ;; esac
		sleep 0.1
	done
	fail "repository $1 still busy after 10 s: $st"
}

# add SPEC: writes SPEC to repos/add; prints the new repository's id.
add() {
	local before after
	before=$(ls "$MNT/@robot/repos")
	echo "$1" >"$MNT/@robot/repos/add" || fail "repos/add '$1' refused"
	after=$(ls "$MNT/@robot/repos")
	comm -13 <(printf '%s\n' "$before") <(printf '%s\n' "$after") | head -n 1
}

mk_repo one
zr_start

# Clone through the CLI: it writes repos/add and follows the status to the end.
out=$(timeout 30 "$ZROBOT" repo add "$SRC/one" --mount "$MNT") || fail "zrobot repo add: $out"
expect_in "$out" "state ready" "zrobot repo add"
expect_in "$out" "templates hello/1.0.0" "zrobot repo add"
ID=$(ls "$MNT/@robot/repos" | grep -v '^add$' | head -n 1)
expect_eq "$(rcat "$MNT/@robot/repos/$ID/url")" "$SRC/one" "repos/<id>/url"
expect_eq "$(rcat "$MNT/@robot/repos/$ID/ref")" "HEAD" "repos/<id>/ref"
expect_eq "$(rcat "$MNT/@robot/repos/$ID/commit")" "$("${G[@]}" -C "$SRC/one" rev-parse HEAD)" "repos/<id>/commit"
expect_eq "$(rcat "$MNT/@robot/templates/hello/uid")" "local/one/hello/1.0.0" "uid of a repository's template"
grep -q "Repository $ID" "$TMP/robot.log" || fail "no log line for the clone"
ok "clone with zrobot repo add: status ready, commit, templates, uid local/one/hello/1.0.0"

# Progress while cloning: a second, bigger repository, followed in its status.
mk_repo big
for i in $(seq 3000); do echo "blob $i $RANDOM" >"$SRC/big/templates/hello/doc/b$i"; done
"${G[@]}" -C "$SRC/big" add -A
"${G[@]}" -C "$SRC/big" commit -qm more
id=$(add "file://$SRC/big#v1.0.0")
seen=
for i in $(seq 200); do
	st=$(timeout 5 cat "$MNT/@robot/repos/$id/status")
	case $st in *progress*) seen=$st ;; esac
	case $st in "state ready"* | "state failed"*) break ;; esac
	sleep 0.02
done
expect_in "$(repo_wait "$id")" "state ready" "clone of file://...#v1.0.0"
[ -n "$seen" ] && ok "status showed progress while cloning: $(printf '%s\n' "$seen" | grep progress)" ||
	echo "note: the clone was too quick to catch a progress line"
expect_eq "$(rcat "$MNT/@robot/repos/$id/ref")" "v1.0.0" "ref of a tag clone"

# A new commit, fetched: two versions side by side; a busy service upgrades with its queue.
S=$(svc hello a)
expect_eq "$(zrtool write-read "$S/actions/say" say)" "hello v1" "say on 1.0.0"
bump one 1.1.0 v2
echo fetch >"$MNT/@robot/repos/$ID/ctl" || fail "ctl fetch"
expect_in "$(repo_wait "$ID")" "templates hello/1.1.0" "status after fetch"
expect_eq "$(rcat "$MNT/@robot/templates/hello/versions" | grep local/one/)" "$(printf '1.0.0 local/one/hello/1.0.0\n1.1.0 local/one/hello/1.1.0')" "versions after fetch"
expect_eq "$(rcat "$S/upgrade")" "1.0.0" "a service stays on its version after a fetch"
expect_eq "$(zrtool write-read "$S/actions/say" say)" "hello v1" "the pinned version still runs its own files"
ok "fetch of a new commit: 1.1.0 beside 1.0.0, the service stays pinned to 1.0.0"
slow=$(submit "$S" slow '{"secs": 1.5}')
q=$(submit "$S" say say)
echo latest >"$S/upgrade" || fail "upgrade to latest"
expect_eq "$(timeout 20 cat "$S/tasks/$q/result")" "hello v2" "queued task after the upgrade"
expect_eq "$(rcat "$S/tasks/$slow/result")" "slow-v1" "the running task finished on its version"
expect_eq "$(json "$S/info" 'j["uid"]')" "local/one/hello/1.1.0" "info uid after upgrade"
ok "upgrade of a busy service: running task ends on 1.0.0, the queued one runs 1.1.0"

# Checkout of a tag moves the repository; templates of both commits stay loaded.
echo "checkout v1.0.0" >"$MNT/@robot/repos/$ID/ctl" || fail "ctl checkout v1.0.0"
expect_in "$(repo_wait "$ID")" "templates hello/1.0.0" "status after checkout"
expect_eq "$(rcat "$MNT/@robot/repos/$ID/ref")" "v1.0.0" "ref after checkout"
expect_eq "$(rcat "$MNT/@robot/repos/$ID/commit")" "$("${G[@]}" -C "$SRC/one" rev-parse v1.0.0^{commit})" "commit after checkout"
ok "checkout of a tag"

# Bad input: each a clear error in status and the log, nothing loaded, others unaffected.
expect_errno "echo 'bogus' >'$MNT/@robot/repos/$ID/ctl'" "Invalid argument"
expect_errno "echo 'file://$SRC/one#bad ref' >'$MNT/@robot/repos/add'" "Invalid argument"
expect_errno "echo '$SRC/one' >'$MNT/@robot/repos/add'" "File exists"
bad_status() { # SPEC WORD: the clone fails, its status says WORD
	local id st
	id=$(add "$1")
	st=$(repo_wait "$id")
	expect_in "$st" "state failed" "status of $1"
	expect_in "$st" "$2" "status of $1"
	grep -qF "$2" "$TMP/robot.log" || fail "no log line with '$2' for $1"
}
bad_status "https://127.0.0.1:1/acc/nothere.git" "Failed to clone"
bad_status "$SRC/one#nosuchtag" "nosuchtag"
"${G[@]}" init -q "$SRC/empty"
echo readme >"$SRC/empty/README"
"${G[@]}" -C "$SRC/empty" add -A && "${G[@]}" -C "$SRC/empty" commit -qm empty
bad_status "$SRC/empty" "no template"
mk_repo evil
ln -sf /bin/true "$SRC/evil/templates/hello/actions/say"
"${G[@]}" -C "$SRC/evil" add -A && "${G[@]}" -C "$SRC/evil" commit -qm evil
bad_status "$SRC/evil" "leaves the repository"
mk_repo badname
sed -i 's/"name": "hello"/"name": "Bad Name"/' "$SRC/badname/templates/hello/template.json"
"${G[@]}" -C "$SRC/badname" commit -qam badname
bad_status "$SRC/badname" "name"
expect_eq "$(rcat "$MNT/@robot/templates/hello/versions" | grep local/one/)" "$(printf '1.0.0 local/one/hello/1.0.0\n1.1.0 local/one/hello/1.1.0')" "versions after the bad repositories"
expect_eq "$(zrtool write-read "$S/actions/say" say)" "hello v2" "the good repository still works"
ok "unreachable URL, unknown ref, no templates, escaping symlink, bad name: errors in status and log, nothing loaded"

# Restart without cloning again: the sources are gone, the repositories and pins come back.
mv "$SRC/one" "$SRC/one.gone"
mv "$SRC/big" "$SRC/big.gone"
zr_stop
zr_start
expect_in "$(rcat "$MNT/@robot/repos/$ID/status")" "state ready" "repository after restart"
expect_eq "$(rcat "$S/upgrade")" "1.1.0" "pinned version after restart"
expect_eq "$(zrtool write-read "$S/actions/say" say)" "hello v2" "the service runs after restart"
expect_eq "$(rcat "$MNT/@robot/templates/hello/versions" | grep local/one/)" "$(printf '1.0.0 local/one/hello/1.0.0\n1.1.0 local/one/hello/1.1.0')" "versions after restart"
expect_eq "$($ZR_PY -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM repos WHERE commit_id != \"\"").fetchone()[0])' "$DATA/zrobot.db")" 2 "repositories in the store"
ok "restart: repositories and pins come back without cloning (sources removed)"

# --repo at start, and the scaffold: zrobot template new writes a template that loads and runs.
mv "$SRC/one.gone" "$SRC/one"
"$ZROBOT" template new web "$TMP/scaf" >/dev/null || fail "zrobot template new"
zr_stop
zr_start --templates "$TMP/scaf" --repo "$SRC/one#v1.1.0"
W=$(svc web w1)
expect_in "$(ls "$W/actions")" install "scaffold actions"
out=$(zrtool write-read "$W/actions/install" install) || fail "scaffold install: $out"
expect_eq "$(task_state "$W" "$(last_task "$W")")" ok "scaffold install state"
id=$(ls "$MNT/@robot/repos" | grep -v '^add$' | while read -r i; do
	[ "$(cat "$MNT/@robot/repos/$i/ref")" = v1.1.0 ] && echo "$i"; done)
[ -n "$id" ] || fail "--repo did not add the repository"
expect_in "$(repo_wait "$id")" "state ready" "--repo clone"
ok "zrobot template new: loads, install runs; --repo clones at start"
zr_stop

# A store made by a robot of schema 1 (no repos table) is migrated in a transaction, and a
# repos.json of that time moves into the store.
D1=$TMP/old
mkdir -p "$D1"
$ZR_PY - "$D1/zrobot.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.executescript("""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE services (guid TEXT PRIMARY KEY, template TEXT NOT NULL, name TEXT NOT NULL,
  uid TEXT NOT NULL, data TEXT NOT NULL, state TEXT NOT NULL, secret TEXT NOT NULL,
  created INTEGER NOT NULL, deleting INTEGER NOT NULL DEFAULT 0);
CREATE TABLE tasks (id INTEGER PRIMARY KEY, service TEXT NOT NULL, action TEXT NOT NULL,
  args TEXT NOT NULL, lane INTEGER NOT NULL, state TEXT NOT NULL, created INTEGER NOT NULL,
  started INTEGER, finished INTEGER, result BLOB, error TEXT, err INTEGER, attempt INTEGER,
  progress_done INTEGER, progress_total INTEGER);
INSERT INTO meta VALUES ('schema', '1');
""")
db.commit()
PY
cp "$DATA/repos/$ID/../../repos.json" "$D1/repos.json" 2>/dev/null ||
	printf '[]\n' >"$D1/repos.json"
mkdir -p "$D1/repos" && cp -a "$DATA/repos/$ID" "$D1/repos/"
$ZR_PY - "$D1/repos.json" "$ID" "$SRC/one" "$("${G[@]}" -C "$SRC/one" rev-parse v1.1.0^{commit})" <<'PY'
import json, sys
json.dump([{"id": sys.argv[2], "url": sys.argv[3], "ref": "v1.1.0", "commit": sys.argv[4]}], open(sys.argv[1], "w"))
PY
DATA=$D1 zr_start
grep -q "Migrated .* from schema 1 to 7" "$TMP/robot.log" || fail "no migration log line"
grep -q "Moving 1 repositories from repos.json into the store" "$TMP/robot.log" || fail "repos.json not moved"
expect_in "$(rcat "$MNT/@robot/repos/$ID/status")" "state ready" "a repository of repos.json after the migration"
ok "a schema 1 store is migrated; repos.json moves into the store"
zr_stop
