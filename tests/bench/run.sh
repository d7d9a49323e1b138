#!/usr/bin/env bash
# Every benchmark of issue 11's goals, each a ratio against its peer measured in the same run
# (medians of ROUNDS rounds, each round running both sides one after the other, the order
# alternating), printed as one table:
#
#     metric | zrobot | peer | ratio | goal | met
#
#     ZROBOT=build/fs/zrobot bash tests/bench/run.sh
#
# The peer of the tree operations is barefs (tests/bench/barefs.c), a bare low-level libfuse
# filesystem on libuv mounted with the robot's options; see README.md for each metric. Needs
# the build's tests/bench programs (next to $ZROBOT's build, or BENCH_BUILD), python3, wrk,
# nginx and curl. Counts can be set in the environment (defaults in brackets):
#   ROUNDS [3]; S1 [10], S2 [10000], S3 [100000] services; TASKS3 [100000] finished tasks in
#   the S3 store; RT [100] round trips; STATS [20000] stats; READS [5000] reads; DIRS [20]
#   readdirs; LS [5] ls runs; PARK [10000] parked readers; WRITERS [32] writers of WRITES
#   [200] enqueues each; HTTP_D [3] seconds per wrk run; REMOTE_N [200] remote cats;
#   BP_N [1000] services in the blueprint; FIND_N [2000] services for find (bench-find.sh);
#   ONLY (a space-separated list of parts: tree park durable many most http remote blueprint
#   find);
#   PERF_DIR: profile the robot (perf record -g) during each compared metric, top entries in
#   PERF_DIR/<metric>.txt.
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_need python3 fusermount3 mountpoint
bench_init bench
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
measure=$(bench_tool measure)
bench_tool barefs >/dev/null

rounds=${ROUNDS:-3}
s1=${S1:-10}
s2=${S2:-10000}
s3=${S3:-100000}
tasks3=${TASKS3:-100000}
rt=${RT:-100}
stats=${STATS:-20000}
reads=${READS:-5000}
dirs=${DIRS:-20}
ls_runs=${LS:-5}
park=${PARK:-10000}
writers=${WRITERS:-32}
writes=${WRITES:-200}
only=" ${ONLY:-tree park durable many most http remote blueprint find} "
bare=$tmp/bare
barefs_pid=
rows=$tmp/rows
: >"$rows"
ulimit -n 65536 2>/dev/null || ulimit -n 16384 2>/dev/null || true

# A second robot, with S1 services, for the round trip at S3 services: swap_small swaps it in
# and out of $mnt and $robot_pid.
small_mnt=$tmp/mnt-small
small_pid=
swap_small() {
	local m=$mnt p=$robot_pid
	mnt=$small_mnt
	robot_pid=$small_pid
	small_mnt=$m
	small_pid=$p
}

stop_all() {
	stop_barefs "$bare"
	swap_small
	stop_robot
	swap_small
}
bench_on_exit=stop_all

part() {
	[[ $only == *" $1 "* ]]
}

log() {
	printf '%s  %s\n' "$(date +%T)" "$*" >&2
}

# val KEY: the number after KEY in measure's line on stdin.
val() {
	awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) { print $(i + 1); exit } }'
}

# ls_ms N DIR [ARGS...]: median ms of N runs of `ls ARGS DIR` (fork+exec of ls included).
ls_ms() {
	local n=$1 dir=$2 i t
	shift 2
	for ((i = 0; i < n; i++)); do
		t=$EPOCHREALTIME
		LC_ALL=C ls "$@" "$dir" >/dev/null
		awk -v a="$t" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f\n", (b - a) * 1000 }'
	done | median
}

