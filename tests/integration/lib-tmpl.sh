# Helpers for the tests of the built-in server templates (tests/integration/test-tmpl-*.sh),
# sourced after lib.sh. Those tests start real servers (redis, postgres, nginx, memcached,
# mongod) through the robot; servers outlive a robot stopped by SIGTERM (issue 13), so the
# EXIT trap here also kills what is left in the cgroups of the services the test made, and every
# process whose environment names this test's mount (servers get ZR_ROOT like actions) or one of
# those services, and removes the cgroups.

TMPL_GUIDS=()    # guids of the services this test made (their cgroups are removed at exit)
TMPL_PORTS=()    # ports the test's servers used: each must be free at the end

# need_prog NAME...: skips the test (a failure in CI, see lib.sh skip) when a program is
# missing: tests/deps.sh installs them.
need_prog() {
	local p
	for p in "$@"; do
		command -v "$p" >/dev/null 2>&1 || skip "$p is not installed (tests/deps.sh installs it)"
	done
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on now (the kernel's choice for
# bind(0), so two tests at once do not pick the same one).
free_port() {
	"$ZR_PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# port_listening PORT: something listens on 127.0.0.1:PORT or *:PORT (IPv4 or IPv6), from
# /proc/net/tcp{,6} (state 0A).
port_listening() {
	local hex
	hex=$(printf '%04X' "$1")
	awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { found = 1 }
		END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# tmpl_svc TEMPLATE NAME DATA-JSON: mkdir the service and write its data (one write); sets SVC
# (its path) and GUID, and remembers the guid for the cleanup. Not in $(...): it sets variables.
tmpl_svc() {
	SVC=$(svc "$1" "$2")
	if [ -n "$3" ]; then
		timeout 10 bash -c 'printf "%s\n" "$2" >"$1"' _ "$SVC/data" "$3" ||
			fail "writing data of $1/$2 failed: $(rcat "$SVC/lasterror" 2>/dev/null)"
	fi
	GUID=$(jsonstr "$(rcat "$SVC/info")" 'j["guid"]')
	TMPL_GUIDS+=("$GUID")
}

# act SVC ACTION [PAYLOAD] [TIMEOUT]: echo PAYLOAD (default: the action's name) into
# actions/ACTION, then cat results/ACTION (bounded, default 90 s); prints the result. Fails the
# test when the task fails, with its error text.
act() {
	local out rc=0 limit=${4:-90}
	out=$(timeout -k 2 "$limit" bash -c 'printf "%s\n" "$3" >"$1/actions/$2" &&
		cat "$1/results/$2"' _ "$1" "$2" "${3:-$2}" 2>"$TMP/act.err") || rc=$?
	[ "$rc" -ne 124 ] || fail "$2 of $1 did not end within $limit s"
	[ "$rc" -eq 0 ] || fail "$2 of $1 failed (rc $rc): $out $(cat "$TMP/act.err")"
	printf '%s\n' "$out"
}

# status_of SVC KEY: the value of line KEY of process/status ("state", "pid", "restarts"...).
status_of() {
	timeout 10 cat "$1/process/status" 2>/dev/null |
		awk -v k="$2" '$1 == k { $1 = ""; sub(/^ /, ""); print; exit }'
}

# stat_of SVC KEY: the value of line KEY of process/stats (the first, for "listening").
stat_of() {
	timeout 10 cat "$1/process/stats" 2>/dev/null | awk -v k="$2" '$1 == k { print $2; exit }'
}

# server_pid SVC: process/pid, the number alone.
server_pid() {
	timeout 10 cat "$1/process/pid" 2>/dev/null | tr -d '[:space:]'
}

# check_stats SVC PORT: within 15 s (sampling runs every --sample-interval) process/stats shows
# rss > 0 and "listening 127.0.0.1:PORT".
check_stats() {
	wait_for "[ \"\$(stat_of '$1' rss)\" -gt 0 ] 2>/dev/null" 15 ||
		fail "process/stats of $1 shows no rss: $(rcat "$1/process/stats")"
	wait_for "timeout 10 cat '$1/process/stats' | grep -qx 'listening 127.0.0.1:$2'" 15 ||
		fail "process/stats of $1 does not show listening 127.0.0.1:$2: $(rcat "$1/process/stats")"
}

# check_ready SVC: process/status says state ready, adopted no, and pid is a live process.
check_ready() {
	local pid
	expect_eq "$(status_of "$1" state)" ready "process/status state of $1"
	expect_eq "$(status_of "$1" adopted)" no "process/status adopted of $1"
	pid=$(server_pid "$1")
	[ -n "$pid" ] && pid_alive "$pid" || fail "process/pid of $1 ('$pid') is not a live process"
}

# check_kill9 SVC PROBE: kill -9 of the server's main process; within 30 s another pid runs,
# state is ready again, restarts is 1 more, last_exit is "signal KILL" ("unknown" for an adopted
# server), and PROBE (a command) answers again.
check_kill9() {
	local old new before exit_re
	old=$(server_pid "$1")
	before=$(status_of "$1" restarts)
	# An adopted server is not the robot's child: its exit status cannot be known.
	exit_re='^signal KILL$'
	if [ "$(status_of "$1" adopted)" = yes ]; then
		exit_re='^unknown$'
	fi
	kill -KILL "$old" || fail "kill -9 $old"
	wait_for "p=\$(server_pid '$1'); [ -n \"\$p\" ] && [ \"\$p\" != '$old' ] &&
		[ \"\$(status_of '$1' state)\" = ready ]" 30 ||
		fail "$1 not ready again 30 s after kill -9 of $old: $(rcat "$1/process/status")"
	new=$(server_pid "$1")
	expect_eq "$(status_of "$1" restarts)" "$((${before:-0} + 1))" "restarts after kill -9"
	expect_match "$(status_of "$1" last_exit)" "$exit_re" "last_exit after kill -9 of $old"
	wait_for "$2" 30 || fail "the server of $1 does not answer after its restart ($2)"
	echo "$new"
}

# check_removed SVC PID PORT: rmdir SVC; PID (the server) and every process of its tree are
# gone and PORT is free.
check_removed() {
	timeout 60 rmdir "$1" || fail "rmdir $1 failed"
	wait_for "! pid_alive $2" 30 || fail "server $2 still runs after rmdir $1"
	wait_for "! port_listening $3" 30 || fail "port $3 still listened on after rmdir $1"
}

# tmpl_server_pids: processes whose environment has ZR_ROOT=$MNT (servers get it like actions)
# or the process marker (ZR_PROCESS_ID=guid) of a service this test made.
tmpl_server_pids() {
	local p g env
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		[ "$p" = $$ ] && continue
		env=$(tr '\0' '\n' 2>/dev/null <"/proc/$p/environ") || continue
		if printf '%s\n' "$env" | grep -qxF "ZR_ROOT=$MNT"; then
			echo "$p"
			continue
		fi
		for g in "${TMPL_GUIDS[@]}"; do
			if printf '%s\n' "$env" | grep -qxF "ZR_PROCESS_ID=$g"; then
				echo "$p"
				break
			fi
		done
	done
}

# tmpl_cleanup: the EXIT trap: stop this test's robots (SIGTERM leaves servers running, by
# design), kill every server they left, remove the services' cgroups, then lib.sh's cleanup.
# A server may overwrite its environment (redis sets its process title there), so its cgroup
# (cgroup.kill) is the sure way; the environment sweep covers --no-cgroups.
tmpl_cleanup() {
	local rc=$? p g cg pids guids
	set +e
	pids=("${ZR_PIDS[@]}")
	for p in "${pids[@]}"; do
		pid_alive "$p" && kill -TERM "$p" 2>/dev/null
	done
	for p in "${pids[@]}"; do
		if ! zr_reap "$p" 7; then
			kill -KILL "$p" 2>/dev/null
			zr_reap "$p" 5
		fi
	done
	# Work folders are named by the services' guids: also those a failed tmpl_svc did not record.
	guids=("${TMPL_GUIDS[@]}")
	for p in "$DATA"/work/*/; do
		[ -d "$p" ] && guids+=("$(basename "$p")")
	done
	TMPL_GUIDS=("${guids[@]}")
	cg=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
	for g in "${guids[@]}"; do
		if [ -n "$cg" ] && [ -f "$cg/zrobot.servers/$g/cgroup.kill" ]; then
			echo 1 >"$cg/zrobot.servers/$g/cgroup.kill" 2>/dev/null
		fi
	done
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		pids=($(tmpl_server_pids))
		[ "${#pids[@]}" -eq 0 ] && break
		kill -KILL "${pids[@]}" 2>/dev/null
		sleep 0.2
	done
	for g in "${guids[@]}"; do
		[ -n "$cg" ] && [ -d "$cg/zrobot.servers/$g" ] || continue
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			rmdir "$cg/zrobot.servers/$g" 2>/dev/null && break
			sleep 0.2
		done
	done
	(exit "$rc")
	zr_cleanup
}
trap tmpl_cleanup EXIT
