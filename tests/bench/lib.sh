# shellcheck shell=bash disable=SC2034
# Sourced by the benchmarks: the robot binary, a private temporary folder, starting and stopping
# robots, nginx and the bare filesystem, and a store built directly for many services.
# bench_init sets $zrobot, $tmp, $mnt and $robot_pid; a benchmark may set $bench_on_exit to a
# function run first at exit (to stop what else it started).

bench_src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# bench_need TOOL...: exits with a hint when a tool is missing.
bench_need() {
	local tool
	for tool in "$@"; do
		if ! command -v "$tool" >/dev/null 2>&1; then
			echo "bench: $tool is missing (sudo bash tests/deps.sh installs it)" >&2
			exit 1
		fi
	done
}

# bench_zrobot: prints the absolute path of $ZROBOT (default build/fs/zrobot) or exits.
bench_zrobot() {
	local z=${ZROBOT:-build/fs/zrobot}
	if [[ ! -x $z ]]; then
		echo "bench: no robot binary at '$z' (set ZROBOT)" >&2
		exit 1
	fi
	realpath "$z"
}

# bench_tool NAME: prints the path of a program built from tests/bench (barefs, measure): in
# $BENCH_BUILD, else next to $ZROBOT's build, else in build/.
bench_tool() {
	local d
	for d in ${BENCH_BUILD:-} "$(dirname "$zrobot")/../tests/bench" "$bench_src/build/tests/bench"; do
		if [[ -x $d/$1 ]]; then
			realpath "$d/$1"
			return 0
		fi
	done
	echo "bench: $1 is not built (meson compile -C build; or set BENCH_BUILD)" >&2
	exit 1
}

# bench_init NAME: $zrobot, a fresh $tmp (mode 755, nginx workers may read it) with $mnt, and
# the exit trap that stops everything and removes $tmp.
bench_init() {
	zrobot=$(bench_zrobot)
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/zr-$1.XXXXXX")
	chmod 755 "$tmp"
	mnt=$tmp/mnt
	mkdir -p "$mnt"
	robot_pid=
	trap bench_exit EXIT
	trap 'exit 130' INT TERM
}

bench_exit() {
	if [[ -n ${bench_on_exit:-} ]]; then
		"$bench_on_exit"
	fi
	stop_robot
	wait 2>/dev/null || true
	remove_tmp
}

# bench_die MESSAGE: prints it and the end of the robot's log, exits 1.
bench_die() {
	echo "bench: $*" >&2
	if [[ -f $tmp/robot.log ]]; then
		tail -n 20 "$tmp/robot.log" >&2
	fi
	exit 1
}

