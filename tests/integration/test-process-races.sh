#!/bin/bash
# Lifecycle races of supervised servers (DESIGN §6): want written fast in a loop, the robot
# killed during a stop, a backoff or a start's ready wait, adoption when the server's cgroup
# is gone, the robot's fds over many start/stop cycles. Whatever happens: never two servers.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-process.sh"

command -v pgrep >/dev/null 2>&1 || skip "pgrep is missing"
mk_srv
# One more mode: "noterm" ignores SIGTERM (a stop has to wait stop_timeout, then SIGKILL).
# "flood" leaves a child (yes) that writes its output as fast as it can.
sed -i 's/^if mode == "slow":/if mode == "noterm":\n    signal.signal(signal.SIGTERM, signal.SIG_IGN)\nif mode == "flood" and os.fork() == 0:\n    os.execvp("yes", ["yes", marker + "-child"])\n&/' "$TPL/srv.py"

# count NAME: how many server processes of NAME run (children excluded).
count() {
	pgrep -f -- "$PROC_MARK-$1 " | wc -l
}

crash_robot() {
	kill -KILL "$ZR_PID"
	zr_reap "$ZR_PID" 10 || fail "the robot survived kill -9"
	wait_for "! mounted" 10 || fusermount3 -u "$MNT" 2>/dev/null
}

# set_mode SVC-DIR NAME MODE: the data's mode.
set_mode() {
	"$ZR_PY" - "$1/data" "$3" <<'PY' || fail "set mode of $2"
import json, sys
p, m = sys.argv[1], sys.argv[2]
with open(p) as f:
    d = json.load(f)
d["mode"] = m
with open(p, "w") as f:
    json.dump(d, f)
PY
}

# "loop": a command that exits 1 at once, restarted at once, with a budget it never spends
# (10000 starts a second); on.fail would write a line per run.
mk_template "$TPL" loop '{
  "name": "loop", "version": "1.0.0",
  "data": {"marker": {"type": "string", "default": "none"}},
  "actions": {"onfail": {}},
  "process": {
    "command": ["sh", "-c", "echo crashing; exit 1", "${marker}"],
    "restart": "always", "restart_delay": 0, "restart_delay_max": 0,
    "start_limit": {"burst": 10000, "interval": 1}
  },
  "on": {"fail": ["onfail"]}
}'
mk_action "$TPL/loop" onfail 'echo "$ZR_SERVICE" >>"$MARKS/fail.${ZR_SERVICE#*/}"'

zr_start

# want up/down/once written 100 times as fast as possible: the end state is the last word and
# at no time do two servers run.
d=$(mk_srv_svc w)
max=0
for i in $(seq 1 100); do
	case $((i % 3)) in
	0) w=up ;; 1) w=down ;; 2) w=once ;;
	esac
	echo "$w" >"$d/process/want" || fail "write want $w ($i)"
	n=$(count w)
	[ "$n" -le "$max" ] || max=$n
done
[ "$max" -le 1 ] || fail "$max servers of w at once during the want loop"
echo up >"$d/process/want" || fail "want up"
wait_proc "$d" state ready 20
expect_eq "$(count w)" 1 "one server after want up"
expect_eq "$(srv_pids w)" "$(rcat "$d/process/pid")" "the server is the one process/pid names"
echo down >"$d/process/want" || fail "want down"
wait_proc "$d" state down 20
expect_eq "$(srv_pids w)" "" "no server after want down"
ok "want up/down/once 100 times: never two servers; the last word wins"

# The robot's fds come back after many start/stop cycles (pidfds, notify sockets, probes, log).
fds() { ls "/proc/$ZR_PID/fd" | wc -l; }
before=$(fds)
for i in $(seq 1 40); do
	echo up >"$d/process/want" || fail "want up ($i)"
	wait_proc "$d" state ready 20
	echo down >"$d/process/want" || fail "want down ($i)"
	wait_proc "$d" state down 20
done
after=$(fds)
[ "$after" -le "$before" ] || fail "the robot's fds grew from $before to $after in 40 cycles: $(ls -l /proc/$ZR_PID/fd | tail -n +2 | awk '{print $NF}' | sort | uniq -c | sort -rn | head -5)"
ok "40 start/stop cycles: the robot's fds $before -> $after"

# The robot killed during a stop (the server ignores SIGTERM: the stop waits stop_timeout):
# the next robot finishes the stop; none runs.
s=$(mk_srv_svc s noterm)
run_ok "echo start > '$s/actions/start'" >/dev/null
run_ok "cat '$s/results/start'" >/dev/null
echo down >"$s/process/want" || fail "want down"
wait_proc "$s" state stopping 5
crash_robot
expect_eq "$(count s)" 1 "the server outlives the robot during its stop"
zr_start
wait_proc "$s" state down 15
expect_eq "$(srv_pids s)" "" "the stop was finished by the next robot"
ok "kill -9 of the robot during a stop: the next robot finishes it"

