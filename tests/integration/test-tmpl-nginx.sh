#!/bin/bash
# The built-in nginx template with the real nginx (issue 13): a site root and port from data,
# echo start → ready, curl gets the page, workers run as www-data, process/status and stats,
# reload (new config from data, SIGHUP: the same master, new workers, the new root served),
# kill -9 → back, rmdir → the master and its workers are gone and the port free.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-tmpl.sh"

need_prog nginx curl

# The workers run as www-data (when we are root): the site must be readable to them, and $TMP
# is 0700.
chmod 711 "$TMP"
mkdir -p "$TMP/site1" "$TMP/site2"
echo "site one" >"$TMP/site1/index.html"
echo "site two" >"$TMP/site2/index.html"
chmod 755 "$TMP/site1" "$TMP/site2"
chmod 644 "$TMP/site1/index.html" "$TMP/site2/index.html"

# workers MASTER: the pids of the master's children, sorted.
workers() {
	ps -o pid= --ppid "$1" | tr -d ' ' | sort -n | tr '\n' ' '
}

zr_start
port=$(free_port)
tmpl_svc nginx web "{\"port\": $port, \"root\": \"$TMP/site1\"}"
S=$SVC
act "$S" start >/dev/null
ok "mkdir nginx/web (port $port, root site1); echo start; results/start ok"

expect_eq "$(curl -sf "http://127.0.0.1:$port/")" "site one" "curl of the page"
ok "curl http://127.0.0.1:$port/ → site one"

check_ready "$S"
master=$(server_pid "$S")
w1=$(workers "$master")
[ -n "$w1" ] || fail "nginx master $master has no workers"
if [ "$(id -u)" = 0 ]; then
	for w in $w1; do
		expect_eq "$(ps -o user= -p "$w" | tr -d ' ')" www-data "user of worker $w"
	done
fi
ok "process/status ready; master $master (the main process), workers $w1"

check_stats "$S" "$port"
ok "process/stats: rss $(stat_of "$S" rss), listening 127.0.0.1:$port"

timeout 10 bash -c 'printf "%s\n" "$2" >"$1"' _ "$S/data" "{\"port\": $port, \"root\": \"$TMP/site2\"}" ||
	fail "data write"
act "$S" reload >/dev/null
wait_for "[ \"\$(curl -sf http://127.0.0.1:$port/)\" = 'site two' ]" 15 ||
	fail "after reload nginx does not serve site2: $(curl -s "http://127.0.0.1:$port/")"
expect_eq "$(server_pid "$S")" "$master" "master pid after reload"
wait_for "w2=\$(workers $master); [ -n \"\$w2\" ] && [ \"\$w2\" != '$w1' ]" 15 ||
	fail "no new workers after reload: $(workers "$master") (before: $w1)"
expect_eq "$(status_of "$S" restarts)" 0 "restarts after reload"
ok "reload: the same master $master, new workers $(workers "$master"), site two served"

pid=$(check_kill9 "$S" "[ \"\$(curl -sf http://127.0.0.1:$port/)\" = 'site two' ]")
ok "kill -9 of the master: restarted (pid $pid), restarts 1, the page is served again"

w=$(workers "$pid")
check_removed "$S" "$pid" "$port"
for p in $w; do
	! pid_alive "$p" || fail "worker $p still runs after rmdir"
done
ok "rmdir nginx/web: the master and its workers are gone, port $port is free"
zr_stop
