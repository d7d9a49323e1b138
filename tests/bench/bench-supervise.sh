#!/usr/bin/env bash
# Supervision against s6 (issue 13 "Measured"), every ratio from one run on this machine:
#
#  1. restart after kill -9 of a server, restart_delay 0: the time from the kill until a new
#     server process runs (its sleep exec'd), the robot's against s6-supervise's; ROUNDS (20)
#     interleaved kills, medians. Both supervise the same `run` script (sh, exec sleep
#     infinity), and each kill comes at least 1.2 s after the last start, since s6-supervise
#     waits out a second after a start before it starts again.
#  2. N (1,000) `sleep infinity` servers of the built-in template `process`: the time from the
#     first `echo start` until all N run (and until every start task has ended), against
#     s6-svscan starting N s6-supervise on a scan folder of N services running the same sleep;
#     the robot's RSS growth per server (started, and with the services themselves) against one
#     s6-supervise's RSS; the robot's CPU while idle with sampling on (--sample-interval,
#     default 2 s) over IDLE (10) seconds from /proc/PID/stat, as a percent of one core.
#  3. where it goes: a robot started after kill -9 adopting the N servers (the time until all
#     say adopted yes) with sampling off (its idle CPU: the difference is the sampling), and N
#     servers of a template without scripts (no start script, no ready check) brought up.
#
#     ZROBOT=build/fs/zrobot bash tests/bench/bench-supervise.sh
#
# Needs s6 (tests/deps.sh), python3, root for the robot's cgroups (else it falls back to
# process groups, as it logs). Counts: ROUNDS [20], N [1000], IDLE [10], SAMPLE [2].
# The crash tests of the issue (kill -9 of the robot with 50 servers up, a server killed in a
# loop) are tests/integration/test-process-crash.sh.
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_need python3 fusermount3 mountpoint s6-supervise s6-svscan s6-svstat
bench_init supervise

rounds=${ROUNDS:-20}
n=${N:-1000}
idle=${IDLE:-10}
sample=${SAMPLE:-2}
data=$tmp/data
tpl=$tmp/tpl
s6one=$tmp/s6one
scan=$tmp/s6scan
svscan_pid=
s6one_pid=
ulimit -n 65536 2>/dev/null || ulimit -n 16384 2>/dev/null || true

log() {
	printf '%s  %s\n' "$(date +%T)" "$*" >&2
}

# The one helper for the /proc work: timing a restart, counting servers, RSS and CPU.
cat >"$tmp/sup.py" <<'PY'
import os, signal, sys, time

