#!/usr/bin/env bash
# Measures blueprints (issue 14): the apply of a blueprint of N services (default 1,000) written
# to @robot/blueprint (one write, the outcome read on the same handle), then the same blueprint
# applied again unchanged: wall time and the fsync/fdatasync calls the robot made, against the
# baseline of the same N services made one at a time through the mount (mkdir, then one write
# of the same data to `data`), in the same run, on a fresh robot each round:
#
#     blueprint create: X s, F fsyncs (F/N per service); baseline mkdir+data: Y s, G fsyncs;
#     ratios X/Y, F/G
#
# The fsyncs are counted with `perf stat` on the syscalls' tracepoints (every thread of the
# robot, the store's checkpoints included), or with `strace -f -c` when perf cannot (then the
# times are slowed by the tracing and printed as such). Group commit should make F far fewer
# than one per service; the baseline pays one commit per mkdir and per data write.
#
#     ZROBOT=build/fs/zrobot bash tests/bench/bench-blueprint.sh
#
# Environment: N or BP_N (1000) services; COUNTER (perf or strace: how fsyncs are counted); ROUNDS (3): each round a fresh robot, the baseline and the
# blueprint in alternating order; the medians are printed, then a line
#     medians CREATE_S REAPPLY_S BASE_S CREATE_FSYNCS REAPPLY_FSYNCS BASE_FSYNCS
# for run.sh. BP_PERF=create (or reapply, base) records that step with `perf record -g` on the
# robot into BP_PERF_OUT (./bench-blueprint.perf) instead of counting its fsyncs. BP_WALK=1 also
# times `find` and `ls -R` over the mount after the re-apply (logged, not in the medians).
set -euo pipefail

# BP_N (N's alias): 10000 measures the scale of issue 14's bench (test-blueprint-bad).
n=${BP_N:-${N:-1000}}
rounds=${ROUNDS:-3}

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_need python3 fusermount3 mountpoint
bench_init bench-blueprint
counter_pid=

stop_counter() {
	if [[ -n $counter_pid ]]; then
		kill -INT "$counter_pid" 2>/dev/null || true
		wait "$counter_pid" 2>/dev/null || true
		counter_pid=
	fi
}
bench_on_exit=stop_counter

# The template bp: one data field, as the services of a deployment have.
mkdir -p "$tmp/tpl/bp/actions"
cat >"$tmp/tpl/bp/template.json" <<'JSON'
{"name": "bp", "version": "1.0.0", "description": "blueprint benchmark",
 "data": {"n": {"type": "integer", "default": 0}, "role": {"type": "string", "default": "web"}},
 "actions": {"noop": {}}}
JSON
printf '#!/bin/sh\necho ok\n' >"$tmp/tpl/bp/actions/noop"
chmod 755 "$tmp/tpl/bp/actions/noop"

# The blueprint: N services a00000... of bp, each with its own data.
awk -v n="$n" 'BEGIN { print "services:"
	for (i = 0; i < n; i++) printf "  - bp/a%05d: {n: %d, role: db}\n", i, i }' >"$tmp/bp.yaml"

# How the fsyncs are counted: perf when it can count the tracepoints of a process, else strace.
# COUNTER=strace (or perf) chooses.
counter=${COUNTER:-}
if [[ -n $counter ]]; then
	bench_need "$counter"
elif command -v perf >/dev/null 2>&1 &&
	perf stat -x, -e syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync -o "$tmp/probe.txt" \
		-- true 2>/dev/null; then
	counter=perf
elif command -v strace >/dev/null 2>&1; then
	counter=strace
fi

# count_start: starts counting the robot's fsync and fdatasync calls. count_stop: sets count
# to the count ("" when nothing can count them).
count_start() {
	rm -f "$tmp/count.txt"
	case $counter in
	perf)
		perf stat -x, -e syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync -p "$robot_pid" \
			-o "$tmp/count.txt" 2>/dev/null &
		;;
	strace)
		strace -f -c -e trace=fsync,fdatasync -p "$robot_pid" -o "$tmp/count.txt" 2>/dev/null &
		;;
	*) return 0 ;;
	esac
	counter_pid=$!
	# Both attach to every thread before the first measured call: give them the time.
	sleep 1
}

count_stop() {
	count=
	[[ -n $counter ]] || return 0
	sleep 0.3
	# Here, not in a $(...): the counter is this shell's child, to be waited for.
	stop_counter
	case $counter in
	perf)
		count=$(awk -F, '/syscalls:sys_enter_f(data)?sync/ && $1 ~ /^[0-9]+$/ { n += $1 }
			END { print n + 0 }' "$tmp/count.txt")
		;;
	strace)
		count=$(awk '$NF ~ /^f(data)?sync$/ { n += ($(NF - 1) ~ /^[0-9]+$/ && NF == 6) ? $(NF - 2) : $(NF - 1) }
			END { print n + 0 }' "$tmp/count.txt")
		;;
	esac
}

