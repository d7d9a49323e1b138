#!/usr/bin/env bash
# Requests per second for GET of a service's state file over the HTTP API, next to nginx serving
# the same bytes as a static file, measured with wrk in the same run on the same machine:
#
#     ZROBOT=build/fs/zrobot bash tests/bench/bench-http.sh
#
# The robot answers on one loop thread, so nginx runs one worker by default (NGINX_WORKERS=auto
# for all cores). D (seconds per run, default 10), C (connections, default 32) and T (wrk
# threads, default 1) can be set in the environment. It starts its own robot (on a temporary
# mount point, data dir and free port) and its own nginx (temporary config), and removes both
# at the end. Needs wrk and nginx (tests/deps.sh installs them).
set -euo pipefail

dur=${D:-10}
conns=${C:-32}
threads=${T:-1}
workers=${NGINX_WORKERS:-1}

for tool in wrk nginx curl python3; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "bench: $tool is missing (sudo bash tests/deps.sh installs it)" >&2
		exit 1
	fi
done
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
zrobot=$(bench_zrobot)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/zr-bench-http.XXXXXX")
chmod 755 "$tmp"
mnt=$tmp/mnt
robot_pid=
nginx_pid=

cleanup() {
	if [[ -n $nginx_pid ]] && kill -0 "$nginx_pid" 2>/dev/null; then
		kill -QUIT "$nginx_pid" 2>/dev/null || true
		for _ in $(seq 50); do
			kill -0 "$nginx_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$nginx_pid" 2>/dev/null || true
	fi
	stop_robot
	wait 2>/dev/null || true
	remove_tmp
}
trap cleanup EXIT

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A template whose action writes a few state lines, so the file has realistic content.
mkdir -p "$mnt" "$tmp/data" "$tmp/tpl/b/actions" "$tmp/www"
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
	--log-level warn >"$tmp/robot.log" 2>&1 &
robot_pid=$!
url=
for _ in $(seq 100); do
	url=$(grep -o 'HTTP API listening on [^ ]*' "$tmp/robot.log" | awk '{print $NF}' || true)
	[[ -z $url ]] || break
	kill -0 "$robot_pid" 2>/dev/null || break
	sleep 0.1
done
if [[ -z $url ]]; then
	# info lines are below --log-level warn: ask the robot instead.
	for _ in $(seq 100); do
		[[ -r $mnt/@robot/info ]] && url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listen"] or "")' "$mnt/@robot/info" 2>/dev/null || true)
		[[ -z $url ]] || break
		sleep 0.1
	done
fi
if [[ -z $url ]]; then
	echo "bench: the robot did not start:" >&2
	cat "$tmp/robot.log" >&2
	exit 1
fi
token=$(cat "$tmp/data/admin.token")
auth="Authorization: Bearer $token"
curl -sS -f -o /dev/null -H "$auth" -H 'Content-Type: application/json' -d '{"name": "s"}' "$url/v1/b"
curl -sS -f -o /dev/null -H "$auth" -X POST "$url/v1/b/s/actions/setup"
curl -sS -f -o /dev/null -H "$auth" "$url/v1/b/s/results/setup?wait=10"
curl -sS -f -o "$tmp/www/state" -H "$auth" "$url/v1/b/s/state"
chmod 644 "$tmp/www/state"

port=$(free_port)
mkdir -p "$tmp/nginx/logs" "$tmp/nginx/tmp"
cat >"$tmp/nginx/nginx.conf" <<EOF
worker_processes $workers;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log warn;
$( ((EUID == 0)) && echo "user root;" )
events { worker_connections 4096; }
http {
    access_log off;
    default_type text/plain;
    client_body_temp_path $tmp/nginx/tmp/body;
    proxy_temp_path $tmp/nginx/tmp/proxy;
    fastcgi_temp_path $tmp/nginx/tmp/fastcgi;
    uwsgi_temp_path $tmp/nginx/tmp/uwsgi;
    scgi_temp_path $tmp/nginx/tmp/scgi;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$port;
        root $tmp/www;
    }
}
EOF
nginx -p "$tmp/nginx" -e "$tmp/nginx/logs/error.log" -c "$tmp/nginx/nginx.conf" &
nginx_pid=$!
static=http://127.0.0.1:$port/state
for _ in $(seq 50); do
	curl -sS -f -o /dev/null "$static" 2>/dev/null && break
	sleep 0.1
done
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

robot_rps=$(rps "$url/v1/b/s/state" "$auth")
nginx_rps=$(rps "$static")
size=$(wc -c <"$tmp/www/state")
printf 'GET state (%d bytes), wrk %d thread(s), %d connections, %d s each:\n' "$size" "$threads" "$conns" "$dur"
printf '  robot (HTTP API, 1 loop thread):  %10.0f req/s\n' "$robot_rps"
printf '  nginx static file (%s worker(s)): %10.0f req/s\n' "$workers" "$nginx_rps"
awk -v a="$robot_rps" -v b="$nginx_rps" 'BEGIN { printf "  ratio robot/nginx: %.2f\n", a / b }'
