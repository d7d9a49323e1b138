#!/bin/bash
# zrobot-exec, the launcher of supervised servers, run for real: the log as fds 1 and 2, stdin
# /dev/null, no inherited fd above 2, signal dispositions and mask reset, PATH taken from the
# server's environment, the cgroup joined before the server runs, --user, and the exit codes
# and log lines of every refusal. Usage: test-launcher.sh PATH-TO-zrobot-exec
set -u
L=${1:?usage: test-launcher.sh zrobot-exec}
T=$(mktemp -d "${ZR_TEST_TMP:-/tmp}/launcher.XXXXXX")
CG=
cleanup() {
	[ -n "$CG" ] && rmdir "$CG" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
fails=0
fail() {
	echo "FAIL: $*" >&2
	fails=$((fails + 1))
}
# expect_eq WHAT GOT WANT
expect_eq() {
	[ "$2" == "$3" ] || fail "$1: got '$2', want '$3'"
}

# stdout and stderr go to the log (appended, created 0600), stdin is /dev/null, fds > 2 closed
# (the test's own fd 7 and 8 are open when it starts).
log=$T/out.log
echo "before" > "$log"
chmod 0644 "$log"
"$L" --log "$log" -- sh -c 'echo out; echo err >&2; ls /proc/self/fd; readlink /proc/self/fd/0' \
	7</dev/null 8>"$T/eight"
expect_eq "exit code" "$?" 0
# ls lists the fd of its own /proc read as 3.
expect_eq "log" "$(cat "$log")" "$(printf 'before\nout\nerr\n0\n1\n2\n3\n/dev/null')"
rm -f "$T/new.log"
"$L" --log "$T/new.log" -- true
expect_eq "new log mode" "$(stat -c %a "$T/new.log")" 600

# Signals the caller ignored or blocked are back to default in the server.
: > "$log"
(trap '' TERM PIPE; "$L" --log "$log" -- sh -c 'grep -E "^Sig(Ign|Blk)" /proc/self/status')
expect_eq "signals" "$(cat "$log")" "$(printf 'SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000')"

# PROGRAM is searched in the environment's PATH.
mkdir "$T/bin"
printf '#!/bin/sh\necho found "$@"\n' > "$T/bin/my-server"
chmod 0755 "$T/bin/my-server"
: > "$log"
PATH=$T/bin:/usr/bin:/bin "$L" --log "$log" -- my-server a "b c"
expect_eq "PATH search" "$(cat "$log")" "found a b c"

# Refusals: exit 127 for a program not found, 126 otherwise, one line in the log.
: > "$log"
"$L" --log "$log" -- no-such-program-zr x
expect_eq "not found code" "$?" 127
expect_eq "not found line" "$(cat "$log")" \
	"zrobot-exec: cannot run no-such-program-zr: No such file or directory"
: > "$log"
PATH=$T/bin "$L" --log "$log" -- ls
expect_eq "not in the server's PATH" "$?" 127
printf 'not executable\n' > "$T/bin/plain"
chmod 0644 "$T/bin/plain"
: > "$log"
"$L" --log "$log" -- "$T/bin/plain"
expect_eq "not executable code" "$?" 126
expect_eq "not executable line" "$(cat "$log")" \
	"zrobot-exec: cannot run $T/bin/plain: Permission denied"
"$L" --log "$T/no-such-dir/x.log" -- true 2>"$T/stderr"
expect_eq "log not openable code" "$?" 126
expect_eq "log not openable line" "$(cat "$T/stderr")" \
	"zrobot-exec: cannot open log $T/no-such-dir/x.log: No such file or directory"
"$L" --log "$log" 2>/dev/null
expect_eq "no command" "$?" 126
"$L" --bogus x -- true 2>/dev/null
expect_eq "unknown option" "$?" 126
: > "$log"
"$L" --log "$log" --cgroup "$T/not-a-cgroup" -- true
expect_eq "bad cgroup code" "$?" 126
expect_eq "bad cgroup line" "$(cat "$log")" \
	"zrobot-exec: cannot join cgroup $T/not-a-cgroup: No such file or directory"

if [ "$(id -u)" = 0 ]; then
	: > "$log"
	"$L" --log "$log" --user nobody -- id -un
	expect_eq "user" "$(cat "$log")" nobody
	: > "$log"
	"$L" --log "$log" --user no-such-user-zr -- id -un
	expect_eq "no such user code" "$?" 126
	expect_eq "no such user line" "$(cat "$log")" \
		"zrobot-exec: cannot become user no-such-user-zr: no such user"
else
	echo "skip: --user needs root"
fi

# The cgroup is joined before the program runs: the program finds itself in it.
mnt=$(awk '{ for (i = 7; $i != "-"; i++); if ($(i + 1) == "cgroup2") { print $5; exit } }' \
	/proc/self/mountinfo)
own=$(sed -n 's/^0:://p' /proc/self/cgroup)
if [ -n "$mnt" ] && [ "$(id -u)" = 0 ] && mkdir "$mnt${own%/}/zr-test-launcher-$$" 2>/dev/null
then
	CG=$mnt${own%/}/zr-test-launcher-$$
	: > "$log"
	"$L" --log "$log" --cgroup "$CG" -- cat /proc/self/cgroup
	expect_eq "cgroup joined" "$(grep '^0::' "$log")" "0::${own%/}/zr-test-launcher-$$"
else
	echo "skip: no writable cgroup2 here"
fi

# How long a launch takes (reported, not asserted: the machine is shared).
start=$(date +%s%N)
for _ in $(seq 200); do "$L" --log /dev/null -- /bin/true; done
mid=$(date +%s%N)
for _ in $(seq 200); do /bin/true; done
end=$(date +%s%N)
echo "launch overhead: $(( ((mid - start) - (end - mid)) / 200000 )) us per start"

[ "$fails" = 0 ] || exit 1
echo "ok launcher"