# stop_pid PID SIGNAL: sends SIGNAL, SIGKILL after 10 s, and reaps PID if it is our child.
stop_pid() {
	local pid=$1
	[[ -n $pid ]] || return 0
	if kill -0 "$pid" 2>/dev/null; then
		kill "-$2" "$pid" 2>/dev/null || true
		for _ in $(seq 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

# unmount DIR: unmounts a FUSE mount (lazily if a reader still holds it), so its server sees
# its session end.
unmount() {
	if mountpoint -q "$1" 2>/dev/null; then
		fusermount3 -u "$1" 2>/dev/null || fusermount3 -uz "$1" 2>/dev/null || true
	fi
}

# stop_robot: unmounts $mnt, then stops $robot_pid.
stop_robot() {
	unmount "$mnt"
	stop_pid "$robot_pid" TERM
	robot_pid=
}

# remove_tmp: removes $tmp unless something is still mounted in it.
remove_tmp() {
	if grep -q " $tmp/" /proc/mounts 2>/dev/null; then
		echo "bench: a mount under $tmp is left; leaving $tmp" >&2
	else
		rm -rf --one-file-system "$tmp"
	fi
}

# median: of the numbers on stdin, one a line.
median() {
	sort -g | awk '{ v[NR] = $1 }
	END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# interleave ROUNDS A-CMD A-FILE B-CMD B-FILE: runs both commands (eval'd) ROUNDS times, A
# first in even rounds and B first in odd ones, so both sides see the same load; appends each
# one's output to its file.
interleave() {
	local r
	for ((r = 0; r < $1; r++)); do
		if ((r % 2 == 0)); then
			eval "$2" >>"$3"
			eval "$4" >>"$5"
		else
			eval "$4" >>"$5"
			eval "$2" >>"$3"
		fi
	done
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# bench_template DIR: the template "bench" in DIR/bench: action noop (prints ok) and hold (waits
# until a line is written to the fifo $tmp/hold.fifo, which it makes, then prints it).
bench_template() {
	mkdir -p "$1/bench/actions"
	cat >"$1/bench/template.json" <<'JSON'
{"name": "bench", "version": "1.0.0", "description": "benchmark",
 "actions": {"noop": {}, "hold": {"timeout": 3600}}}
JSON
	printf '#!/bin/sh\necho ok\n' >"$1/bench/actions/noop"
	printf '#!/bin/sh\nread -r line <"%s"\necho "$line"\n' "$tmp/hold.fifo" >"$1/bench/actions/hold"
	chmod 755 "$1/bench/actions/"*
	[[ -p $tmp/hold.fifo ]] || mkfifo "$tmp/hold.fifo"
}

# start_robot DATA-DIR [ARGS...]: starts a robot on $mnt (log in $tmp/robot.log); waits until
# @robot/info answers; sets robot_pid and start_s (seconds from start to that answer).
start_robot() {
	local data=$1 t0 i
	shift
	t0=$EPOCHREALTIME
	"$zrobot" run --mount "$mnt" --data "$data" "$@" >>"$tmp/robot.log" 2>&1 &
	robot_pid=$!
	for ((i = 0; ; i++)); do
		cat "$mnt/@robot/info" >/dev/null 2>&1 && break
		kill -0 "$robot_pid" 2>/dev/null || bench_die "the robot exited during startup"
		((i < 24000)) || bench_die "the robot did not come up in 120 s"
		sleep 0.005
	done
	start_s=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')
}

# first_start DATA-DIR [ARGS...]: starts a robot on a store build_store made, and stops it: the
# first start makes each service's work folder (about 0.3 ms each), which a restart finds.
first_start() {
	start_robot "$@"
	stop_robot
}

# robot_url LOG: waits for the robot's "HTTP API listening on URL" in LOG and prints URL.
robot_url() {
	local url
	for _ in $(seq 150); do
		url=$(grep -o 'HTTP API listening on [^ ]*' "$1" | awk '{print $NF}' || true)
		if [[ -n $url ]]; then
			echo "$url"
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# build_store DATA-DIR SERVICES TASKS: a store with SERVICES services of template bench
# (named s000000...) and TASKS finished noop tasks spread over them, written directly with
# python's sqlite3. The schema is read from core/store-schema.c (schema_sql, then every migration's
# added column, then ZR_STORE_SCHEMA from core/store.h), so it follows the code.
build_store() {
	python3 - "$bench_src/core/store-schema.c" "$bench_src/core/store.h" "$@" <<'PY'
import os, re, sqlite3, sys, time, uuid
store_c, store_h, data, n_svc, n_tasks = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
src = open(store_c).read()
m = re.search(r'schema_sql\s*=\s*((?:\s*"(?:[^"\\]|\\.)*")+)\s*;', src)
if not m:
    sys.exit("bench: schema_sql not found in " + store_c)
schema = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(1)))
mig = re.search(r'struct migration migrations\[[^]]*\]\s*=\s*\{(.*?)\n\};', src, re.S)
if not mig:
    sys.exit("bench: migrations not found in " + store_c)
added = re.findall(r'\{\s*"(\w+)"\s*,\s*"(\w+)"\s*,\s*"([^"]+)"\s*\}', mig.group(1))
version = int(re.search(r"#define ZR_STORE_SCHEMA (\d+)", open(store_h).read()).group(1))
os.makedirs(data, exist_ok=True)
db = sqlite3.connect(os.path.join(data, "zrobot.db"))
db.execute("PRAGMA journal_mode = WAL")
db.execute("PRAGMA synchronous = OFF")
db.executescript(schema)
for table, column, ctype in added:
    db.execute("ALTER TABLE %s ADD COLUMN %s %s" % (table, column, ctype))
now = time.time_ns()
with db:
    db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(version),))
    guids = [str(uuid.UUID(int=i + 1)) for i in range(n_svc)]
    db.executemany(
        "INSERT INTO services (guid, template, name, uid, data, state, secret, created, deleting)"
        " VALUES (?, 'bench', ?, 'local/bench/1.0.0', '{}', ?, ?, ?, 0)",
        ((g, "s%06d" % i, '{"actions noop ok":"ok"}', "%032x" % (i * 7919), now - 10**12)
         for i, g in enumerate(guids)))
    per = n_tasks // n_svc if n_svc else 0
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
}

# start_nginx DIR PORT WORKERS: nginx serving DIR/www on 127.0.0.1:PORT; sets nginx_pid.
start_nginx() {
	local d=$1
	mkdir -p "$d/logs" "$d/tmp" "$d/www"
	cat >"$d/nginx.conf" <<EOF
worker_processes $3;
daemon off;
pid $d/nginx.pid;
error_log $d/logs/error.log warn;
$( ((EUID == 0)) && echo "user root;" )
events { worker_connections 4096; }
http {
    access_log off;
    default_type text/plain;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$2;
        root $d/www;
    }
}
EOF
	nginx -p "$d" -e "$d/logs/error.log" -c "$d/nginx.conf" &
	nginx_pid=$!
	for _ in $(seq 50); do
		curl -sS -f -o /dev/null "http://127.0.0.1:$2/" 2>/dev/null && return 0
		curl -sS -o /dev/null "http://127.0.0.1:$2/" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "bench: nginx did not start:" >&2
	cat "$d/logs/error.log" >&2
	exit 1
}

# start_barefs DIR SERVICES: mounts the bare filesystem on DIR with SERVICES entries in b/;
# sets barefs_pid. stop_barefs DIR unmounts it and stops it.
start_barefs() {
	mkdir -p "$1"
	"$(bench_tool barefs)" "$1" "$2" &
	barefs_pid=$!
	for _ in $(seq 100); do
		[[ -e $1/go ]] && return 0
		sleep 0.05
	done
	echo "bench: barefs did not mount $1" >&2
	exit 1
}

stop_barefs() {
	unmount "$1"
	stop_pid "$barefs_pid" TERM
	barefs_pid=
}
