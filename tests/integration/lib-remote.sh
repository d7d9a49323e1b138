# Helpers for the tests with more than one robot; source after lib.sh and lib-http.sh.
#
# The robot that lib.sh starts (zr_start/zr_start_http on $MNT, $DATA, $TPL) is "A". Others
# ("peers") run next to it, each with its own mount point, data dir, templates dir and log, and
# HTTP on 127.0.0.1 (a free port the first time). For a peer named b, zr_peer_start sets:
#
#   B_MNT B_DATA B_TPL   $TMP/peer-b/{mnt,data,templates} (templates are loaded when B_TPL
#                        holds any: call zr_peer_init first to fill it)
#   B_LOG                $TMP/b.log (appended on a restart, scanned for sanitizer reports)
#   B_PID                its robot's pid; empty once it was stopped or killed
#   B_URL B_PORT         http://127.0.0.1:PORT, read from its log line "HTTP API listening on"
#   B_TOKEN              its admin token, $B_DATA/admin.token
#
# zr_mount_start runs `zrobot mount URL DIR` (one remote robot alone) in the background.
#
# Cleanup: an EXIT trap chained in front of lib.sh's resumes the peers a test stopped (kill
# -STOP), then lib.sh's zr_cleanup stops every robot and mount process (they are all in
# ZR_PIDS), kills the actions of every robot (their ZR_ROOT is $MNT or a peer's mount), unmounts
# every mount (all in ZR_MOUNTS) and removes $TMP, even when the test failed.

ZR_PEERS=()      # names of the peers, in the order they were set up
ZR_ROOTS=()      # the peers' mount points: their actions run with ZR_ROOT=<it>
ZR_MOUNT_PID=    # the `zrobot mount` process started last
ZR_MOUNT_DIR=    # and its mount point

# zr_peer_var NAME FIELD: prints a peer's variable, e.g. `zr_peer_var b URL` prints $B_URL.
zr_peer_var() {
	local v="${1^^}_$2"
	printf '%s\n' "${!v-}"
}

zr__peer_set() {
	printf -v "${1^^}_$2" '%s' "$3"
}

# zr_peer_init NAME: sets a peer's paths and makes its folders; zr_peer_start calls it too.
zr_peer_init() {
	local n=$1
	[[ $n =~ ^[a-z][a-z0-9]*$ ]] || fail "zr_peer_init: bad peer name '$n'"
	[ -z "$(zr_peer_var "$n" MNT)" ] || return 0
	local dir=$TMP/peer-$n
	mkdir -p "$dir/mnt" "$dir/data" "$dir/templates" || fail "zr_peer_init: mkdir under $dir"
	zr__peer_set "$n" MNT "$dir/mnt"
	zr__peer_set "$n" DATA "$dir/data"
	zr__peer_set "$n" TPL "$dir/templates"
	zr__peer_set "$n" LOG "$TMP/$n.log"
	zr__peer_set "$n" PID ""
	ZR_PEERS+=("$n")
	ZR_ROOTS+=("$dir/mnt")
	ZR_MOUNTS+=("$dir/mnt")
}

# zr__peer_run NAME LISTEN ARGS...: launches the peer's robot and waits up to 15 s for its HTTP
# address in its log and its @robot/info on its mount.
zr__peer_run() {
	local n=$1 listen=$2
	shift 2
	local mnt data tpl log pid keep=$ZR_PID before url= i tplargs=()
	mnt=$(zr_peer_var "$n" MNT)
	data=$(zr_peer_var "$n" DATA)
	tpl=$(zr_peer_var "$n" TPL)
	log=$(zr_peer_var "$n" LOG)
	[ -z "$(zr_peer_var "$n" PID)" ] || fail "robot $n is already running"
	if [ -n "$(ls -A "$tpl")" ]; then
		tplargs=(--templates "$tpl")
	fi
	before=$(grep -c 'HTTP API listening on' "$log" 2>/dev/null)
	before=${before:-0}
	# zr_launch puts the pid in ZR_PIDS (for the cleanup) and in ZR_PID, which stays A's.
	ZR_LOG=$log zr_launch --mount "$mnt" --data "$data" "${tplargs[@]}" --listen "$listen" "$@"
	pid=$ZR_PID
	ZR_PID=$keep
	zr__peer_set "$n" PID "$pid"
	for i in $(seq 150); do
		if ! pid_alive "$pid"; then
			zr_reap "$pid"
			zr__peer_set "$n" PID ""
			fail "robot $n exited with status $ZR_STATUS during startup: $(tail -n 5 "$log")"
		fi
		if [ -z "$url" ] && [ "$(grep -c 'HTTP API listening on' "$log")" -gt "$before" ]; then
			url=$(grep -o 'HTTP API listening on [^ ]*' "$log" | tail -n 1 | awk '{print $NF}')
		fi
		if [ -n "$url" ] && timeout 2 cat "$mnt/@robot/info" >/dev/null 2>&1; then
			break
		fi
		sleep 0.1
	done
	[ -n "$url" ] || fail "robot $n logged no HTTP address within 15 s"
	timeout 2 cat "$mnt/@robot/info" >/dev/null 2>&1 || fail "$mnt/@robot/info not readable 15 s after start"
	zr__peer_set "$n" URL "$url"
	zr__peer_set "$n" PORT "${url##*:}"
	zr__peer_set "$n" TOKEN "$(cat "$data/admin.token")" || fail "no $data/admin.token"
}

