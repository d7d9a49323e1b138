#!/bin/bash
# Credentials in URLs (issue 12): a private git repository served over HTTP with basic auth
# (git http-backend behind git-http-server.py on 127.0.0.1), cloned with the password in its
# URL and with a --git-credentials file; a remote robot whose URL holds a password. Each
# secret must appear nowhere the robot shows or logs: the mount (grep -r), the robot's stderr
# and @robot/log, the HTTP API's JSON. Refused attempts (a wrong password, none at all, a
# credential file other users may read) must change nothing: no template, no clone on disk.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-http.sh"

command -v git >/dev/null || skip "git is not installed"
[ -x "$(git --exec-path)/git-http-backend" ] || skip "git http-backend is not installed"
G=(git -c user.name=zr -c user.email=zr@example.invalid -c init.defaultBranch=main)
unset GIT_DIR GIT_WORK_TREE
export GIT_CEILING_DIRECTORIES=$TMP

# Secrets: random, so that finding one means the robot leaked it.
PW=SECRETpw$RANDOM$RANDOM$RANDOM
WRONG=WRONGpw$RANDOM$RANDOM
RPW=REMOTEpw$RANDOM$RANDOM
RTOK=REMOTEtok$RANDOM$RANDOM
SECRETS=("$PW" "$WRONG" "$RPW" "$RTOK")

# The private repository: template "hello" 1.0.0, served at http://127.0.0.1:$GPORT/tpl.git
# to user "zr" with password $PW only.
SRV=$TMP/srv
mkdir -p "$SRV" "$TMP/work"
"${G[@]}" init -q "$TMP/work/tpl"
mk_template "$TMP/work/tpl/templates" hello '{"name": "hello", "version": "1.0.0", "actions": {"say": {}}}'
mk_action "$TMP/work/tpl/templates/hello" say 'echo hello'
"${G[@]}" -C "$TMP/work/tpl" add -A
"${G[@]}" -C "$TMP/work/tpl" commit -qm v1
git clone -q --bare "$TMP/work/tpl" "$SRV/tpl.git"
GLOG=$TMP/git-server.log
# ZR_ROOT=$MNT in its environment: the cleanup kills it like a daemon an action started.
ZR_ROOT=$MNT "$ZR_PY" "$ZR_SRC/tests/integration/git-http-server.py" --root "$SRV" --user zr \
	--password "$PW" --port-file "$TMP/git.port" --log "$GLOG" &
zr_track_pid $!
wait_for "[ -s '$TMP/git.port' ]" 10 || fail "the git server did not start"
GPORT=$(cat "$TMP/git.port")
REPO=http://127.0.0.1:$GPORT/tpl.git

# no_secret WHERE TEXT: none of the secrets is in TEXT.
no_secret() {
	local s
	for s in "${SECRETS[@]}"; do
		expect_not_in "$2" "$s" "$1"
	done
}

# no_secret_anywhere: not under the mount (but @remote), not in the robot's stderr, not in
# @robot/log, not in what the HTTP API answers for the robot's files.
no_secret_anywhere() {
	local s hits
	for s in "${SECRETS[@]}"; do
		hits=$(timeout -k 2 60 grep -rlF --exclude-dir=@remote -- "$s" "$MNT" 2>/dev/null)
		[ -z "$hits" ] || fail "secret $s found under the mount in: $hits"
	done
	no_secret "robot stderr" "$(cat "$TMP/robot.log")"
	no_secret "@robot/log" "$(rcat "$MNT/@robot/log")"
	local p
	for p in /v1/@robot /v1/@robot/info /v1/@robot/log /v1/@robot/events /v1/@robot/repos \
		/v1/@robot/remotes; do
		http "$ADMIN" GET "$p"
		no_secret "GET $p" "$HB"
	done
	for p in $(ls "$MNT/@robot/repos"); do
		[ "$p" = add ] && continue
		http "$ADMIN" GET "/v1/@robot/repos/$p"
		no_secret "GET repos/$p" "$HB"
		for f in url ref status commit; do
			http "$ADMIN" GET "/v1/@robot/repos/$p/$f"
			no_secret "GET repos/$p/$f" "$HB"
		done
	done
}

# repo_wait ID: waits until the status says ready or failed; prints it.
repo_wait() {
	local st i
	for i in $(seq 300); do
		st=$(timeout 5 cat "$MNT/@robot/repos/$1/status" 2>/dev/null)
		case $st in "state ready"* | "state failed"*) printf '%s\n' "$st"; return 0 ;; esac
		sleep 0.1
	done
	fail "repository $1 still busy after 30 s: $st"
}

# add SPEC: writes SPEC to repos/add; prints the new repository's id.
add() {
	local before after
	before=$(ls "$MNT/@robot/repos")
	echo "$1" >"$MNT/@robot/repos/add" || fail "repos/add refused"
	after=$(ls "$MNT/@robot/repos")
	comm -13 <(printf '%s\n' "$before") <(printf '%s\n' "$after") | head -n 1
}

# authorized: how many requests the git server let through.
authorized() { grep -c '^200 zr ' "$GLOG"; }

