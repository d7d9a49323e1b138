#!/bin/bash
# Producers and consumers across robots: on robot A a service of template app consumes a node
# service of robot B, named in its data as "@remote/b/node/local". producers/host is a symlink
# into @remote/b/, and app's install action runs exec on B's node through it and returns the
# output (as test-producers.sh does on one robot). B lists the consumer as
# consumers/app.a@a (A runs with --name a), refuses to delete its producer until forced,
# keeps the registration across its restart, and hears of a consumer dropped while it was down.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-http.sh"
. "$(dirname "$0")/lib-remote.sh"

mk_app

zr_peer_start b
timeout 10 mkdir "$B_MNT/node/local" || fail "mkdir node/local on B"
zr_start_http --name a --remote "b=$B_URL,token-file=$B_DATA/admin.token"
expect_eq "$(timeout 10 ls "$MNT/@remote/b/node")" "local" "B's node services seen from A"

A=$(svc app a)
# A remote producer must exist there and be of the role's template, like a local one.
expect_errno "echo '{\"host\": \"@remote/b/node/nope\"}' >'$A/data'" "Invalid argument"
expect_in "$(rcat "$A/lasterror")" "no service @remote/b/node/nope" "lasterror of a missing remote producer"
expect_errno "echo '{\"host\": \"@remote/zz/node/local\"}' >'$A/data'" "Invalid argument"
expect_in "$(rcat "$A/lasterror")" "no remote robot" "lasterror of an unknown remote"
expect_errno "echo '{\"host\": \"@remote/b/app/x\"}' >'$A/data'" "Invalid argument"
expect_in "$(rcat "$A/lasterror")" "not a 'node'" "lasterror of a remote producer of the wrong template"
expect_errno "echo '{\"host\": \"@remote/b\"}' >'$A/data'" "Invalid argument"
expect_eq "$(ls "$B_MNT/node/local/consumers")" "" "no registration for refused data"
ok "a remote producer is checked: it must exist on a mounted remote and be of the role's template"

echo '{"host": "@remote/b/node/local"}' >"$A/data" || fail "name B's node/local as the producer"
expect_eq "$(jsonstr "$(rcat "$A/data")" 'j["host"]')" "@remote/b/node/local" "the consumer's data"
[ -L "$A/producers/host" ] || fail "producers/host is not a symlink"
link=$(readlink "$A/producers/host")
expect_match "$link" '^(\.\./)+@remote/b/node/local$' "producers/host link (relative, into @remote)"
expect_eq "$(readlink -f "$A/producers/host")" "$(readlink -f "$MNT/@remote/b/node/local")" \
	"producers/host resolves"
expect_eq "$(readlink -f "$A/producers/host")" "$(readlink -f "$MNT")/@remote/b/node/local" \
	"producers/host resolves under A's mount"
expect_eq "$(timeout 10 ls "$A/producers/host/")" "$(ls "$B_MNT/node/local")" "ls through producers/host"
expect_eq "$(json "$A/info" 'j["producers"]["host"]')" "@remote/b/node/local" "info.producers"
ok "producers/host -> $link resolves to @remote/b/node/local"

before=$(last_task "$B_MNT/node/local")
out=$(zrtool write-read "$A/actions/install" install) || fail "install: $out"
expect_eq "$out" "from $(hostname)" "the consumer ran exec on its producer on B"
id=$(last_task "$B_MNT/node/local")
[ -n "$id" ] && [ "$id" != "$before" ] || fail "no new task on B's node/local (last '$id', before '$before')"
expect_eq "$(rcat "$B_MNT/node/local/tasks/$id/action")" exec "the task on B"
expect_eq "$(task_state "$B_MNT/node/local" "$id")" ok "state of the task on B"
expect_in "$(rcat "$B_MNT/node/local/tasks/$id/args")" "echo from" "args of the task on B"
expect_eq "$(rcat "$B_MNT/node/local/tasks/$id/result")" "from $(hostname)" "result of the task on B"
ok "a consumer action on A ran exec on its producer on B (task $id there) and returned its output"

# ---- the producer's robot knows its consumer ----
wait_for "[ \"\$(ls '$B_MNT/node/local/consumers')\" = app.a@a ]" 5 ||
	fail "B's node/local/consumers: '$(ls "$B_MNT/node/local/consumers")', want app.a@a"
expect_eq "$(readlink "$B_MNT/node/local/consumers/app.a@a")" "../../../@remote/a/app/a" \
	"consumers/app.a@a on B links to where A is when mounted as 'a'"
