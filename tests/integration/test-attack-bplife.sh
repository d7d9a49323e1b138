#!/bin/bash
# Red team of issue 14's lifecycles (blueprint handles, durability, races with the model):
# - @robot/blueprint handles: a close without a read applies; two handles applying the same
#   name at once both end with a whole outcome; a handle read twice gives the outcome then EOF;
#   a write after the read is refused; a read interrupted by SIGINT leaves an apply that still
#   finishes whole; SIGTERM to the robot while a read is parked on an apply ends the robot
#   (exit 0, unmounted) and the apply is whole or absent after a restart.
# - Durability: kill -9 in the middle of a long apply (a chain of parents: one wave each)
#   leaves, after a restart, the waves committed before the kill and none after, as README
#   "Blueprints" says (its limit: not all or nothing across a crash); they carry the apply's
#   name; the stored apply is absent; applying the file again completes it.
# - Parents: a chain deeper than 64 is refused whole (it was refused midway, and its rollback
#   could not delete the root, leaving 66 services); ctl counts a subtree hung below.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-blueprint.sh"

N=${BPLIFE_N:-300}
mk_template "$TPL" c '{"name": "c", "version": "1.0.0",
  "data": {"v": {"type": "integer", "default": 0}},
  "consumes": {"up": {"template": "c"}}}'
zr_start
BP=$MNT/@robot/blueprint

# ---- a parent chain deeper than 64: refused whole, nothing left ----
# Found here: the run refused the 66th (deeper than 64), but its rollback then could not
# delete the root (its descendants too deep to walk: EBUSY), and 66 services stayed.
{
	printf '# zrobot: name=deep\nservices:\n  - {template: c, name: p0, data: {}}\n'
	for ((i = 1; i < 80; i++)); do
		printf '  - {template: c, name: p%d, parent: c/p%d, data: {}}\n' "$i" $((i - 1))
	done
} >"$TMP/deep.yaml"
bp_apply_file "$TMP/deep.yaml"
bp_expect_refused "a parent chain of 80"
expect_match "$BP_ERROR" "deeper than 64" "why a parent chain of 80 is refused"
expect_not_in "$BP_ERROR" "could not be removed" "the refusal of a parent chain of 80"
expect_eq "$(ls "$MNT/c" 2>/dev/null | grep -c '^p')" 0 "services left by the refused chain"
ok "a parent chain of 80 in one blueprint: refused ($BP_ERROR), nothing left"

# The same limit through ctl: 65 generations (64 below the root) may be built and deleted
# with force from the root; a 66th is refused, also when a subtree is hung below.
mkdir "$MNT/c/q0"
for ((i = 1; i <= 64; i++)); do
	mkdir "$MNT/c/q$i"
	echo "parent c/q$((i - 1))" >"$MNT/c/q$i/ctl" || fail "parent of c/q$i"
done
mkdir "$MNT/c/q65" "$MNT/c/r0" "$MNT/c/r1"
expect_errno "echo 'parent c/q64' >'$MNT/c/q65/ctl'" "Invalid argument"
echo 'parent c/r0' >"$MNT/c/r1/ctl" || fail "parent of c/r1"
expect_errno "echo 'parent c/q64' >'$MNT/c/r0/ctl'" "Invalid argument"
echo 'parent c/q63' >"$MNT/c/r1/ctl" || fail "c/r1 as the 65th generation"
echo force >"$MNT/c/q0/ctl"
rmdir "$MNT/c/q0" || fail "forced rmdir of a 65-generation tree"
expect_eq "$(ls "$MNT/c" | grep -c '^[qr]1')" 0 "services left after the forced rmdir"
rmdir "$MNT/c/q65" "$MNT/c/r0"
ok "parents through ctl: 65 generations at most, subtrees counted, the root force-deleted"

# chain FILE NAME V: a blueprint of N services c/k0..c/k(N-1), each the producer of the next,
# so that each is one wave (one store group, one fsync).
chain() {
	{
		printf '# zrobot: name=%s\nservices:\n' "$2"
		printf '  - {template: c, name: k0, data: {v: %s}}\n' "$3"
		local i
		for ((i = 1; i < N; i++)); do
			printf '  - {template: c, name: k%d, data: {v: %s, up: c/k%d}}\n' \
				"$i" "$3" $((i - 1))
		done
	} >"$1"
}
count_k() { ls "$MNT/c" 2>/dev/null | grep -c '^k[0-9]*$'; }