# ---------------------------------------------------------------------------------------------
# 1. The password in the URL: the clone authenticates, the URL is shown masked everywhere.
zr_start_http
: >"$GLOG"
ID=$(add "http://zr:$PW@127.0.0.1:$GPORT/tpl.git")
[ -n "$ID" ] || fail "no repository listed after repos/add"
st=$(repo_wait "$ID")
expect_in "$st" "state ready" "clone with the password in the URL"
[ "$(authorized)" -gt 0 ] || fail "the git server saw no authorized request: $(cat "$GLOG")"
[ -d "$MNT/hello" ] || fail "template hello not loaded from the private repository"
expect_eq "$(rcat "$MNT/@robot/repos/$ID/url")" "http://zr:***@127.0.0.1:$GPORT/tpl.git" \
	"repos/$ID/url"
http "$ADMIN" GET "/v1/@robot/repos/$ID/url"
expect_eq "$HB" "http://zr:***@127.0.0.1:$GPORT/tpl.git" "GET repos/$ID/url"
grep -qF "zr:***@127.0.0.1:$GPORT" "$TMP/robot.log" || fail "the clone's log line has no masked URL"
echo fetch >"$MNT/@robot/repos/$ID/ctl" || fail "fetch refused"
expect_in "$(repo_wait "$ID")" "state ready" "fetch with the password in the URL"
# The CLI follows the same repository by the same id, and prints its status masked.
out=$(timeout 60 "$ZROBOT" repo add "http://zr:$PW@127.0.0.1:$GPORT/tpl.git#refs/heads/main" \
	--mount "$MNT" 2>&1) ||
	fail "zrobot repo add with the password in the URL: $out"
expect_in "$out" "state ready" "zrobot repo add"
no_secret "zrobot repo add's output" "$out"
no_secret_anywhere
ok "password in the URL: clone, fetch and the CLI authenticate; url shows zr:***@;" \
	"no secret in the tree, logs or HTTP"

# 2. Attacks that must be refused and change nothing.
templates_before=$(ls "$MNT")
repos_before=$(ls "$DATA/repos")
# A wrong password: the server refuses it; the status says so without quoting it.
BAD=$(add "http://zr:$WRONG@127.0.0.1:$GPORT/tpl.git#main")
st=$(repo_wait "$BAD")
expect_in "$st" "state failed" "clone with a wrong password"
expect_in "$(rcat "$MNT/@robot/repos/$BAD/url")" "zr:***@" "url of the refused repository"
# The same repository with another password is the same repository: refused (EEXIST), the
# stored URL unchanged.
expect_errno "echo 'http://zr:$WRONG@127.0.0.1:$GPORT/tpl.git' >'$MNT/@robot/repos/add'" "File exists"
expect_in "$(rcat "$MNT/@robot/repos/$ID/status")" "state ready" "the repository after the EEXIST"
# No password at all: the server's 401 ends the clone, the robot does not hang or guess.
NONE=$(add "$REPO#v-none")
st=$(repo_wait "$NONE")
expect_in "$st" "state failed" "clone without credentials"
grep -q "^401 " "$GLOG" || fail "the git server refused nothing: $(cat "$GLOG")"
# A token as the user name (GitHub style) is masked whole.
TOKU=$(add "http://$RTOK@127.0.0.1:$GPORT/tpl.git#v-tok")
st=$(repo_wait "$TOKU")
expect_in "$st" "state failed" "clone with a wrong token as user"
expect_eq "$(rcat "$MNT/@robot/repos/$TOKU/url")" "http://***@127.0.0.1:$GPORT/tpl.git" \
	"url with a token as user"
# A malformed spec quoting a password is refused without echoing it.
expect_errno "echo 'http://zr:$WRONG@127.0.0.1:$GPORT/tpl.git#bad ref' >'$MNT/@robot/repos/add'" \
	"Invalid argument"
no_secret "the refusal's error text" "$(cat "$TMP/expect.err")"
# The same over HTTP: the error's detail does not quote the password either.
http "$ADMIN" PUT /v1/@robot/repos/add --data-binary "http://zr:$WRONG@127.0.0.1:$GPORT/tpl.git#a..b"
expect_eq "$HS" 400 "PUT repos/add with a bad ref"
no_secret "PUT repos/add's answer" "$HB"
expect_eq "$(ls "$MNT")" "$templates_before" "templates after the refused clones"
expect_eq "$(ls "$DATA/repos")" "$repos_before" "clones on disk after the refused clones"
no_secret_anywhere
ok "wrong password, the same repository again, no password, a wrong token, a bad spec:" \
	"refused, nothing loaded or left on disk, nothing shown"

# 3. A restart fetches with the stored URL: the real URL still works.
zr_stop
zr_start_http
expect_in "$(rcat "$MNT/@robot/repos/$ID/status")" "state ready" "repository after restart"
n=$(authorized)
echo fetch >"$MNT/@robot/repos/$ID/ctl" || fail "fetch after restart refused"
expect_in "$(repo_wait "$ID")" "state ready" "fetch after restart"
[ "$(authorized)" -gt "$n" ] || fail "the fetch after restart did not authenticate"
no_secret_anywhere
ok "after a restart the stored URL still authenticates; still nothing shown"

