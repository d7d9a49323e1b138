#!/bin/bash
# Servers outlive the robot (DESIGN §6): after kill -9 of the robot with 5 servers up, the next
# robot finds each one again (same pid, adopted yes, never a second copy); a server killed
# while no robot ran is started again per its want; a robot stopped by SIGTERM leaves them
# running; --stop-on-exit stops them. Each case with cgroups (where cgroup v2 is usable) and
# with --no-cgroups (process groups and the /proc sweep).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-process.sh"

command -v pgrep >/dev/null 2>&1 || skip "pgrep is missing"
mk_srv

# pids_of PREFIX: "name=pid" of services PREFIX1..PREFIX5 as the robot shows them.
pids_of() {
	local i
	for i in 1 2 3 4 5; do
		printf '%s%s=%s ' "$1" "$i" "$(rcat "$MNT/srv/$1$i/process/pid")"
	done
}

# one_each PREFIX: exactly one server process per service, the one process/pid names.
one_each() {
	local i
	for i in 1 2 3 4 5; do
		expect_eq "$(srv_pids "$1$i")" "$(rcat "$MNT/srv/$1$i/process/pid")" "the one server of $1$i"
	done
}

# crash_robot: kill -9 of the robot; its mount goes (auto_unmount).
crash_robot() {
	kill -KILL "$ZR_PID"
	zr_reap "$ZR_PID" 10 || fail "the robot survived kill -9"
	wait_for "! mounted" 10 || fusermount3 -u "$MNT" 2>/dev/null
}

# cases PREFIX ARGS...: the whole story with the robot's ARGS.
cases() {
	local p=$1 i
	shift
	zr_start "$@"
	for i in 1 2 3 4 5; do
		mk_srv_svc "$p$i" >/dev/null
		run_ok "echo start > '$MNT/srv/$p$i/actions/start'" >/dev/null
	done
	for i in 1 2 3 4 5; do
		run_ok "cat '$MNT/srv/$p$i/results/start'" >/dev/null
	done
	local before
	before=$(pids_of "$p")
	one_each "$p"
	ok "$p: 5 servers up ($*)"

	# kill -9 of the robot, a server killed meanwhile.
	crash_robot
	for i in 1 2 3 4 5; do
		[ -n "$(srv_pids "$p$i")" ] || fail "server $p$i died with the robot"
	done
	local dead
	dead=$(srv_pids "${p}5")
	kill -KILL $dead
	wait_for "[ -z \"\$(srv_pids ${p}5)\" ]" 5 || fail "${p}5 survived kill -9"
	zr_start "$@"
	for i in 1 2 3 4; do
		wait_proc "$MNT/srv/$p$i" state ready 10
		expect_eq "$(proc_status "$MNT/srv/$p$i" adopted)" yes "$p$i adopted"
	done
	wait_proc "$MNT/srv/${p}5" state ready 15
	expect_eq "$(proc_status "$MNT/srv/${p}5" adopted)" no "${p}5 started again, not adopted"
	local after
	after=$(pids_of "$p")
	expect_eq "$(echo "$after" | cut -d' ' -f1-4)" "$(echo "$before" | cut -d' ' -f1-4)" "same pids after kill -9 of the robot"
	[ "$(rcat "$MNT/srv/${p}5/process/pid")" != "$(echo "$before" | cut -d' ' -f5 | cut -d= -f2)" ] ||
		fail "${p}5 kept its dead pid"
	one_each "$p"
	expect_in "$(rcat "$MNT/srv/${p}1/events")" '"process.adopted"' "adopted event"
	ok "$p: kill -9 of the robot: 4 adopted with the same pids, the one that died started again, no duplicates"

	# SIGTERM leaves them; the next robot adopts them.
	before=$(pids_of "$p")
	zr_stop 20
	for i in 1 2 3 4 5; do
		[ -n "$(srv_pids "$p$i")" ] || fail "SIGTERM of the robot stopped $p$i"
	done
	zr_start "$@"
	for i in 1 2 3 4 5; do
		wait_proc "$MNT/srv/$p$i" state ready 10
		expect_eq "$(proc_status "$MNT/srv/$p$i" adopted)" yes "$p$i adopted after SIGTERM"
	done
	expect_eq "$(pids_of "$p")" "$before" "same pids after a SIGTERM restart"
	one_each "$p"
	ok "$p: SIGTERM leaves the servers running, the next robot adopts them"

	# want down survives the robot: not started again.
	run_ok "echo down > '$MNT/srv/${p}1/process/want'" >/dev/null
	wait_proc "$MNT/srv/${p}1" state down 10
	zr_stop 20
	zr_start "$@"
	sleep 1
	expect_eq "$(rcat "$MNT/srv/${p}1/process/want")" down "want down after a restart"
	expect_eq "$(srv_pids "${p}1")" "" "a server wanted down is not started at start"
	ok "$p: want is durable"

	# --stop-on-exit stops them.
	zr_stop 20
	zr_start "$@" --stop-on-exit
	for i in 2 3 4 5; do
		wait_proc "$MNT/srv/$p$i" state ready 10
	done
	zr_stop 30
	for i in 1 2 3 4 5; do
		expect_eq "$(srv_pids "$p$i")" "" "$p$i after a stop with --stop-on-exit"
	done
	ok "$p: --stop-on-exit stops every server (the whole tree)"

	# want survives that too: they come back at the next start.
	zr_start "$@"
	for i in 2 3 4 5; do
		wait_proc "$MNT/srv/$p$i" state ready 15
		expect_eq "$(proc_status "$MNT/srv/$p$i" adopted)" no "$p$i started, not adopted"
	done
	one_each "$p"
	for i in 1 2 3 4 5; do
		timeout 20 rmdir "$MNT/srv/$p$i" || fail "rmdir $p$i"
	done
	wait_for "[ -z \"\$(pgrep -f -- '$PROC_MARK-$p')\" ]" 10 || fail "rmdir left servers of $p"
	zr_stop 20
	ok "$p: stopped servers started again at start per their want; rmdir stopped them"
}

cases cg
cases pg --no-cgroups