# profiled NAME CMD: runs CMD; with PERF_DIR set, under `perf record -g` of the robot, whose
# top entries go to PERF_DIR/NAME.txt (the robot's figures are then slower: a separate run).
profiled() {
	local perf_pid
	if [[ -z ${PERF_DIR:-} ]]; then
		eval "$2"
		return
	fi
	mkdir -p "$PERF_DIR"
	perf record -g -q -p "$robot_pid" -o "$tmp/$1.perf" 2>/dev/null &
	perf_pid=$!
	sleep 0.3
	eval "$2"
	kill -INT "$perf_pid" 2>/dev/null || true
	wait "$perf_pid" 2>/dev/null || true
	{
		echo "## by object"
		perf report -i "$tmp/$1.perf" --no-children --stdio --sort comm,dso 2>/dev/null |
			grep -E '^ +[0-9.]+%' | head -n 8
		echo "## symbols"
		perf report -i "$tmp/$1.perf" --no-children --stdio --percent-limit 1.5 2>/dev/null |
			grep -E '^ +[0-9.]+%' | head -n 20
		echo "## user-space symbols of the robot"
		perf report -i "$tmp/$1.perf" --no-children --stdio --comms zrobot --percent-limit 0.3 \
			2>/dev/null | grep -E '^ +[0-9.]+%.*\[\.\]' | head -n 15
	} >>"$PERF_DIR/$1.txt" || true
}

# sides NAME ROBOT-CMD PEER-CMD: both commands $rounds times (interleave), each printing one
# number, appended to $tmp/NAME.robot and $tmp/NAME.peer.
sides() {
	interleave "$rounds" "profiled $1 $(printf %q "$2")" "$tmp/$1.robot" "$3" "$tmp/$1.peer"
}

med() {
	median <"$tmp/$1"
}

# row METRIC ZROBOT PEER RATIO GOAL-OP GOAL: one line of the table; met when RATIO GOAL-OP
# GOAL holds (ops: <=, >=, <; "-": no goal).
row() {
	local met
	met=$(awk -v r="$4" -v op="$5" -v g="$6" 'BEGIN {
		if (op == "-") { print "-"; exit }
		if (r == "" || r == "nan" || r == "-") { print "?"; exit }
		ok = op == "<=" ? r <= g : op == ">=" ? r >= g : r < g
		print ok ? "yes" : "NO" }')
	local goal="$5 $6"
	[[ $5 != - ]] || goal=-
	printf '%s|%s|%s|%s|%s|%s\n' "$1" "$2" "$3" "$4" "$goal" "$met" >>"$rows"
}

ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "nan"; else printf "%.2f\n", a / b }'
}

fmt() {
	awk -v v="$1" -v f="$2" 'BEGIN { printf f, v }'
}

# num X: X with as many decimals as its size deserves.
num() {
	awk -v v="$1" 'BEGIN { if (v !~ /^[0-9.eE+-]+$/) print v; else if (v >= 100) printf "%.0f\n", v;
		else if (v >= 10) printf "%.1f\n", v; else printf "%.3g\n", v }'
}

# compare NAME METRIC PEER OP GOAL HOW ROBOT-CMD PEER-CMD: both sides in rounds (sides), then
# the row of their medians. HOW says which way the ratio goes: "robot/peer", or "peer/robot"
# for times whose goal is a speed.
compare() {
	local a b r
	sides "$1" "$7" "$8"
	a=$(med "$1.robot")
	b=$(med "$1.peer")
	if [[ $6 == peer/robot ]]; then
		r=$(ratio "$b" "$a")
	else
		r=$(ratio "$a" "$b")
	fi
	row "$2" "$(num "$a")" "$(num "$b") $3" "$r" "$4" "$5"
}

# start_both DATA-DIR SERVICES: a store of SERVICES services and a robot on it, barefs with as
# many; warms both up. Sets svc and bsvc, the first service on each.
start_both() {
	build_store "$1" "$2" 0
	start_robot "$1" "${robot_args[@]}"
	start_barefs "$bare" "$2"
	svc=$mnt/bench/s000000
	bsvc=$bare/b/s000000
	[[ -d $svc ]] || bench_die "the robot does not show $svc"
	# The first spawn, the page cache of the binaries, the kernel's dentries.
	"$measure" roundtrip 5 "$svc/actions/noop" "$svc/results/noop" >/dev/null
	"$measure" spawn 5 "$noop" >/dev/null
	"$measure" read 100 "$svc/state" >/dev/null
	"$measure" read 100 "$bsvc/state" >/dev/null
}

stop_both() {
	stop_robot
	stop_barefs "$bare"
}

