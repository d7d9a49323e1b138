#!/bin/bash
# The built-in node template: the issue's "done when" line, exec with its payload forms and
# errors, info JSON.
. "$(dirname "$0")/lib.sh"

[ -f "$ZR_SRC/templates/node/template.json" ] || fail "templates/node/template.json is missing"
zr_start

expect_match "$(rcat "$MNT/@robot/templates/node/uid")" '^local/node/[0-9]+\.[0-9]+\.[0-9]+' "node uid"
acts=$(timeout 10 ls "$MNT/@robot/templates/node/manifest" >/dev/null && json "$MNT/@robot/templates/node/manifest" 'sorted(j["actions"])')
expect_in "$acts" '"exec"' "node actions"
expect_in "$acts" '"info"' "node actions"
ok "node template loaded with actions exec and info"

# The issue's command line, verbatim.
out=$(timeout 20 bash -c "mkdir $MNT/node/local && echo '{\"cmd\":\"uname -a\"}' > $MNT/node/local/actions/exec && cat $MNT/node/local/results/exec") ||
	fail "mkdir && echo > exec && cat results/exec failed: $out"
expect_eq "$out" "$(uname -a)" "node exec uname -a"
ok "mkdir node/local && echo '{\"cmd\":\"uname -a\"}' > actions/exec && cat results/exec prints uname -a"
N=$MNT/node/local

expect_eq "$(zrtool write-read "$N/actions/exec" 'cmd=echo hello from key=value')" "hello from key=value" "exec cmd=..."
ok "exec with a key=value payload"
expect_eq "$(zrtool write-read "$N/actions/exec" '{"cmd": "printf \"a\\nb\\n\"; echo err >&2"}')" "$(printf 'a\nb')" "exec with stderr"
id=$(last_task "$N")
expect_in "$(rcat "$N/tasks/$id/log")" err "task log of exec"
ok "exec: stdout is the result, stderr goes to the task log"
rc=0
out=$(timeout 10 bash -c "echo '{\"cmd\":\"echo out; echo bad >&2; exit 3\"}' >$N/actions/exec && cat $N/results/exec" 2>"$TMP/exec.err") || rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "a failing command: rc=$rc"
expect_in "$out" "exit status 3" "result text of a failing command"
expect_in "$(cat "$TMP/exec.err")" "Input/output error" "cat of a failing command"
ok "exec of a failing command: 'exit status 3' then EIO"
expect_errno "echo >'$N/actions/exec'" "Invalid argument"
expect_in "$(rcat "$N/lasterror")" "cmd" "lasterror of exec without cmd"
ok "exec without cmd: EINVAL, lasterror names cmd ($(rcat "$N/lasterror" | cut -d' ' -f2-))"

out=$(zrtool write-read "$N/actions/info" info) || fail "node info: $out"
expect_eq "$(jsonstr "$out" 'j["hostname"]')" "$(hostname)" "info.hostname"
expect_eq "$(jsonstr "$out" 'len(j) >= 4')" true "info has hostname, kernel, cores, memory"
expect_in "$out" "$(uname -r)" "info mentions the kernel release"
expect_in "$out" "$(nproc --all)" "info mentions the core count"
ok "node info: JSON with hostname $(hostname), kernel, cores, memory"
expect_eq "$(rcat "$N/results/info")" "$out" "results/info"

# An action inherits its pipes and nothing else: not the robot's own descriptors, not libfuse's
# auto_unmount socket (held by an action, it would keep a killed robot's mount alive).
fds=$(zrtool write-read "$N/actions/exec" 'cmd=ls /proc/self/fd | sort -n | tr "\n" " "')
expect_eq "$fds" "0 1 2 3 4 " "descriptors of an action (4 is ls's own)"
ok "an action gets fds 0-3 only"

zr_stop
