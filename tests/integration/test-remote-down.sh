#!/bin/bash
# A remote robot that is slow, down or refuses our token: robot A runs with remotes b and c and
# --remote-timeout 2. B stopped (SIGSTOP): ETIMEDOUT after about 2 s while A's own tree and c
# answer. B killed: ENOTCONN within 3 s, A's local tree and c keep working, status says down
# with the error. B restarted on the same port: @remote/b works again without restarting A.
# A remote added with a wrong token: EACCES.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-http.sh"
. "$(dirname "$0")/lib-remote.sh"

zr_peer_start b
zr_peer_start c
timeout 10 mkdir "$B_MNT/node/local" "$C_MNT/node/cl" || fail "mkdir on B and C"
echo '{"cmd":"echo on b"}' >"$B_MNT/node/local/actions/exec" || fail "exec on B"
expect_eq "$(timeout 20 cat "$B_MNT/node/local/results/exec")" "on b" "exec on B"

zr_start_http --remote "b=$B_URL,token-file=$B_DATA/admin.token" \
	--remote "c=$C_URL,token-file=$C_DATA/admin.token" --remote-timeout 2
R=$MNT/@remote/b

# local_works TAG: A's own tree answers: mkdir a node service, run an action, cat its result.
local_works() {
	local s t0
	t0=$(now)
	s=$(svc node "$1")
	echo "{\"cmd\":\"echo local $1\"}" >"$s/actions/exec" || fail "exec on A's own node/$1"
	expect_eq "$(timeout 20 cat "$s/results/exec")" "local $1" "result on A's own tree"
	fgt 5 "$(since "$t0")" || fail "A's own tree took $(since "$t0") s for mkdir + exec + result"
}

# c_works: the other remote answers.
c_works() {
	expect_eq "$(timeout 10 ls "$MNT/@remote/c/node")" "cl" "ls @remote/c/node"
}

expect_eq "$(timeout 10 ls "$R/node")" "local" "ls @remote/b/node while B is up"
wait_for "[ \"\$(timeout 5 head -n 1 '$MNT/@robot/remotes/b/status')\" = 'state up' ]" 10 ||
	fail "remotes/b/status not up: $(remote_status b)"
c_works
ok "A reaches b and c"

# ---- B slow (stopped): ETIMEDOUT after --remote-timeout ----
kill -STOP "$B_PID" || fail "kill -STOP B"
t0=$(now)
expect_errno "cat '$R/node/local/state'" "Connection timed out"
dt=$(since "$t0")
fge "$dt" 1.5 || fail "ETIMEDOUT after $dt s, before --remote-timeout 2"
fgt 6 "$dt" || fail "ETIMEDOUT only after $dt s with --remote-timeout 2"
wait_for "timeout 5 grep -q '^last_error ETIMEDOUT' '$MNT/@robot/remotes/b/status'" 5 ||
	fail "remotes/b/status does not name ETIMEDOUT while B is stopped: $(remote_status b)"
# While a read of B waits, A's own tree and the other remote answer at once.
timeout 20 cat "$R/node/local/info" >/dev/null 2>&1 &
waiting=$!
sleep 0.3
t1=$(now)
rcat "$MNT/@robot/info" >/dev/null
c_works
fgt 1 "$(since "$t1")" || fail "A took $(since "$t1") s for its own tree and c while B was stopped"
wait "$waiting" && fail "a read of stopped B succeeded"
local_works s1
kill -CONT "$B_PID" || fail "kill -CONT B"
wait_for "timeout 5 ls '$R/node' | grep -qx local" 10 || fail "@remote/b not back 10 s after SIGCONT"
expect_eq "$(rcat "$R/node/local/state")" "$(rcat "$B_MNT/node/local/state")" "state after SIGCONT"
ok "B stopped: ETIMEDOUT after $dt s; A's own tree and c unaffected; back after SIGCONT"

# ---- B killed: ENOTCONN within 3 s ----
port=$B_PORT
zr_peer_kill b
t0=$(now)
# Listings may be served from A's cache for up to 1 s: poll until ls fails.
while timeout 10 ls "$R/node" >/dev/null 2>"$TMP/ls.err"; do
	fgt "$(since "$t0")" 3 && fail "ls @remote/b/node still succeeds $(since "$t0") s after B was killed"
	sleep 0.1
done
dt=$(since "$t0")
grep -qF "Transport endpoint is not connected" "$TMP/ls.err" ||
	fail "ls @remote/b/node with B down: $(cat "$TMP/ls.err")"
fgt 3 "$dt" || fail "ls @remote/b/node failed only after $dt s"
t1=$(now)
expect_errno "cat '$R/@robot/info'" "Transport endpoint is not connected"
expect_errno "cat '$R/node/local/state'" "Transport endpoint is not connected"
expect_errno "ls '$R/'" "Transport endpoint is not connected"
fgt 3 "$(since "$t1")" || fail "three ENOTCONN took $(since "$t1") s"
ok "B killed: ENOTCONN for ls and cat under @remote/b (ls failed $dt s after the kill)"

local_works s2
c_works
expect_eq "$(ls "$MNT/@remote" | tr '\n' ' ')" "b c " "ls @remote with B down"
ok "A's own tree and remote c keep working with B down"

wait_for "[ \"\$(timeout 5 head -n 1 '$MNT/@robot/remotes/b/status')\" = 'state down' ]" 5 ||
	fail "remotes/b/status not down 5 s after B was killed: $(remote_status b)"
st=$(remote_status b)
expect_match "$st" '^last_error ENOTCONN' "status last_error with B down"
expect_match "$st" '^checked [0-9]{4}-[0-9]{2}-[0-9]{2}T' "status checked"
expect_eq "$(rcat "$MNT/@robot/remotes/b/url")" "$B_URL" "remotes/b/url with B down"
ok "remotes/b/status: $(echo "$st" | tr '\n' ' ')"

# ---- B back on the same port: works again without restarting A ----
zr_peer_restart b
expect_eq "$B_PORT" "$port" "B's port after its restart"
t0=$(now)
wait_for "timeout 5 ls '$R/node' | grep -qx local" 15 || fail "@remote/b/node not back 15 s after B restarted"
dt=$(since "$t0")
expect_eq "$(rcat "$R/node/local/state")" "$(rcat "$B_MNT/node/local/state")" "state after B's restart"
echo '{"cmd":"echo back"}' >"$R/node/local/actions/exec" || fail "exec through @remote after B's restart"
expect_eq "$(timeout 20 cat "$R/node/local/results/exec")" "back" "result after B's restart"
wait_for "[ \"\$(timeout 5 head -n 1 '$MNT/@robot/remotes/b/status')\" = 'state up' ]" 10 ||
	fail "remotes/b/status not up 10 s after B came back: $(remote_status b)"
ok "B restarted: @remote/b works again after $dt s, status up"

# ---- a wrong token: EACCES ----
bad_token "$TMP/bad.token"
echo "bad $B_URL $TMP/bad.token" >"$MNT/@robot/remotes/add" || fail "add a remote with a wrong token"
expect_errno "ls '$MNT/@remote/bad/'" "Permission denied"
expect_errno "cat '$MNT/@remote/bad/@robot/info'" "Permission denied"
wait_for "timeout 5 grep -q '^last_error EACCES' '$MNT/@robot/remotes/bad/status'" 5 ||
	fail "remotes/bad/status does not name EACCES: $(remote_status bad)"
expect_eq "$(timeout 10 ls "$R/node")" "local" "@remote/b next to a refused remote"
ok "a wrong token: EACCES under @remote/bad, status names EACCES"

zr_stop
zr_peer_stop b
zr_peer_stop c
