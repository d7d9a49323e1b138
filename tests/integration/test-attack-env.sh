#!/bin/bash
# Attacks on what the robot gives away (issue 12, part "env"): an action reading the robot's
# environment (SSH agent, tokens, ZROBOT_*), manifests that try to set the robot's variables or
# use backreferences, files made group- or world-readable by a loose umask, one address
# holding every connection, a plain-HTTP listener beyond loopback, and a costly pattern against
# a long value. Each one is refused or finds nothing, and leaves services, data, tokens and
# files as they were.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-http.sh"

FLOOD="$ZR_SRC/tests/integration/connflood.py"
# The interpreter itself: a wrapper (pyenv's shims) would add variables of its own.
PY=$("$ZR_PY" -c 'import sys; print(sys.executable)') || fail "no python"

# The robot's environment holds what an action must never see; LANG and TZ are unset so the
# defaults show. The wrapper execs the robot: its pid is the robot's.
REAL=$ZROBOT
cat >"$TMP/zrobot-env" <<EOF
#!/bin/sh
exec env -u TZ -u LANG -u LC_ALL HOME="$TMP/home" SSH_AUTH_SOCK="$TMP/agent.sock" \
	GITHUB_TOKEN=ghp_attack0123456789abcdef ZROBOT_X=leak PASSED_BY_ADMIN=yes NOT_PASSED=no \
	"$REAL" "\$@"
EOF
chmod 755 "$TMP/zrobot-env"
ZROBOT=$TMP/zrobot-env

mk_template "$TPL" e '{"name": "e", "version": "1.0.0",
  "data": {"port": {"type": "integer", "default": 80},
           "name": {"type": "string", "default": "abc", "pattern": "^abc$|^(a|b)*a(a|b){200}c$"}},
  "env": {"FROM_TEMPLATE": "t", "BOTH": "template"},
  "actions": {"env": {"args": {"x": {"type": "string", "default": "1"}}},
              "envx": {"env": {"FROM_ACTION": "a", "BOTH": "action", "PATH": "/opt/e/bin:/bin"}},
              "files": {}}}'
for a in env envx; do
	mk_action "$TPL/e" "$a" "#!$PY
import os
for k in sorted(os.environ):
    print(k + '=' + os.environ[k])"
done
mk_action "$TPL/e" files 'echo made >by-action; mkdir -p sub && echo x >sub/f; echo ok'
# Manifests that try to set the robot's or the protocol's variables, or to run a backreference.
mk_template "$TPL" bad1 '{"name": "bad1", "version": "1.0.0", "env": {"ZR_ROOT": "/"}}'
mk_action "$TPL/bad1" a 'echo a'
mk_template "$TPL" bad2 '{"name": "bad2", "version": "1.0.0",
  "actions": {"a": {"env": {"ZROBOT_ADMIN": "x"}}}}'
mk_action "$TPL/bad2" a 'echo a'
mk_template "$TPL" bad3 '{"name": "bad3", "version": "1.0.0", "env": ["SSH_AUTH_SOCK"]}'
mk_action "$TPL/bad3" a 'echo a'
mk_template "$TPL" bad4 '{"name": "bad4", "version": "1.0.0",
  "data": {"p": {"type": "string", "pattern": "^(a*)*\\1$"}}}'
mk_action "$TPL/bad4" a 'echo a'

# --pass-env may not name the robot's own variables either.
rc=0
timeout 10 "$REAL" run --pass-env PASSED_BY_ADMIN,ZR_ROOT --mount "$MNT" --data "$TMP/nodata" \
	>"$TMP/passenv.out" 2>&1 || rc=$?
expect_eq "$rc" 2 "exit status of --pass-env ZR_ROOT"
expect_in "$(cat "$TMP/passenv.out")" "--pass-env 'ZR_ROOT': must not start with ZR_" "its message"
[ ! -e "$TMP/nodata" ] || fail "a refused --pass-env made the data folder"
ok "--pass-env ZR_ROOT: exit 2, nothing made"

# A fresh data folder under umask 022.
DATA=$TMP/fresh/data
umask 022
# --http-max-conns-per-ip 64: the flood below checks that the limit holds (the default is 1024).
ZR_PASS_ENV=PASSED_BY_ADMIN zr_start_http --http-max-conns-per-ip 64
umask 077
for t in bad1 bad2 bad3 bad4; do
	[ ! -e "$MNT/$t" ] || fail "template $t was loaded"