# newest_task SVC-DIR: id of the newest task of the service.
newest_task() {
	ls "$1/tasks" | grep -E '^[0-9]+$' | sort -n | tail -n 1
}

# hold SVC-DIR: starts the hold action there and waits until its task runs.
hold() {
	local id
	echo '{}' >"$1/actions/hold"
	id=$(newest_task "$1")
	for _ in $(seq 200); do
		[[ $(cat "$1/tasks/$id/state" 2>/dev/null) == running ]] && return 0
		sleep 0.05
	done
	bench_die "the hold task in $1 did not start"
}

tpl=$tmp/tpl
bench_template "$tpl"
noop=$tpl/bench/actions/noop
robot_args=(--templates "$tpl" --listen none --log-level warn --jobs 1 --queue-max 1000000)

# roundtrip SVC-DIR N: the action round trip on a service, median ms. spawn N: posix_spawn of
# noop.
roundtrip() {
	"$measure" roundtrip "$2" "$1/actions/noop" "$1/results/noop" | val ms
}
spawn() {
	"$measure" spawn "$1" "$noop" | val ms
}

# ---- 10 services: action round trip, stat, open+read+close, parked readers, enqueue ----
if part tree || part park || part durable; then
	log "store and robot with $s1 services, barefs"
	start_both "$tmp/data1" "$s1"
fi
if part tree; then
	log "action round trip ($s1 services), stat, open+read+close"
	compare rt10 "action round trip, $s1 services (ms)" posix_spawn "<=" 1.3 robot/peer \
		"roundtrip '$svc' $rt" "spawn $rt"
	compare stat "stat of state (/s)" barefs ">=" 0.8 robot/peer \
		"'$measure' stat $stats '$svc/state' | val ops_per_s" \
		"'$measure' stat $stats '$bsvc/state' | val ops_per_s"
	compare read "open+read+close of state (/s)" barefs ">=" 0.9 robot/peer \
		"'$measure' read $reads '$svc/state' | val ops_per_s" \
		"'$measure' read $reads '$bsvc/state' | val ops_per_s"
	# Goal 7: a listing shows . and .. (ls -a prints them first): 1 if it does.
	dots() {
		[[ $(ls -a "$1" | head -n 2 | tr '\n' ' ') == ". .. " ]] && echo 1 || echo 0
	}
	row "'.' and '..' in a listing" "$(dots "$svc")" "$(dots "$bsvc") barefs" "$(dots "$svc")" ">=" 1
fi
if part park; then
	log "$park parked readers"
	# park_on SIDE PATH TRIGGER PID: the release time in ms; the RSS growth per reader in
	# $tmp/park_kb.SIDE.
	park_on() {
		"$measure" park "$park" "$2" "$3" "$4" >"$tmp/park.out" ||
			bench_die "parked readers on $1 failed: $(cat "$tmp/park.out")"
		val rss_kb_per_reader <"$tmp/park.out" >>"$tmp/park_kb.$1"
		val ms <"$tmp/park.out"
	}
	compare park "$park parked readers released, last answered (ms)" barefs "<=" 1.5 robot/peer \
		"hold '$mnt/bench/s000001'; park_on robot '$mnt/bench/s000001/results/hold' '$tmp/hold.fifo' $robot_pid" \
		"park_on peer '$bare/b/s000001/wait' '$bare/go' $barefs_pid"
	# The largest growth of the rounds: later rounds park in memory the first one freed.
	kb=$(sort -g "$tmp/park_kb.robot" | tail -n 1)
	row "memory per parked reader (KiB, RSS growth)" "$(fmt "$kb" %.3f)" \
		"$(fmt "$(sort -g "$tmp/park_kb.peer" | tail -n 1)" %.3f) barefs" "$(fmt "$kb" %.3f)" "<" 1
