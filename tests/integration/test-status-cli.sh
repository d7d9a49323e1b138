#!/bin/bash
# The operator's commands (issue 15 item 2): zrobot ls, status, logs [-f], do and tasks, through
# the mount and over HTTP (--url --token-file): their output, --json, exit codes (do: 0 when the
# task is ok, 1 otherwise, the result alone on stdout), no colours off a terminal, --help.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-http.sh"

mk_t
mk_template "$TPL" p '{"name": "p", "version": "2.1.0", "actions": {"work": {}}}'
mk_action "$TPL/p" work 'echo "progress 1 2" >&3; sleep 1; echo "progress 2 2" >&3; echo done'
zr_start_http
printf '%s\n' "$ADMIN" >"$TMP/admin.token"
HTTPARGS=(--url "$URL" --token-file "$TMP/admin.token")

zr() { # zr ARGS...: zrobot, output in $TMP/zr.out/.err, status in $ZS
	ZS=0
	timeout -k 2 60 "$ZROBOT" "$@" >"$TMP/zr.out" 2>"$TMP/zr.err" || ZS=$?
	[ "$ZS" -ne 124 ] || fail "zrobot $* hung"
}

zr ls --mount "$MNT"
expect_eq "$ZS" 0 "ls of an empty robot ($(cat "$TMP/zr.err"))"
expect_eq "$(cat "$TMP/zr.out")" "" "ls of an empty robot"
svc t b >/dev/null
svc t a >/dev/null
svc p x >/dev/null
zr ls --mount "$MNT"
expect_eq "$(cat "$TMP/zr.out")" "$(printf 'p/x\nt/a\nt/b')" "ls: one t/s a line, sorted"
zr --mount "$MNT" ls --json
expect_eq "$(json "$TMP/zr.out" 'j')" '["p/x", "t/a", "t/b"]' "ls --json (--mount before the command)"
zr ls "${HTTPARGS[@]}"
expect_eq "$ZS" 0 "ls --url ($(cat "$TMP/zr.err"))"
expect_eq "$(cat "$TMP/zr.out")" "$(printf 'p/x\nt/a\nt/b')" "ls --url"
ok "zrobot ls, --json, --mount anywhere, --url"

zr do t/a echo --mount "$MNT" n=3 'msg=two words'"'"'s'
expect_eq "$ZS" 0 "do echo ($(cat "$TMP/zr.err"))"
expect_eq "$(cat "$TMP/zr.out")" "n=3 msg=two words's" "do: the result alone, quoting kept"
expect_eq "$(cat "$TMP/zr.err")" "" "do: nothing on stderr for an ok task"
zr do t/a fail --mount "$MNT"
expect_eq "$ZS" 1 "do of a failing task"
expect_in "$(cat "$TMP/zr.err")" "boom: failed on purpose" "do fail: the error on stderr"
expect_eq "$(cat "$TMP/zr.out")" "" "do fail: nothing on stdout"
zr do t/a echo nope=1 --mount "$MNT"
expect_eq "$ZS" 1 "do with a key the action does not name"
expect_in "$(cat "$TMP/zr.err")" "Invalid argument" "do with a wrong key"
expect_in "$(cat "$TMP/zr.err")" "nope" "do with a wrong key: lasterror names it"
zr do t/a echo notkv --mount "$MNT"
expect_eq "$ZS" 2 "do with a word that is not KEY=VALUE"
zr do t/a echo n=5 --json "${HTTPARGS[@]}"
expect_eq "$ZS" 0 "do --url ($(cat "$TMP/zr.err"))"
expect_eq "$(json "$TMP/zr.out" '[j["state"], j["result"], j["action"]]')" '["ok", "n=5 msg=\n", "echo"]' "do --url --json"
[ "$(json "$TMP/zr.out" 'j["task"]')" -gt 0 ] || fail "do --url --json: no task id"
zr do t/a fail "${HTTPARGS[@]}"
expect_eq "$ZS" 1 "do --url of a failing task"
expect_in "$(cat "$TMP/zr.err")" "boom: failed on purpose" "do --url fail: the error on stderr"
zr do p/x work --mount "$MNT"
expect_eq "$(cat "$TMP/zr.out")" "done" "do of an action without args"
ok "zrobot do: result on stdout, exit 0/1 by the task, errors on stderr, --json, --url"

# On a terminal (script(1) gives one), a progress bar on stderr from tasks/<id>/progress; the
# task reports 1 of 2 and then waits a second, five times the bar's polling interval.
if command -v script >/dev/null 2>&1; then
	for how in mount url; do
		if [ $how = mount ]; then args="--mount $MNT"; else args="--url $URL --token-file $TMP/admin.token"; fi
		timeout -k 2 60 script -qec "$ZROBOT do p/x work $args" "$TMP/tty.$how" >/dev/null ||
			fail "do on a terminal ($how): $(cat -v "$TMP/tty.$how")"
		expect_in "$(cat -v "$TMP/tty.$how")" "]  50%" "do on a terminal ($how): the progress bar"
		expect_in "$(cat "$TMP/tty.$how")" "done" "do on a terminal ($how): the result"
	done
	ok "zrobot do on a terminal: a progress bar (mount and --url)"