# 4. A remote robot whose URL holds a password: masked in its url file, its status and the
# log; a plain-http remote beyond loopback is warned about, a loopback one is not.
echo "loop http://ops:$RPW@127.0.0.1:1" >"$MNT/@robot/remotes/add" || fail "remotes/add loop"
echo "far http://ops:$RPW@192.0.2.1:9" >"$MNT/@robot/remotes/add" || fail "remotes/add far"
expect_eq "$(rcat "$MNT/@robot/remotes/loop/url")" "http://ops:***@127.0.0.1:1" "remotes/loop/url"
expect_eq "$(rcat "$MNT/@robot/remotes/far/url")" "http://ops:***@192.0.2.1:9" "remotes/far/url"
http "$ADMIN" GET /v1/@robot/remotes/far/url
expect_eq "$HB" "http://ops:***@192.0.2.1:9" "GET remotes/far/url"
wait_for "grep -q 'Remote far: plain http beyond loopback' '$TMP/robot.log'" 5 ||
	fail "no warning for a plain-http remote beyond loopback"
! grep -q 'Remote loop: plain http beyond loopback' "$TMP/robot.log" ||
	fail "a loopback remote was warned about"
for r in loop far; do
	http "$ADMIN" GET "/v1/@robot/remotes/$r/status"
	no_secret "GET remotes/$r/status" "$HB"
	no_secret "remotes/$r/status" "$(rcat "$MNT/@robot/remotes/$r/status")"
done
no_secret_anywhere
echo "remove loop" >"$MNT/@robot/remotes/ctl"
echo "remove far" >"$MNT/@robot/remotes/ctl"
ok "remote URLs with a password: masked in url, status, log and HTTP; plain http beyond loopback warned"
zr_stop
# The store keeps the URLs as given (a restart must fetch): say so, and check nothing else on
# disk but zrobot.db holds the password.
hits=$(grep -rlF -- "$PW" "$DATA" | grep -v '/zrobot\.db' || true)
[ -z "$hits" ] || fail "the password is on disk outside the store: $hits"

# ---------------------------------------------------------------------------------------------
# 5. A credential file (--git-credentials, git-credential-store format), on a fresh data dir:
# the password then reaches nothing on disk.
DATA=$TMP/data2
mkdir -p "$DATA"
CRED=$TMP/git-credentials
printf '# private templates\nhttps://zr:nope@elsewhere.example\nhttp://zr:%s@127.0.0.1:%s\n' \
	"$PW" "$GPORT" >"$CRED"
chmod 644 "$CRED"
# Readable by others: the robot refuses to start.
zr_launch --mount "$MNT" --data "$DATA" --listen none --git-credentials "$CRED"
zr_reap "$ZR_PID" 15 || fail "the robot kept running with a credential file open to others"
expect_eq "$ZR_STATUS" 1 "exit status with a credential file open to others"
grep -q "git-credentials: credential file $CRED is open to other users (mode 0644)" "$TMP/robot.log" ||
	fail "no log line saying the credential file is open to others"
! mounted || fail "mounted although the credential file was refused"
chmod 600 "$CRED"
zr_start_http --git-credentials "$CRED"
n=$(authorized)
ID=$(add "$REPO")
expect_in "$(repo_wait "$ID")" "state ready" "clone with the credential file"
[ "$(authorized)" -gt "$n" ] || fail "the clone with the credential file did not authenticate"
[ -d "$MNT/hello" ] || fail "template hello not loaded with the credential file"
expect_eq "$(rcat "$MNT/@robot/repos/$ID/url")" "$REPO" "url of a repository with a credential file"
no_secret_anywhere
ok "credential file: refused at start while open to others (exit 1); with mode 0600 the clone authenticates"

# The file turned readable by others: the next fetch is refused (EACCES in its status) and the
# repository keeps its commit and templates.
commit=$(rcat "$MNT/@robot/repos/$ID/commit")
chmod 640 "$CRED"
n=$(authorized)
echo fetch >"$MNT/@robot/repos/$ID/ctl" || fail "fetch refused"
st=$(repo_wait "$ID")
expect_in "$st" "state failed" "fetch with a credential file open to others"
expect_in "$st" "open to other users" "fetch with a credential file open to others"
expect_eq "$(rcat "$MNT/@robot/repos/$ID/commit")" "$commit" "commit after the refused fetch"
expect_eq "$(authorized)" "$n" "authorized requests with a credential file open to others"
[ -d "$MNT/hello" ] || fail "template hello gone after the refused fetch"
chmod 600 "$CRED"
echo fetch >"$MNT/@robot/repos/$ID/ctl" || fail "fetch refused"
expect_in "$(repo_wait "$ID")" "state ready" "fetch after chmod 600"
no_secret_anywhere
zr_stop
hits=$(grep -rlF -- "$PW" "$DATA" || true)
[ -z "$hits" ] || fail "the password of the credential file is on disk: $hits"
ok "credential file open to others at fetch: refused, commit and templates kept;" \
	"nothing of the password on disk"

echo "$N_OK passed"