def comm(p):
    try:
        with open(f"/proc/{p}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""

def children(pid):
    out = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for t in tids:
        try:
            with open(f"/proc/{pid}/task/{t}/children") as f:
                out += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out

def sleepers_under(base):
    """pids of live `sleep` processes whose cwd is under base."""
    n = []
    for p in os.listdir("/proc"):
        if not p.isdigit() or comm(p) != "sleep":
            continue
        try:
            if os.readlink(f"/proc/{p}/cwd").startswith(base):
                n.append(int(p))
        except OSError:
            pass
    return n

cmd = sys.argv[1]
if cmd == "restart":
    # restart PARENT OLD: kill -9 OLD, then ms until PARENT has another child running sleep.
    parent, old = int(sys.argv[2]), int(sys.argv[3])
    t0 = time.monotonic()
    os.kill(old, signal.SIGKILL)
    while True:
        for c in children(parent):
            if c != old and comm(c) == "sleep":
                print("%.3f %d" % ((time.monotonic() - t0) * 1000, c))
                sys.exit(0)
        if time.monotonic() - t0 > 30:
            sys.exit("no new server 30 s after the kill")
        time.sleep(0.0002)
elif cmd == "child":
    # child PARENT: the pid of PARENT's child running sleep (waits up to 10 s).
    parent = int(sys.argv[2])
    for _ in range(10000):
        for c in children(parent):
            if comm(c) == "sleep":
                print(c)
                sys.exit(0)
        time.sleep(0.001)
    sys.exit("no sleep child")
elif cmd == "wait_n":
    # wait_n BASE N T0: waits until N sleeps run under BASE; prints seconds since T0 (epoch).
    base, want, t0 = sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    while True:
        got = len(sleepers_under(base))
        if got >= want:
            print("%.3f" % (time.time() - t0))
            sys.exit(0)
        if time.time() - t0 > 600:
            sys.exit("only %d of %d servers after 600 s" % (got, want))
        time.sleep(0.02)
elif cmd == "count":
    print(len(sleepers_under(sys.argv[2])))
elif cmd == "rss":
    # rss PID...: the sum of VmRSS in KiB.
    kb = 0
    for p in sys.argv[2:]:
        with open(f"/proc/{p}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    kb += int(line.split()[1])
    print(kb)
elif cmd == "cpu":
    # cpu SECONDS PID...: utime+stime of the pids over SECONDS, percent of one core.
    def ticks(ps):
        t = 0
        for p in ps:
            with open(f"/proc/{p}/stat") as f:
                st = f.read()
            fields = st[st.rindex(")") + 2:].split()
            t += int(fields[11]) + int(fields[12])
        return t
    ps = sys.argv[3:]
    a, t0 = ticks(ps), time.monotonic()
    time.sleep(float(sys.argv[2]))
    b, t1 = ticks(ps), time.monotonic()
    print("%.3f" % ((b - a) / os.sysconf("SC_CLK_TCK") / (t1 - t0) * 100))
elif cmd == "kill_under":
    # kill_under BASE: SIGKILL to every process whose cwd is under BASE (the cleanup).
    for p in os.listdir("/proc"):
        if p.isdigit() and int(p) != os.getpid():
            try:
                if os.readlink(f"/proc/{p}/cwd").startswith(sys.argv[2]):
                    os.kill(int(p), signal.SIGKILL)
            except OSError:
                pass
PY
sup() {
	python3 "$tmp/sup.py" "$@"
}

# Everything this bench started: the s6 processes, the robot (--stop-on-exit stops its
# servers), then whatever still runs in a folder of $tmp, and the servers' cgroups.
stop_all() {
	local p
	for p in "$svscan_pid" "$s6one_pid"; do
		if [[ -n $p ]]; then
			kill -TERM "$p" 2>/dev/null || true
		fi
	done
	unmount "$mnt"
	stop_pid "$robot_pid" TERM
	robot_pid=
	sup kill_under "$tmp/" || true
	local cg g
	cg=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
	for g in "$data"/work/*/; do
		g=$(basename "$g")
		if [[ -n $cg && -d $cg/zrobot.servers/$g ]]; then
			echo 1 >"$cg/zrobot.servers/$g/cgroup.kill" 2>/dev/null || true
			for _ in 1 2 3 4 5 6 7 8 9 10; do
				rmdir "$cg/zrobot.servers/$g" 2>/dev/null && break
				sleep 0.1
			done
		fi
	done
	sup kill_under "$tmp/" || true
}
bench_on_exit=stop_all

# The run script both supervisors start, and the robot's template for it (restart_delay 0, a
# start budget that a bench never exhausts).
printf '#!/bin/sh\nexec sleep infinity\n' >"$tmp/run"
chmod 755 "$tmp/run"
mkdir -p "$tpl/bsleep" "$s6one"
cat >"$tpl/bsleep/template.json" <<JSON
{"name": "bsleep", "version": "1.0.0", "description": "bench-supervise: sleep behind sh",
 "process": {"command": ["/bin/sh", "$tmp/run"], "restart": "always", "restart_delay": 0,
             "start_limit": {"burst": 1000000, "interval": 1}}}
JSON
cp "$tmp/run" "$s6one/run"

start_robot "$data" --templates "$tpl" --listen none --log-level warn --stop-on-exit \
	--sample-interval "$sample"
[[ -d $mnt/bsleep ]] || bench_die "the template bsleep did not load (see the robot's log)"
rss0=$(sup rss "$robot_pid")

# ---- 1. restart after kill -9 ----
log "restart after kill -9: $rounds rounds against s6-supervise"
mkdir "$mnt/bsleep/r"
echo start >"$mnt/bsleep/r/actions/start"
cat "$mnt/bsleep/r/results/start" >/dev/null || bench_die "start of bsleep/r failed"
s6-supervise "$s6one" >/dev/null 2>&1 &
s6one_pid=$!
robot_child=$(sup child "$robot_pid")
s6_child=$(sup child "$s6one_pid")
: >"$tmp/restart.robot"
: >"$tmp/restart.s6"
for ((r = 0; r < rounds; r++)); do
	sleep 1.2
	if ((r % 2 == 0)); then
		read -r ms robot_child < <(sup restart "$robot_pid" "$robot_child")
		echo "$ms" >>"$tmp/restart.robot"
		read -r ms s6_child < <(sup restart "$s6one_pid" "$s6_child")
		echo "$ms" >>"$tmp/restart.s6"
	else
		read -r ms s6_child < <(sup restart "$s6one_pid" "$s6_child")
		echo "$ms" >>"$tmp/restart.s6"
		read -r ms robot_child < <(sup restart "$robot_pid" "$robot_child")
		echo "$ms" >>"$tmp/restart.robot"
	fi
done
restart_robot=$(median <"$tmp/restart.robot")
restart_s6=$(median <"$tmp/restart.s6")
log "restart: robot $(tr '\n' ' ' <"$tmp/restart.robot")ms"
log "restart: s6 $(tr '\n' ' ' <"$tmp/restart.s6")ms"
s6_rss=$(sup rss "$s6one_pid")
restarts=$(awk '$1 == "restarts" { print $2 }' "$mnt/bsleep/r/process/status")
[[ $restarts == "$rounds" ]] || log "warning: process/status says restarts $restarts after $rounds kills"
echo stop >"$mnt/bsleep/r/actions/stop"
cat "$mnt/bsleep/r/results/stop" >/dev/null || true
rmdir "$mnt/bsleep/r"
kill -TERM "$s6one_pid" 2>/dev/null || true
wait "$s6one_pid" 2>/dev/null || true
s6one_pid=
sup kill_under "$s6one" || true

# ---- 2. N servers of the template process ----
log "$n services of the template process"
t0=$EPOCHREALTIME
for ((i = 0; i < n; i++)); do
	mkdir "$mnt/process/s$i"
	printf '{"command": ["sleep", "infinity"]}\n' >"$mnt/process/s$i/data"
done
made_s=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')
sleep 1
rss1=$(sup rss "$robot_pid")

log "starting them"
t0=$EPOCHREALTIME
for ((i = 0; i < n; i++)); do
	echo start >"$mnt/process/s$i/actions/start"
done
sup wait_n "$data/work/" "$n" "$t0" >"$tmp/up.robot" &
up_pid=$!
failed=0
for ((i = 0; i < n; i++)); do
	if ! cat "$mnt/process/s$i/results/start" >/dev/null 2>&1; then
		failed=$((failed + 1))
	fi
done
ended_s=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')
wait "$up_pid" || bench_die "not all $n servers came up"
up_robot=$(cat "$tmp/up.robot")
((failed == 0)) || log "warning: $failed start tasks failed"
sleep 3
rss2=$(sup rss "$robot_pid")
running=$(sup count "$data/work/")
log "robot: all running after $up_robot s, start tasks ended after $ended_s s;" \
	"RSS $rss0 -> $rss1 (services made) -> $rss2 KiB (servers up)"

log "robot idle with $n servers, sampling every $sample s: CPU over $idle s"
cpu_robot=$(sup cpu "$idle" "$robot_pid")
log "robot idle: $cpu_robot % of a core"

log "s6-svscan with $n services"
mkdir -p "$scan"
for ((i = 0; i < n; i++)); do
	mkdir "$scan/s$i"
	cp "$tmp/run" "$scan/s$i/run"
done
t0=$EPOCHREALTIME
# s6-svscan supervises at most 500 services unless -c says more.
s6-svscan -c $((n + 100)) "$scan" >/dev/null 2>&1 &
svscan_pid=$!
up_s6=$(sup wait_n "$scan/" "$n" "$t0") || bench_die "s6-svscan did not bring up $n servers"
sleep 3
mapfile -t s6_pids < <(pgrep -P "$svscan_pid" -x s6-supervise)
s6_total=$(sup rss "$svscan_pid" "${s6_pids[@]}")
cpu_s6=$(sup cpu "$idle" "$svscan_pid" "${s6_pids[@]}")

log "s6: all running after $up_s6 s; idle $cpu_s6 % of a core"
# Its 2,000 processes would slow the robot's part below (without cgroups, starts sweep /proc).
kill -TERM "$svscan_pid" 2>/dev/null || true
wait "$svscan_pid" 2>/dev/null || true
svscan_pid=
sup kill_under "$scan/" || true

# ---- 3. where the time and the CPU go ----
# The same N servers adopted by a new robot after a kill -9, with sampling off: how long
# adoption takes, and the idle CPU without sampling (the difference is the sampling's cost).
log "kill -9 of the robot; a new one with sampling off adopts the $n servers"
kill -KILL "$robot_pid"
wait "$robot_pid" 2>/dev/null || true
robot_pid=
for _ in $(seq 100); do
	mountpoint -q "$mnt" || break
	sleep 0.05
done
unmount "$mnt"
t0=$EPOCHREALTIME
start_robot "$data" --templates "$tpl" --listen none --log-level warn --stop-on-exit \
	--sample-interval 0
for ((i = 0; i < n; i++)); do
	until grep -qx 'adopted yes' "$mnt/process/s$i/process/status" 2>/dev/null; do
		sleep 0.01
	done
done
adopt_s=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')
sleep 3
running_after=$(sup count "$data/work/")
cpu_off=$(sup cpu "$idle" "$robot_pid")
log "adopted all $n in $adopt_s s ($running_after running); idle without sampling: $cpu_off %"

# N servers of a template without scripts (bsleep: no start script, no ready check): the
# part of the time to all up that the template process's two scripts per start take.
log "$n services of bsleep (no start script, no ready check)"
for ((i = 0; i < n; i++)); do
	mkdir "$mnt/bsleep/b$i"
done
t0=$EPOCHREALTIME
for ((i = 0; i < n; i++)); do
	echo start >"$mnt/bsleep/b$i/actions/start"
done
sup wait_n "$data/work/" $((2 * n)) "$t0" >"$tmp/up.bare" || bench_die "not all bsleep servers came up"
up_bare=$(cat "$tmp/up.bare")
log "bsleep: all running after $up_bare s"

# ---- the table ----
per_server=$(awk -v a="$rss1" -v b="$rss2" -v n="$n" 'BEGIN { printf "%.2f", (b - a) / n }')
per_service=$(awk -v a="$rss0" -v b="$rss2" -v n="$n" 'BEGIN { printf "%.2f", (b - a) / n }')
s6_per=$(awk -v t="$s6_total" -v n="$n" 'BEGIN { printf "%.2f", t / n }')
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.2f\n", a / b }'
}
met() {
	awk -v v="$1" -v g="$2" 'BEGIN { print (v < g ? "yes" : "NO") }'
}
printf 'zrobot: %s; %s cores, %s\n' "$zrobot" "$(nproc)" "$(uptime | sed 's/.*load/load/')"
printf 'robot: %s services made in %s s; %s start tasks ended in %s s (%s failed);' \
	"$n" "$made_s" "$n" "$ended_s" "$failed"
printf ' %s servers running\n' "$running"
{
	echo "metric|zrobot|s6|ratio|goal|met"
	row() {
		printf '%s|%s|%s|%s|%s|%s\n' "$@"
	}
	row "restart after kill -9, median of $rounds (ms)" "$restart_robot" "$restart_s6" \
		"$(ratio "$restart_robot" "$restart_s6")" - -
	row "$n sleep servers: time to all running (s)" "$up_robot" "$up_s6" \
		"$(ratio "$up_robot" "$up_s6")" - -
	row "RSS per server: robot growth at start vs one s6-supervise (KiB)" "$per_server" \
		"$s6_rss" "$(ratio "$per_server" "$s6_rss")" "< 8" "$(met "$per_server" 8)"
	row "RSS per service with its server: robot growth from none (KiB)" "$per_service" \
		"$s6_per" "$(ratio "$per_service" "$s6_per")" - -
	row "CPU while idle, $n servers, sampling every $sample s (% of a core)" "$cpu_robot" \
		"$cpu_s6" - "< 2" "$(met "$cpu_robot" 2)"
	row "CPU while idle, $n servers, sampling off (% of a core)" "$cpu_off" "$cpu_s6" - - -
	row "$n servers adopted by a robot started after kill -9 (s)" "$adopt_s" - - - -
	row "$n servers without start script nor ready check: all running (s)" "$up_bare" \
		"$up_s6" "$(ratio "$up_bare" "$up_s6")" - -
} | column -t -s '|' -o ' | '
