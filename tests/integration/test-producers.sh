#!/bin/bash
# Producers and consumers on one robot: a consumer's data names its producer per role;
# producers/<role> and the producer's consumers/<t>.<s> are symlinks; an action reaches its
# producer through the tree; deleting a producer with consumers is EBUSY until forced.
. "$(dirname "$0")/lib.sh"

mk_app
zr_start

N=$(svc node local)
A=$(svc app a)
expect_eq "$(ls "$A/producers")" "" "no producer before the data names one"
expect_errno "echo '{\"host\": \"node/nope\"}' >'$A/data'" "Invalid argument"
expect_in "$(rcat "$A/lasterror")" "no service 'node/nope'" "lasterror of a missing producer"
expect_errno "echo '{\"host\": \"app/a\"}' >'$A/data'" "Invalid argument"
expect_in "$(rcat "$A/lasterror")" "not a 'node'" "lasterror of a producer of the wrong template"
ok "a producer must exist and be of the role's template"

echo '{"host": "node/local"}' >"$A/data" || fail "set the producer"
expect_eq "$(readlink "$A/producers/host")" "../../../node/local" "producers/host link"
expect_eq "$(readlink -f "$A/producers/host")" "$(readlink -f "$N")" "producers/host resolves"
expect_eq "$(ls "$N/consumers")" "app.a" "consumers of node/local"
expect_eq "$(readlink -f "$N/consumers/app.a")" "$(readlink -f "$A")" "consumers/app.a resolves"
expect_eq "$(json "$A/info" 'j["producers"]["host"]')" "node/local" "info.producers"
ok "producers/host and consumers/app.a are symlinks; info lists the producer"

out=$(zrtool write-read "$A/actions/install" install) || fail "install: $out"
expect_eq "$out" "from $(hostname)" "the consumer ran its producer's action through the tree"
ok "a consumer action runs exec on its producer and returns its output"

expect_errno "rmdir '$N'" "Device or resource busy"
grep -q "has consumers: app/a" "$TMP/robot.log" || fail "no log line naming the consumers"
[ -d "$N" ] || fail "the producer is gone after a refused rmdir"
expect_errno "echo nonsense >'$N/ctl'" "Invalid argument"
echo force >"$N/ctl" || fail "write force to ctl"
timeout 10 rmdir "$N" || fail "rmdir after force"
[ ! -e "$N" ] || fail "the producer is still there"
# The consumer's data still names it: the link stays, dangling, like any symlink whose target
# went away.
[ -L "$A/producers/host" ] && ! readlink -e "$A/producers/host" >/dev/null ||
	fail "producers/host should dangle once its producer is deleted"
ok "deleting a producer with consumers: EBUSY, then force + rmdir deletes it"
zr_stop
