#!/usr/bin/env bash
# Measures the store (DESIGN §5):
#   - the durable enqueue rate: W writers (default 4) each write N (default 500) enqueues of a
#     no-op action to their own service, every write(2) acknowledged only once committed; the
#     robot runs with --jobs 1 and its one slot held by a sleeping task, so the tasks only queue
#     and only the acknowledgements are timed. Printed next to the raw rate of write+fsync of a
#     200-byte record (O_WRONLY|O_APPEND, one writer) on the same disk in the same run:
#         durable enqueue: X tasks/s, write+fsync: Y/s, ratio X/Y
#     A ratio above 1 is group commit at work: several writers share one fsync.
#   - the restart time with S services (default 10,000) and T finished tasks (default 100,000)
#     in a database built directly with python's sqlite3, using the schema read from
#     core/store.c: time from `zrobot run` until @robot/info answers.
# It starts its own robots on temporary mount points and data dirs under ${TMPDIR:-/tmp} and
# removes them at the end.
#
#     ZROBOT=build/fs/zrobot bash tests/bench/bench-store.sh
#
# Environment: W, N, S, T as above; FSYNCS (default 2000) write+fsync rounds.
set -euo pipefail

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
writers=${W:-4}
per_writer=${N:-500}
n_services=${S:-10000}
n_tasks=${T:-100000}
fsyncs=${FSYNCS:-2000}

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
zrobot=$(bench_zrobot)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/zr-bench-store.XXXXXX")
mnt=$tmp/mnt
robot_pid=
perf_pid=
writer_pids=()

cleanup() {
	local p
	for p in "${writer_pids[@]}" $perf_pid; do
		kill -KILL "$p" 2>/dev/null || true
	done
	stop_robot
	remove_tmp
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() {
	echo "bench: $*" >&2
	if [[ -f $tmp/robot.log ]]; then
		tail -n 20 "$tmp/robot.log" >&2
	fi
	exit 1
}

mkdir -p "$tmp/templates/bench/actions" "$mnt"
cat >"$tmp/templates/bench/template.json" <<'JSON'
{"name": "bench", "version": "1.0.0", "description": "store benchmark",
 "actions": {"noop": {}, "hold": {}}}
JSON
printf '#!/bin/sh\necho ok\n' >"$tmp/templates/bench/actions/noop"
printf '#!/bin/sh\nexec sleep 600\n' >"$tmp/templates/bench/actions/hold"
chmod +x "$tmp/templates/bench/actions/"*

# start_robot DATA-DIR [ARGS...]: starts a robot; waits until @robot/info answers.
start_robot() {
	local data=$1
	shift
	"$zrobot" run --mount "$mnt" --data "$data" --templates "$tmp/templates" "$@" \
		2>>"$tmp/robot.log" &
	robot_pid=$!
	for _ in $(seq 600); do
		cat "$mnt/@robot/info" >/dev/null 2>&1 && return 0
		kill -0 "$robot_pid" 2>/dev/null || die "the robot exited during startup"
		sleep 0.05
	done
	die "the robot did not come up in 30 s"
}

# ---- 1. durable enqueue rate against write+fsync ----
start_robot "$tmp/data1" --jobs 1 --queue-max 1000000 --log-level warn
for w in $(seq 1 "$writers"); do
	mkdir "$mnt/bench/b$w"
done
# The one slot: a task that sleeps; every other task waits in its queue.
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
	wait "$p" || die "a writer failed"
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
	[[ $q -ge $per_writer ]] || die "b$w has $q queued tasks, want $per_writer"
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
"${ZR_PY:-python3}" - "$src/core/store.c" "$src/core/store.h" "$tmp/data2" "$n_services" "$n_tasks" <<'PY'
import os, re, sqlite3, sys, time, uuid
store_c, store_h, data, n_svc, n_tasks = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
# The schema exactly as core/store.c writes it: the string literals of schema_sql.
src = open(store_c).read()
m = re.search(r'schema_sql\s*=\s*((?:\s*"(?:[^"\\]|\\.)*")+)\s*;', src)
if not m:
    sys.exit("bench: schema_sql not found in " + store_c)
schema = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(1)))
version = int(re.search(r"#define ZR_STORE_SCHEMA (\d+)", open(store_h).read()).group(1))
os.makedirs(data, exist_ok=True)
db = sqlite3.connect(os.path.join(data, "zrobot.db"))
db.execute("PRAGMA journal_mode = WAL")
db.execute("PRAGMA synchronous = OFF")
db.executescript(schema)
now = time.time_ns()
with db:
    db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(version),))
    guids = [str(uuid.UUID(int=i + 1)) for i in range(n_svc)]
    db.executemany(
        "INSERT INTO services (guid, template, name, uid, data, state, secret, created, deleting)"
        " VALUES (?, 'bench', ?, 'local/bench/1.0.0', '{}', ?, ?, ?, 0)",
        ((g, "s%05d" % i, '{"actions noop ok":"ok"}', "%032x" % (i * 7919), now - 10**12)
         for i, g in enumerate(guids)))
    per = n_tasks // n_svc
    rest = n_tasks - per * n_svc
    def tasks():
        tid = 0
        for i, g in enumerate(guids):
            for _ in range(per + (1 if i < rest else 0)):
                tid += 1
                t = now - 10**11 + tid * 1000
                yield (tid, g, t, t + 100, t + 200)
    db.executemany(
        "INSERT INTO tasks (id, service, action, args, lane, state, created, started, finished,"
        " result, error, err, attempt, progress_done, progress_total)"
        " VALUES (?, ?, 'noop', '{}', 1, 'ok', ?, ?, ?, CAST('ok' || char(10) AS BLOB), NULL, 0, 1, 0, 0)",
        tasks())
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
db.close()
PY

: >"$tmp/robot.log"
t0=$(date +%s%N)
"$zrobot" run --mount "$mnt" --data "$tmp/data2" --templates "$tmp/templates" 2>>"$tmp/robot.log" &
robot_pid=$!
until info=$(cat "$mnt/@robot/info" 2>/dev/null); do
	kill -0 "$robot_pid" 2>/dev/null || die "the robot exited during startup"
	(( ($(date +%s%N) - t0) < 120000000000 )) || die "the robot did not come up in 120 s"
	sleep 0.005
done
t1=$(date +%s%N)
got=$(printf '%s' "$info" | "${ZR_PY:-python3}" -c 'import json, sys; print(json.load(sys.stdin)["services"])')
[[ $got -eq $n_services ]] || die "@robot/info counts $got services, want $n_services"
loaded=$(grep -m1 -o 'Loaded [0-9]* services and [0-9]* tasks from the store in [0-9.]* ms' "$tmp/robot.log" || true)
awk -v ns=$((t1 - t0)) -v s="$n_services" -v t="$n_tasks" -v l="$loaded" 'BEGIN {
	printf "restart with %d services and %d finished tasks: %.2f s to @robot/info (%s)\n", s, t, ns / 1e9, l
}'
t0=$(date +%s%N)
stop_robot
t1=$(date +%s%N)
awk -v ns=$((t1 - t0)) 'BEGIN { printf "clean stop: %.2f s\n", ns / 1e9 }'
