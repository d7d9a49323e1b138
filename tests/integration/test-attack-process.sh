#!/bin/bash
# Attacks on supervised servers (issue 13, README "Security"): who may write process/want and
# process/signal (the admin, a user token on its own services only, a service's secret on its
# own, local users by the mode bits), who may read process/log (server output can hold
# secrets: like data), a user token and a template with a process that is not offered to
# users, DATA_* secrets in the environment of a server that runs as another user
# (/proc/PID/environ), ${field} expansion that tries to add argv entries, and the files of the
# data folder a server's readiness and output go through (modes, symlinks). Each attack is
# refused with its code and leaves nothing changed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-http.sh"
. "$(dirname "$0")/lib-process.sh"

command -v setpriv >/dev/null 2>&1 || skip "setpriv is missing"
[ "$(id -u)" -eq 0 ] || skip "needs root (servers as nobody, setpriv to another uid)"
getent passwd nobody >/dev/null || skip "no user nobody"

UA=attacker-a-token-0123456789
UB=attacker-b-token-9876543210
printf '%s\n%s\n' "$UA" "$UB" >"$TMP/tokens"
body=(-H 'Content-Type: application/json' --data-binary)

# s.py MODE MARKER [ARG...]: prints how many arguments it got and each one, sends READY=1 to
# NOTIFY_SOCKET in mode notify, prints "up" and sleeps. Readable by nobody.
cat >"$TPL/s.py" <<'PY'
import os, socket, sys, time
print("argc=%d" % (len(sys.argv) - 1), flush=True)
for a in sys.argv[3:]:
    print("arg=[%s]" % a, flush=True)
if sys.argv[1] == "notify":
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    a = os.environ["NOTIFY_SOCKET"]
    try:
        s.sendto(b"READY=1", "\0" + a[1:] if a[0] == "@" else a)  # as sd_notify(3) reads it
        print("notified", flush=True)
    except OSError as e:
        print("cannot notify: %s" % e, flush=True)
print("up", flush=True)
time.sleep(1000)
PY
# pu: offered to users, its server runs as nobody; pw is a secret the server gets as DATA_PW.
mk_template "$TPL" pu '{"name": "pu", "version": "1.0.0", "users": true,
  "data": {"marker": {"type": "string", "default": "none"},
           "word": {"type": "string", "default": "w"},
           "pw": {"type": "string", "default": "", "secret": true}},
  "process": {"command": ["python3", "'"$TPL"'/s.py", "log", "${marker}", "x${word}y"],
              "ready": {"log": "^up$"}, "ready_timeout": 20, "user": "nobody",
              "stop_timeout": 3}}'
# pn: ready by sd_notify, as nobody.
mk_template "$TPL" pn '{"name": "pn", "version": "1.0.0",
  "data": {"marker": {"type": "string", "default": "none"}},
  "process": {"command": ["python3", "'"$TPL"'/s.py", "notify", "${marker}"],
              "ready": {"notify": true}, "ready_timeout": 10, "user": "nobody",
              "stop_timeout": 3}}'
# pq: like pn, but its server never sends READY=1 itself.
mk_template "$TPL" pq '{"name": "pq", "version": "1.0.0",
  "data": {"marker": {"type": "string", "default": "none"}},
  "process": {"command": ["python3", "'"$TPL"'/s.py", "quiet", "${marker}"],
              "ready": {"notify": true}, "ready_timeout": 20, "user": "nobody",
              "stop_timeout": 3}}'
# pp: the program itself comes from the data.
mk_template "$TPL" pp '{"name": "pp", "version": "1.0.0",
  "data": {"prog": {"type": "string", "default": "true"}},
  "process": {"command": ["${prog}"]}}'
# padm: a server template not offered to users.
mk_template "$TPL" padm '{"name": "padm", "version": "1.0.0",
  "process": {"command": ["sleep", "1000"]}}'

# srv (lib-process.sh): crash mode exits 1 at once; on.fail leaves a line in $MARKS/fail.NAME.
mk_srv