fi
if part durable; then
	log "durable enqueue, $writers writers"
	# The one slot (--jobs 1) is held: the tasks only queue and only the acknowledgements,
	# each given once its enqueue is committed, are timed.
	hold "$mnt/bench/s000002"
	paths=()
	bpaths=()
	for ((w = 0; w < writers; w++)); do
		paths+=("$(printf '%s/bench/s%06d/actions/noop' "$mnt" $((w % s1)))")
		bpaths+=("$(printf '%s/b/s%06d/sink' "$bare" $((w % s1)))")
	done
	compare enq "durable enqueue, $writers writers (/s)" barefs ">=" 0.8 robot/peer \
		"'$measure' writers $writes ${paths[*]} | val ops_per_s" \
		"'$measure' writers $writes ${bpaths[*]} | val ops_per_s"
fi
stop_both

# ---- 10,000 services: action round trip, readdir, ls -l ----
if part many; then
	log "store and robot with $s2 services, barefs"
	start_both "$tmp/data2" "$s2"
	log "action round trip ($s2 services), readdir, ls -l"
	compare rt2 "action round trip, $s2 services (ms)" posix_spawn "<=" 1.3 robot/peer \
		"roundtrip '$svc' $rt" "spawn $rt"
	compare rd "readdir of $s2 entries, no stat (ms; ratio = speed)" barefs ">=" 0.8 peer/robot \
		"'$measure' readdir $dirs '$mnt/bench' | val ms" \
		"'$measure' readdir $dirs '$bare/b' | val ms"
	compare lsl "ls -l of $s2 entries (ms; ratio = speed)" barefs ">=" 0.9 peer/robot \
		"ls_ms $ls_runs '$mnt/bench' -l" "ls_ms $ls_runs '$bare/b' -l"
	stop_both
fi

# ---- 100,000 services: restart, RSS, ls, action round trip ----
if part most; then
	log "store with $s3 services and $tasks3 finished tasks, barefs"
	build_store "$tmp/data3" "$s3" "$tasks3"
	first_start "$tmp/data3" "${robot_args[@]}"
	log "first start (makes the services' work folders): $start_s s"
	start_barefs "$bare" "$s3"
	# The peer of the round trip: a robot with S1 services, running next to it on its own mount,
	# so that the rounds interleave.
	build_store "$tmp/data-small" "$s1" 0
	swap_small
	start_robot "$tmp/data-small" "${robot_args[@]}"
	swap_small
	roundtrip "$small_mnt/bench/s000000" 5 >/dev/null
	for ((r = 0; r < rounds; r++)); do
		log "round $((r + 1)): restart, ls, action round trip, RSS"
		start_robot "$tmp/data3" "${robot_args[@]}"
		echo "$start_s" >>"$tmp/restart.robot"
		svc=$mnt/bench/s000000
		roundtrip "$svc" 5 >/dev/null
		if ((r % 2 == 0)); then
			profiled ls3 "ls_ms $ls_runs '$mnt/bench'" >>"$tmp/ls3.robot"
			ls_ms "$ls_runs" "$bare/b" >>"$tmp/ls3.peer"
			profiled rt3 "roundtrip '$svc' $rt" >>"$tmp/rt3.robot"
			roundtrip "$small_mnt/bench/s000000" "$rt" >>"$tmp/rt3.peer"
		else
			ls_ms "$ls_runs" "$bare/b" >>"$tmp/ls3.peer"
			profiled ls3 "ls_ms $ls_runs '$mnt/bench'" >>"$tmp/ls3.robot"
			roundtrip "$small_mnt/bench/s000000" "$rt" >>"$tmp/rt3.peer"
			profiled rt3 "roundtrip '$svc' $rt" >>"$tmp/rt3.robot"
		fi
		awk '/^VmRSS:/ { printf "%.1f\n", $2 / 1024 }' "/proc/$robot_pid/status" >>"$tmp/rss.robot"
		stop_robot
	done
	swap_small
	stop_robot
	swap_small
	stop_barefs "$bare"
	rss=$(num "$(med rss.robot)")
	restart=$(num "$(med restart.robot)")
	row "RSS with $s3 services (MiB)" "$rss" "-" "$rss" "<" 100
	row "restart with $s3 services (s)" "$restart" "-" "$restart" "<" 2
	row "ls of $s3 entries (ms)" "$(num "$(med ls3.robot)")" "$(num "$(med ls3.peer)") barefs" \
		"$(ratio "$(med ls3.robot)" "$(med ls3.peer)")" "<=" 1.2
	row "action round trip, $s3 services (ms; peer = $s1 services)" "$(num "$(med rt3.robot)")" \
		"$(num "$(med rt3.peer)") robot" "$(ratio "$(med rt3.robot)" "$(med rt3.peer)")" "<=" 1.1