chain "$TMP/chain.yaml" chain 1

# ---- a close without a read applies the whole blueprint ----
bp_apply_file "$TMP/chain.yaml"; [ "$BP_RC" = 0 ] || fail "chain: $BP_ERR $(tail -n 3 <<<"$BP_OUT")"
expect_eq "$(count_k)" "$N" "services after a close without a read"
expect_eq "$(cat "$MNT/@robot/blueprints/chain/outcome" | grep -c '^created ')" "$N" \
	"created lines of the stored outcome"
ok "close without a read: all $N services created, the apply stored"

# ---- a handle read twice: the outcome, then EOF; a write after the read: refused ----
chain "$TMP/chain2.yaml" chain 2
out=$(timeout 60 "$ZR_PY" - "$BP" "$TMP/chain2.yaml" <<'PY'
import errno, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
os.write(fd, open(sys.argv[2], "rb").read())
def rd():
    chunks = []
    while True:
        b = os.read(fd, 65536)
        if not b:
            return b"".join(chunks)
        chunks.append(b)
first = rd()
second = rd()
try:
    os.write(fd, b"services: []\n")
    w = "write ok"
except OSError as e:
    w = "write " + errno.errorcode[e.errno]
try:
    os.close(fd)
    c = "close ok"
except OSError as e:
    c = "close " + errno.errorcode[e.errno]
print(first.count(b"\nupdated ") + first.startswith(b"updated "), len(second), w, c)
PY
) || fail "read twice / write after read: $out"
set -- $out
expect_eq "$1" "$N" "updated lines of the first read"
expect_eq "$2" 0 "bytes of the second read (EOF)"
[ "$3 $4" != "write ok" ] || [ "$6" = ok ] || fail "a write after the read was taken: $out"
expect_eq "$(json "$MNT/c/k$((N - 1))/data" 'j["v"]')" 2 "v of the last service"
ok "a handle read twice: the outcome then EOF; a write after the read: $3 $4, $5 $6"

# ---- two handles applying the same name at once ----
chain "$TMP/chain3.yaml" chain 3
chain "$TMP/chain4.yaml" chain 4
timeout 90 "$ZR_PY" "$ZRTOOL" write-read "$BP" - <"$TMP/chain3.yaml" >"$TMP/h3.out" \
	2>"$TMP/h3.err" &
p3=$!
timeout 90 "$ZR_PY" "$ZRTOOL" write-read "$BP" - <"$TMP/chain4.yaml" >"$TMP/h4.out" \
	2>"$TMP/h4.err" &
p4=$!
wait "$p3" || fail "first concurrent apply: $(cat "$TMP/h3.err") $(tail -n 2 "$TMP/h3.out")"
wait "$p4" || fail "second concurrent apply: $(cat "$TMP/h4.err") $(tail -n 2 "$TMP/h4.out")"
for h in h3 h4; do
	expect_eq "$(grep -Ec '^(updated|unchanged) c/k' "$TMP/$h.out")" "$N" "lines of handle $h"
done
vs=$(for ((i = 0; i < N; i++)); do json "$MNT/c/k$i/data" 'j["v"]'; done | sort -u)
case $vs in
3 | 4) ;;
*) fail "v of the services after two applies at once: a mix or neither: $(echo $vs)" ;;
esac
ok "two handles applying the same name at once: both whole, one (v=$vs) wins everywhere"