fi

zr tasks t/a --mount "$MNT"
expect_eq "$ZS" 0 "tasks ($(cat "$TMP/zr.err"))"
expect_match "$(head -n 1 "$TMP/zr.out")" '^ID +ACTION +STATE +CREATED +DURATION$' "tasks: header"
expect_eq "$(tail -n +2 "$TMP/zr.out" | awk '{print $2, $3}' | tr '\n' ,)" "echo ok,fail error,echo ok,fail error," "tasks: action and state of each (the refused write queued none)"
grep -q $'\033' "$TMP/zr.out" && fail "colours off a terminal"
zr tasks t/a --json "${HTTPARGS[@]}"
expect_eq "$(json "$TMP/zr.out" '[t["action"] for t in j]')" '["echo", "fail", "echo", "fail"]' "tasks --url --json"
expect_eq "$(json "$TMP/zr.out" 'all(t["duration"] >= 0 and t["created"] for t in j)')" "true" "tasks --json: durations and times"
zr tasks t/none --mount "$MNT"
expect_eq "$ZS" 1 "tasks of a service that does not exist"
ok "zrobot tasks: id, action, state, created, duration; --json; --url"

zr status --mount "$MNT"
expect_eq "$ZS" 0 "status ($(cat "$TMP/zr.err"))"
expect_match "$(grep '^t/a ' "$TMP/zr.out")" '^t/a +t@1\.0\.0 +- +fail +error +[0-9]+s$' "status: the row of t/a"
expect_match "$(grep '^p/x ' "$TMP/zr.out")" '^p/x +p@2\.1\.0 +- +work +ok ' "status: the row of p/x"
expect_match "$(grep '^t/b ' "$TMP/zr.out")" '^t/b +t@1\.0\.0 +- +- +- ' "status: a service without tasks"
zr status --json "${HTTPARGS[@]}"
expect_eq "$(json "$TMP/zr.out" '[(s["service"], s["version"], s["last_task"] and s["last_task"]["state"]) for s in j]')" \
	'[["p/x", "2.1.0", "ok"], ["t/a", "1.0.0", "error"], ["t/b", "1.0.0", null]]' "status --url --json"
zr status t/a --mount "$MNT"
expect_eq "$ZS" 0 "status t/a ($(cat "$TMP/zr.err"))"
expect_match "$(head -n 1 "$TMP/zr.out")" '^\* t/a - t@1\.0\.0$' "status t/a: first line"
expect_in "$(cat "$TMP/zr.out")" "actions fail error" "status t/a: its state"
expect_in "$(cat "$TMP/zr.out")" "boom: failed on purpose" "status t/a: the last log lines"
zr status t/a --json "${HTTPARGS[@]}"
expect_eq "$(json "$TMP/zr.out" '[j["info"]["template"], len(j["tasks"]), len(j["log"]) <= 10, any("boom: failed on purpose" in l for l in j["log"]), " fail: error" in j["log"][-1]]')" \
	'["t", 4, true, true, true]' "status t/a --url --json"
zr status t/none --mount "$MNT"
expect_eq "$ZS" 1 "status of a service that does not exist"
ok "zrobot status: the table, one service in full with its last log lines, --json, --url"

zr logs t/a --mount "$MNT"
expect_eq "$ZS" 0 "logs ($(cat "$TMP/zr.err"))"
expect_eq "$(cat "$TMP/zr.out")" "$(cat "$MNT/t/a/log")" "logs: the service's log"
zr logs t/a "${HTTPARGS[@]}"
expect_eq "$(cat "$TMP/zr.out")" "$(cat "$MNT/t/a/log")" "logs --url"
# t/b has no task yet: each task's end line can only come while following.
n=0
for how in mount url; do
	n=$((n + 1))
	if [ $how = mount ]; then args=(--mount "$MNT"); else args=("${HTTPARGS[@]}"); fi
	: >"$TMP/follow.$how"
	timeout -k 2 60 "$ZROBOT" logs -f t/b "${args[@]}" >"$TMP/follow.$how" 2>&1 &
	FPID=$!
	sleep 0.5
	printf 'msg=followed-%s\n' "$how" >"$MNT/t/b/actions/echo"
	wait_for "[ \$(grep -c ' echo: ok\$' '$TMP/follow.$how') -ge $n ]" 20 ||
		{ kill "$FPID"; fail "logs -f ($how) did not show the new task: $(cat "$TMP/follow.$how")"; }
	kill "$FPID"
	wait "$FPID" 2>/dev/null
done
ok "zrobot logs and logs -f (mount and --url) follow new lines"

for c in ls status logs do tasks; do
	zr "$c" --help
	expect_eq "$ZS" 0 "$c --help"
	expect_match "$(cat "$TMP/zr.out")" "^Usage: zrobot $c" "$c --help"
done
zr status --mount "$MNT" --url "$URL"
expect_eq "$ZS" 2 "--mount with --url"
ok "--help of each command; --mount with --url is a usage error"

zr_stop