expect_eq "$(timeout 10 ls "$MNT/@remote/b/node/local/consumers")" "app.a@a" "the same seen from A"
expect_errno "timeout 10 rmdir '$B_MNT/node/local'" "Device or resource busy"
grep -q "has consumers: app.a@a" "$B_LOG" || fail "B logged no refusal naming app.a@a"
ok "B lists A's consumer as consumers/app.a@a and refuses to delete its producer (EBUSY)"

zr_peer_stop b
zr_peer_restart b
wait_for "[ \"\$(ls '$B_MNT/node/local/consumers')\" = app.a@a ]" 5 ||
	fail "consumers/app.a@a gone after B's restart"
echo '{"host": ""}' >"$A/data" || fail "unset the producer"
wait_for "[ -z \"\$(ls '$B_MNT/node/local/consumers')\" ]" 5 ||
	fail "B still lists app.a@a after A's data stopped naming it"
ok "the registration survives B's restart; A's data change unregisters it"

# While B is down its services cannot be checked: the write fails like any remote operation.
zr_peer_kill b
expect_errno "echo '{\"host\": \"@remote/b/node/local\"}' >'$A/data'" "Transport endpoint is not connected"
expect_eq "$(jsonstr "$(rcat "$A/data")" 'j["host"]')" "" "the data after a refused write"
zr_peer_restart b
wait_for "[ \"\$(timeout 5 head -n 1 '$MNT/@robot/remotes/b/status')\" = 'state up' ]" 10 ||
	fail "remote b not up again"
echo '{"host": "@remote/b/node/local"}' >"$A/data" || fail "name the producer once B is back"
wait_for "[ \"\$(ls '$B_MNT/node/local/consumers')\" = app.a@a ]" 5 || fail "B did not hear of app.a@a"
ok "naming a producer on a robot that is down fails (ENOTCONN); once it is back it works"

# Unset while B is down, and A restarted before B is back: B hears of it when it is back.
zr_peer_kill b
echo '{"host": ""}' >"$A/data" || fail "unset the producer while B is down"
zr_stop
zr_peer_restart b
zr_start_http --name a --remote "b=$B_URL,token-file=$B_DATA/admin.token"
wait_for "[ -z \"\$(ls '$B_MNT/node/local/consumers')\" ]" 10 ||
	fail "B still lists app.a@a after coming back, though A's data stopped naming it meanwhile"
wait_for "[ -z \"\$(ls '$MNT/@remote/b/node/local/consumers' 2>/dev/null)\" ]" 5 || fail "seen from A"
echo '{"host": "@remote/b/node/local"}' >"$A/data" || fail "name the producer again"
wait_for "[ \"\$(ls '$B_MNT/node/local/consumers')\" = app.a@a ]" 5 || fail "B did not hear of app.a@a"
timeout 10 rmdir "$A" || fail "rmdir app/a on A"
wait_for "[ -z \"\$(ls '$B_MNT/node/local/consumers')\" ]" 5 ||
	fail "B still lists app.a@a after A deleted it"
timeout 10 rmdir "$B_MNT/node/local" || fail "rmdir B's node/local once it has no consumers"
ok "a consumer dropped while B was down (A restarted meanwhile) is unregistered when B is back; deleting it unregisters it"

# ---- ctl refuses what is not a registration ----
timeout 10 mkdir "$B_MNT/node/n2" || fail "mkdir node/n2 on B"
expect_errno "echo 'consumer add A! app/a' >'$B_MNT/node/n2/ctl'" "Invalid argument"
expect_errno "echo 'consumer add a app' >'$B_MNT/node/n2/ctl'" "Invalid argument"
expect_errno "echo 'consumer frob a app/a' >'$B_MNT/node/n2/ctl'" "Invalid argument"
echo "consumer add c web/w1" >"$B_MNT/node/n2/ctl" || fail "a registration by hand"
expect_eq "$(ls "$B_MNT/node/n2/consumers")" "web.w1@c" "a registration by hand"
echo "consumer remove c web/w1" >"$B_MNT/node/n2/ctl" || fail "an unregistration by hand"
expect_eq "$(ls "$B_MNT/node/n2/consumers")" "" "after the unregistration"
ok "ctl takes 'consumer add|remove ROBOT T/S' and refuses anything else (EINVAL)"

zr_stop
zr_peer_stop b