# as_uid UID CMD: CMD run by that uid, in its own group only.
as_uid() {
	printf "setpriv --reuid=%s --regid=%s --clear-groups bash -c '%s'" "$1" "$1" "$2"
}
services() { (cd "$MNT" && ls -d */*/ 2>/dev/null | grep -v '^@') | sort; }
# started SVC-PATH TOKEN: POST its start and wait for the task's end; prints its state.
started() {
	http "$2" POST "/v1/$1/actions/start"
	[ "$HS" = 201 ] || fail "start of $1: $HS $HB"
	local id
	id=$(jbody 'j["id"]')
	http "$2" GET "/v1/$1/tasks/$id/result?wait=30"
	hdr Zr-Task-State
}

# nobody and the local users must reach the mount point and the templates ($TMP is 0700).
chmod 711 "$TMP"
# As in production (the robot makes a missing data folder 0700; mkdir here gave 0755).
chmod 700 "$DATA"
zr_start_http --token-file "$TMP/tokens" --allow-other

# ---- a user token and templates with a process ----
before=$(services)
json_post "$UA" /v1/padm '{"name": "mine"}'
expect_eq "$HS" 403 "a user token creating a service of a process template without users"
expect_in "$(jbody 'j["detail"]')" "not offered to user tokens" "the reason"
expect_eq "$(services)" "$before" "services after the refused create"
ok "a user token may not create a server of a template without \"users\": true (403)"

# ---- ${field} cannot add argv entries ----
PW="Pw-$RANDOM$RANDOM-secret"
EVIL='a b" --evil ${pw} $(id)'
json_post "$UA" /v1/pu "$("$ZR_PY" -c 'import json, sys
print(json.dumps({"name": "a", "data": {"marker": sys.argv[1], "word": sys.argv[2],
                                        "pw": sys.argv[3]}}))' "$PROC_MARK-a" "$EVIL" "$PW")"
expect_eq "$HS" 201 "user A creates pu/a"
SA=$(jbody 'j["secret"]')
expect_eq "$(started pu/a "$UA")" ok "user A starts its server"
pid=$(cat "$MNT/pu/a/process/pid")
[ -n "$pid" ] && [ -d "/proc/$pid" ] || fail "no server pid ($pid)"
mapfile -d '' argv <"/proc/$pid/cmdline"
expect_eq "${#argv[@]}" 5 "argv entries of the server ($(printf '[%s] ' "${argv[@]}"))"
expect_eq "${argv[4]}" "x${EVIL}y" "the expanded argument, as one string"
wait_for "grep -q 'argc=3' '$MNT/pu/a/process/log'" 10 || fail "the server's log: $(cat "$MNT/pu/a/process/log")"
ok "\${field} expands inside one argv string: spaces, quotes, \${pw} and \$(...) stay in it"

# ---- DATA_* of a server run as another user ----
expect_eq "$(stat -c %u "/proc/$pid")" "$(id -u nobody)" "the server's uid"
tr '\0' '\n' <"/proc/$pid/environ" | grep -qx "DATA_PW=$PW" || fail "the server lacks DATA_PW"
expect_errno "$(as_uid 4242 "cat /proc/$pid/environ")" "Permission denied"
expect_errno "$(as_uid 4242 "cat /proc/$pid/cmdline >/dev/null; ls /proc/$pid/fd")" "Permission denied"
ok "a server run as 'user' keeps DATA_* (a secret too) from other local users (/proc/PID/environ)"

# ---- process/want and process/signal: a user token on its own services only ----
json_post "$UB" /v1/pu '{"name": "b"}'
expect_eq "$HS" 201 "user B creates pu/b"
SB=$(jbody 'j["secret"]')
st0=$(proc_status "$MNT/pu/a" state) le0=$(cat "$MNT/pu/a/lasterror")
expect_http 403 "$UB" PUT /v1/pu/a/process/want -d down
expect_http 403 "$UB" PUT /v1/pu/a/process/signal -d TERM
expect_http 403 "$SB" PUT /v1/pu/a/process/want -d down
expect_http 403 "$SB" PUT /v1/pu/a/process/signal -d USR1
expect_http 403 "$UB" POST /v1/pu/a/actions/stop
expect_eq "$(proc_status "$MNT/pu/a" state)" "$st0" "pu/a's state after B's attempts"
expect_eq "$(cat "$MNT/pu/a/process/pid")" "$pid" "pu/a's pid after B's attempts"
expect_eq "$(cat "$MNT/pu/a/process/want")" up "pu/a's want after B's attempts"
expect_eq "$(cat "$MNT/pu/a/lasterror")" "$le0" "pu/a's lasterror after B's attempts"
expect_http 200 "$UB" GET /v1/pu/a/process/status
ok "another user token or service's secret may not write process/want or process/signal (403)"

expect_http 204 "$UA" PUT /v1/pu/a/process/signal -d CONT
expect_http 204 "$SA" PUT /v1/pu/a/process/signal -d CONT
expect_http 400 "$UA" PUT /v1/pu/a/process/signal -d KILL
expect_http 400 "$UA" PUT /v1/pu/a/process/want -d sideways
expect_in "$(cat "$MNT/pu/a/lasterror")" "want: expected up, down or once" "lasterror of the bad want"
expect_eq "$(cat "$MNT/pu/a/process/pid")" "$pid" "pu/a's pid after its owner's signals"
# pu/b runs no server: ESRCH, a conflict with its state over HTTP (409), not a robot's fault.
expect_http 409 "$UB" PUT /v1/pu/b/process/signal -d HUP
expect_eq "$(jbody 'j["error"]')" ESRCH "the errno of a signal to no server"
expect_errno "echo HUP >$MNT/pu/b/process/signal" "No such process"
ok "the creator's token and the service's secret signal their own server; KILL, bad want: 400; none running: 409 ESRCH"

# ---- process/log: server output is read like data ----
expect_http 403 "$UB" GET /v1/pu/a/process/log
expect_http 403 "$SB" GET /v1/pu/a/process/log
expect_http 200 "$UA" GET /v1/pu/a/process/log
expect_in "$HB" "argc=3" "the creator reads its server's log"
expect_http 200 "$SA" GET /v1/pu/a/process/log
expect_http 200 "$ADMIN" GET /v1/pu/a/process/log
ok "process/log: the admin, the creator and the service's secret read it; another token: 403"

# ---- local users (--allow-other) ----
expect_eq "$(stat -c %a "$MNT/pu/a/process/"{want,signal,log,status} | tr '\n' ' ')" \
	"644 200 400 444 " "modes of want, signal, log, status"
expect_errno "$(as_uid 4242 "echo down >$MNT/pu/a/process/want")" "Permission denied"
expect_errno "$(as_uid 4242 "echo TERM >$MNT/pu/a/process/signal")" "Permission denied"
expect_errno "$(as_uid 4242 "cat $MNT/pu/a/process/log")" "Permission denied"
run_ok "$(as_uid 4242 "cat $MNT/pu/a/process/status")" >/dev/null
expect_eq "$(cat "$MNT/pu/a/process/want")" up "pu/a's want after the local user's attempts"
expect_eq "$(cat "$MNT/pu/a/process/pid")" "$pid" "pu/a's pid after the local user's attempts"
ok "a local user may not write want or signal, nor read process/log (EACCES); status it may"

# ---- the data folder's files for the server ----
guid=$(json "$MNT/pu/a/info" 'j["guid"]')
expect_eq "$(stat -c '%a %U' "$DATA/process/$guid.log")" "600 root" "the output file"
expect_eq "$(stat -c %a "$DATA/process")" 700 "the folder of output files"
ok "the server's output file is 0600 in a 0700 folder: no other user writes lines into it"

# ---- readiness by sd_notify, for a server run as another user ----
svc pn n >/dev/null
printf '{"marker": "%s"}' "$PROC_MARK-n" >"$MNT/pn/n/data"
expect_eq "$(started pn/n "$ADMIN")" ok "a notify server run as nobody gets ready"
expect_in "$(cat "$MNT/pn/n/process/log")" "notified" "it reached NOTIFY_SOCKET"
ok "ready: notify works for a server run as 'user'"

# Another local user sends READY=1 to a server's NOTIFY_SOCKET (its abstract name is listed in
# /proc/net/unix): dropped; the server's own user is heard.
svc pq q >/dev/null
printf '{"marker": "%s"}' "$PROC_MARK-q" >"$MNT/pq/q/data"
gq=$(json "$MNT/pq/q/info" 'j["guid"]')
echo start >"$MNT/pq/q/actions/start"
wait_for "grep -q '@zrobot/$gq/' /proc/net/unix" 10 || fail "no notify socket for pq/q"
sock=$(grep -o "@zrobot/$gq/[0-9a-f]*" /proc/net/unix | head -n 1)
cat >"$TMP/send.py" <<'PY'
import socket, sys
socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"READY=1", "\0" + sys.argv[1][1:])
PY
chmod 644 "$TMP/send.py"
run_ok "$(as_uid 4242 "python3 $TMP/send.py $sock")" >/dev/null
sleep 1
expect_eq "$(proc_status "$MNT/pq/q" state)" starting "pq/q after another user's READY=1"
run_ok "$(as_uid "$(id -u nobody)" "python3 $TMP/send.py $sock")" >/dev/null
wait_proc "$MNT/pq/q" state ready 10
ok "another local user cannot fake a server's readiness through NOTIFY_SOCKET; its user can"

# ---- a reason never quotes data: a program named by data that cannot run ----
svc pp p >/dev/null
"$ZR_PY" -c 'import json, sys; print(json.dumps({"prog": sys.argv[1]}))' \
	"zr-nope-$$-Secr3t
adopted yes" >"$MNT/pp/p/data"
echo start >"$MNT/pp/p/actions/start"
wait_proc "$MNT/pp/p" state failed 20
st=$(cat "$MNT/pp/p/process/status")
expect_eq "$(grep -c '^adopted' <<<"$st")" 1 "adopted lines in status ($st)"
expect_eq "$(proc_status "$MNT/pp/p" reason)" 'ENOENT: cannot run ${prog}' "the reason"
expect_not_in "$(cat "$TMP/robot.log" "$MNT/@robot/events")" "Secr3t" "the robot's log and events"
ok "a program named by data that cannot run: the reason names the template's \${prog}, never the data"

# ---- the issue's decisions: on.fail once per failure; a failed server with want up gets one
# fresh start when the robot starts ----
C=$(mk_srv_svc c crash)
echo start >"$C/actions/start"
wait_proc "$C" state failed 30
wait_for "[ \"\$(wc -l <'$MARKS/fail.c' 2>/dev/null)\" = 1 ]" 10 || fail "on.fail did not run once"
echo up >"$C/process/want"
wait_for "[ \"\$(wc -l <'$MARKS/fail.c')\" = 2 ]" 30 || fail "on.fail did not run after a fresh budget"
wait_proc "$C" state failed 30
ev=$(cat "$MNT/@robot/events")
for e in started exited restarting failed; do
	expect_in "$ev" "\"process.$e\"" "the process.$e event"
done
ok "on.fail runs once per failure and again after a start gives a fresh budget; events"

# A symlink planted where a server's output file goes is not followed (the folder is the
# robot's alone: this is for a robot whose data folder was opened by mistake).
echo untouched >"$TMP/victim"
svc pu c >/dev/null
gc=$(json "$MNT/pu/c/info" 'j["guid"]')
zr_stop
rm -f "$DATA/process/$gc.log"
ln -s "$TMP/victim" "$DATA/process/$gc.log"
zr_start_http --token-file "$TMP/tokens" --allow-other
printf '{"marker": "%s"}' "$PROC_MARK-c" >"$MNT/pu/c/data"
started pu/c "$ADMIN" >/dev/null
expect_eq "$(cat "$TMP/victim")" untouched "the symlink's target after a start"
ok "a symlink in place of the output file is not followed"

wait_for "[ \"\$(wc -l <'$MARKS/fail.c')\" = 3 ]" 30 || fail "no fresh start of the failed server at the robot's start"
wait_proc "$C" state failed 30
sleep 1
expect_eq "$(wc -l <"$MARKS/fail.c")" 3 "on.fail runs after the robot's start"
expect_eq "$(proc_status "$MNT/pu/a" adopted)" yes "pu/a adopted"
expect_in "$(cat "$MNT/@robot/events")" '"process.adopted"' "the process.adopted event"
ok "a failed server whose want is up gets one fresh start (one more on.fail) when the robot starts"

echo "$N_OK passed"