done
expect_in "$(cat "$TMP/robot.log")" "bad1/template.json: field 'env': a variable name must not start with ZR_" "bad1 log"
expect_in "$(cat "$TMP/robot.log")" "bad2/template.json: field 'actions.a.env': a variable name must not start with" "bad2 log"
expect_in "$(cat "$TMP/robot.log")" "bad3/template.json: field 'env': must be an object" "bad3 log"
expect_in "$(cat "$TMP/robot.log")" "too complex" "bad4 log"
ok "manifests setting ZR_*/ZROBOT_* variables, naming robot variables, or with a backreference are refused at load"

S=$(svc e s)
id=$(submit "$S" env '{}')
wait_state "$S" "$id" ok 20
got=$(rcat "$S/tasks/$id/result")
want="BOTH=template
DATA_NAME=abc
DATA_PORT=80
FROM_TEMPLATE=t
HOME=$TMP/home
LANG=C.UTF-8
PASSED_BY_ADMIN=yes
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
TZ=:/etc/localtime
ARG_X=1
ZR_ACTION=env
ZR_ROOT=$MNT
ZR_SERVICE=e/s
ZR_SERVICE_DIR=$MNT/e/s
ZR_TASK=$id"
expect_eq "$got" "$(printf '%s\n' "$want" | LC_ALL=C sort)" "the whole environment of an action"
for leak in SSH_AUTH_SOCK ghp_attack ZROBOT_X NOT_PASSED TMP= MARKS= "$URL"; do
	expect_not_in "$got" "$leak" "the action's environment"
done
ok "an action sees PATH, HOME, LANG, TZ, --pass-env, the manifest's env and ZR_/DATA_/ARG_, nothing else"

id=$(submit "$S" envx '{}')
wait_state "$S" "$id" ok 20
got=$(rcat "$S/tasks/$id/result")
expect_in "$got" "BOTH=action" "action-level env over template-level"
expect_in "$got" "FROM_ACTION=a" "action-level env"
expect_in "$got" "FROM_TEMPLATE=t" "template-level env in an action with its own"
expect_in "$got" "PATH=/opt/e/bin:/bin" "a manifest's PATH"
expect_not_in "$got" "SSH_AUTH_SOCK" "envx environment"
ok "action-level env adds to and wins over the template's; a manifest may set PATH"

id=$(submit "$S" files '{}')
wait_state "$S" "$id" ok 20
[ -e "$DATA/zrobot.db-wal" ] || fail "no $DATA/zrobot.db-wal while the robot runs"
loose=$(find "$DATA" -perm /077 -printf '%m %p\n')
expect_eq "$loose" "" "files of the data folder open to group or others"
expect_eq "$(stat -c %a "$DATA")" 700 "mode of the data folder"
for f in admin.token zrobot.db zrobot.db-wal zrobot.db-shm lock; do
	expect_eq "$(stat -c %a "$DATA/$f")" 600 "mode of $f"
done
guid=$(jsonstr "$(rcat "$S/info")" 'j["guid"]')
expect_eq "$(stat -c %a "$DATA/work/$guid")" 700 "mode of the work folder"
expect_eq "$(stat -c %a "$DATA/work/$guid/by-action")" 600 "mode of a file an action made"
expect_not_in "$(cat "$TMP/robot.log")" "has mode" "warnings about modes of a fresh data folder"
ok "under umask 022 the data folder is 0700, every file in it 0600 (db, wal, shm, token, work)"

# A value over what a costly pattern checks: refused before regexec runs, data unchanged.
before=$(rcat "$S/data")
"$PY" -c 'import json; print(json.dumps({"name": "ab" * 50000 + "c"}))' >"$TMP/long.json"
expect_errno "'$PY' '$ZRTOOL' write '$S/data' - <'$TMP/long.json'" "Invalid argument"
expect_in "$(rcat "$S/lasterror")" "bytes a pattern checks" "lasterror after the long value"
http "$ADMIN" PUT /v1/e/s/data -H 'Content-Type: application/json' --data-binary "@$TMP/long.json"
expect_eq "$HS" 400 "HTTP PUT of the long value"
expect_in "$HB" "bytes a pattern checks" "its detail"
expect_eq "$(rcat "$S/data")" "$before" "data after the refused values"
ok "a 100 KB value against a costly pattern: EINVAL/400 'longer than the N bytes a pattern checks', data unchanged"

