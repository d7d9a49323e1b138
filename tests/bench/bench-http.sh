#!/usr/bin/env bash
# Requests per second for GET of a service's state file over the HTTP API, next to nginx serving
# the same bytes as a static file, measured with wrk in the same run on the same machine:
#
#     ZROBOT=build/fs/zrobot bash tests/bench/bench-http.sh
#
# The robot answers on one loop thread, so nginx runs one worker by default (NGINX_WORKERS=auto
# for all cores). D (seconds per run, default 10), C (connections, default 32) and T (wrk
# threads, default 1) and ROUNDS (default 1; the sides alternate, medians are printed) can be set
# in the environment. It starts its own robot (on a temporary
# mount point, data dir and free port) and its own nginx (temporary config), and removes both
# at the end. Needs wrk and nginx (tests/deps.sh installs them).
set -euo pipefail

dur=${D:-10}
conns=${C:-32}
threads=${T:-1}
workers=${NGINX_WORKERS:-1}
rounds=${ROUNDS:-1}

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_need wrk nginx curl python3
bench_init bench-http
nginx_pid=

stop_nginx() {
	stop_pid "$nginx_pid" QUIT
}
bench_on_exit=stop_nginx

# A template whose action writes a few state lines, so the file has realistic content.
mkdir -p "$tmp/data" "$tmp/tpl/b/actions" "$tmp/nginx/www"
cat >"$tmp/tpl/b/template.json" <<'EOF'
{"name": "b", "version": "1.0.0", "actions": {"setup": {}}}
EOF
cat >"$tmp/tpl/b/actions/setup" <<'EOF'
#!/bin/sh
for tag in disk memory network process; do echo "state health $tag ok" >&3; done
echo done
EOF
chmod 755 "$tmp/tpl/b/actions/setup"

"$zrobot" run --mount "$mnt" --data "$tmp/data" --templates "$tmp/tpl" --listen 127.0.0.1:0 \
	--log-level info >"$tmp/robot.log" 2>&1 &
robot_pid=$!
url=$(robot_url "$tmp/robot.log") || bench_die "the robot did not start"
token=$(cat "$tmp/data/admin.token")
auth="Authorization: Bearer $token"
curl -sS -f -o /dev/null -H "$auth" -H 'Content-Type: application/json' -d '{"name": "s"}' "$url/v1/b"
curl -sS -f -o /dev/null -H "$auth" -X POST "$url/v1/b/s/actions/setup"
curl -sS -f -o /dev/null -H "$auth" "$url/v1/b/s/results/setup?wait=10"
curl -sS -f -o "$tmp/nginx/www/state" -H "$auth" "$url/v1/b/s/state"
chmod 644 "$tmp/nginx/www/state"

port=$(free_port)
start_nginx "$tmp/nginx" "$port" "$workers"
static=http://127.0.0.1:$port/state
if ! cmp -s <(curl -sS -H "$auth" "$url/v1/b/s/state") <(curl -sS "$static"); then
	echo "bench: the robot and nginx do not serve the same bytes" >&2
	exit 1
fi

# rps URL [HEADER]: requests per second by wrk (a short warm-up first).
rps() {
	local hdr=()
	[[ $# -lt 2 ]] || hdr=(-H "$2")
	wrk -t1 -c"$conns" -d1s "${hdr[@]}" "$1" >/dev/null
	wrk -t"$threads" -c"$conns" -d"${dur}s" "${hdr[@]}" "$1" >"$tmp/wrk.out"
	if grep -qE 'Non-2xx|Socket errors' "$tmp/wrk.out"; then
		echo "bench: errors against $1:" >&2
		cat "$tmp/wrk.out" >&2
	fi
	awk '/^Requests\/sec:/ {print $2}' "$tmp/wrk.out"
}

# ROUNDS rounds, the order alternating; medians.
interleave "$rounds" 'rps "$url/v1/b/s/state" "$auth"' "$tmp/robot.rps" 'rps "$static"' "$tmp/nginx.rps"
robot_rps=$(median <"$tmp/robot.rps")
nginx_rps=$(median <"$tmp/nginx.rps")
size=$(wc -c <"$tmp/nginx/www/state")
printf 'GET state (%d bytes), wrk %d thread(s), %d connections, %d s each, median of %d:\n' \
	"$size" "$threads" "$conns" "$dur" "$rounds"
printf '  robot (HTTP API, 1 loop thread):  %10.0f req/s\n' "$robot_rps"
printf '  nginx static file (%s worker(s)): %10.0f req/s\n' "$workers" "$nginx_rps"
awk -v a="$robot_rps" -v b="$nginx_rps" 'BEGIN { printf "  ratio robot/nginx: %.2f\n", a / b }'
echo "medians $robot_rps $nginx_rps"
