#!/bin/bash
# Remote robots: robot A shows robot B's whole tree under @remote/b/ over HTTP. Listings and
# attributes, reads (never stale), mkdir/rmdir, action writes and blocking result reads (also on
# the handle written; a failed task's text then EIO), data writes (EINVAL at close), a change
# made on B seen on A within 1 s, @robot/remotes/add and ctl at run time (kept across a restart
# of A), refused lines, and a remote result read interrupted by a signal while the task goes on.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-http.sh"
. "$(dirname "$0")/lib-remote.sh"

# B: the built-in node template and kv, a template with a data schema.
zr_peer_init b
mk_template "$B_TPL" kv '{"name": "kv", "version": "1.0.0",
  "data": {"greeting": {"type": "string", "default": "hello"},
           "count": {"type": "integer", "default": 1, "minimum": 0}},
  "actions": {"noop": {}}}'
mk_action "$B_TPL/kv" noop 'echo noop'
zr_peer_start b
timeout 10 mkdir "$B_MNT/node/local" || fail "mkdir node/local on B"
echo '{"cmd":"echo on b"}' >"$B_MNT/node/local/actions/exec" || fail "exec on B"
expect_eq "$(timeout 20 cat "$B_MNT/node/local/results/exec")" "on b" "exec on B's own mount"

zr_start_http --remote "b=$B_URL,token-file=$B_DATA/admin.token"
R=$MNT/@remote/b

# ---- listings and reads ----
expect_eq "$(ls "$MNT/@remote")" "b" "ls @remote"
root=$(timeout 10 ls "$R/") || fail "ls $R/"
expect_in "$root" "@robot" "ls @remote/b/"
expect_in "$root" "node" "ls @remote/b/"
expect_in "$root" "kv" "ls @remote/b/"
expect_eq "$(printf '%s\n' "$root" | grep -vx '@remote')" "$(ls "$B_MNT" | grep -vx '@remote')" \
	"ls @remote/b/ against ls on B's mount"
expect_eq "$(timeout 10 ls "$R/node")" "$(ls "$B_MNT/node")" "ls @remote/b/node"
expect_eq "$(timeout 10 ls "$R/node")" "local" "B's services"
expect_eq "$(timeout 10 ls "$R/node/local")" "$(ls "$B_MNT/node/local")" "ls of a remote service"
expect_eq "$(jsonstr "$(rcat "$R/@robot/info")" 'j["listen"]')" "$B_URL" \
	"@remote/b/@robot/info is B's"
expect_eq "$(rcat "$R/node/local/state")" "$(rcat "$B_MNT/node/local/state")" "remote state file"
expect_in "$(rcat "$R/node/local/state")" "actions exec ok" "remote state file"
for f in state data info actions/exec results/exec tasks; do
	expect_eq "$(stat -c '%F %a' "$R/node/local/$f")" "$(stat -c '%F %a' "$B_MNT/node/local/$f")" \
		"kind and mode of @remote/b/node/local/$f"
done
expect_errno "cat '$R/node/nope/state'" "No such file or directory"
expect_errno "ls '$MNT/@remote/nope'" "No such file or directory"
ok "@remote/b/ lists B's templates, @robot and services; files read like on B's own mount"

# ---- mkdir and rmdir through @remote ----
timeout 10 mkdir "$R/node/r1" || fail "mkdir @remote/b/node/r1"
[ -d "$B_MNT/node/r1" ] || fail "node/r1 made through @remote is not on B"
wait_for "timeout 5 ls '$R/node' | grep -qx r1" 1 || fail "r1 not in ls @remote/b/node after 1 s"
expect_errno "mkdir '$R/node/r1'" "File exists"
expect_errno "mkdir '$R/node/Bad'" "Invalid argument"
timeout 10 rmdir "$R/node/r1" || fail "rmdir @remote/b/node/r1"
[ ! -e "$B_MNT/node/r1" ] || fail "node/r1 removed through @remote is still on B"
wait_for "! timeout 5 ls '$R/node' | grep -qx r1" 1 || fail "r1 still in ls @remote/b/node after 1 s"
expect_errno "rmdir '$R/node/r1'" "No such file or directory"
ok "mkdir and rmdir through @remote create and delete services on B (EEXIST, EINVAL, ENOENT)"