# zr_peer_start NAME [ARGS...]: starts peer NAME (zrobot run ... ARGS) on a free port.
zr_peer_start() {
	local n=$1
	shift
	zr_peer_init "$n"
	zr__peer_run "$n" 127.0.0.1:0 "$@"
}

# zr_peer_restart NAME [ARGS...]: starts a stopped or killed peer again on the same port, mount
# point and data dir; its URL stays the same.
zr_peer_restart() {
	local n=$1 url port
	shift
	url=$(zr_peer_var "$n" URL)
	port=$(zr_peer_var "$n" PORT)
	[ -n "$port" ] || fail "zr_peer_restart: robot $n never started"
	zr__peer_run "$n" "127.0.0.1:$port" "$@"
	expect_eq "$(zr_peer_var "$n" URL)" "$url" "URL of robot $n after its restart"
}

# zr_peer_stop NAME [TIMEOUT]: SIGTERM; it must exit 0 within TIMEOUT s (10) and leave no mount.
zr_peer_stop() {
	local n=$1 limit=${2:-10} pid mnt
	pid=$(zr_peer_var "$n" PID)
	mnt=$(zr_peer_var "$n" MNT)
	[ -n "$pid" ] || fail "zr_peer_stop: robot $n is not running"
	kill -CONT "$pid" 2>/dev/null
	kill -TERM "$pid" 2>/dev/null
	zr_reap "$pid" "$limit" || fail "robot $n still running $limit s after SIGTERM"
	zr__peer_set "$n" PID ""
	expect_eq "$ZR_STATUS" 0 "exit status of robot $n after SIGTERM"
	! mounted "$mnt" || fail "$mnt still mounted after robot $n exited"
}

# zr_peer_kill NAME: kill -9 of the peer's robot, as a crash would; kills the actions it left
# and waits up to 5 s for auto_unmount to remove its mount (fusermount3 -uz after that).
zr_peer_kill() {
	local n=$1 pid mnt i
	pid=$(zr_peer_var "$n" PID)
	mnt=$(zr_peer_var "$n" MNT)
	[ -n "$pid" ] || fail "zr_peer_kill: robot $n is not running"
	kill -KILL "$pid" 2>/dev/null
	zr_reap "$pid" 10 || fail "robot $n still running 10 s after SIGKILL"
	zr__peer_set "$n" PID ""
	zr_kill_root_actions "$mnt"
	for i in $(seq 50); do
		mounted "$mnt" || break
		sleep 0.1
	done
	if mounted "$mnt"; then
		echo "note: $mnt still mounted 5 s after robot $n was killed; lazy unmount" >&2
		fusermount3 -uz "$mnt" 2>/dev/null
	fi
	! mounted "$mnt" || fail "$mnt still mounted after robot $n was killed"
}

