#!/usr/bin/env bash
# Measures the store (DESIGN §5):
#   - the durable enqueue rate: W writers (default 4) each write N (default 500) enqueues of a
#     no-op action to their own service, every write(2) acknowledged only once committed; the
#     robot runs with --jobs 1 and its one slot held by a waiting task, so the tasks only queue
#     and only the acknowledgements are timed. Printed next to the raw rate of write+fsync of a
#     200-byte record (O_WRONLY|O_APPEND, one writer) on the same disk in the same run:
#         durable enqueue: X tasks/s, write+fsync: Y/s, ratio X/Y
#     A ratio above 1 is group commit at work: several writers share one fsync.
#   - the restart time with S services (default 10,000) and T finished tasks (default 100,000)
#     in a database built directly with python's sqlite3 (lib.sh build_store: the schema and
#     its migrations read from core/store-schema.c), started once untimed (the first start makes the
#     services' work folders): time from `zrobot run` until @robot/info answers.
# It starts its own robots on temporary mount points and data dirs under ${TMPDIR:-/tmp} and
# removes them at the end.
#
#     ZROBOT=build/fs/zrobot bash tests/bench/bench-store.sh
#
# Environment: W, N, S, T as above; FSYNCS (default 2000) write+fsync rounds.
set -euo pipefail

writers=${W:-4}
per_writer=${N:-500}
n_services=${S:-10000}
n_tasks=${T:-100000}
fsyncs=${FSYNCS:-2000}

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init bench-store
perf_pid=
writer_pids=()

stop_writers() {
	local p
	for p in "${writer_pids[@]}" $perf_pid; do
		kill -KILL "$p" 2>/dev/null || true
	done
}
bench_on_exit=stop_writers

# The template bench: noop, and hold, which waits for a line on $tmp/hold.fifo.
bench_template "$tmp/templates"

# ---- 1. durable enqueue rate against write+fsync ----
start_robot "$tmp/data1" --templates "$tmp/templates" --listen none --jobs 1 \
	--queue-max 1000000 --log-level warn
for w in $(seq 1 "$writers"); do
	mkdir "$mnt/bench/b$w"
done
# The one slot: a task that waits on the fifo; every other task waits in its queue.
echo >"$mnt/bench/b1/actions/hold"

# enqueue SVC COUNT: COUNT acknowledged writes, or exit 1 at the first failure.
enqueue() {
	local f=$mnt/bench/$1/actions/noop i
	for ((i = 0; i < $2; i++)); do
		echo '{}' >"$f" || exit 1
	done
}

# fsync_rate: write+fsync of a 200-byte record, one writer, on the disk of the data dir.
fsync_rate() {
	"${ZR_PY:-python3}" - "$tmp/fsync.dat" "$fsyncs" <<'PY'
import os, sys, time
path, n = sys.argv[1], int(sys.argv[2])
rec = b"x" * 199 + b"\n"
fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
os.write(fd, rec); os.fsync(fd)  # warm up: the file exists and has a block
t0 = time.perf_counter()
for _ in range(n):
    os.write(fd, rec)
    os.fsync(fd)
dt = time.perf_counter() - t0
os.close(fd)
print("%.0f" % (n / dt))
PY
}

# The disk's speed varies under other load: measure it right before and right after.
fs1=$(fsync_rate)
# How many fsyncs the robot makes for the enqueues (group commit), when perf can count them.
if command -v perf >/dev/null 2>&1; then
	perf stat -x, -e syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync -p "$robot_pid" \
		-o "$tmp/perf.txt" 2>/dev/null &
	perf_pid=$!
	sleep 0.5
fi
t0=$(date +%s%N)
for w in $(seq 1 "$writers"); do
	enqueue "b$w" "$per_writer" &
	writer_pids+=($!)
done
for p in "${writer_pids[@]}"; do
	wait "$p" || bench_die "a writer failed"
done
t1=$(date +%s%N)
writer_pids=()
if [[ -n $perf_pid ]]; then
	kill -INT "$perf_pid" 2>/dev/null || true
	wait "$perf_pid" 2>/dev/null || true
	perf_pid=
fi
for w in $(seq 1 "$writers"); do
	q=$(grep -c . "$mnt/bench/b$w/tasks/queue" || true)
	[[ $q -ge $per_writer ]] || bench_die "b$w has $q queued tasks, want $per_writer"
done
total=$((writers * per_writer))

fs2=$(fsync_rate)
syncs=
if [[ -s $tmp/perf.txt ]]; then
	syncs=$(awk -F, '/syscalls:sys_enter_f(data)?sync/ && $1 ~ /^[0-9]+$/ { n += $1 } END { print n + 0 }' "$tmp/perf.txt")
fi
awk -v n="$total" -v ns=$((t1 - t0)) -v f1="$fs1" -v f2="$fs2" -v w="$writers" -v syncs="$syncs" 'BEGIN {
	x = n / (ns / 1e9)
	fs = (f1 + f2) / 2
	printf "durable enqueue: %.0f tasks/s, write+fsync: %.0f/s, ratio %.2f\n", x, fs, x / fs
	printf "  (%d writers, %d enqueues in %.2f s; write+fsync %.0f/s before, %.0f/s after", w, n, ns / 1e9, f1, f2
	if (syncs != "")
		printf "; the robot called fsync/fdatasync %d times: %.1f enqueues per sync", syncs, (syncs > 0 ? n / syncs : 0)
	printf ")\n"
}'
stop_robot

# ---- 2. restart time with S services and T finished tasks ----
build_store "$tmp/data2" "$n_services" "$n_tasks"
first_start "$tmp/data2" --templates "$tmp/templates" --listen none
: >"$tmp/robot.log"
start_robot "$tmp/data2" --templates "$tmp/templates" --listen none
info=$(cat "$mnt/@robot/info")
got=$(printf '%s' "$info" | "${ZR_PY:-python3}" -c 'import json, sys; print(json.load(sys.stdin)["services"])')
[[ $got -eq $n_services ]] || bench_die "@robot/info counts $got services, want $n_services"
loaded=$(grep -m1 -o 'Loaded [0-9]* services and [0-9]* tasks from the store in [0-9.]* ms' "$tmp/robot.log" || true)
awk -v sec="$start_s" -v s="$n_services" -v t="$n_tasks" -v l="$loaded" 'BEGIN {
	printf "restart with %d services and %d finished tasks: %.2f s to @robot/info (%s)\n", s, t, sec, l
}'
t0=$(date +%s%N)
stop_robot
t1=$(date +%s%N)
awk -v ns=$((t1 - t0)) 'BEGIN { printf "clean stop: %.2f s\n", ns / 1e9 }'