# ---- actions and results ----
echo '{"cmd":"echo hi"}' >"$R/node/local/actions/exec" || fail "write to @remote/b/node/local/actions/exec"
expect_eq "$(timeout 20 cat "$R/node/local/results/exec")" "hi" "remote result"
id=$(last_task "$B_MNT/node/local")
expect_eq "$(task_state "$B_MNT/node/local" "$id")" ok "the task on B"
expect_in "$(rcat "$B_MNT/node/local/tasks/$id/args")" "echo hi" "the task's args on B"
expect_eq "$(rcat "$R/node/local/tasks/$id/state")" ok "tasks/<id>/state through @remote"
echo '{"cmd":"sleep 2; echo slow"}' >"$R/node/local/actions/exec" || fail "queue a slow task"
t0=$(now)
expect_eq "$(timeout 20 cat "$R/node/local/results/exec")" "slow" "blocking remote result"
dt=$(since "$t0")
fge "$dt" 1.0 || fail "the remote result read returned after $dt s, before the task ended"
ok "action write and blocking result read through @remote ($dt s for a 2 s task)"

# A failed task: the reader gets the error text, then EIO, as on B's own mount.
echo '{"cmd":"echo partial; echo boom >&2; exit 3"}' >"$R/node/local/actions/exec" || fail "queue a failing task"
expect_errno "cat '$R/node/local/results/exec'" "Input/output error"
expect_in "$(cat "$TMP/expect.out")" "exit status 3" "text of a failed remote result"
expect_errno "cat '$B_MNT/node/local/results/exec'" "Input/output error"
ok "a failed task's remote result: its error text, then EIO"

# The handle written gets its own task's result even when a newer one is queued behind it.
before=$(last_task "$B_MNT/node/local")
zrtool write-read "$R/node/local/actions/exec" '{"cmd":"sleep 1; echo first"}' >"$TMP/wr.out" 2>&1 &
wr=$!
wait_for "[ \"\$(last_task '$B_MNT/node/local')\" != '$before' ]" 10 ||
	fail "the write-read task never reached B"
echo '{"cmd":"echo second"}' >"$R/node/local/actions/exec" || fail "queue a second task"
wait "$wr" || fail "zrtool write-read through @remote: $(cat "$TMP/wr.out")"
expect_eq "$(cat "$TMP/wr.out")" "first" "write-read on one remote handle"
expect_eq "$(timeout 20 cat "$R/node/local/results/exec")" "second" "results/exec: the newest task"
out=$(zrtool write-read "$R/node/local/actions/exec" '{"cmd":"echo mine"}') || fail "write-read: $out"
expect_eq "$out" "mine" "write-read on an idle service"
expect_errno "echo nonsense >'$R/node/local/actions/exec'" "Invalid argument"
ok "write then read on one remote handle gives that task's result; bad payload EINVAL"

# ---- a change on B shows on A within 1 s ----
# change_on_b OP: OP (mkdir or rmdir) node/fromb on B's own mount, after A listed @remote/b/node;
# prints how long A took to show the change in its listing, and fails past 1 s.
change_on_b() {
	local seen="timeout 5 ls '$R/node' | grep -qx fromb" t0 dt
	[ "$1" = rmdir ] && seen="! $seen"
	timeout 10 ls "$R/node" >/dev/null || fail "ls @remote/b/node"
	timeout 10 "$1" "$B_MNT/node/fromb" || fail "$1 on B's own mount"
	t0=$(now)
	wait_for "$seen" 5 || fail "$1 node/fromb on B not seen on A after 5 s"
	dt=$(since "$t0")
	fgt "$dt" 1.0 && fail "$1 node/fromb on B took $dt s to show in ls @remote/b/node (> 1 s)"
	echo "$dt"
}
dt=$(change_on_b mkdir)
dt2=$(change_on_b rmdir)
ok "a change on B shows in ls on A within 1 s (mkdir $dt s, rmdir $dt2 s)"

