#!/bin/bash
# Attacks of a local user on a mount made with --allow-other --group-actions (issue 12, README
# "Security"), and of an action's fd-3 lines: every node's mode against README's table, what a
# local uid may not do (read the robot's log or data, mkdir, rmdir, ctl, upgrade, cancel,
# truncate, chmod, rename, links), an action that fakes the robot's own "actions" state
# lines, log injection (newlines and terminal escapes) through fd 3 and refused input, and a
# local user writing through @remote/ (the remote's group bits are not this robot's group's).
# Each attack is refused with its code and leaves nothing changed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-http.sh"
. "$(dirname "$0")/lib-remote.sh"

command -v setpriv >/dev/null 2>&1 || skip "setpriv is missing"
[ "$(id -u)" -eq 0 ] || skip "needs root (setpriv to another uid)"

# u: offered to users; "inject" is a careless action that passes what it gets to fd 3.
mk_template "$TPL" u '{"name": "u", "version": "1.0.0", "users": true,
  "data": {"note": {"type": "string", "default": "none"}},
  "actions": {"hello": {}, "run": {"admin": true},
              "inject": {"args": {"line": {"type": "string"}}}}}'
mk_action "$TPL/u" hello 'echo hi'
mk_action "$TPL/u" run 'echo ran'
mk_action "$TPL/u" inject 'printf "%s\n" "$ARG_LINE" >&3'
# proxy: prints the proxy URL the manifest's env gives, with a password in it.
PROXY_PW=Pr0xyPw-$RANDOM$RANDOM
"$ZR_PY" -c 'import json, sys; m = json.load(open(sys.argv[1]))
m["actions"]["proxy"] = {}
m["env"] = {"HTTP_PROXY": "http://zr:" + sys.argv[2] + "@proxy.example:3128"}
json.dump(m, open(sys.argv[1], "w"))' "$TPL/u/template.json" "$PROXY_PW"
mk_action "$TPL/u" proxy 'printf "%s" "$HTTP_PROXY"'

