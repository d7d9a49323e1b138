#!/usr/bin/env bash
# Remote robots (@remote/<name>/, HTTP between two robots on one machine), in two measurements:
#   - latency of `cat` of a remote state file through robot A's mount (A -> HTTP -> B), next to
#     `curl` of the same URL on B in the same run, sequential, as mean and median and a ratio;
#   - 1,000 parallel blocked reads of one remote result file (1,000 threads of zrtool.py
#     readers on A's @remote/b/.../results/gate while B's task waits for a gate file): how many
#     got the result, and the time from the task's end on B to the last reader answered.
#
#     ZROBOT=build/fs/zrobot bash tests/bench/bench-remote.sh
#
# N (sequential reads per tool, default 300), R (parallel readers, default 1000; 0 skips that
# part) and ROUNDS (default 1; the cat and curl runs alternate, medians on the line "medians
# CAT_MS CURL_TIME_TOTAL_MS READ_MS") can be set.
# It starts its own two robots (temporary mount points, data dirs, free ports) and removes them.
set -euo pipefail

n=${N:-300}
readers=${R:-1000}
rounds=${ROUNDS:-1}

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_need curl python3
bench_init bench-remote
measure=$(bench_tool measure)
zrtool=$(realpath "$(dirname "${BASH_SOURCE[0]}")/../integration/zrtool.py")
a_mnt=$tmp/a/mnt
b_mnt=$tmp/b/mnt
a_pid=
b_pid=
readers_pid=

stop_robots() {
	if [[ -n $readers_pid ]]; then
		kill -KILL "$readers_pid" 2>/dev/null || true
	fi
	# A first: it holds connections to B.
	mnt=$a_mnt robot_pid=$a_pid
	stop_robot
	mnt=$b_mnt robot_pid=$b_pid
	stop_robot
}
bench_on_exit=stop_robots

# start_robot NAME ARGS...: starts a robot on $tmp/NAME/{mnt,data} listening on a free port;
# sets pid and url.
start_robot() {
	local name=$1
	shift
	mkdir -p "$tmp/$name/mnt" "$tmp/$name/data"
	"$zrobot" run --mount "$tmp/$name/mnt" --data "$tmp/$name/data" --listen 127.0.0.1:0 \
		"$@" >"$tmp/$name.log" 2>&1 &
	pid=$!
	if url=$(robot_url "$tmp/$name.log"); then
		for _ in $(seq 150); do
			[[ -r $tmp/$name/mnt/@robot/info ]] && return 0
			sleep 0.1
		done
	fi
	echo "bench: robot $name did not start; its log:" >&2
	cat "$tmp/$name.log" >&2
	exit 1
}

# B: the built-in node template, and g whose action waits for a gate file.
mkdir -p "$tmp/tpl/g/actions"
cat >"$tmp/tpl/g/template.json" <<'EOF'
{"name": "g", "version": "1.0.0", "actions": {"gate": {"timeout": 600}}}
EOF
cat >"$tmp/tpl/g/actions/gate" <<EOF
#!/bin/sh
while [ ! -e "$tmp/gate" ]; do sleep 0.05; done
echo gate open
EOF
chmod 755 "$tmp/tpl/g/actions/gate"
start_robot b --templates "$tmp/tpl"
b_pid=$pid
b_url=$url
token=$(cat "$tmp/b/data/admin.token")
start_robot a --remote "b=$b_url,token-file=$tmp/b/data/admin.token"
a_pid=$pid

mkdir "$b_mnt/node/local" "$b_mnt/g/s"
echo '{"cmd":"true"}' >"$b_mnt/node/local/actions/exec"
cat "$b_mnt/node/local/results/exec" >/dev/null
remote=$a_mnt/@remote/b/node/local/state
direct=$b_url/v1/node/local/state
for _ in $(seq 100); do
	[[ -r $remote ]] && break
	sleep 0.1
done
if ! cmp -s <(cat "$remote") <(curl -sS -H "Authorization: Bearer $token" "$direct"); then
	echo "bench: cat of $remote and curl of $direct differ" >&2
	exit 1
fi

# stats: reads one value in ms a line; prints "MEAN MEDIAN".
stats() {
	sort -n | awk '{ v[NR] = $1; s += $1 }
	END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.3f %.3f\n", s / NR, m }'
}

# lat CMD...: runs CMD n times one after the other; prints "MEAN MEDIAN" in ms.
lat() {
	local i t
	for ((i = 0; i < n; i++)); do
		t=$EPOCHREALTIME
		"$@" >/dev/null
		echo "$t $EPOCHREALTIME"
	done | awk '{ printf "%.6f\n", ($2 - $1) * 1000 }' | stats
}

# Warm up both paths (connections, page cache of the binaries).
for _ in 1 2 3 4 5; do
	cat "$remote" >/dev/null
	curl -sS -H "Authorization: Bearer $token" "$direct" >/dev/null
done
# What curl itself reports for the request (connect + transfer), without its start-up.
req() {
	local i
	for ((i = 0; i < n; i++)); do
		curl -sS -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $token" "$direct"
	done | awk '{ printf "%.6f\n", $1 * 1000 }' | stats
}
# ROUNDS rounds of remote cat and curl's request, the order alternating; the figures printed
# are the last round's, and the medians of the rounds' medians at the end.
for ((r = 0; r < rounds; r++)); do
	if ((r % 2 == 0)); then
		read -r cat_mean cat_med < <(lat cat "$remote")
		read -r req_mean req_med < <(req)
	else
		read -r req_mean req_med < <(req)
		read -r cat_mean cat_med < <(lat cat "$remote")
	fi
	echo "$cat_med" >>"$tmp/cat.med"
	echo "$req_med" >>"$tmp/req.med"
	# The same read without cat's fork+exec: what the robot itself adds.
	"$measure" read "$n" "$remote" | awk '{ printf "%.6f\n", 1000 / $2 }' >>"$tmp/read.ms"
