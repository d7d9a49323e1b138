#!/bin/bash
# Gaps the first pass of issue 12 left (README "Security"): a data write through @remote is
# bounded like a local one (EFBIG before anything is allocated); an action body over the
# arguments' cap is refused (413) from its Content-Length without being read, a chunked one at
# the cap; and a robot that mounts this one may park more reads on it than the per-address
# connection limit.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-http.sh"
. "$(dirname "$0")/lib-remote.sh"

rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# B: kv, a template with a data schema and an action that waits for a file.
zr_peer_init b
mk_template "$B_TPL" kv '{"name": "kv", "version": "1.0.0",
  "data": {"greeting": {"type": "string", "default": "hello"}},
  "actions": {"noop": {}, "hold": {}}}'
mk_action "$B_TPL/kv" noop 'echo noop'
mk_action "$B_TPL/kv" hold 'while [ ! -e "$ZR_ROOT/../release" ]; do sleep 0.2; done; echo released'
zr_peer_start b
timeout 10 mkdir "$B_MNT/kv/k1" || fail "mkdir kv/k1 on B"
mk_template "$TPL" kv '{"name": "kv", "version": "1.0.0",
  "data": {"greeting": {"type": "string", "default": "hello"}}, "actions": {"noop": {}}}'
mk_action "$TPL/kv" noop 'echo noop'
zr_start_http --remote "b=$B_URL,token-file=$B_DATA/admin.token"
R=$MNT/@remote/b

# ---- 1. data writes through @remote are bounded as local ones are ----
before=$(rcat "$B_MNT/kv/k1/data")
expect_eq "$(rcat "$R/kv/k1/data")" "$before" "B's data read through A"
rss0=$(rss "$ZR_PID")
expect_errno "dd if=/dev/zero of='$R/kv/k1/data' bs=1 count=1 seek=1073741824 oflag=seek_bytes conv=notrunc" \
	"File too large"
expect_errno "dd if=/dev/zero of='$R/kv/k1/data' bs=1 count=1 seek=1048576 oflag=seek_bytes conv=notrunc" \
	"File too large"
# A body that grows past the bound in many writes: refused at the write that crosses it, and
# the close sends nothing.
expect_errno "{ printf '{'; head -c 1048576 /dev/zero | tr '\\0' ' '; } |
	dd of='$R/kv/k1/data' bs=64k iflag=fullblock conv=notrunc status=none" "File too large"
rss1=$(rss "$ZR_PID")
[ $((rss1 - rss0)) -lt 8192 ] || fail "robot A grew from $rss0 kB to $rss1 kB"
expect_eq "$(rcat "$B_MNT/kv/k1/data")" "$before" "B's data after the oversized writes through A"
echo '{"greeting": "through a"}' >"$R/kv/k1/data" || fail "a data write through @remote"
expect_eq "$(jsonstr "$(rcat "$B_MNT/kv/k1/data")" 'j["greeting"]')" "through a" "B's data after a write"
ok "data through @remote past --http-max-body (offset 1 GiB, many writes): EFBIG, nothing sent ($rss0 -> $rss1 kB)"

# ---- 2. an action body over --max-args-bytes is refused before it is read ----
# rawpost PATH TOKEN HEADERS N [END]: sends a POST's headers (HEADERS: extra lines joined with
# "|") and N bytes of body (chunks of 4 KiB with "Transfer-Encoding: chunked"; END "end" sends
# the last chunk), then waits up to 10 s for an answer. Prints its status code and body,
# "closed" when the robot closed the connection without one, or "timeout".
rawpost() {
	timeout 60 "$ZR_PY" - "$URL" "$@" <<'PY'
import socket, sys
from urllib.parse import urlsplit
u = urlsplit(sys.argv[1])
path, tok, extra, n = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
end = len(sys.argv) > 6 and sys.argv[6] == "end"
s = socket.create_connection((u.hostname, u.port), timeout=10)
hdrs = "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n" % (path, tok)
hdrs += "".join(h + "\r\n" for h in extra.split("|") if h) + "\r\n"
chunked = "chunked" in extra
try:
    s.sendall(hdrs.encode())
    sent = 0
    while sent < n:
        k = min(4096, n - sent)
        s.sendall((b"%x\r\n" % k + b"x" * k + b"\r\n") if chunked else b"x" * k)
        sent += k
    if chunked and end:
        s.sendall(b"0\r\n\r\n")
except OSError:
    pass
got = b""
state = "closed"
try:
    while True:
        c = s.recv(65536)
        if not c:
            break
        got += c
        head, sep, body = got.partition(b"\r\n\r\n")
        if sep and b"}" in body:
            break
except socket.timeout:
    state = "timeout"
except OSError:
    pass
if got:
    head, _, body = got.partition(b"\r\n\r\n")
    print(head.split(b" ")[1].decode(), body.decode(errors="replace").replace("\n", " "))
else:
    print(state)
PY
}
S=$MNT/kv/a1
json_post "$ADMIN" /v1/kv '{"name": "a1"}'
expect_eq "$HS" 201 "create kv/a1"
json_post "$ADMIN" /v1/kv '{"name": "a2"}'
SEC2=$(jbody 'j["secret"]')
tasks0=$(ls "$S/tasks" | tr '\n' ' ')
rss0=$(rss "$ZR_PID")
# Content-Length 10 MiB and not a byte of body: answered 413 at once.
t0=$(now)
out=$(rawpost /v1/kv/a1/actions/noop "$ADMIN" "Content-Type: text/plain|Content-Length: 10485760" 0)
expect_eq "${out%% *}" 413 "an action POST with Content-Length 10 MiB and no body sent"
expect_in "$out" "--max-args-bytes" "the bound in the 413's body"
expect_in "$out" "65536" "the bound in the 413's body"
fgt 5 "$(since "$t0")" || fail "the 413 took $(since "$t0") s"
expect_in "$(rcat "$S/lasterror")" "EFBIG" "lasterror after a 10 MiB Content-Length"
expect_in "$(rcat "$S/lasterror")" "--max-args-bytes" "lasterror after a 10 MiB Content-Length"
# Just over the bound, with curl (Expect: 100-continue): 413, nothing queued.
head -c $((64 * 1024 + 1)) /dev/zero | tr '\0' x >"$TMP/over"
http "$ADMIN" POST /v1/kv/a1/actions/noop -H 'Content-Type: text/plain' --data-binary "@$TMP/over"
expect_eq "$HS" 413 "64 KiB + 1 of arguments"
# Another service's secret may not act on a1: refused (403) before its size is looked at, and
# a1's lasterror is not its to write.
le=$(rcat "$S/lasterror")
sleep 0.01
out=$(rawpost /v1/kv/a1/actions/noop "$SEC2" "Content-Type: text/plain|Content-Length: 10485760" 0)
expect_eq "${out%% *}" 403 "an oversized POST with another service's secret"
expect_eq "$(rcat "$S/lasterror")" "$le" "a1's lasterror after another service's oversized POST"
# Chunked (no Content-Length): kept up to the bound only; a body that ends is answered 413,
# one that goes on is cut off after 8 times the bound (not read to --http-max-body and past).
sleep 0.01
out=$(rawpost /v1/kv/a1/actions/noop "$ADMIN" "Content-Type: text/plain|Transfer-Encoding: chunked" \
	$((100 * 1024)) end)