# The robot killed during a backoff (a crash loop): the next robot starts it per want, once.
b=$(mk_srv_svc b crash)
echo up >"$b/process/want" || fail "want up"
wait_proc "$b" state backoff 10
set_mode "$b" b serve
crash_robot
zr_start
wait_proc "$b" state ready 20
expect_eq "$(count b)" 1 "one server after a robot killed during backoff"
expect_eq "$(srv_pids b)" "$(rcat "$b/process/pid")" "the one process/pid names"
ok "kill -9 of the robot during backoff: one server after the restart"

# The robot killed while a start waits for readiness (slow: listens after 3 s): the next robot
# adopts the one server (it gets ready), never starts a second.
r=$(mk_srv_svc r slow)
echo up >"$r/process/want" || fail "want up"
wait_proc "$r" state starting 10
wait_for "[ \"\$(count r)\" = 1 ]" 5 || fail "r not spawned"
crash_robot
zr_start
wait_proc "$r" state ready 20
expect_eq "$(count r)" 1 "one server after a robot killed during the ready wait"
expect_eq "$(proc_status "$r" adopted)" yes "adopted"
ok "kill -9 of the robot during a start's ready wait: adopted, not duplicated"

# Adoption when the server's cgroup was removed meanwhile (moved out, rmdir): it is not the
# tree the robot stored, so it is not adopted; it carries the marker, so it is killed before
# the one start. Never two servers.
c=$(mk_srv_svc c)
run_ok "echo start > '$c/actions/start'" >/dev/null
run_ok "cat '$c/results/start'" >/dev/null
cpid=$(rcat "$c/process/pid")
cg=$(awk -F: '$1 == 0 { print $3 }' "/proc/$cpid/cgroup")
crash_robot
if [ -n "$cg" ] && [ "$cg" != / ] && [ -d "/sys/fs/cgroup/unified$cg" ]; then
	cgd=/sys/fs/cgroup/unified$cg
	echo "$cpid" >"$(dirname "$(dirname "$cgd")")/cgroup.procs" || fail "move $cpid out"
	rmdir "$cgd" || fail "rmdir $cgd"
	zr_start
	wait_proc "$c" state ready 20
	sleep 1
	expect_eq "$(count c)" 1 "one server after its cgroup was removed"
	expect_eq "$(srv_pids c)" "$(rcat "$c/process/pid")" "the one process/pid names"
	ok "adoption when the cgroup was removed: one server"
else
	zr_start
	echo "# no cgroup here ($cg): the removed-cgroup case is skipped"
fi

# A stop (want down: a stop action would wait for the start task, one task at a time per
# service) while a start waits for readiness: the start fails (ECANCELED, stopped before
# ready), the tree goes.
t=$(mk_srv_svc t slow)
run_ok "echo start > '$t/actions/start'" >/dev/null
timeout 20 cat "$t/results/start" >"$TMP/t.out" 2>"$TMP/t.err" &
catpid=$!
wait_for "[ \"\$(count t)\" = 1 ]" 10 || fail "the slow server did not start"
echo down >"$t/process/want" || fail "want down"
wait "$catpid" && fail "the start succeeded although a stop came before ready"
wait_proc "$t" state down 10
expect_eq "$(srv_pids t)" "" "no server once stopped"
expect_in "$(cat "$TMP/t.out")" "stopped before ready" "the start's error"
expect_eq "$(proc_status "$t" state)" down "state after the stop"
ok "a stop during a start's ready wait: the start fails, the tree is gone"

# rmdir during a stop (the server ignores SIGTERM) and during a backoff: no server left.
u=$(mk_srv_svc u noterm)
run_ok "echo start > '$u/actions/start'" >/dev/null
run_ok "cat '$u/results/start'" >/dev/null
echo down >"$u/process/want" || fail "want down"
wait_proc "$u" state stopping 5
timeout 20 rmdir "$u" || fail "rmdir $u during its stop"
wait_for "[ -z \"\$(srv_pids u)\" ]" 10 || fail "rmdir during a stop left the server: $(srv_pids u)"
v=$(mk_srv_svc v crash)
echo up >"$v/process/want" || fail "want up"
wait_proc "$v" state backoff 10
timeout 20 rmdir "$v" || fail "rmdir $v during its backoff"
sleep 1
expect_eq "$(srv_pids v)" "" "rmdir during a backoff"
wait_for "[ -s '$MARKS/ondelete.u' ]" 10 || fail "on_delete of u did not run"
expect_eq "$(cat "$MARKS/ondelete.u")" gone "u's server was gone when on_delete ran"
ok "rmdir during a stop and during a backoff: nothing left"

# A robot stopped (SIGTERM) while a start waits for readiness: no hang, the task is
# interrupted, the server is left running for the next robot.
q=$(mk_srv_svc q slow)
run_ok "echo start > '$q/actions/start'" >/dev/null
wait_for "[ \"\$(count q)\" = 1 ]" 10 || fail "the slow server did not start"
zr_stop 10
expect_eq "$(count q)" 1 "the server outlives a SIGTERM'd robot during its start"
zr_start
wait_proc "$q" state ready 20
expect_eq "$(count q)" 1 "one server after the restart"
ok "SIGTERM of the robot while a start waits for ready: no hang, the server adopted"