# ---- an interrupted read (SIGINT to cat <&3): the apply still finishes whole ----
chain "$TMP/chain5.yaml" chain 5
# Background jobs ignore SIGINT: the cat gets the default disposition back, as in a terminal.
timeout 90 "$ZR_PY" - "$BP" "$TMP/chain5.yaml" >"$TMP/h5.out" 2>&1 <<'PY' ||
import os, signal, subprocess, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
os.write(fd, open(sys.argv[2], "rb").read())
cat = subprocess.Popen(["cat"], stdin=fd, stdout=subprocess.PIPE,
                       preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
os.close(fd)
time.sleep(0.3)
cat.send_signal(signal.SIGINT)
got = cat.stdout.read()
print("cat status", cat.wait(), "lines", got.count(b"\n"))
PY
	fail "interrupted read: $(cat "$TMP/h5.out")"
echo "$(cat "$TMP/h5.out")"
wait_for 'grep -q "\"v\": 5" "$MNT/c/k$((N - 1))/data"' 60 ||
	fail "the apply of an interrupted read did not finish"
vs=$(for ((i = 0; i < N; i++)); do json "$MNT/c/k$i/data" 'j["v"]'; done | sort -u)
expect_eq "$vs" 5 "v of every service after the interrupted read"
ok "SIGINT to cat <&3 parked on an apply: the apply still finishes, whole"

# ---- SIGTERM to the robot while a read is parked on an apply ----
# A longer chain for the two stops mid-apply: since creations with roles cost O(1) (the
# consumer index), 300 waves took ~0.1 s here, less than wait_for's poll, and the stop came
# after the apply's end. NL waves keep it running a second or more.
NL=${BPLIFE_LONG:-3000}
N=$NL chain "$TMP/long.yaml" chain 1
# Fresh names so that every one is a creation, one wave each.
sed 's/name: k/name: t/; s/up: c\/k/up: c\/t/; s/name=chain/name=term/' \
	"$TMP/long.yaml" >"$TMP/term.yaml"
timeout 90 "$ZR_PY" "$ZRTOOL" write-read "$BP" - <"$TMP/term.yaml" >"$TMP/h6.out" \
	2>"$TMP/h6.err" &
p6=$!
wait_for '[ -d "$MNT/c/t3" ]' 30 || fail "the apply to stop did not start"
kill -TERM "$ZR_PID"
zr_reap "$ZR_PID" 30 || fail "zrobot still running 30 s after SIGTERM during an apply"
expect_eq "$ZR_STATUS" 0 "exit status after SIGTERM during an apply"
! mounted || fail "$MNT still mounted after SIGTERM during an apply"
wait "$p6"
echo "reader after SIGTERM: rc $? $(cat "$TMP/h6.err") $(tail -n 1 "$TMP/h6.out")"
zr_start
nt=$(ls "$MNT/c" | grep -c '^t[0-9]*$')
stored=no
[ -e "$MNT/@robot/blueprints/term" ] && stored=yes
expect_eq "$nt $stored" "0 no" "services and stored apply after SIGTERM mid-apply"
ok "SIGTERM during a parked read: robot exit 0, unmounted, the reader told; nothing applied"

# ---- kill -9 in the middle of a long apply ----
sed 's/name: k/name: x/; s/up: c\/k/up: c\/x/; s/name=chain/name=crash/' \
	"$TMP/long.yaml" >"$TMP/crash.yaml"
timeout 90 "$ZR_PY" "$ZRTOOL" write-read "$BP" - <"$TMP/crash.yaml" >/dev/null 2>&1 &
p7=$!
wait_for '[ -d "$MNT/c/x10" ]' 30 || fail "the apply to kill did not start"
kill -KILL "$ZR_PID"
zr_reap "$ZR_PID" 10 || fail "kill -9 did not end the robot"
wait "$p7"
fusermount3 -uz "$MNT" 2>/dev/null
zr_start
nx=$(ls "$MNT/c" | grep -c '^x[0-9]*$')
echo "after kill -9 mid-apply: $nx of $NL services"
[ "$nx" -ge 1 ] && [ "$nx" -le "$NL" ] || fail "after kill -9: $nx services"
for ((i = 0; i < nx; i++)); do
	[ -d "$MNT/c/x$i" ] || fail "after kill -9: c/x$i missing while $nx services stayed"
done
[ "$nx" -lt "$NL" ] || fail "kill -9 came after the apply ended: make BPLIFE_LONG larger"
expect_eq "$(json "$MNT/c/x$((nx - 1))/info" 'j["blueprint"]')" crash \
	"blueprint name of the last service that stayed"
[ ! -e "$MNT/@robot/blueprints/crash" ] || fail "the killed apply is stored"
# The README's limit: the file applied again finishes it.
bp_apply_file "$TMP/crash.yaml"
[ "$BP_RC" = 0 ] || fail "the killed apply again: $BP_ERR $(tail -n 2 <<<"$BP_OUT")"
expect_eq "$(grep -c '^unchanged c/x' <<<"$BP_OUT")" "$nx" "unchanged lines of the apply again"
expect_eq "$(grep -c '^created c/x' <<<"$BP_OUT")" $((NL - nx)) "created lines of the apply again"
expect_eq "$(cat "$MNT/@robot/blueprints/crash/outcome" | wc -l)" "$NL" "stored outcome lines"
ok "kill -9 mid-apply: $nx of $NL stayed (whole waves, named, not stored); applied again: whole"
