#!/bin/bash
# The robot's life: a second robot on the same mount point or data dir is refused; SIGTERM
# while a reader is blocked and while tasks run; a lazy unmount while a reader is blocked;
# a stale mount left by kill -9 (--no-auto-unmount) is replaced; auto_unmount after kill -9.
. "$(dirname "$0")/lib.sh"

mk_t
mk_template "$TPL" lc '{"name": "lc", "version": "1.0.0", "actions": {"hang": {}, "stubborn": {}}}'
mk_action "$TPL/lc" hang 'echo $$ >"$MARKS/hang.${ZR_SERVICE#*/}"
sleep 30 &
echo $! >"$MARKS/hang.${ZR_SERVICE#*/}.child"
wait'
mk_action "$TPL/lc" stubborn 'trap "" TERM
echo $$ >"$MARKS/stubborn.pid"
sleep 30 &
echo $! >"$MARKS/stubborn.child"
wait'

gone() { ! pid_alive "$1"; }

# expect_refused LOG MESSAGE WHAT ARG...: a robot started with ARGs next to the first (ZR_PID)
# exits non-zero, saying MESSAGE in LOG. WHAT names what the two share.
expect_refused() {
	local log=$1 message=$2 what=$3 first=$ZR_PID
	shift 3
	ZR_LOG=$log zr_launch "$@"
	local refused=$ZR_PID
	ZR_PID=$first
	zr_reap "$refused" 10 || fail "a second robot on the same $what is still running"
	[ "$ZR_STATUS" -ne 0 ] || fail "a second robot on the same $what exited 0"
	grep -q "$message" "$log" || fail "no '$message' message: $(cat "$log")"
}

# --- A second robot is refused; the first is unaffected. ---
zr_start
first=$ZR_PID
S=$(svc t a)
expect_refused "$TMP/second.log" "already mounted" "mount point" \
	--mount "$MNT" --data "$TMP/data2" --templates "$TPL"
ok "a second robot on the same mount point exits $ZR_STATUS: $(grep -m1 'already mounted' "$TMP/second.log")"
mkdir -p "$TMP/mnt2"
ZR_MOUNTS+=("$TMP/mnt2")
expect_refused "$TMP/third.log" "in use" "data dir" --mount "$TMP/mnt2" --data "$DATA" --templates "$TPL"
! mounted "$TMP/mnt2" || fail "the refused robot left $TMP/mnt2 mounted"
ok "a second robot on the same data dir exits $ZR_STATUS: $(grep -m1 'in use' "$TMP/third.log")"
mounted || fail "the first robot's mount is gone"
expect_eq "$(jsonstr "$(rcat "$MNT/@robot/info")" 'j["pid"]')" "$first" "info.pid after the refused robots"
expect_eq "$(zrtool write-read "$S/actions/echo" '{"n": 1}')" "n=1 msg=" "the first robot still works"
ok "the first robot is unaffected"

# --- SIGTERM while a reader is blocked on a running task. ---
L=$(svc lc a)
id=$(submit "$L" hang hang)
wait_state "$L" "$id" running 5
timeout 20 cat "$L/results/hang" >"$TMP/blocked.out" 2>"$TMP/blocked.err" &
pcat=$!
sleep 0.5
t0=$(now)
kill -TERM "$ZR_PID"
rc=0; wait $pcat || rc=$?
dt=$(since "$t0")
[ "$rc" -ne 124 ] || fail "the blocked cat still hung 20 s after SIGTERM to the robot"
fgt 7 "$dt" || fail "the blocked cat returned $dt s after SIGTERM"
ok "SIGTERM with a blocked reader: cat returned in $dt s (rc $rc: $(head -c 80 "$TMP/blocked.err"))"
zr_reap "$ZR_PID" 8 || fail "robot still running 8 s after SIGTERM"
expect_eq "$ZR_STATUS" 0 "exit status after SIGTERM with a blocked reader"
! mounted || fail "still mounted after SIGTERM"
wait_for "gone $(cat "$MARKS/hang.a") && gone $(cat "$MARKS/hang.a.child")" 3 ||
	fail "the task's processes outlived the robot"
ok "robot exited 0, mount gone, the task's processes gone"

# --- Lazy unmount while a reader is blocked: no hang, no crash. ---
rm -rf "$DATA"; mkdir -p "$DATA"
zr_start
S=$(svc t b)
id=$(submit "$S" slow '{"secs": 3, "n": 5}')
timeout 20 cat "$S/results/slow" >"$TMP/lazy.out" 2>"$TMP/lazy.err" &
pcat=$!
sleep 0.5
t0=$(now)
fusermount3 -u -z "$MNT" || fail "fusermount3 -u -z failed"
! mounted || fail "still in /proc/mounts after a lazy unmount"
rc=0; wait $pcat || rc=$?
[ "$rc" -ne 124 ] || fail "the blocked cat hung after a lazy unmount"
fgt 6 "$(since "$t0")" || fail "the blocked cat returned $(since "$t0") s after the unmount"
ok "lazy unmount with a blocked reader: cat returned after $(since "$t0") s (rc $rc, out '$(cat "$TMP/lazy.out")')"
zr_reap "$ZR_PID" 10 || fail "robot still running 10 s after its mount went away"
[ "$ZR_STATUS" -lt 128 ] || fail "robot died of signal $((ZR_STATUS - 128)) after the lazy unmount"
expect_eq "$ZR_STATUS" 0 "exit status after an external unmount"
ok "the robot noticed the unmount and exited $ZR_STATUS (no crash)"
grep -Eq 'AddressSanitizer|runtime error:|Segmentation|Aborted' "$TMP/robot.log" && fail "sanitizer/crash report in the log"

