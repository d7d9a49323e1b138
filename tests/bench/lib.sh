# Sourced by the benchmarks: the robot binary, and stopping the robot and its mount.
# Each benchmark sets $tmp, $mnt and $robot_pid.

# bench_zrobot: prints the absolute path of $ZROBOT (default build/fs/zrobot) or exits.
bench_zrobot() {
	local z=${ZROBOT:-build/fs/zrobot}
	if [[ ! -x $z ]]; then
		echo "bench: no robot binary at '$z' (set ZROBOT)" >&2
		exit 1
	fi
	realpath "$z"
}

# stop_robot: unmounts $mnt (lazily if a reader still holds it), so the robot sees its session
# end, then stops $robot_pid: SIGTERM, SIGKILL after 10 s, reaped.
stop_robot() {
	if mountpoint -q "$mnt" 2>/dev/null; then
		fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" 2>/dev/null || true
	fi
	if [[ -n $robot_pid ]] && kill -0 "$robot_pid" 2>/dev/null; then
		kill -TERM "$robot_pid" 2>/dev/null || true
		for _ in $(seq 100); do
			kill -0 "$robot_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$robot_pid" 2>/dev/null || true
	fi
	if [[ -n $robot_pid ]]; then
		wait "$robot_pid" 2>/dev/null || true
	fi
	robot_pid=
}

# remove_tmp: removes $tmp unless something is still mounted in it.
remove_tmp() {
	if ! mountpoint -q "$mnt" 2>/dev/null; then
		rm -rf --one-file-system "$tmp"
	fi
}