# apply_bp LINE-VERB: applies $tmp/bp.yaml through the mount (one write, the outcome read on
# the same handle); prints the seconds it took. Every outcome line must be "LINE-VERB bp/...".
apply_bp() {
	python3 - "$mnt/@robot/blueprint" "$tmp/bp.yaml" "$n" "$1" <<'PY'
import os, sys, time
path, src, n, verb = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
text = open(src, "rb").read()
t0 = time.perf_counter()
fd = os.open(path, os.O_RDWR)
off = 0
while off < len(text):
    off += os.write(fd, text[off:])
chunks = []
while True:
    b = os.read(fd, 1 << 16)
    if not b:
        break
    chunks.append(b)
os.close(fd)
dt = time.perf_counter() - t0
lines = b"".join(chunks).decode().splitlines()
bad = [l for l in lines if not l.startswith(verb + " bp/")]
if len(lines) != n or bad:
    sys.exit("outcome: %d lines, want %d '%s' lines; first other: %r" % (len(lines), n, verb, bad[:1]))
print("%.3f" % dt)
PY
}

# baseline: the same N services (b00000...) one at a time: mkdir, then one write of the data.
baseline() {
	python3 - "$mnt/bp" "$n" <<'PY'
import os, sys, time
root, n = sys.argv[1], int(sys.argv[2])
t0 = time.perf_counter()
for i in range(n):
    d = "%s/b%05d" % (root, i)
    os.mkdir(d)
    fd = os.open(d + "/data", os.O_WRONLY | os.O_TRUNC)
    os.write(fd, b'{"n": %d, "role": "db"}\n' % i)
    os.close(fd)
print("%.3f" % (time.perf_counter() - t0))
PY
}

# walk_s CMD...: runs CMD (its output counted, not kept); prints its seconds.
walk_s() {
	local t0=$EPOCHREALTIME lines
	lines=$("$@" 2>/dev/null | wc -l)
	awk -v a="$t0" -v b="$EPOCHREALTIME" -v l="$lines" 'BEGIN { printf "%.3f (%d lines)", b - a, l }'
}

log() {
	printf '%s  %s\n' "$(date +%T)" "$*" >&2
}

# measure NAME CMD...: runs CMD while counting fsyncs; appends its seconds to $tmp/NAME.s and
# the count to $tmp/NAME.f.
measure() {
	local name=$1 s rec=
	shift
	if [[ ${BP_PERF:-} == "$name" ]]; then
		# A profile of this step instead of the fsync count (the two perf sessions would share).
		perf record -g -p "$robot_pid" -o "${BP_PERF_OUT:-$PWD/bench-blueprint.perf}" \
			>/dev/null 2>&1 &
		rec=$!
		sleep 1
	else
		count_start
	fi
	s=$("$@") || bench_die "$name failed: $s"
	if [[ -n $rec ]]; then
		kill -INT "$rec" 2>/dev/null || true
		wait "$rec" 2>/dev/null || true
		count=
	else
		count_stop
	fi
	echo "$s" >>"$tmp/$name.s"
	echo "$count" >>"$tmp/$name.f"
	log "$name: $s s, ${count:-?} fsyncs"
}

for ((r = 0; r < rounds; r++)); do
	log "round $((r + 1)) of $rounds: a fresh robot"
	rm -rf "$tmp/data"
	start_robot "$tmp/data" --templates "$tmp/tpl" --listen none --log-level warn
	# The first commit, the kernel's dentries, the store's threads: not measured.
	mkdir "$mnt/bp/warm"
	echo '{"n": 1}' >"$mnt/bp/warm/data"
	if ((r % 2 == 0)); then
		measure base baseline
		measure create apply_bp created
	else
		measure create apply_bp created
		measure base baseline
	fi
	measure reapply apply_bp unchanged
	if [[ -n ${BP_WALK:-} ]]; then
		# The tree of N services: children/ and consumers/ listings in each service's folder.
		log "find over the mount: $(walk_s find "$mnt") s; ls -R: $(walk_s ls -R "$mnt") s"
	fi
	stop_robot
done

m() {
	median <"$tmp/$1"
}
cs=$(m create.s) rs=$(m reapply.s) bs=$(m base.s)
cf= rf= bf=
if [[ -n $counter ]]; then
	cf=$(m create.f) rf=$(m reapply.f) bf=$(m base.f)
fi
awk -v n="$n" -v r="$rounds" -v cs="$cs" -v rs="$rs" -v bs="$bs" -v cf="$cf" -v rf="$rf" \
	-v bf="$bf" -v how="$counter" 'BEGIN {
	printf "blueprint of %d services through @robot/blueprint (medians of %d rounds, a fresh robot each):\n", n, r
	printf "  create:            %8.3f s", cs
	if (cf != "") printf ", %6d fsyncs (%.3f per service)", cf, cf / n
	printf "\n  re-apply unchanged: %7.3f s", rs
	if (rf != "") printf ", %6d fsyncs", rf
	printf "\n  baseline, %d x (mkdir + one data write): %.3f s", n, bs
	if (bf != "") printf ", %d fsyncs (%.3f per service)", bf, bf / n
	printf "\n  ratios to the baseline: time create %.3f, re-apply %.3f", cs / bs, rs / bs
	if (cf != "" && bf > 0) printf "; fsyncs create %.4f", cf / bf
	printf "\n"
	if (how == "strace") print "  (fsyncs counted with strace -f: the times are slowed by the tracing)"
	if (how == "") print "  (neither perf nor strace: fsyncs not counted)"
}'
echo "medians $cs $rs $bs ${cf:--} ${rf:--} ${bf:--}"
