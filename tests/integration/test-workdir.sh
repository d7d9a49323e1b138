#!/bin/bash
# Work folders: made when a service is created; a restored service whose folder is missing
# (restores make none: a mkdir per service would dominate a restart with many services) gets
# it back before its first task, which runs in it; rmdir removes it.
. "$(dirname "$0")/lib.sh"

mk_t
zr_start
S=$(svc t w)
guid=$(jsonstr "$(rcat "$S/info")" 'j["guid"]')
[ -d "$DATA/work/$guid" ] || fail "work folder $DATA/work/$guid not made with the service"
ok "the work folder is made with the service"

zr_stop
rm -rf "${DATA:?}/work"
zr_start
[ ! -e "$DATA/work/$guid" ] || fail "the restart made $DATA/work/$guid before any task"
ok "a restart makes no work folder"
id=$(submit "$S" dump '{}')
wait_state "$S" "$id" ok 10
expect_in "$(rcat "$S/tasks/$id/result")" "cwd=$DATA/work/$guid" "the task's cwd"
[ -d "$DATA/work/$guid" ] || fail "no work folder $DATA/work/$guid after the task"
ok "the first task of a restored service makes its work folder and runs in it"

id=$(submit "$S" dump '{}')
wait_state "$S" "$id" ok 10
expect_in "$(rcat "$S/tasks/$id/result")" "cwd=$DATA/work/$guid" "the next task's cwd"
ok "the next task runs there too"

timeout 10 rmdir "$S" || fail "rmdir $S failed"
wait_for "[ ! -e '$DATA/work/$guid' ]" 10 || fail "rmdir left $DATA/work/$guid"
ok "rmdir removes the work folder"
zr_stop