fi

# ---- HTTP and remote robots: their own scripts, in rounds ----
if part http; then
	log "HTTP GET of a state file against nginx (1 worker)"
	ROUNDS=$rounds D=${HTTP_D:-3} bash "$here/bench-http.sh" >"$tmp/http.out" 2>&1 ||
		bench_die "bench-http.sh failed: $(cat "$tmp/http.out")"
	read -r _ robot_rps nginx_rps < <(grep '^medians ' "$tmp/http.out")
	row "HTTP GET of a state file (req/s)" "$(num "$robot_rps")" "$(num "$nginx_rps") nginx" \
		"$(ratio "$robot_rps" "$nginx_rps")" ">=" 0.8
fi
if part remote; then
	log "remote cat against curl"
	ROUNDS=$rounds N=${REMOTE_N:-200} R=0 bash "$here/bench-remote.sh" >"$tmp/remote.out" 2>&1 ||
		bench_die "bench-remote.sh failed: $(cat "$tmp/remote.out")"
	read -r _ cat_ms req_ms read_ms < <(grep '^medians ' "$tmp/remote.out")
	row "remote cat (ms; peer = curl's time_total)" "$cat_ms" "$req_ms curl" \
		"$(ratio "$cat_ms" "$req_ms")" "<=" 1.5
	# cat pays its own fork+exec, curl's time_total does not: the same read without it.
	row "remote open+read+close, no fork (ms)" "$read_ms" "$req_ms curl" \
		"$(ratio "$read_ms" "$req_ms")" "<=" 1.5
fi

if part blueprint; then
	bp_n=${BP_N:-1000}
	log "blueprint of $bp_n services against mkdir + data writes"
	ROUNDS=$rounds N=$bp_n bash "$here/bench-blueprint.sh" >"$tmp/blueprint.out" 2>&1 ||
		bench_die "bench-blueprint.sh failed: $(cat "$tmp/blueprint.out")"
	read -r _ c_s r_s b_s c_f _ b_f < <(grep '^medians ' "$tmp/blueprint.out")
	row "blueprint of $bp_n services: create (s)" "$(num "$c_s")" "$(num "$b_s") mkdir+data" \
		"$(ratio "$c_s" "$b_s")" - -
	row "blueprint of $bp_n services: re-apply unchanged (s)" "$(num "$r_s")" \
		"$(num "$b_s") mkdir+data" "$(ratio "$r_s" "$b_s")" - -
	# The issue's goal: group commit, far fewer fsyncs than one per service.
	if [[ $c_f != - ]]; then
		per() { awk -v a="$1" -v n="$bp_n" 'BEGIN { printf "%.3f\n", a / n }'; }
		row "blueprint create: fsyncs per service" "$(per "$c_f")" "$(per "$b_f") mkdir+data" \
			"$(per "$c_f")" "<" 1
	fi
fi

if part find; then
	find_n=${FIND_N:-2000}
	log "find over $find_n services with parents and producers against tmpfs"
	ROUNDS=$rounds N=$find_n PARTS=find bash "$here/bench-find.sh" >"$tmp/find.out" 2>&1 ||
		bench_die "bench-find.sh failed: $(cat "$tmp/find.out")"
	read -r _ find_s peer_s _ < <(grep '^medians ' "$tmp/find.out")
	row "find over $find_n services with parents and producers (s)" "$(num "$find_s")" \
		"$(num "$peer_s") tmpfs" "$(ratio "$find_s" "$peer_s")" - -
fi

printf 'zrobot: %s; %s round(s), medians; %s\n' "$zrobot" "$rounds" "$(nproc) cores, $(uptime | sed 's/.*load/load/')"
{
	echo "metric|zrobot|peer|ratio|goal|met"
	cat "$rows"
} | column -t -s '|' -o ' | '
