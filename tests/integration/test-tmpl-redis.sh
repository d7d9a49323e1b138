#!/bin/bash
# The built-in redis template with the real redis-server (issue 13): data with the password as a
# secret, echo start → ready, redis-cli answers with the password and refuses without it, the
# password is in no argv, process/status and stats, the ping/info/save actions, kill -9 → back,
# rmdir → the server is gone and its port free.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-tmpl.sh"

need_prog redis-server redis-cli
zr_start
port=$(free_port)
pw='s3cret pass"word'
tmpl_svc redis main "{\"port\": $port, \"password\": \"s3cret pass\\\"word\"}"
S=$SVC
expect_eq "$(jsonstr "$(rcat "$S/data")" 'j["password"]')" "$pw" "data keeps the password"
ok "mkdir redis/main, data with port $port and a password"

act "$S" start >/dev/null
ok "echo start > actions/start; cat results/start: ok"
expect_eq "$(REDISCLI_AUTH=$pw redis-cli -p "$port" ping)" PONG "redis-cli ping with the password"
expect_in "$(redis-cli -p "$port" ping 2>&1)" NOAUTH "redis-cli ping without the password"
ok "the server answers PONG with the password, NOAUTH without"

check_ready "$S"
pid=$(server_pid "$S")
expect_in "$(tr '\0' ' ' <"/proc/$pid/cmdline")" redis-server "process/pid is redis-server"
expect_not_in "$(tr '\0' ' ' <"/proc/$pid/cmdline")" s3cret "the server's argv"
expect_not_in "$(rcat "$S/tasks/$(last_task "$S")/args") $(rcat "$S/log")" s3cret "args and log"
expect_eq "$(stat -c %a "$DATA/work/$GUID/redis.conf")" 600 "mode of redis.conf"
ok "process/status ready, adopted no; the password is in no argv, log or args; redis.conf 0600"

check_stats "$S" "$port"
ok "process/stats: rss $(stat_of "$S" rss), listening 127.0.0.1:$port"

expect_eq "$(act "$S" ping)" PONG "action ping"
expect_match "$(act "$S" info 'section=server')" '^redis_version:[0-9]' "action info section=server"
REDISCLI_AUTH=$pw redis-cli -p "$port" set k v >/dev/null
dump=$(act "$S" save)
expect_eq "$dump" "$DATA/work/$GUID/dump.rdb" "action save prints the dump's path"
[ -s "$dump" ] || fail "no dump at $dump"
ok "actions: ping → PONG, info section=server, save → $dump"

pid=$(check_kill9 "$S" "[ \"\$(REDISCLI_AUTH='$pw' redis-cli -p $port get k)\" = v ]")
ok "kill -9 of the server: restarted (pid $pid), restarts 1, the key saved before is back"

check_removed "$S" "$pid" "$port"
ok "rmdir redis/main: the server is gone and port $port is free"
zr_stop
