#!/bin/bash
# Startup and the static tree: the root, @robot/info, @robot/templates/<n>/*, --version/--help,
# a clean SIGTERM exit.
. "$(dirname "$0")/lib.sh"

out=$(timeout 10 "$ZROBOT" --version 2>&1) || fail "zrobot --version failed: $out"
expect_match "$out" '[0-9]+\.[0-9]+\.[0-9]+' "zrobot --version"
ok "zrobot --version prints a version ($out)"
out=$(timeout 10 "$ZROBOT" --help 2>&1) || fail "zrobot --help failed: $out"
expect_in "$out" "run" "zrobot --help mentions run"
expect_in "$out" "--mount" "zrobot --help mentions --mount"
ok "zrobot --help"
rc=0
timeout 10 "$ZROBOT" run --no-such-option >/dev/null 2>&1 || rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "an unknown option must fail at once (rc=$rc)"
ok "an unknown option is refused (exit $rc)"

mk_t
mk_template "$TPL" other '{"name": "other", "version": "2.1.0", "actions": {"hi": {}}}'
mk_action "$TPL/other" hi 'echo hi'

t0=$(now)
zr_start
ok "robot mounted $MNT in $(since "$t0") s"
grep -qF " $MNT fuse" /proc/mounts || fail "no fuse entry for $MNT in /proc/mounts"
ok "mount listed in /proc/mounts"

# expect_lines LISTING WHAT NAME...: each NAME is a line of LISTING, the output of WHAT.
expect_lines() {
	local listing=$1 what=$2 e
	shift 2
	for e in "$@"; do
		printf '%s\n' "$listing" | grep -qx -- "$e" || fail "$what lacks '$e': $(echo $listing)"
	done
}

# expect_files TEST DIR NAME...: "test TEST DIR/NAME" holds for each NAME (-e, -f...).
expect_files() {
	local t=$1 dir=$2 e
	shift 2
	for e in "$@"; do
		test "$t" "$dir/$e" || fail "$dir/$e missing"
	done
}

root=$(timeout 10 ls -A "$MNT") || fail "ls $MNT failed"
expect_lines "$root" "ls $MNT" @robot t other node
ok "ls root shows @robot, t, other, node"
expect_files -e "$MNT/@robot" info templates log events
[ -d "$MNT/@robot/templates" ] || fail "@robot/templates is not a directory"
[ -f "$MNT/@robot/info" ] || fail "@robot/info is not a regular file"
ok "@robot has info, templates, log, events"

timeout 10 "$ZR_PY" -m json.tool "$MNT/@robot/info" >/dev/null || fail "@robot/info is not JSON"
ok "@robot/info is valid JSON (python3 -m json.tool)"
info=$(rcat "$MNT/@robot/info")
expect_eq "$(jsonstr "$info" 'j["pid"]')" "$ZR_PID" "info.pid"
expect_eq "$(jsonstr "$info" 'j["mount"]')" "$MNT" "info.mount"
expect_eq "$(jsonstr "$info" 'j["data_dir"]')" "$DATA" "info.data_dir"
expect_eq "$(jsonstr "$info" 'j["services"]')" 0 "info.services"
expect_eq "$(jsonstr "$info" 'j["templates"] >= 3')" true "info.templates >= 3"
expect_eq "$(jsonstr "$info" 'sorted(j["tasks"].keys()) == ["queued", "running"]')" true "info.tasks"
expect_eq "$(jsonstr "$info" 'isinstance(j["name"], str) and isinstance(j["uptime"], (int, float))')" true "info.name/uptime"
ver=$(jsonstr "$info" 'j["version"]')
expect_in "$(timeout 10 "$ZROBOT" --version 2>&1)" "$ver" "info.version matches --version"
ok "@robot/info fields: name, version $ver, pid, uptime, mount, data_dir, templates, services, tasks"

tl=$(timeout 10 ls "$MNT/@robot/templates") || fail "ls @robot/templates failed"
expect_lines "$tl" "@robot/templates" t other node
ok "@robot/templates lists t, other, node"
expect_files -f "$MNT/@robot/templates/other" manifest uid versions source
m=$(rcat "$MNT/@robot/templates/other/manifest")
expect_eq "$(jsonstr "$m" 'j["name"]')" other "manifest name"
expect_eq "$(jsonstr "$m" 'j["version"]')" 2.1.0 "manifest version"
expect_eq "$(jsonstr "$m" 'list(j["actions"])')" '["hi"]' "manifest actions"
expect_eq "$(rcat "$MNT/@robot/templates/other/uid")" local/other/2.1.0 "uid"
expect_eq "$(rcat "$MNT/@robot/templates/t/uid")" local/t/1.0.0 "uid of t"
rcat "$MNT/@robot/templates/other/versions" | grep -qx "2.1.0 local/other/2.1.0" || fail "versions lacks 2.1.0"
expect_eq "$(rcat "$MNT/@robot/templates/other/source")" "$TPL/other" "source"
expect_eq "$(rcat "$MNT/@robot/templates/node/source")" "$ZR_SRC/templates/node" "source of the built-in node"
expect_match "$(rcat "$MNT/@robot/templates/node/uid")" '^local/node/[0-9]+\.[0-9]+\.[0-9]+' "uid of node"
ok "@robot/templates/<n>/{manifest,uid,versions,source}"

# Template directories exist even with no service, and hold nothing yet.
[ -d "$MNT/other" ] || fail "$MNT/other is not a directory"
expect_eq "$(timeout 10 ls -A "$MNT/other")" "" "an unused template dir is empty"
ok "template dirs exist with no service"
expect_errno "ls '$MNT/nosuch'" "No such file or directory"
expect_errno "cat '$MNT/@robot/nosuch'" "No such file or directory"
ok "unknown names are ENOENT"

# uptime grows; the robot logged that it mounted.
u1=$(jsonstr "$(rcat "$MNT/@robot/info")" 'j["uptime"]')
sleep 1.1
u2=$(jsonstr "$(rcat "$MNT/@robot/info")" 'j["uptime"]')
fgt "$u2" "$u1" || fail "uptime did not grow: $u1 -> $u2"
# Rounded to milliseconds as printed: at most 3 decimals in the text itself.
expect_match "$(grep '"uptime"' <<<"$(rcat "$MNT/@robot/info")")" '"uptime": [0-9]+(\.[0-9]{1,3})?,$' "uptime in ms"
ok "info.uptime grows ($u1 -> $u2)"
grep -q "info: .*mounted" "$TMP/robot.log" || fail "robot.log has no 'mounted' line"
expect_match "$(grep -m1 'mounted' "$TMP/robot.log")" \
	'^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z info: ' "log line format"
ok "robot.log lines are '<time> info: ...' and say mounted"

t0=$(now)
zr_stop
ok "SIGTERM: exit 0 in $(since "$t0") s, mount gone"

# SIGINT works the same.
zr_start
kill -INT "$ZR_PID"
zr_reap "$ZR_PID" 10 || fail "zrobot still running 10 s after SIGINT"
expect_eq "$ZR_STATUS" 0 "exit status after SIGINT"
! mounted || fail "still mounted after SIGINT"
ok "SIGINT: exit 0, mount gone"