expect_eq "${out%% *}" 413 "a 100 KiB chunked action body"
expect_in "$(rcat "$S/lasterror")" "arguments of more than 65536 bytes" "lasterror after it"
out=$(rawpost /v1/kv/a1/actions/noop "$ADMIN" "Content-Type: text/plain|Transfer-Encoding: chunked" \
	$((4 * 1024 * 1024)))
expect_eq "$out" closed "a 4 MiB chunked action body that does not end"
rss1=$(rss "$ZR_PID")
expect_eq "$(ls "$S/tasks" | tr '\n' ' ')" "$tasks0" "a1's tasks after the oversized bodies"
[ $((rss1 - rss0)) -lt 4096 ] || fail "robot A grew from $rss0 kB to $rss1 kB"
json_post "$ADMIN" /v1/kv/a1/actions/noop '{}'
expect_eq "$HS" 201 "a small action body after the refusals"
ok "action bodies over --max-args-bytes: 413 from Content-Length before the body, lasterror set"

# ---- 3. a robot that mounts this one may park many reads on it ----
# 100 tasks on B that wait for $TMP/peer-b/release, 10 services of 10; A parks a read of each
# result through @remote (one long poll on B each, one connection each: HTTP/1.1), and B has
# the default --http-max-conns-per-ip. With 64 (the first pass's default) the 65th read failed
# with ENOTCONN.
N=100
for s in $(seq 10); do
	timeout 10 mkdir "$B_MNT/kv/h$s" || fail "mkdir kv/h$s on B"
done
ids=()
for i in $(seq 0 $((N - 1))); do
	s=$((i % 10 + 1))
	ids+=("h$s/tasks/$(submit "$B_MNT/kv/h$s" hold '')/result")
done
for i in "${!ids[@]}"; do
	timeout 120 cat "$R/kv/${ids[$i]}" >"$TMP/parked.$i" 2>"$TMP/parked.$i.err" &
	echo $! >>"$TMP/parked.pids"
done
conns() { ss -Htn state established "( dport = :$B_PORT )" | wc -l; }
wait_for "[ \$(conns) -ge $N ]" 30 || true
sleep 1
c=$(conns)
echo "parked: $N reads through @remote, $c connections from A to B" >&2
for i in "${!ids[@]}"; do
	[ ! -s "$TMP/parked.$i.err" ] || fail "parked read $i failed: $(cat "$TMP/parked.$i.err")"
done
alive=0
while read -r p; do ! kill -0 "$p" 2>/dev/null || alive=$((alive + 1)); done <"$TMP/parked.pids"
expect_eq "$alive" "$N" "parked reads still waiting"
# Short requests through A are not held up behind the long polls.
t0=$(now)
expect_eq "$(timeout 10 ls "$R/kv/h1/tasks" | grep -c '^[0-9]')" 10 "ls of a remote service's tasks"
expect_eq "$(jsonstr "$(rcat "$R/kv/k1/data")" 'j["greeting"]')" "through a" "a remote data read"
fgt 5 "$(since "$t0")" || fail "short requests took $(since "$t0") s beside $N parked reads"
touch "$TMP/peer-b/release"
while read -r p; do wait "$p" || fail "a parked read exited $?"; done <"$TMP/parked.pids"
for i in "${!ids[@]}"; do
	expect_eq "$(cat "$TMP/parked.$i")" released "parked read $i (${ids[$i]})"
done
ok "$N parked reads through @remote ($c connections to B), short requests beside them: all answered"
