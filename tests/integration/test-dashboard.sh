#!/bin/bash
# The web dashboard (issue 15 item 3) in a real browser: Debian's chromium, headless, driven by
# test-dashboard.py through python3-selenium and chromedriver. This wrapper gives it a robot
# (lib.sh's fixture: private mount and data dir, everything stopped and unmounted at exit) and
# two templates: kv (a producer) and app (a server that consumes a kv, with a secret field and
# an action "greet" whose log line comes a while before its end). Screenshots of each page go
# to $ZR_SHOTS (meson sets it to <build>/screenshots).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-http.sh"

# Debian's python3-selenium is in /usr/bin/python3's dist-packages; a python3 earlier in PATH
# (pyenv) may not have it.
PY=/usr/bin/python3
[ -x /usr/bin/chromium ] || skip "chromium is missing (apt-get install chromium)"
[ -x /usr/bin/chromedriver ] || skip "chromedriver is missing (apt-get install chromium-driver)"
"$PY" -c 'import selenium' 2>/dev/null || skip "python3-selenium is missing"

mk_template "$TPL" kv '{"name": "kv", "version": "1.0.0", "description": "a producer",
  "data": {"size": {"type": "integer", "default": 64}}, "actions": {"ping": {}}}'
mk_action "$TPL/kv" ping 'echo pong'
mk_template "$TPL" app '{"name": "app", "version": "2.1.0", "description": "a server",
  "data": {"port": {"type": "integer", "default": 8080},
           "password": {"type": "string", "secret": true, "default": ""},
           "db": {"type": "string", "default": ""}},
  "consumes": {"db": {"template": "kv"}},
  "actions": {"greet": {"args": {"who": {"type": "string"},
                                 "times": {"type": "integer", "default": 1, "minimum": 1},
                                 "loud": {"type": "boolean", "default": false}},
                        "required": ["who"]}},
  "process": {"command": ["sleep", "1000"], "stop_timeout": 3}}'
# The log line comes first; the result 3 s later: the page must show the line while the task
# runs, then the result and the new state, without a reload.
mk_action "$TPL/app" greet 'echo "greeting $ARG_WHO" >&2
sleep 3
i=0
while [ "$i" -lt "$ARG_TIMES" ]; do echo "hello $ARG_WHO"; i=$((i + 1)); done
echo "state greet last ok" >&3'
zr_start_http --sample-interval 1

SHOTS=${ZR_SHOTS:-$TMP/screenshots}
mkdir -p "$SHOTS" "$TMP/chrome"
rm -f "$SHOTS"/*.png
rc=0
ZR_URL=$URL ZR_ADMIN=$ADMIN ZR_SHOTS=$SHOTS ZR_CHROME_DIR=$TMP/chrome \
	timeout -k 5 120 "$PY" "$ZR_SRC/tests/integration/test-dashboard.py" || rc=$?
# A browser left behind by a killed driver runs with our profile folder on its command line:
# those processes (and only those) are ours to end.
for p in /proc/[0-9]*; do
	if { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -qF -- "$TMP/chrome"; then
		kill -9 "${p#/proc/}" 2>/dev/null
	fi
done
[ "$rc" -eq 0 ] || fail "the browser test failed (exit $rc); screenshots in $SHOTS"
ok "the dashboard in chromium (screenshots in $SHOTS)"
zr_stop
