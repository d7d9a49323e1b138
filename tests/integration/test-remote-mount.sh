#!/bin/bash
# `zrobot mount URL DIR`: one remote robot mounted alone, without a local robot. Listing, reads,
# an action and its result at DIR/...; SIGTERM (and SIGINT) unmounts it and exits 0. With a
# wrong token the mount comes up but refuses: EACCES.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-http.sh"
. "$(dirname "$0")/lib-remote.sh"

zr_peer_start b
timeout 10 mkdir "$B_MNT/node/local" || fail "mkdir node/local on B"
D=$TMP/rmnt

zr_mount_start "$B_URL" "$D" --token-file "$B_DATA/admin.token"
root=$(timeout 10 ls "$D/") || fail "ls $D/"
expect_in "$root" "@robot" "ls of the mount"
expect_in "$root" "node" "ls of the mount"
expect_eq "$(timeout 10 ls "$D/node")" "local" "ls DIR/node"
expect_eq "$(jsonstr "$(rcat "$D/@robot/info")" 'j["listen"]')" "$B_URL" "DIR/@robot/info is B's"
echo '{"cmd":"echo via mount"}' >"$D/node/local/actions/exec" || fail "write DIR/node/local/actions/exec"
expect_eq "$(timeout 20 cat "$D/node/local/results/exec")" "via mount" "result through the mount"
expect_eq "$(rcat "$D/node/local/state")" "$(rcat "$B_MNT/node/local/state")" "state through the mount"
expect_in "$(rcat "$D/node/local/state")" "actions exec ok" "state through the mount"
out=$(zrtool write-read "$D/node/local/actions/exec" '{"cmd":"echo same handle"}') || fail "write-read: $out"
expect_eq "$out" "same handle" "write-read through the mount"
timeout 10 mkdir "$D/node/m1" || fail "mkdir DIR/node/m1"
[ -d "$B_MNT/node/m1" ] || fail "node/m1 made through the mount is not on B"
timeout 10 rmdir "$D/node/m1" || fail "rmdir DIR/node/m1"
[ ! -e "$B_MNT/node/m1" ] || fail "node/m1 removed through the mount is still on B"
ok "zrobot mount: ls, cat, action + result, write-read, mkdir/rmdir at DIR"

zr_mount_stop TERM
ok "SIGTERM: the mount is gone and zrobot mount exited 0"

zr_mount_start "$B_URL" "$D" --token-file "$B_DATA/admin.token" --remote-timeout 2.5
expect_eq "$(timeout 10 ls "$D/node")" "local" "ls DIR/node (second mount)"
zr_mount_stop INT
ok "SIGINT: the mount is gone and zrobot mount exited 0"

bad_token "$TMP/bad.token"
zr_mount_start "$B_URL" "$D" --token-file "$TMP/bad.token"
expect_errno "ls '$D/'" "Permission denied"
expect_errno "cat '$D/@robot/info'" "Permission denied"
zr_mount_stop TERM
ok "a wrong token: EACCES at DIR; SIGTERM still unmounts"

zr_peer_stop b