# ---- data ----
timeout 10 mkdir "$R/kv/k1" || fail "mkdir @remote/b/kv/k1"
expect_eq "$(jsonstr "$(rcat "$R/kv/k1/data")" 'j')" '{"count": 1, "greeting": "hello"}' "default data"
echo '{"greeting": "hey", "count": 3}' >"$R/kv/k1/data" || fail "write data through @remote"
expect_eq "$(jsonstr "$(rcat "$R/kv/k1/data")" 'j')" '{"count": 3, "greeting": "hey"}' "data read back"
expect_eq "$(jsonstr "$(rcat "$B_MNT/kv/k1/data")" 'j')" '{"count": 3, "greeting": "hey"}' "data on B"
out=$(zrtool data-chunks "$R/kv/k1/data" '{"count": ' '-1}') && fail "invalid data in pieces accepted: $out"
expect_eq "$out" "close EINVAL" "invalid data written in pieces"
out=$(zrtool write "$R/kv/k1/data" '{"count": -2}' 2>&1) && fail "invalid data accepted: $out"
expect_match "$out" '^EINVAL \((write|close):' "invalid data in one write"
expect_eq "$(jsonstr "$(rcat "$R/kv/k1/data")" 'j')" '{"count": 3, "greeting": "hey"}' "data after refusals"
out=$(zrtool data-chunks "$R/kv/k1/data" '{"greeting": ' '"chunked"}') || fail "data in pieces: $out"
expect_eq "$out" "close ok" "valid data written in pieces"
expect_eq "$(jsonstr "$(rcat "$R/kv/k1/data")" 'j')" '{"count": 1, "greeting": "chunked"}' \
	"data written in pieces, with defaults"
# Reads are never stale: a change made on B's own mount shows in the next read through A.
echo '{"greeting": "from b"}' >"$B_MNT/kv/k1/data" || fail "write data on B's own mount"
expect_eq "$(jsonstr "$(rcat "$R/kv/k1/data")" 'j["greeting"]')" "from b" "data read right after B changed it"
rcat "$R/node/local/state" >/dev/null
echo '{"cmd":"exit 3"}' >"$B_MNT/node/local/actions/exec" || fail "exec on B's own mount"
timeout 20 cat "$B_MNT/node/local/results/exec" >/dev/null 2>&1
expect_in "$(rcat "$R/node/local/state")" "actions exec error" "state read right after a task ended on B"
ok "data through @remote: written, read back fresh, invalid refused (EINVAL at close), never stale"

# ---- @robot/remotes at run time ----
expect_eq "$(rcat "$MNT/@robot/remotes/b/url")" "$B_URL" "remotes/b/url"
ls "$MNT/@robot/remotes" >"$TMP/remotes.ls" || fail "ls @robot/remotes"
expect_eq "$(grep -xE 'add|ctl|b' "$TMP/remotes.ls" | sort | tr '\n' ' ')" "add b ctl " "ls @robot/remotes"
echo "b2 $B_URL $B_DATA/admin.token" >"$MNT/@robot/remotes/add" || fail "add remote b2"
expect_eq "$(ls "$MNT/@remote" | tr '\n' ' ')" "b b2 " "ls @remote after add"
expect_eq "$(rcat "$MNT/@robot/remotes/b2/url")" "$B_URL" "remotes/b2/url"
wait_for "[ \"\$(timeout 5 head -n 1 '$MNT/@robot/remotes/b2/status')\" = 'state up' ]" 10 ||
	fail "remotes/b2/status not up after 10 s: $(remote_status b2)"
st=$(remote_status b2)
expect_eq "$(printf '%s\n' "$st" | head -n 1)" "state up" "status first line"
expect_match "$st" '^latency_ms (-|[0-9]+(\.[0-9]+)?)$' "status latency_ms (- until a request was timed)"
expect_match "$st" '^last_error -$' "status last_error"
expect_match "$st" '^checked [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$' "status checked"
expect_eq "$(timeout 10 ls "$MNT/@remote/b2/node")" "$(ls "$B_MNT/node")" "ls @remote/b2/node"
expect_match "$(remote_status b2)" '^latency_ms [0-9]+\.[0-9]+$' "status latency_ms once a request was timed"
ok "remotes/add: b2 shows in @remote with its url and status ($(echo "$st" | tr '\n' ' '))"

