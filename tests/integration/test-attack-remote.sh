#!/bin/bash
# Attacks by a remote robot (README "Security", "Remote robots are untrusted"): robot A mounts a
# hostile remote (hostile-remote.py) that lists symlinks to /etc/shadow and out of its subtree,
# setuid modes, bad names and kinds and huge listings, and answers redirects out of itself.
# Each is refused (left out, ENOENT, EFBIG, 502) and nothing of A changes. Then, with a real
# robot B: path components re-encoded when passed on (%2F, ? cannot change the request B
# sees), and remote consumer registrations bounded per producer (EDQUOT, 429).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-http.sh"
. "$(dirname "$0")/lib-remote.sh"

# ---- the hostile remote ----
HLOG=$TMP/hostile.requests
"$ZR_PY" "$ZR_SRC/tests/integration/hostile-remote.py" "$TMP/hostile.port" "$HLOG" \
	>"$TMP/hostile.log" 2>&1 &
zr_track_pid $!
wait_for "[ -s '$TMP/hostile.port' ]" 10 || fail "the hostile remote did not start: $(cat "$TMP/hostile.log")"
HURL=http://127.0.0.1:$(cat "$TMP/hostile.port")

mk_template "$TPL" kv '{"name": "kv", "version": "1.0.0",
  "data": {"greeting": {"type": "string", "default": "hello"}}, "actions": {"noop": {}}}'
mk_action "$TPL/kv" noop 'echo noop'
zr_start_http --remote "evil=$HURL"
timeout 10 mkdir "$MNT/kv/k1" || fail "mkdir kv/k1"
R=$MNT/@remote/evil

# What must not change on A, whatever the remote answers: its tree, data, tokens, files.
snapshot() {
	{
		ls "$MNT" "$MNT/kv"
		cat "$MNT/kv/k1/data"
		sha256sum "$DATA/admin.token"
		(cd "$DATA" && find . -path ./repos -prune -o -printf '%p %m\n' | grep -v -e '-wal ' -e '-shm ' | sort)
	} 2>&1
}
before=$(snapshot)

# ---- listings: what is left out, and how the rest shows ----
list=$(timeout 10 ls -A "$R") || fail "ls $R"
for name in dir inside suid sgid sticky negsize r1 r2 r3 huge fat; do
	printf '%s\n' "$list" | grep -qxF "$name" || fail "'$name' missing from ls $R: $list"
done
for name in shadow etc climb a b .. fifo dev; do
	! printf '%s\n' "$list" | grep -qxF "$name" || fail "'$name' listed in $R: $list"
done
! printf '%s\n' "$list" | grep -q 'xxxxxxxx' || fail "a 300-byte name listed in $R"
expect_eq "$(printf '%s\n' "$list" | wc -l)" 11 "entries of ls -A $R"
ok "a hostile listing: symlinks out of the remote, bad names and kinds left out, the rest shown"

for name in shadow etc climb; do
	expect_errno "stat '$R/$name'" "No such file or directory"
	expect_errno "readlink -v '$R/$name'" "No such file or directory"
	expect_errno "cat '$R/$name'" "No such file or directory"
done
expect_errno "cat '$R/etc/shadow'" "No such file or directory"
expect_errno "ls '$R/etc/'" "No such file or directory"
expect_errno "stat '$R/fifo'" "No such file or directory"
list=$(timeout 10 ls -A "$R/dir") || fail "ls $R/dir"
expect_eq "$(printf '%s\n' "$list" | sort | tr '\n' ' ')" "ok sibling " "ls $R/dir (up left out)"
expect_errno "readlink -v '$R/dir/up'" "No such file or directory"
expect_eq "$(readlink "$R/inside")" "dir/ok" "a symlink inside the remote"
expect_eq "$(rcat "$R/inside")" "ok" "read through a symlink inside the remote"
expect_eq "$(readlink "$R/dir/sibling")" "../suid" "a symlink to a sibling folder"
ok "symlinks leaving the remote: ENOENT for stat, readlink, open and paths through them"

expect_eq "$(stat -c '%F %a' "$R/suid")" "regular file 755" "setuid bit of a remote file"
expect_eq "$(stat -c '%F %a' "$R/sgid")" "regular file 755" "setgid bit of a remote file"
expect_eq "$(stat -c '%F %a' "$R/sticky")" "directory 777" "sticky bit of a remote folder"
expect_eq "$(stat -c '%s %Y' "$R/negsize")" "0 0" "a negative size and a time past 2262"
find "$R/" -maxdepth 1 -perm /7000 2>/dev/null | grep -q . && fail "a setuid, setgid or sticky node under $R"
ok "modes masked to 0777 (setuid, setgid, sticky dropped); bad sizes and times shown as 0"

expect_errno "ls '$R/huge'" "File too large"
expect_errno "ls '$R/fat'" "File too large"
ok "a listing over 65,536 entries or 8 MiB: EFBIG"

# Logged once per remote and path, however often it is listed.
for i in 1 2 3; do
	timeout 10 ls "$R" >/dev/null || fail "ls $R again"
	sleep 1.1 # past the listing's cache
done
expect_eq "$(grep -c 'entry /@remote/evil/shadow left out' "$TMP/robot.log")" 1 \
	"log lines for the /etc/shadow symlink after four listings"
expect_in "$(grep 'entry /@remote/evil/shadow left out' "$TMP/robot.log")" "leaves the remote" \
	"the log line says why"
