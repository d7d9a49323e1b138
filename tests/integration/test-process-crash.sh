#!/bin/bash
# Crash tests of supervision (issue 13 "Measured"), with the built-in process template:
#  1. kill -9 of the robot with 50 `sleep infinity` servers up: the servers keep running; after
#     the restart exactly 50 run, every one adopted with the same pid, none started twice;
#  2. kill -9 of one server, four times in a row: each time it comes back, restarts counts
#     1..4, and a sampler that reads /proc every few ms never sees two copies at once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-tmpl.sh"

N=${ZR_CRASH_SERVERS:-50}

# count_sleepers: live `sleep` processes started for this test's services (their environment
# has one of the guids as ZR_PROCESS_ID), one line "GUID PID" each.
sleepers() {
	"$ZR_PY" - "${TMPL_GUIDS[@]}" <<'PY'
import os, sys
want = set(sys.argv[1:])
for p in os.listdir("/proc"):
    if not p.isdigit():
        continue
    try:
        with open(f"/proc/{p}/stat") as f:
            st = f.read()
        if st[st.rindex(")") + 2] in "ZX" or "(sleep)" not in st:
            continue
        with open(f"/proc/{p}/environ", "rb") as f:
            env = f.read().split(b"\0")
    except OSError:
        continue
    for e in env:
        if e.startswith(b"ZR_PROCESS_ID=") and e[14:].decode() in want:
            print(e[14:].decode(), p)
PY
}

zr_start
t0=$(now)
for i in $(seq "$N"); do
	tmpl_svc process "s$i" '{"command": ["sleep", "infinity"]}'
done
for i in $(seq "$N"); do
	timeout 10 bash -c 'echo start >"$1"' _ "$MNT/process/s$i/actions/start" ||
		fail "echo start > process/s$i/actions/start failed"
done
for i in $(seq "$N"); do
	out=$(timeout 120 cat "$MNT/process/s$i/results/start" 2>&1) || fail "start of s$i: $out"
done
ok "$N process services made and started in $(since "$t0") s"

declare -A before
for i in $(seq "$N"); do
	before[s$i]=$(server_pid "$MNT/process/s$i")
	[ -n "${before[s$i]}" ] || fail "s$i has no pid"
done
expect_eq "$(sleepers | wc -l)" "$N" "sleep servers running"

kill -KILL "$ZR_PID"
zr_reap "$ZR_PID" 10 || fail "the robot did not die of kill -9"
wait_for "! mounted" 10 || fusermount3 -uz "$MNT"
expect_eq "$(sleepers | wc -l)" "$N" "sleep servers running while the robot is down"
ok "kill -9 of the robot: the $N servers keep running"

zr_start
for i in $(seq "$N"); do
	S=$MNT/process/s$i
	wait_for "[ \"\$(status_of '$S' adopted)\" = yes ] && [ \"\$(status_of '$S' state)\" = ready ]" 30 ||
		fail "s$i not adopted and ready after the restart: $(rcat "$S/process/status")"
	expect_eq "$(server_pid "$S")" "${before[s$i]}" "pid of s$i after the restart"
done
expect_eq "$(sleepers | wc -l)" "$N" "sleep servers after the restart"
# A second copy would be started at once if at all; look again a moment later.
sleep 2
expect_eq "$(sleepers | wc -l)" "$N" "sleep servers 2 s after the restart"
dups=$(sleepers | awk '{ print $1 }' | sort | uniq -d)
[ -z "$dups" ] || fail "services with two servers: $dups"
ok "after the restart exactly $N run, every one adopted yes with its old pid, none twice"

# One server killed again and again: a sampler watches that its service never has two.
S=$MNT/process/s1
g=${TMPL_GUIDS[0]}
"$ZR_PY" - "$g" "$TMP/sampler.stop" >"$TMP/sampler.out" <<'PY' &
import os, sys, time
guid, stop = sys.argv[1].encode(), sys.argv[2]
most, rounds = 0, 0
while not os.path.exists(stop):
    n = 0
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/environ", "rb") as f:
                if b"ZR_PROCESS_ID=" + guid + b"\0" not in f.read() + b"\0":
                    continue
            with open(f"/proc/{p}/stat") as f:
                st = f.read()
        except OSError:
            continue
        if st[st.rindex(")") + 2] not in "ZX":
            n += 1
    most, rounds = max(most, n), rounds + 1
print(most, rounds)
PY
sampler=$!
for k in 1 2 3 4; do
	pid=$(check_kill9 "$S" true)
	expect_eq "$(status_of "$S" restarts)" "$k" "restarts after kill -9 number $k"
done
touch "$TMP/sampler.stop"
wait "$sampler"
read -r most rounds <"$TMP/sampler.out"
expect_eq "$most" 1 "most processes of s1 seen at once (over $rounds looks at /proc)"
# The first death was of the adopted server, whose exit status the robot cannot know.
expect_eq "$(rcat "$S/process/deaths" | grep -c 'signal KILL')" 3 "deaths of s1 by SIGKILL"
expect_eq "$(rcat "$S/process/deaths" | grep -c 'unknown')" 1 "deaths of s1 of unknown cause"
ok "kill -9 of a server four times: back each time, restarts 4, never two at once ($rounds looks)"

for i in $(seq "$N"); do
	timeout 30 rmdir "$MNT/process/s$i" || fail "rmdir s$i"
done
wait_for "[ \"\$(sleepers | wc -l)\" = 0 ]" 30 || fail "servers left after rmdir: $(sleepers | wc -l)"
ok "rmdir of the $N services stops every server"
zr_stop
