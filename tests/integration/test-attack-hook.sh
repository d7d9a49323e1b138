#!/bin/bash
# Red team of webhooks (issue 15 item 5, README "Webhooks"): receivers that misbehave (a 2xx
# with a 1 GiB body, a redirect, a reset, a trickle, a self-signed TLS certificate), odd add
# lines, and a robot stopped while a request is in flight.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-http.sh"

RECV="$ZR_SRC/tests/integration/webhook-receiver.py"
WH=$MNT/@robot/webhooks
zr_start_http

declare -A RPID
# recv_start NAME [ARGS...]: a receiver writing $TMP/NAME.jsonl, its port in RPORT.
recv_start() {
	local name=$1
	shift
	rm -f "$TMP/$name.port"
	"$ZR_PY" "$RECV" "$TMP/$name.jsonl" "$TMP/$name.port" "$@" 2>>"$TMP/recv.log" &
	RPID[$name]=$!
	wait_for "[ -s '$TMP/$name.port' ]" 10 || fail "receiver $name did not start"
	RPORT=$(cat "$TMP/$name.port")
}
recv_stop() {
	kill -TERM "${RPID[$1]}" 2>/dev/null
	wait "${RPID[$1]}" 2>/dev/null
}
# got NAME: how many requests NAME received.
got() { [ -f "$TMP/$1.jsonl" ] && wc -l <"$TMP/$1.jsonl" || echo 0; }
status_of() { grep "^$2 " "$WH/$1/status" | cut -d' ' -f2-; }
newest() { ls "$WH" | grep -E '^[0-9]+$' | sort -n | tail -n 1; }
# add LINE: adds a hook, sets H to its id.
add() {
	echo "$1" >"$WH/add" || fail "add '$1'"
	H=$(newest)
}
# rss_kib: the robot's peak resident set, in KiB.
rss_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$ZR_PID/status"; }

# ---- a 2xx with a 1 GiB body: delivered once, the body never held ----
rss0=$(rss_kib)
recv_start big --body-bytes $((1 << 30))
add "http://127.0.0.1:$RPORT/big webhook.added"
wait_for "[ \"\$(status_of $H delivered)\" = 1 ]" 20 ||
	fail "a 200 with a 1 GiB body did not deliver: $(cat "$WH/$H/status")"
expect_eq "$(status_of "$H" failures)" 0 "failures of the hook whose receiver answers 1 GiB"
expect_eq "$(status_of "$H" pending)" 0 "pending of the hook whose receiver answers 1 GiB"
sleep 2
expect_eq "$(got big)" 1 "requests the 1 GiB receiver got (a 2xx delivers: never again)"
rss1=$(rss_kib)
[ "$((rss1 - rss0))" -lt $((64 * 1024)) ] || fail "the robot's peak RSS grew from $rss0 to $rss1 KiB"
echo "remove $H" >"$WH/ctl" || fail "remove the 1 GiB hook"
recv_stop big
ok "a 200 with a 1 GiB body delivers the event once; peak RSS $rss0 -> $rss1 KiB"

zr_stop