# zr_mount_start URL DIR [ARGS...]: `zrobot mount URL DIR ARGS` in the background (log
# $TMP/mount.log), with SIGINT at its default so that a test can send it; waits up to 10 s for
# DIR to be mounted. Sets ZR_MOUNT_PID and ZR_MOUNT_DIR.
zr_mount_start() {
	local url=$1 dir=$2 i
	shift 2
	mkdir -p "$dir" || fail "mkdir $dir"
	case " ${ZR_MOUNTS[*]} " in
	*" $dir "*) ;;
	*) ZR_MOUNTS+=("$dir") ;;
	esac
	echo "+ zrobot mount $url $dir $*" >>"$TMP/mount.log"
	# Background jobs of a non-interactive shell start with SIGINT ignored.
	env --default-signal=INT "$ZROBOT" mount "$url" "$dir" "$@" >>"$TMP/mount.log" 2>&1 &
	ZR_MOUNT_PID=$!
	ZR_MOUNT_DIR=$dir
	ZR_PIDS+=("$ZR_MOUNT_PID")
	for i in $(seq 100); do
		if mounted "$dir"; then
			return 0
		fi
		if ! pid_alive "$ZR_MOUNT_PID"; then
			zr_reap "$ZR_MOUNT_PID"
			fail "zrobot mount exited with status $ZR_STATUS before mounting: $(tail -n 5 "$TMP/mount.log")"
		fi
		sleep 0.1
	done
	fail "zrobot mount: $dir not mounted 10 s after start"
}

# zr_mount_stop [SIGNAL] [TIMEOUT]: sends SIGNAL (TERM) to the last `zrobot mount`; it must
# unmount and exit 0 within TIMEOUT s (10).
zr_mount_stop() {
	local sig=${1:-TERM} limit=${2:-10}
	[ -n "$ZR_MOUNT_PID" ] || fail "zr_mount_stop: no zrobot mount running"
	kill "-$sig" "$ZR_MOUNT_PID" 2>/dev/null
	zr_reap "$ZR_MOUNT_PID" "$limit" || fail "zrobot mount still running $limit s after SIG$sig"
	ZR_MOUNT_PID=
	expect_eq "$ZR_STATUS" 0 "exit status of zrobot mount after SIG$sig"
	! mounted "$ZR_MOUNT_DIR" || fail "$ZR_MOUNT_DIR still mounted after zrobot mount exited"
}

# bad_token FILE: writes 64 hex characters that are nobody's token.
bad_token() {
	od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$1"
	echo >>"$1"
}

# remote_status NAME: A's @robot/remotes/NAME/status (never blocks: it is local to A).
remote_status() {
	rcat "$MNT/@robot/remotes/$1/status"
}

# metric_of MOUNT NAME: a robot's Prometheus value of NAME, read from MOUNT/@robot/metrics.
metric_of() {
	timeout 10 cat "$1/@robot/metrics" | grep -v '^#' | grep -F "$2 " | head -n 1 | awk '{print $NF}'
}

# ---------------------------------------------------------------------------------------------
# lib.sh's cleanup, extended to the peers.

# zr_action_pids (lib.sh's, widened): the actions of A and of every peer.
zr_action_pids() {
	local p roots
	roots=$(printf 'ZR_ROOT=%s\n' "$MNT" "${ZR_ROOTS[@]}")
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		[ "$p" = $$ ] && continue
		if tr '\0' '\n' 2>/dev/null <"/proc/$p/environ" | grep -qxF -- "$roots"; then
			echo "$p"
		fi
	done
}

# zr_kill_root_actions ROOT: kills the processes that run with ZR_ROOT=ROOT.
zr_kill_root_actions() {
	local p
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		[ "$p" = $$ ] && continue
		if tr '\0' '\n' 2>/dev/null <"/proc/$p/environ" | grep -qxF -- "ZR_ROOT=$1"; then
			kill -KILL "$p" 2>/dev/null
		fi
	done
}

# fail (lib.sh's, plus the tails of the peers' logs and of $TMP/mount.log).
eval "zr__fail_a() $(declare -f fail | tail -n +2)"
fail() {
	local n log
	for n in "${ZR_PEERS[@]}"; do
		log=$(zr_peer_var "$n" LOG)
		if [ -s "$log" ]; then
			echo "---- tail of $n.log ----"
			tail -n 25 "$log"
		fi
	done >&2
	if [ -s "$TMP/mount.log" ]; then
		echo "---- tail of mount.log ----" >&2
		tail -n 15 "$TMP/mount.log" >&2
	fi
	zr__fail_a "$@"
}

zr_remote_cleanup() {
	local rc=$? n pid
	set +e
	# A stopped process keeps a TERM pending, and its mount blocks whoever touches it.
	for n in "${ZR_PEERS[@]}"; do
		pid=$(zr_peer_var "$n" PID)
		[ -z "$pid" ] || kill -CONT "$pid" 2>/dev/null
	done
	(exit "$rc")
	zr_cleanup
}

trap zr_remote_cleanup EXIT