expect_errno "echo 'b2 $B_URL $B_DATA/admin.token' >'$MNT/@robot/remotes/add'" "File exists"
expect_errno "echo 'b $B_URL $B_DATA/admin.token' >'$MNT/@robot/remotes/add'" "File exists"
expect_errno "echo 'b3' >'$MNT/@robot/remotes/add'" "Invalid argument"
expect_errno "echo 'B@D $B_URL' >'$MNT/@robot/remotes/add'" "Invalid argument"
expect_errno "echo 'b3 not-a-url' >'$MNT/@robot/remotes/add'" "Invalid argument"
expect_errno "echo 'b3 $B_URL $TMP/no-such-token' >'$MNT/@robot/remotes/add'" "Invalid argument"
expect_errno "echo 'remove nope' >'$MNT/@robot/remotes/ctl'" "No such file or directory"
expect_errno "echo 'frobnicate b2' >'$MNT/@robot/remotes/ctl'" "Invalid argument"
expect_errno "echo 'remove' >'$MNT/@robot/remotes/ctl'" "Invalid argument"
expect_eq "$(ls "$MNT/@remote" | tr '\n' ' ')" "b b2 " "ls @remote after the refused lines"
ok "remotes/add and ctl refuse: EEXIST, a bad line, name, URL or token file (EINVAL), unknown (ENOENT)"

# A remote added at run time is kept across a restart of A.
zr_stop
zr_start_http --remote "b=$B_URL,token-file=$B_DATA/admin.token"
expect_eq "$(ls "$MNT/@remote" | tr '\n' ' ')" "b b2 " "ls @remote after A's restart"
expect_eq "$(rcat "$MNT/@robot/remotes/b2/url")" "$B_URL" "remotes/b2/url after A's restart"
wait_for "timeout 5 ls '$MNT/@remote/b2/node' | grep -qx local" 10 ||
	fail "@remote/b2/node not listed 10 s after A's restart"
ok "a remote added at run time is kept across a restart"

echo "remove b2" >"$MNT/@robot/remotes/ctl" || fail "remove b2"
expect_eq "$(ls "$MNT/@remote")" "b" "ls @remote after remove"
[ ! -e "$MNT/@robot/remotes/b2" ] || fail "@robot/remotes/b2 still there after remove"
expect_errno "ls '$MNT/@remote/b2/'" "No such file or directory"
expect_eq "$(timeout 10 ls "$R/node")" "$(ls "$B_MNT/node")" "@remote/b still works after b2 left"
zr_stop
zr_start_http --remote "b=$B_URL,token-file=$B_DATA/admin.token"
expect_eq "$(ls "$MNT/@remote")" "b" "ls @remote after remove and a restart"
ok "remove b2: gone from @remote and @robot/remotes, also after a restart; b unaffected"

# ---- an interrupted remote read: EINTR at once, the task goes on on B ----
timeout 10 mkdir "$R/node/sl" || fail "mkdir @remote/b/node/sl"
echo '{"cmd":"sleep 30"}' >"$R/node/sl/actions/exec" || fail "queue sleep 30"
id=$(last_task "$B_MNT/node/sl")
wait_state "$B_MNT/node/sl" "$id" running 10
out=$(zrtool interrupt "$R/node/sl/results/exec" 1) || fail "zrtool interrupt through @remote: $out"
expect_eq "$(task_state "$B_MNT/node/sl" "$id")" running "the task on B after its remote reader was interrupted"
t0=$(now)
rcat "$MNT/@robot/info" >/dev/null
expect_eq "$(rcat "$R/node/local/state")" "$(rcat "$B_MNT/node/local/state")" "@remote/b after the interrupt"
fgt 2 "$(since "$t0")" || fail "A was slow right after an interrupted remote read: $(since "$t0") s"
# Nothing is left waiting on B for the reader that went away (A may finish its current poll).
wait_for "[ \"\$(metric_of '$B_MNT' zrobot_parked_reads)\" = 0 ]" 12 ||
	fail "B still holds $(metric_of "$B_MNT" zrobot_parked_reads) parked reads 12 s after the interrupt"
expect_eq "$(task_state "$B_MNT/node/sl" "$id")" running "the task on B"
echo cancel >"$B_MNT/node/sl/tasks/$id/cancel" || fail "cancel the sleep"
wait_state "$B_MNT/node/sl" "$id" cancelled 10
expect_errno "cat '$R/node/sl/tasks/$id/result'" "Operation canceled"
ok "interrupted remote read: $out; the task went on on B"

# ---- poll(2), grep -r, and the HTTP API ----
tq=$(now) # before queueing: the task cannot end sooner than 1.5 s after this
echo '{"cmd":"sleep 1.5; echo polled"}' >"$R/node/local/actions/exec" || fail "queue a task to poll"
out=$(timeout 20 "$ZR_PY" "$ZR_SRC/tests/integration/zrtool.py" poll "$R/node/local/results/exec" 15) ||
	fail "poll of a remote result: $out"
