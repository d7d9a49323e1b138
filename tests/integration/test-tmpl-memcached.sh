#!/bin/bash
# The built-in memcached template with the real memcached (issue 13): echo start → ready, a set
# and get over bash's /dev/tcp, the server runs as user memcache, the stats action,
# process/status and stats, kill -9 → back, rmdir → the server is gone and its port free.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-tmpl.sh"

need_prog memcached

# mc PORT TEXT: sends TEXT (the text protocol, \r\n added per line) and "quit", prints the
# reply without CRs.
mc() {
	timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"
		printf "%s\r\nquit\r\n" "$2" >&3
		tr -d "\r" <&3' _ "$1" "$2"
}

zr_start
port=$(free_port)
tmpl_svc memcached main "{\"port\": $port, \"memory\": 16}"
S=$SVC
act "$S" start >/dev/null
ok "mkdir memcached/main (port $port, 16 MB); echo start; results/start ok"

expect_eq "$(mc "$port" $'set k 0 0 5\r\nhello')" STORED "set over /dev/tcp"
expect_eq "$(mc "$port" 'get k')" "$(printf 'VALUE k 0 5\nhello\nEND')" "get over /dev/tcp"
ok "the server stores and returns a value"

check_ready "$S"
pid=$(server_pid "$S")
if [ "$(id -u)" = 0 ]; then
	expect_eq "$(ps -o user= -p "$pid" | tr -d ' ')" memcache "user of the server"
fi
ok "process/status ready, adopted no; the server runs as $(ps -o user= -p "$pid" | tr -d ' ')"

out=$(act "$S" stats)
expect_eq "$(printf '%s\n' "$out" | awk '$1 == "pid" { print $2 }')" "$pid" "stats: pid"
expect_eq "$(printf '%s\n' "$out" | awk '$1 == "limit_maxbytes" { print $2 }')" $((16 << 20)) \
	"stats: limit_maxbytes (data.memory)"
ok "action stats: pid $pid, limit_maxbytes 16 MiB"

check_stats "$S" "$port"
ok "process/stats: rss $(stat_of "$S" rss), listening 127.0.0.1:$port"

pid=$(check_kill9 "$S" "[ \"\$(mc $port version | cut -d' ' -f1)\" = VERSION ]")
ok "kill -9 of the server: restarted (pid $pid), restarts 1, it answers again"

check_removed "$S" "$pid" "$port"
ok "rmdir memcached/main: the server is gone and port $port is free"
zr_stop