# 4,097 connections from 127.0.0.1: the robot keeps 64 of them, closes the rest at once, and
# answers another address meanwhile and everyone afterwards.
token_before=$(md5sum <"$DATA/admin.token")
services_before=$(ls "$MNT/e")
port=${URL##*:}
timeout -k 2 200 "$ZR_PY" "$FLOOD" 127.0.0.1 "$port" 4097 "$TMP/flood.ready" "$TMP/flood.stop" 120 \
	>"$TMP/flood.out" 2>&1 &
flood=$!
wait_for "[ -e '$TMP/flood.ready' ]" 120 || fail "the flood did not get going: $(cat "$TMP/flood.out")"
read -r _ opened _ failed _ closed _ held <"$TMP/flood.ready"
expect_eq "$((opened + failed))" 4097 "connections tried"
[ "$held" -le 64 ] || fail "the robot keeps $held connections from one address (limit 64): $(cat "$TMP/flood.ready")"
[ "$held" -ge 1 ] || fail "the robot kept no connection of the flood: $(cat "$TMP/flood.ready")"
pid_alive "$ZR_PID" || fail "the robot died under the flood"
other=(curl -sS -m 10 --interface 127.0.0.2 -H "Authorization: Bearer $ADMIN")
hs=$("${other[@]}" -o "$TMP/other.body" -w '%{http_code}' "$URL/v1/@robot/info") || fail "127.0.0.2 not served during the flood"
expect_eq "$hs" 200 "a request from 127.0.0.2 during the flood"
conns=$("${other[@]}" "$URL/metrics" | awk '$1 == "zrobot_http_connections" {print $2}')
[ "$conns" -le 65 ] || fail "zrobot_http_connections $conns during the flood"
rc=0
curl -sS -m 10 -o /dev/null -H "Authorization: Bearer $ADMIN" "$URL/v1/@robot/info" 2>/dev/null || rc=$?
[ "$rc" -ne 0 ] || fail "a 65th connection from 127.0.0.1 was served during the flood"
touch "$TMP/flood.stop"
wait "$flood" || fail "the flood helper failed: $(cat "$TMP/flood.out")"
wait_for "[ \"\$(curl -sS -m 5 -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $ADMIN' '$URL/v1/@robot/info')\" = 200 ]" 10 ||
	fail "127.0.0.1 not served again after the flood"
expect_eq "$(md5sum <"$DATA/admin.token")" "$token_before" "admin.token after the flood"
expect_eq "$(ls "$MNT/e")" "$services_before" "services after the flood"
expect_eq "$(rcat "$S/data")" "$before" "data after the flood"
ok "4,097 connections from 127.0.0.1 ($(cat "$TMP/flood.ready")): 127.0.0.2 served meanwhile (zrobot_http_connections $conns), 127.0.0.1 again after; nothing changed"
expect_not_in "$(cat "$TMP/robot.log")" "without TLS" "warnings of a loopback listener"
zr_stop

# A data folder and token left open to others are reported (not changed); plain HTTP on every
# address is warned about.
chmod 755 "$DATA"
chmod 644 "$DATA/admin.token"
ZR_LOG=$TMP/robot2.log zr_start --listen 0.0.0.0:0
log2=$(cat "$TMP/robot2.log")
expect_in "$log2" "The data folder $DATA has mode 0755: group or others may read it" "warning for the data folder"
expect_in "$log2" "fix: chmod 700 $DATA" "its fix"
expect_in "$log2" "The file $DATA/admin.token has mode 0644" "warning for admin.token"
expect_in "$log2" "fix: chmod 600 $DATA/admin.token" "its fix"
expect_not_in "$log2" "zrobot.db has mode" "warning for a private zrobot.db"
expect_in "$log2" "is reachable beyond this machine without TLS" "warning for plain HTTP on 0.0.0.0"
expect_eq "$(stat -c %a "$DATA")" 755 "the data folder's mode is the admin's to fix"
expect_eq "$(md5sum <"$DATA/admin.token")" "$token_before" "admin.token after the restart"
zr_stop
ok "a 0755 data folder and a 0644 admin.token are reported with their fix; HTTP on 0.0.0.0 without TLS is warned about"