at=$(printf '%s\n' "$out" | head -n 1 | awk '$1 == "ready" {print $3}')
expect_eq "$(printf '%s\n' "$out" | tail -n 1)" "polled" "the result after poll"
[ -n "$at" ] && fge "$(fsub "$at" "$tq")" 1.4 ||
	fail "poll of a remote result: '$out', $(fsub "${at:-0}" "$tq") s after queueing (ready before the task ended?)"
# As on B's own mount: write-only files (ctl, cancel) read empty; a failed task's result ends
# with its errno there too.
mine=$(cd "$R/node" && timeout 20 grep -r zzz-nowhere local 2>&1 | sort)
theirs=$(cd "$B_MNT/node" && timeout 20 grep -r zzz-nowhere local 2>&1 | sort)
expect_eq "$mine" "$theirs" "grep -r over a remote service, next to B's own mount"
expect_not_in "$mine" "Permission denied" "grep -r over a remote service"
ok "poll() on a remote result waits for the task ($dt s); grep -r stays quiet"

# tail -f of a remote log follows it, asking only for the new lines.
timeout 15 tail -n 0 -f "$R/node/local/log" >"$TMP/tail.out" 2>&1 &
tpid=$!
sleep 1.5
echo '{"cmd":"echo tailed-line >&2"}' >"$B_MNT/node/local/actions/exec" || fail "queue a task that logs"
wait_for "grep -q tailed-line '$TMP/tail.out'" 8 || fail "tail -f of the remote log did not show the new line: $(cat "$TMP/tail.out")"
kill "$tpid" 2>/dev/null
wait "$tpid" 2>/dev/null
ok "tail -f follows a remote log"

http "$ADMIN" GET /v1/@remote
expect_eq "$HS" 200 "GET /v1/@remote"
expect_in "$HB" '"b"' "GET /v1/@remote lists b"
http "$ADMIN" GET /v1/@remote/b/node
expect_eq "$HS" 200 "GET /v1/@remote/b/node"
expect_eq "$(jbody '[e["name"] for e in j["entries"]]')" "$(ls "$B_MNT/node" | "$ZR_PY" -c 'import sys, json; print(json.dumps(sys.stdin.read().split()))')" \
	"GET /v1/@remote/b/node lists B's node services"
http "$ADMIN" POST /v1/@remote/b/node/local/actions/exec -H 'Content-Type: application/json' -d '{"cmd": "sleep 1; echo proxied"}'
expect_eq "$HS" 201 "POST an action through A's API"
loc=$(hdr Location)
expect_match "$loc" '^/v1/@remote/b/node/local/tasks/[0-9]+$' "Location, as seen from A"
http "$ADMIN" GET "$loc/result?wait=20"
expect_eq "$HS" 200 "long poll of the result through A's API"
expect_eq "$HB" "proxied" "the result through A's API"
expect_eq "$(hdr Zr-Task-State)" ok "Zr-Task-State through A's API"
http "$ADMIN" GET /v1/@remote/b/node/nope/state
expect_eq "$HS" 404 "a missing remote file through A's API"
http "$ADMIN" GET /v1/@remote/zz/node
expect_eq "$HS" 404 "an unknown remote through A's API"
http "$ADMIN" GET /v1/@remote/b/@robot/events -H 'Accept: text/event-stream'
expect_eq "$HS" 501 "an event stream through A's API"
http - GET /v1/@remote/b/node
expect_eq "$HS" 401 "no token"
# A client that goes away while its long poll is passed on: the poll there goes too.
echo '{"cmd":"sleep 30"}' >"$R/node/sl/actions/exec" || fail "queue sleep 30"
w0=$(metric_of "$B_MNT" zrobot_http_waiting)
timeout 1 curl -s -H "Authorization: Bearer $ADMIN" "$URL/v1/@remote/b/node/sl/results/exec?wait=30" >/dev/null
wait_for "[ \"\$(metric_of '$B_MNT' zrobot_http_waiting)\" -le '$w0' ]" 5 ||
	fail "B still holds the long poll of a client that left A ($(metric_of "$B_MNT" zrobot_http_waiting) waiting, $w0 before)"
ok "A's HTTP API passes /v1/@remote/b/... on to B (admin only, no event streams); a client leaving ends the poll on B"

zr_stop
zr_peer_stop b