# as_nobody CMD: CMD run by uid 65534 in the robot's group (root's: --group-actions lets it
# write action files) or, with NOGROUP=1, in group 65534 only.
as_nobody() {
	local gid=0
	[ -z "${NOGROUP:-}" ] || gid=65534
	printf "setpriv --reuid=65534 --regid=%s --clear-groups bash -c '%s'" "$gid" "$1"
}
# obj KEY VALUE: the JSON object {KEY: VALUE} (VALUE a string; "1" gives the number 1).
obj() { "$ZR_PY" -c 'import json, sys; v = sys.argv[2]
print(json.dumps({sys.argv[1]: 1 if v == "1" else v}))' "$1" "$2"; }
services() { (cd "$MNT" && ls -d */*/ 2>/dev/null | grep -v '^@') | sort; }

# The local user must reach the mount point (mktemp made $TMP 0700); the data folder stays 0700.
chmod 711 "$TMP"
zr_start --allow-other --group-actions
S=$(svc u a1)
t=$(submit "$S" hello '')
wait_state "$S" "$t" ok 20

# ---- every node's mode, as README's table says ----
modes() {
	local f
	for f in "$@"; do
		local p=${f#"$MNT"}
		printf '%s %s\n' "${p#/}" "$(timeout 10 stat -c %a "$f")"
	done
}
got=$(modes "$MNT" "$MNT/@robot" "$MNT/@robot/"{info,log,events,metrics,remotes,repos,templates} \
	"$MNT/@robot/remotes/"{add,ctl} "$MNT/@robot/repos/add" "$MNT/@robot/templates/u" \
	"$MNT/@robot/templates/u/"{manifest,source,uid,versions} "$MNT/u" "$S" \
	"$S/"{actions,actions/hello,consumers,ctl,data,events,info,lasterror,log,producers} \
	"$S/"{results,results/hello,state,tasks,tasks/queue,upgrade} \
	"$S/tasks/$t" "$S/tasks/$t/"{action,args,cancel,created,error,finished,log,progress} \
	"$S/tasks/$t/"{result,started,state})
expect_eq "$got" " 555
@robot 555
@robot/info 444
@robot/log 400
@robot/events 444
@robot/metrics 444
@robot/remotes 555
@robot/repos 555
@robot/templates 555
@robot/remotes/add 200
@robot/remotes/ctl 200
@robot/repos/add 200
@robot/templates/u 555
@robot/templates/u/manifest 444
@robot/templates/u/source 444
@robot/templates/u/uid 444
@robot/templates/u/versions 444
u 755
u/a1 755
u/a1/actions 555
u/a1/actions/hello 660
u/a1/consumers 555
u/a1/ctl 200
u/a1/data 600
u/a1/events 444
u/a1/info 444
u/a1/lasterror 444
u/a1/log 444
u/a1/producers 555
u/a1/results 555
u/a1/results/hello 444
u/a1/state 444
u/a1/tasks 555
u/a1/tasks/queue 444
u/a1/upgrade 600
u/a1/tasks/$t 555
u/a1/tasks/$t/action 444
u/a1/tasks/$t/args 444
u/a1/tasks/$t/cancel 200
u/a1/tasks/$t/created 444
u/a1/tasks/$t/error 444
u/a1/tasks/$t/finished 444
u/a1/tasks/$t/log 444
u/a1/tasks/$t/progress 444
u/a1/tasks/$t/result 444
u/a1/tasks/$t/started 444
u/a1/tasks/$t/state 444" "modes of the tree's nodes"
ok "every node's mode is README's (the robot's log 0400: for the admin only)"

# ---- a credential in a manifest's env is masked where the manifest is shown ----
expect_not_in "$(cat "$MNT/@robot/templates/u/manifest")" "$PROXY_PW" "@robot/templates/u/manifest"
expect_in "$(cat "$MNT/@robot/templates/u/manifest")" '"HTTP_PROXY": "http://zr:***@proxy.example:3128"' \
	"the env value, masked"
tp=$(submit "$S" proxy '')
wait_state "$S" "$tp" ok 20
expect_eq "$(cat "$S/tasks/$tp/result")" "http://zr:$PROXY_PW@proxy.example:3128" "the action's HTTP_PROXY"
ok "a password in a manifest's env: masked in manifest, the action gets it"

# ---- a local user: reads ----
# The robot's log names every creator's services, errors and paths: a user token may not
# read it over HTTP, a local user may not either.
expect_errno "$(as_nobody "cat $MNT/@robot/log")" "Permission denied"
expect_errno "$(NOGROUP=1 as_nobody "cat $MNT/@robot/log")" "Permission denied"
expect_errno "$(as_nobody "cat $S/data")" "Permission denied"
expect_errno "$(as_nobody "cat $S/upgrade")" "Permission denied"
run_ok "$(as_nobody "cat $S/info $S/state $MNT/@robot/events")" >/dev/null
ok "a local user reads neither @robot/log nor data (EACCES); info, state, events it may"

# ---- a local user: changes ----
before=$(services)
data0=$(cat "$S/data")
state0=$(cat "$S/state")
tasks0=$(task_ids "$S" | tr '\n' ' ')
expect_errno "$(as_nobody "mkdir $MNT/u/mine")" "Permission denied"
expect_errno "$(as_nobody "rmdir $S")" "Permission denied"
expect_errno "$(as_nobody "echo force > $S/ctl")" "Permission denied"
expect_errno "$(as_nobody "echo 1.0.0 > $S/upgrade")" "Permission denied"
expect_errno "$(as_nobody "echo > $S/tasks/$t/cancel")" "Permission denied"
expect_errno "$(as_nobody "echo {} > $S/data")" "Permission denied"
expect_errno "$(as_nobody "truncate -s 0 $S/data")" "Permission denied"
expect_errno "$(as_nobody "echo x > $MNT/@robot/repos/add")" "Permission denied"
expect_errno "$(as_nobody "echo x > $MNT/@robot/remotes/add")" "Permission denied"
expect_errno "$(as_nobody "chmod 666 $S/data")" "Operation not permitted"
expect_errno "$(as_nobody "chmod 777 $S/actions/run")" "Operation not permitted"
expect_errno "$(as_nobody "mv $S/data $S/data2")" "Permission denied"
expect_errno "$(as_nobody "ln -s /etc/shadow $S/evil")" "Permission denied"
expect_errno "$(as_nobody "ln $S/data $S/actions/data")" "Operation not permitted"
expect_errno "$(as_nobody "echo > $S/actions/run")" "Permission denied"
expect_eq "$(services)" "$before" "services after the local user's attempts"
expect_eq "$(cat "$S/data")" "$data0" "data after the local user's attempts"
expect_eq "$(cat "$S/state")" "$state0" "state after the local user's attempts"
expect_eq "$(task_ids "$S" | tr '\n' ' ')" "$tasks0" "tasks after the local user's attempts"
ok "a local user may not mkdir, rmdir, ctl, upgrade, cancel, write data, chmod, rename or link"

# ---- fd 3: an action may not fake the robot's own "actions" lines of state ----
grep -q '^actions run ' "$S/state" && fail "run has a state line before it ever ran"
t2=$(submit "$S" inject '{"line": "state actions run ok"}')
wait_state "$S" "$t2" ok 20
expect_not_in "$(cat "$S/state")" "actions run" "state after an action faked 'actions run ok'"
expect_in "$(cat "$S/state")" "actions inject ok" "the robot's own line for inject"
expect_in "$(cat "$S/tasks/$t2/log")" "ignored fd 3 line 'state actions run ok'" "the task's log"
tt=$(submit "$S" inject '{"line": "state template version error"}')
wait_state "$S" "$tt" ok 20
expect_not_in "$(cat "$S/state")" "template version error" "state after an action faked the template's line"
expect_in "$(cat "$S/tasks/$tt/log")" "ignored fd 3 line 'state template version error'" "the task's log"
t3=$(submit "$S" inject '{"line": "state deploy web ok"}')
wait_state "$S" "$t3" ok 20
expect_in "$(cat "$S/state")" "deploy web ok" "an action's own state line"
ok "fd 3: 'state actions|template ...' are the robot's (ignored and logged); other categories are the action's"

# ---- log injection: control characters in refused input are escaped ----
esc=$(printf '\033')
fake="2026-01-01T00:00:00.000Z info: admin token rotated"
t4=$(submit "$S" inject "$(obj line "bogus ${esc}]0;owned${esc}\\ $(printf '\r')x")")
wait_state "$S" "$t4" ok 20
# A refused data write whose unknown key holds a newline and a forged log line.
key=$(obj "x
$fake" 1)
expect_errno "printf '%s' '$key' > $S/data" "Invalid argument"
t5=$(submit "$S" inject "$(obj line "data $key")")
wait_state "$S" "$t5" ok 20
expect_eq "$(cat "$S/data")" "$data0" "data after the refused writes"
for f in "$MNT/@robot/log" "$S/lasterror" "$S/tasks/$t4/log" "$S/tasks/$t5/log" "$TMP/robot.log"; do
	text=$(cat "$f")
	expect_not_in "$text" "$esc" "an escape character in $f"
	expect_not_in "$text" "$(printf '\r')" "a carriage return in $f"
	if grep -q "^$fake" "$f"; then
		fail "a forged line in $f: $(grep -n "$fake" "$f")"
	fi
done
expect_in "$(cat "$S/tasks/$t4/log")" 'bogus \x1b]0;owned\x1b\ \x0dx' "the line, escaped, in the task's log"
expect_in "$(cat "$S/lasterror")" "field 'x\\x0a$fake': unknown field" "lasterror, escaped"
expect_eq "$(wc -l <"$S/lasterror")" 1 "lines of lasterror"
ok "control characters of input quoted in logs and lasterror are escaped (\\xHH): no forged lines"

zr_stop

# ---- @remote: requests go with this robot's token there, so only its admin sends them ----
# B lets its own group run actions (0660): that is B's group, not a local user's of A.
zr_peer_init b
mk_template "$B_TPL" u "$(cat "$TPL/u/template.json")"
mk_action "$B_TPL/u" hello 'echo hi'
mk_action "$B_TPL/u" run 'echo ran'
mk_action "$B_TPL/u" inject 'true'
mk_action "$B_TPL/u" proxy 'true'
zr_peer_start b --group-actions
timeout 10 mkdir "$B_MNT/u/b1" || fail "mkdir u/b1 on B"
zr_start_http --allow-other --remote "b=$B_URL,token-file=$B_DATA/admin.token"
R=$MNT/@remote/b
expect_http 200 "$ADMIN" GET /v1/@robot/templates/u/manifest
expect_not_in "$HB" "$PROXY_PW" "GET /v1/@robot/templates/u/manifest"
expect_not_in "$(timeout 10 cat "$R/@robot/templates/u/manifest")" "$PROXY_PW" "B's manifest on A"
expect_eq "$(timeout 10 stat -c %a "$R/u/b1/actions/run")" 660 "mode of B's action file on A"
expect_eq "$(timeout 10 stat -c %a "$R/@robot/log")" 400 "mode of B's robot log on A"
t0=$(task_ids "$B_MNT/u/b1" | tr '\n' ' ')
expect_errno "$(as_nobody "echo > $R/u/b1/actions/run")" "Permission denied"
expect_errno "$(as_nobody "echo > $R/u/b1/actions/hello")" "Permission denied"
expect_errno "$(as_nobody "cat $R/@robot/log")" "Permission denied"
expect_eq "$(task_ids "$B_MNT/u/b1" | tr '\n' ' ')" "$t0" "B's tasks after A's local user's writes"
run_ok "echo > $R/u/b1/actions/hello" >/dev/null
expect_eq "$(task_ids "$B_MNT/u/b1" | wc -l)" 1 "A's admin runs B's action"
ok "a local user of A writes nothing through @remote/ (EACCES), whatever B's group bits say"
zr_stop
