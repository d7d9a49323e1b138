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