# A server that floods its output (yes, hundreds of MB): the robot's memory, the disk and
# the robot's answers stay bounded, process/log stays readable.
f=$(mk_srv_svc f flood)
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$ZR_PID/status"; }
cpu() { awk '{ print $14 + $15 }' "/proc/$ZR_PID/stat"; }
rss0=$(rss)
cpu0=$(cpu)
run_ok "echo start > '$f/actions/start'" >/dev/null
run_ok "cat '$f/results/start'" >/dev/null
flog=$(ls -t "$DATA"/process/*.log | head -n 1)
worst=0
slowest=0
for i in $(seq 1 16); do
	sleep 0.5
	used=$(( $(stat -c %b "$flog") * $(stat -c %B "$flog") / 1024 ))
	[ "$used" -le "$worst" ] || worst=$used
	t0=$(now)
	timeout 10 cat "$MNT/@robot/info" >/dev/null || fail "@robot/info during the flood"
	t=$(since "$t0")
	fgt "$t" "$slowest" && slowest=$t
done
written=$(( $(stat -c %s "$flog") / 1048576 ))
cpu1=$(cpu)
rss1=$(rss)
last=$(timeout 10 cat "$f/process/log" | tail -n 3)
expect_in "$last" "$PROC_MARK-f-child" "process/log during the flood"
echo "# flood: ${written} MB written in 8 s; disk at most ${worst} KiB; robot RSS ${rss0} -> ${rss1} KiB, CPU $(( (cpu1 - cpu0) ))/$(getconf CLK_TCK) s; @robot/info at most ${slowest} s"
# Unread output beyond 16 MiB is skipped; what the writer adds between two reads comes on top
# (at about 1 GB/s here, and a loaded machine can leave the robot off the CPU for a while).
[ "$written" -ge 1024 ] || echo "# flood: only ${written} MB written (a slow machine)"
[ "$worst" -le 524288 ] || fail "the output file took ${worst} KiB on disk"
[ $((rss1 - rss0)) -le 32768 ] || fail "the robot's RSS grew by $((rss1 - rss0)) KiB"
# A read turn works 5 ms at most and the next comes 10 ms later: well under a core.
hz=$(getconf CLK_TCK)
[ $((cpu1 - cpu0)) -le $((8 * hz * 6 / 10)) ] || fail "the robot used $((cpu1 - cpu0))/$hz s of CPU in 8 s of flood"
fgt 2 "$slowest" || fail "@robot/info took ${slowest} s during the flood"
echo down >"$f/process/want" || fail "want down"
wait_proc "$f" state down 20
expect_eq "$(srv_pids f)" "" "the flood's tree is gone"
ok "a flooding server: disk, the robot's memory and answers bounded, its log readable"

# A crash loop for 30 s: hundreds of deaths a second; the robot's memory and fds stay put,
# deaths keeps the last 20, on.fail never runs (the budget is never spent), want down ends it.
l=$(svc loop l)
printf '{"marker": "%s-l"}' "$PROC_MARK" >"$l/data" || fail "data of l"
rss0=$(rss)
fds0=$(fds)
echo up >"$l/process/want" || fail "want up"
sleep 10
rss10=$(rss)
sleep 20
restarts=$(proc_status "$l" restarts)
rss1=$(rss)
fds1=$(fds)
echo "# crash loop: $restarts restarts in 30 s; robot RSS $rss0 -> $rss10 (10 s) -> $rss1 KiB, fds $fds0 -> $fds1"
[ "$restarts" -ge 100 ] || fail "only $restarts restarts in 30 s"
expect_eq "$(timeout 10 cat "$l/process/deaths" | wc -l)" 20 "deaths keeps the last 20"
# ASan keeps freed memory in quarantine: RSS says nothing there (LeakSanitizer checks at exit).
if grep -qa __asan_init "$ZROBOT"; then
	echo "# crash loop: RSS not checked under AddressSanitizer"
else
	[ $((rss1 - rss0)) -le 8192 ] || fail "the robot's RSS grew by $((rss1 - rss0)) KiB in a crash loop"
fi
[ "$fds1" -le $((fds0 + 2)) ] || fail "the robot's fds grew from $fds0 to $fds1 in a crash loop"
echo down >"$l/process/want" || fail "want down"
wait_proc "$l" state down 20
sleep 0.5
expect_eq "$(pgrep -f -- "$PROC_MARK-l" | wc -l)" 0 "nothing of the loop left"
[ ! -e "$MARKS/fail.l" ] || fail "on.fail ran in a crash loop within its budget"
timeout 10 cat "$MNT/@robot/info" >/dev/null || fail "@robot/info after the crash loop"
ok "a 30 s crash loop: memory, fds and deaths bounded; want down ends it"

timeout 20 rmdir "$l" || fail "rmdir l"
for x in w s b r c t q f; do
	[ -d "$MNT/srv/$x" ] || continue
	timeout 20 rmdir "$MNT/srv/$x" || fail "rmdir $x"
done
wait_for "[ -z \"\$(pgrep -f -- '$PROC_MARK')\" ]" 10 || fail "rmdir left servers"
zr_stop 20