# --- SIGTERM while tasks run (one ignores SIGTERM): exit 0 within ~7 s, all gone. ---
rm -rf "$DATA"; mkdir -p "$DATA"
zr_start
L1=$(svc lc one); L2=$(svc lc two); L3=$(svc lc three)
i1=$(submit "$L1" hang hang); i2=$(submit "$L2" hang hang); i3=$(submit "$L3" stubborn stubborn)
submit "$L1" hang hang >/dev/null
for p in "$L1 $i1" "$L2 $i2" "$L3 $i3"; do wait_state ${p% *} ${p#* } running 5; done
wait_for "[ -s '$MARKS/stubborn.child' ]" 3 || fail "stubborn did not start"
pids="$(cat "$MARKS/hang.one" "$MARKS/hang.one.child" "$MARKS/hang.two" "$MARKS/hang.two.child" \
	"$MARKS/stubborn.pid" "$MARKS/stubborn.child")"
t0=$(now)
kill -TERM "$ZR_PID"
zr_reap "$ZR_PID" 9 || fail "robot still running 9 s after SIGTERM with running tasks"
dt=$(since "$t0")
expect_eq "$ZR_STATUS" 0 "exit status after SIGTERM with running tasks"
fgt 7.5 "$dt" || fail "robot took $dt s to exit"
for p in $pids; do gone "$p" || fail "task process $p outlived the robot"; done
! mounted || fail "still mounted after SIGTERM"
ok "SIGTERM with 3 running tasks (one ignoring SIGTERM): exit 0 in $dt s, every task process gone, unmounted"

# --- A stale mount (kill -9 with --no-auto-unmount) is replaced. ---
rm -rf "$DATA"; mkdir -p "$DATA"
zr_start --no-auto-unmount
kill -KILL "$ZR_PID"
zr_reap "$ZR_PID" 5 || fail "kill -9 did not end the robot"
mounted || fail "no stale mount left after kill -9 with --no-auto-unmount"
expect_errno "stat '$MNT/@robot/info'" "Transport endpoint is not connected"
ok "kill -9 with --no-auto-unmount leaves a stale mount (ENOTCONN)"
: >"$TMP/robot.log"
zr_start
grep -q "stale mount" "$TMP/robot.log" || fail "no 'stale mount' log line"
ok "a new robot logs: $(grep -m1 'stale mount' "$TMP/robot.log")"
S=$(svc t c)
expect_eq "$(zrtool write-read "$S/actions/echo" '{"n": 2}')" "n=2 msg=" "the new robot works"
expect_eq "$(grep -c " $MNT fuse" /proc/mounts)" 1 "fuse mounts on $MNT"
ok "the new robot serves the mount point (one mount)"

# --- With auto_unmount (the default) kill -9 leaves no mount. ---
kill -KILL "$ZR_PID"
zr_reap "$ZR_PID" 5 || fail "kill -9 did not end the robot"
if ! wait_for "! mounted" 10; then
	# Who keeps it: fusermount3 unmounts once every holder of its socket is gone.
	grep -F " $MNT " /proc/mounts >&2
	for p in $(pgrep -x fusermount3); do
		echo "fusermount3 $p: $(tr '\0' ' ' <"/proc/$p/cmdline") fds: $(ls -l "/proc/$p/fd" 2>/dev/null | awk '{print $NF}' | tr '\n' ' ')" >&2
	done
	for p in /proc/[0-9]*; do
		s=$(ls -l "$p/fd" 2>/dev/null | grep -E 'socket|fuse' | awk '{print $NF}' | tr '\n' ' ')
		case "$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)" in *"$TMP"*) echo "holder ${p#/proc/}: $(tr '\0' ' ' <"$p/cmdline") $s" >&2 ;; esac
	done
	# Seen only under heavy load with the sanitizer build: fusermount3 exited without
	# unmounting. The mount must then at least be dead, and the next start replaces it.
	stat "$MNT" 2>&1 | grep -q "Transport endpoint is not connected" ||
		fail "the mount is left, alive, after kill -9 without --no-auto-unmount"
	echo "note: auto_unmount left a dead mount; checking that a new robot replaces it" >&2
	zr_start
	expect_eq "$(grep -c " $MNT fuse" /proc/mounts)" 1 "fuse mounts on $MNT after replacing a dead one"
	kill -KILL "$ZR_PID"
	zr_reap "$ZR_PID" 5 || fail "kill -9 did not end the robot"
	wait_for "! mounted" 10 || fusermount3 -u -z "$MNT"
fi
ok "kill -9 without --no-auto-unmount: auto_unmount removes the mount"
