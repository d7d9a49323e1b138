#!/bin/bash
# A server run as another user ("user" in the manifest) reaches its work folder by its absolute
# path (redis and postgres make their paths absolute), writes there, and can list nothing else
# of the data folder: the folders on the way get the search bit only (0711), and the robot does
# not warn about them at start.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-process.sh"

[ "$(id -u)" = 0 ] || skip "needs root: the server runs as user nobody"
id nobody >/dev/null 2>&1 || skip "no user nobody"
mk_template "$TPL" asuser '{"name": "asuser", "version": "1.0.0",
  "data": {"marker": {"type": "string", "default": "none"}},
  "process": {"command": ["sh", "-c", "cd \"$(pwd -P)\" && id -un > who && ls .. > list 2>&1; exec python3 -c \"import time; time.sleep(1000)\" ${marker}"],
              "user": "nobody", "restart": "never", "stop_timeout": 3}}'
# The test folder is 0700 (mktemp); a real data folder sits in /var/lib, which others may search.
chmod 711 "$TMP"
chmod 700 "$DATA"
zr_start
D=$(svc asuser a)
echo "{\"marker\": \"$PROC_MARK-a\"}" >"$D/data" || fail "data"
run_ok "echo start > '$D/actions/start'" >/dev/null
run_ok "cat '$D/results/start'" >/dev/null
W=$(ls -d "$DATA"/work/*/)
wait_for "[ -s '$W/who' ]" 10 || fail "the server could not write in its work folder by its path"
expect_eq "$(cat "$W/who")" nobody "the server's user"
# `who` is written before `ls` runs: under load the list may come a moment later.
wait_for "[ -s '$W/list' ]" 10 || fail "the server did not list <data>/work"
expect_in "$(cat "$W/list")" "Permission denied" "the server lists <data>/work"
expect_eq "$(stat -c %a "$DATA")" 711 "the data folder's mode"
expect_eq "$(stat -c %a "$DATA/work")" 711 "the work folder's parent's mode"
expect_eq "$(stat -c %U "$W")" nobody "the work folder's owner"
expect_not_in "$(cat "$TMP/robot.log")" "has mode" "a warning about the data folder's mode"
ok "a server run as nobody reaches its own work folder only"

echo stop >"$D/actions/stop"
zr_stop
: >"$TMP/robot.log"
zr_start
expect_not_in "$(cat "$TMP/robot.log")" "has mode" "a warning about 0711 at the next start"
ok "0711 is not reported at start"