done
read -r curl_mean curl_med < <(lat curl -sS -H "Authorization: Bearer $token" "$direct")
read -r local_mean local_med < <(lat cat "$b_mnt/node/local/state")
size=$(wc -c <"$b_mnt/node/local/state")
printf 'remote state file (%d bytes), %d sequential reads each:\n' "$size" "$n"
printf '  cat @remote/b/node/local/state (A -> HTTP -> B): mean %7.3f ms, median %7.3f ms\n' "$cat_mean" "$cat_med"
printf '  curl GET /v1/node/local/state on B:              mean %7.3f ms, median %7.3f ms\n' "$curl_mean" "$curl_med"
printf '  (curl time_total, the request without start-up): mean %7.3f ms, median %7.3f ms\n' "$req_mean" "$req_med"
printf '  cat node/local/state on B'"'"'s own mount:           mean %7.3f ms, median %7.3f ms\n' "$local_mean" "$local_med"
awk -v a="$cat_mean" -v b="$curl_mean" -v c="$cat_med" -v d="$curl_med" \
	'BEGIN { printf "  ratio remote cat/curl: %.2f (mean), %.2f (median)\n", a / b, c / d }'

read -r _ read_med < <(stats <"$tmp/read.ms")
printf '  open+read+close of the remote file (C, no fork): median of rounds %7.3f ms\n' "$read_med"
echo "medians $(stats <"$tmp/cat.med" | awk '{print $2}') $(stats <"$tmp/req.med" | awk '{print $2}') $read_med"
if ((readers == 0)); then
	exit 0
fi

# 1,000 parallel waits on one remote result file.
ulimit -n 65536 2>/dev/null || ulimit -n 4096 2>/dev/null || true
result=$a_mnt/@remote/b/g/s/results/gate
echo gate >"$a_mnt/@remote/b/g/s/actions/gate"
task=$(ls "$b_mnt/g/s/tasks" | grep -E '^[0-9]+$' | sort -n | tail -n 1)
for _ in $(seq 100); do
	[[ $(cat "$b_mnt/g/s/tasks/$task/state" 2>/dev/null) == running ]] && break
	sleep 0.1
done
t_start=$EPOCHREALTIME
python3 "$zrtool" readers "$result" "$readers" >"$tmp/readers.out" 2>"$tmp/readers.err" &
readers_pid=$!
# Every reader has its fd once open(2) returned; then give the reads a moment to park.
open_fds=0
for _ in $(seq 1200); do
	# find fails when an fd closes under it (the readers open and close others): not fatal.
	open_fds=$({ find "/proc/$readers_pid/fd" -lname "$result" 2>/dev/null || true; } | wc -l)
	((open_fds < readers)) || break
	kill -0 "$readers_pid" 2>/dev/null || break
	sleep 0.1
done
t_open=$EPOCHREALTIME
sleep 1
b_parked=$(awk '$1 == "zrobot_parked_reads" {print $2}' "$b_mnt/@robot/metrics" || true)
b_waiting=$(awk '$1 == "zrobot_http_waiting" {print $2}' "$b_mnt/@robot/metrics" || true)
a_threads=$(awk '/^Threads:/ {print $2}' "/proc/$a_pid/status")
a_fds=$({ find "/proc/$a_pid/fd" -mindepth 1 2>/dev/null || true; } | wc -l)
touch "$tmp/gate"
t_gate=$EPOCHREALTIME
limit=$(awk -v t="$t_gate" 'BEGIN { printf "%.0f\n", t + 120 }')
while kill -0 "$readers_pid" 2>/dev/null; do
	if awk -v t="$EPOCHREALTIME" -v l="$limit" 'BEGIN { exit !(t > l) }'; then
		echo "bench: the readers are still waiting 120 s after the gate opened" >&2
		kill -KILL "$readers_pid" 2>/dev/null || true
		break
	fi
	sleep 0.01
done
t_done=$EPOCHREALTIME
wait "$readers_pid" 2>/dev/null || true
readers_pid=
finished=$(cat "$b_mnt/g/s/tasks/$task/finished")
t_end=$(date -u -d "$finished" +%s.%N)
answered=$(grep -o '^answered [0-9]*/[0-9]*' "$tmp/readers.out" | awk '{print $2}' || true)
printf '%d parallel reads of @remote/b/g/s/results/gate:\n' "$readers"
awk -v a="$t_start" -v b="$t_open" -v f="$open_fds" \
	'BEGIN { printf "  all open in %.2f s (%d fds); then ", b - a, f }'
printf 'B: %s parked reads, %s HTTP waits; A: %s threads, %s fds\n' \
	"${b_parked:-?}" "${b_waiting:-?}" "$a_threads" "$a_fds"
printf '  answered %s with "%s"\n' "${answered:-0/$readers}" "$(sed -n 2p "$tmp/readers.out")"
awk -v g="$t_gate" -v e="$t_end" -v d="$t_done" \
	'BEGIN { printf "  task end on B -> last reader answered: %.3f s (gate -> task end %.3f s)\n", d - e, e - g }'
if [[ -s $tmp/readers.err ]]; then
	echo "  reader errors (first lines):"
	head -n 5 "$tmp/readers.err" | sed 's/^/    /'
fi
