#!/usr/bin/env bash
# Measures what the robot adds on top of the work itself, as two ratios:
#   - an action round trip (echo > actions/noop; cat results/noop) against running the same
#     tiny script with fork+exec (sh script </dev/null);
#   - cat of a service's state file against cat of the same bytes on tmpfs (/dev/shm).
# It starts its own robot on a temporary mount point and data dir and removes both at the end.
#
#     ZROBOT=build/fs/zrobot bash tests/bench/bench-action.sh
#
# N (default 200) round trips and M (default 2000) state reads can be set in the environment.
set -euo pipefail

n=${N:-200}
m=${M:-2000}

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init bench-action
shm=$(mktemp -d /dev/shm/zr-bench.XXXXXX 2>/dev/null || mktemp -d "$tmp/shm.XXXXXX")
remove_shm() {
	rm -rf "$shm"
}
bench_on_exit=remove_shm

# The template: the action noop, as small as an action can be.
bench_template "$tmp/templates"
script=$tmp/templates/bench/actions/noop
start_robot "$tmp/data" --templates "$tmp/templates" --listen none --log-level warn
svc=$mnt/bench/b
mkdir "$svc"

now_ns() {
	date +%s%N
}

# Prints "<ms per item> <ratio>" for two totals in ns over the same count.
ratio() {
	awk -v a="$1" -v b="$2" -v k="$3" \
		'BEGIN { printf "%.3f %.3f %.2f\n", a / k / 1e6, b / k / 1e6, a / b }'
}

# Warm up both paths (page cache, first spawn) so the first iteration does not skew a run.
echo >"$svc/actions/noop"
cat "$svc/results/noop" >/dev/null
sh "$script" </dev/null >/dev/null

t0=$(now_ns)
for ((i = 0; i < n; i++)); do
	echo >"$svc/actions/noop"
	cat "$svc/results/noop" >/dev/null
done
t1=$(now_ns)
for ((i = 0; i < n; i++)); do
	sh "$script" </dev/null >/dev/null
done
t2=$(now_ns)
read -r task_ms fork_ms r < <(ratio $((t1 - t0)) $((t2 - t1)) "$n")
echo "action round trip: $task_ms ms/task, fork+exec: $fork_ms ms, ratio $r"

cat "$svc/state" >"$shm/state"
t0=$(now_ns)
for ((i = 0; i < m; i++)); do
	cat "$svc/state" >/dev/null
done
t1=$(now_ns)
for ((i = 0; i < m; i++)); do
	cat "$shm/state" >/dev/null
done
t2=$(now_ns)
read -r fuse_ms shm_ms r < <(ratio $((t1 - t0)) $((t2 - t1)) "$m")
echo "cat state: $fuse_ms ms/read, tmpfs: $shm_ms ms, ratio $r"

rmdir "$svc"
