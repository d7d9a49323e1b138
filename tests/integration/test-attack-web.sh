#!/bin/bash
# Red team of the web dashboard (issue 15 item 3) in headless chromium, driven by
# test-attack-web.py: what a dashboard left open costs the robot, and whether it stays true
# across a robot restart. The robot listens on a fixed free port so that the page, which
# stays open, finds the restarted robot at the same origin; the page asks for a restart by
# creating $TMP/restart-request (and $TMP/revoke first for one without the user token) and
# this script answers with $TMP/restart-done.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-http.sh"

PY=/usr/bin/python3
[ -x /usr/bin/chromium ] || skip "chromium is missing (apt-get install chromium)"
[ -x /usr/bin/chromedriver ] || skip "chromedriver is missing (apt-get install chromium-driver)"
"$PY" -c 'import selenium' 2>/dev/null || skip "python3-selenium is missing"

mk_template "$TPL" kv '{"name": "kv", "version": "1.0.0", "description": "a producer",
  "users": true, "data": {"size": {"type": "integer", "default": 64}}, "actions": {"ping": {}, "slow": {}}}'
mk_action "$TPL/kv" ping 'echo pong'
mk_action "$TPL/kv" slow 'echo started >&2; sleep 60'
# A server (sampled by its page every 2 s) that user tokens may create too.
mk_template "$TPL" app '{"name": "app", "version": "2.1.0", "description": "a server",
  "users": true, "data": {"port": {"type": "integer", "default": 8080},
           "password": {"type": "string", "secret": true, "default": ""}},
  "actions": {"hi": {}}, "process": {"command": ["sleep", "1000"], "stop_timeout": 3}}'
mk_action "$TPL/app" hi 'echo hi'
# A consumer of kv: its producer is a data field, so a data write changes the graph's edge.
mk_template "$TPL" web '{"name": "web", "version": "1.0.0",
  "data": {"db": {"type": "string", "default": ""}}, "consumes": {"db": {"template": "kv"}}}'
# Markup where the robot's text goes: a template's description, an action's and an argument's
# description, an enum, a task's log, result and state line. The page must show it as text.
mk_template "$TPL" evil '{"name": "evil", "version": "1.0.0",
  "description": "<img src=x onerror=window.zrPwned=1> \u202eevil",
  "data": {"url": {"type": "string", "default": "javascript:window.zrPwned=2"}},
  "actions": {"boom": {"description": "\"><script>window.zrPwned=3</script>",
    "args": {"what": {"type": "string", "enum": ["<b>x</b>", "<svg onload=window.zrPwned=4>"],
                      "description": "<iframe src=javascript:window.zrPwned=5>"}}}}}'
mk_action "$TPL/evil" boom 'echo "<img src=x onerror=window.zrPwned=6>" >&2
echo "<script>window.zrPwned=7</script>"
echo "state web <img/src=x/onerror=window.zrPwned=8> ok" >&3'
USER_TOKEN=user-token-$RANDOM$RANDOM$RANDOM
echo "$USER_TOKEN" >"$TMP/tokens"

# A free port for the whole test: the kernel's pick, released for the robot to bind.
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
zr_start_http --token-file "$TMP/tokens" --listen "127.0.0.1:$PORT"
# zr_start_http's own --listen 127.0.0.1:0 comes first: the robot takes the last one.
expect_eq "$URL" "http://127.0.0.1:$PORT" "the robot's address"

mkdir -p "$TMP/chrome"
ZR_URL=$URL ZR_ADMIN=$ADMIN ZR_USER=$USER_TOKEN ZR_CHROME_DIR=$TMP/chrome ZR_HANDSHAKE=$TMP \
	timeout -k 5 260 "$PY" "$ZR_SRC/tests/integration/test-attack-web.py" &
py=$!
# The restart the page asks for: down long enough for the page's reconnect delay to grow past
# the new robot's first events (a service created at once), so only a page that notices the
# restart shows it.
for _ in $(seq 2700); do
	pid_alive "$py" || break
	if [ -e "$TMP/restart-request" ]; then
		rm -f "$TMP/restart-request"
		zr_stop
		if [ -e "$TMP/revoke" ]; then
			: >"$TMP/tokens"  # the user token is no longer one
		fi
		sleep 4
		zr_start --listen "127.0.0.1:$PORT" --token-file "$TMP/tokens"
		if [ ! -e "$TMP/revoke" ] && [ ! -e "$TMP/created-after" ]; then
			touch "$TMP/created-after"  # by the first restart only
			http "$ADMIN" POST /v1/kv -H 'Content-Type: application/json' \
				-d '{"name": "after-restart", "data": {}}'
			expect_eq "$HS" 201 "kv/after-restart created right after the restart"
		fi
		touch "$TMP/restart-done"
	fi
	sleep 0.1
done
rc=0
wait "$py" || rc=$?
for p in /proc/[0-9]*; do
	if { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -qF -- "$TMP/chrome"; then
		kill -9 "${p#/proc/}" 2>/dev/null
	fi
done
[ "$rc" -eq 0 ] || fail "the browser test failed (exit $rc)"
ok "the dashboard under attack in chromium"
zr_stop