ok "a refused entry is logged once per remote and path"

# ---- redirects ----
: >"$HLOG"
expect_http 502 "$ADMIN" GET /v1/@remote/evil/r1
expect_eq "$(jbody 'j["error"]')" EIO "error of a redirect out of the remote"
expect_eq "$(hdr Location)" "" "Location passed on for ../../x"
expect_http 502 "$ADMIN" GET /v1/@remote/evil/r2
expect_eq "$(hdr Location)" "" "Location passed on for http://evil.example/"
expect_eq "$(grep -c 'Location .* outside it, not passed on' "$TMP/robot.log")" 2 "log of the refused redirects"
expect_http 307 "$ADMIN" GET /v1/@remote/evil/r3
expect_eq "$(hdr Location)" /v1/@remote/evil/dir/ok "Location of a redirect inside the remote"
expect_http 200 "$ADMIN" GET /v1/@remote/evil/r3 -L
expect_eq "$HB" "ok" "the redirect inside followed by the client"
# What reached the remote: each request once, nothing followed by A on its own.
expect_eq "$(sort "$HLOG" | tr '\n' ' ')" "GET /v1/dir/ok GET /v1/r1 GET /v1/r2 GET /v1/r3 GET /v1/r3 " \
	"requests the hostile remote got"
expect_errno "cat '$R/r1'" "Input/output error"
expect_errno "cat '$R/r2'" "Input/output error"
ok "3xx from a remote: 502 unless its Location is a path of that remote (then rewritten); never followed by A"

# ---- the components of a forwarded path are re-encoded ----
: >"$HLOG"
http "$ADMIN" GET '/v1/@remote/evil/dir/a%252Fb'
expect_eq "$HS" 404 "GET of a name holding %2F"
http "$ADMIN" GET '/v1/@remote/evil/dir/q%3Fx=1%23f'
expect_eq "$HS" 404 "GET of a name holding ? and #"
http "$ADMIN" GET '/v1/@remote/evil/dir/ok?wait=1%26x%3Dy'
expect_eq "$(cat "$HLOG" | tr '\n' ' ')" \
	"GET /v1/dir/a%252Fb GET /v1/dir/q%3Fx%3D1%23f GET /v1/dir/ok?wait=1%26x%3Dy " \
	"paths and queries as the hostile remote got them"
ok "forwarded components and query values percent-encoded: the remote sees the names we saw"

expect_eq "$(snapshot)" "$before" "A's tree, data, token and files after the hostile remote"
pid_alive "$ZR_PID" || fail "A died"
ok "nothing of A changed"

# ---- a real robot: re-encoding ----
zr_peer_init b
zr_peer_start b
timeout 10 mkdir "$B_MNT/node/n1" || fail "mkdir node/n1 on B"
echo "b $B_URL $B_DATA/admin.token" >"$MNT/@robot/remotes/add" || fail "remotes/add b"
expect_http 200 "$ADMIN" GET /v1/@remote/b/node/n1
expect_http 404 "$ADMIN" GET '/v1/@remote/b/node%252Fn1'
expect_http 404 "$ADMIN" GET '/v1/@remote/b/node/n1%252Fdata'
expect_http 404 "$ADMIN" GET '/v1/@remote/b/node/n1/data%3Fwait=1'
expect_http 404 "$ADMIN" DELETE '/v1/@remote/b/node%252Fn1'
[ -d "$B_MNT/node/n1" ] || fail "node/n1 on B deleted by DELETE node%2Fn1 through A"
expect_http 400 "$ADMIN" GET '/v1/@remote/b/node/%2E%2E/node'
ok "a real remote: a component with %2F or ? names nothing there (404), does not reach node/n1"

# ---- remote consumer registrations per producer: at most 64 ----
ctl=$MNT/kv/k1/ctl
for i in $(seq 64); do
	echo "consumer add r$i kv/c$i" >"$ctl" || fail "registration $i of 64"
done
expect_eq "$(ls "$MNT/kv/k1/consumers" | wc -l)" 64 "consumers of kv/k1"
expect_errno "echo 'consumer add r65 kv/c65' >'$ctl'" "Disk quota exceeded"
expect_in "$(rcat "$MNT/kv/k1/lasterror")" "EDQUOT" "lasterror after the 65th registration"
expect_in "$(rcat "$MNT/kv/k1/lasterror")" "64 consumers on other robots" "the reason in lasterror"
expect_http 429 "$ADMIN" PUT /v1/kv/k1/ctl --data-binary 'consumer add r66 kv/c66'
expect_eq "$(jbody 'j["error"]')" EDQUOT "error of the 65th registration over HTTP"
expect_eq "$(ls "$MNT/kv/k1/consumers" | wc -l)" 64 "consumers of kv/k1 after the refusals"
[ ! -e "$MNT/kv/k1/consumers/kv.c65@r65" ] || fail "the refused consumer is listed"
echo "consumer add r1 kv/c1" >"$ctl" || fail "registering a known consumer again"
echo "consumer remove r1 kv/c1" >"$ctl" || fail "removing one"
echo "consumer add r65 kv/c65" >"$ctl" || fail "a registration after a removal"
expect_eq "$(ls "$MNT/kv/k1/consumers" | wc -l)" 64 "consumers of kv/k1 at the end"
ok "remote consumers per producer bounded at 64: EDQUOT on FUSE, 429 over HTTP, reason in lasterror"

zr_stop
echo "PASS: $TEST_NAME ($N_OK checks)"
