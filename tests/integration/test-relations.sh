#!/bin/bash
# Relations (DESIGN §8): consumes roles with min, max and auto; a list role and its
# producers/<role>/ folder; actions refused while a role is not satisfied, with the state line
# "relation <role> ok|error"; a consumer's server waits for its producer's to be ready; stopping
# a producer whose consumers run is EBUSY until force.
. "$(dirname "$0")/lib.sh"

# db: a producer; shop: one db (min 1, auto), up to three caches (a list role).
mk_template "$TPL" db '{"name": "db", "version": "1.0.0",
  "data": {"port": {"type": "integer", "default": 5}}, "actions": {"ping": {}},
  "on_delete": ["ping"]}'
mk_action "$TPL/db" ping 'echo "ping $ZR_SERVICE" >>"$MARKS/db.ping"'
mk_template "$TPL" shop '{"name": "shop", "version": "1.0.0",
  "consumes": {"db": {"template": "db", "min": 1, "auto": true},
               "caches": {"template": "db", "min": 1, "max": 3}},
  "actions": {"hello": {}}}'
mk_action "$TPL/shop" hello 'echo hello'
# srv: a server ready 2 s after it starts; web: a server that consumes one, and notes when it
# starts.
mk_template "$TPL" srv '{"name": "srv", "version": "1.0.0",
  "process": {"command": ["sleep", "1000"], "ready": {"delay": 2}, "stop_timeout": 3}}'
mk_template "$TPL" web '{"name": "web", "version": "1.0.0",
  "consumes": {"back": {"template": "srv", "min": 1}},
  "process": {"command": ["sh", "-c", "date +%s.%N >>\"$MARKS/web.start\"; exec sleep 1000"],
              "stop_timeout": 3}}'
mk_template "$TPL" bad '{"name": "bad", "version": "1.0.0",
  "consumes": {"db": {"template": "db", "mx": 2}}}'
zr_start

# A template with an unknown key under a role is refused at load, with the field named.
[ ! -e "$MNT/bad" ] || fail "a template with consumes.db.mx was loaded"
grep -q "field 'consumes.db.mx': unknown key" "$TMP/robot.log" ||
	fail "no log line naming consumes.db.mx"
ok "an unknown key of a role refuses the template"

# auto: mkdir of a consumer whose role is empty creates db/<its name> first, same creator.
S=$(svc shop s1)
[ -d "$MNT/db/s1" ] || fail "the auto producer db/s1 was not created"
expect_eq "$(json "$S/data" 'j["db"]')" "db/s1" "the consumer names its auto producer"
expect_eq "$(readlink "$S/producers/db")" "../../../db/s1" "producers/db link"
expect_eq "$(ls "$MNT/db/s1/consumers")" "shop.s1" "the auto producer lists its consumer"
expect_eq "$(json "$MNT/db/s1/info" 'j["creator"]')" "$(json "$S/info" 'j["creator"]')" \
	"the producer has the consumer's creator"
ok "auto: a missing producer is created before its consumer"

# min 1 on caches: nothing named yet, so the role is not satisfied: actions are refused.
expect_in "$(rcat "$S/state")" "relation caches error" "state line of an empty role"
expect_in "$(rcat "$S/state")" "relation db ok" "state line of the auto role"
expect_errno "echo > '$S/actions/hello'" "Invalid argument"
expect_in "$(rcat "$S/lasterror")" "role 'caches' needs at least 1 producer, has 0" \
	"lasterror says why the action is refused"
expect_errno "echo 'state relation db ok' > '$S/ctl'" "Invalid argument"
ok "an unsatisfied role refuses actions with EINVAL and says so in state and lasterror"

# A list role: producers/<role>/ is a folder of <t>.<s> links.
mkdir "$MNT/db/c1" "$MNT/db/c2" || fail "mkdir db/c1 db/c2"
# The data is written whole: db keeps its producer.
echo '{"db": "db/s1", "caches": ["db/c1", "db/c2"]}' >"$S/data" || fail "set a list of caches"
expect_eq "$(ls "$S/producers/caches" | tr '\n' ' ')" "db.c1 db.c2 " "producers/caches/"
expect_eq "$(readlink "$S/producers/caches/db.c1")" "../../../../db/c1" "a list role's link"
expect_eq "$(readlink -f "$S/producers/caches/db.c2")" "$(readlink -f "$MNT/db/c2")" \
	"a list role's link resolves"
expect_eq "$(ls "$MNT/db/c2/consumers")" "shop.s1" "each producer of a list lists the consumer"
expect_eq "$(json "$S/info" 'j["producers"]["caches"]')" '["db/c1", "db/c2"]' "info.producers"
expect_in "$(rcat "$S/state")" "relation caches ok" "state line once satisfied"
out=$(zrtool write-read "$S/actions/hello" "{}" 2>&1) || fail "hello: $out $(cat "$S/lasterror")"
expect_eq "$out" "hello" "an action once the roles are satisfied"
ok "a list role: producers/caches/ holds a link per producer; actions run once satisfied"

# max 3; each must exist, be a db, be named once.
expect_errno "echo '{\"caches\": [\"db/c1\", \"db/nope\"]}' > '$S/data'" "Invalid argument"
expect_in "$(rcat "$S/lasterror")" "no service 'db/nope'" "a missing producer in a list"
expect_errno "echo '{\"caches\": [\"db/c1\", \"db/c1\"]}' > '$S/data'" "Invalid argument"
expect_in "$(rcat "$S/lasterror")" "named twice" "a producer named twice"
expect_errno "echo '{\"caches\": [\"db/c1\", \"shop/s1\"]}' > '$S/data'" "Invalid argument"
expect_errno "echo '{\"db\": [\"db/c1\"]}' > '$S/data'" "Invalid argument"
expect_in "$(rcat "$S/lasterror")" "must be a string" "a role of max 1 takes one path"
mkdir "$MNT/db/c3" "$MNT/db/c4" || fail "mkdir db/c3 db/c4"
echo '{"db": "db/s1", "caches": ["db/c1", "db/c2", "db/c3", "db/c4"]}' >"$S/data" ||
	fail "four caches"
expect_in "$(rcat "$S/state")" "relation caches error" "state line past max"
expect_errno "echo > '$S/actions/hello'" "Invalid argument"
expect_in "$(rcat "$S/lasterror")" "role 'caches' takes at most 3 producers, has 4" "past max"
echo '{"db": "db/s1", "caches": "db/c1"}' >"$S/data" || fail "a list role takes one string too"
expect_eq "$(readlink "$S/producers/caches")" "../../../db/c1" "a string value is a link"
expect_in "$(rcat "$S/state")" "relation caches ok" "state line back to ok"
ok "a list role: each producer checked; more than max refuses actions"

# A local producer deleted (force) turns its consumers' line to error.
echo force >"$MNT/db/c1/ctl" || fail "force"
timeout 10 rmdir "$MNT/db/c1" || fail "rmdir db/c1 after force"
wait_for "grep -q 'relation caches error' '$S/state'" 5 || fail "no error line once db/c1 is gone"
expect_errno "echo > '$S/actions/hello'" "Invalid argument"
expect_in "$(rcat "$S/lasterror")" "its producer db/c1 is gone" "lasterror of a gone producer"
mkdir "$MNT/db/c1" || fail "mkdir db/c1 again"
wait_for "grep -q 'relation caches ok' '$S/state'" 5 || fail "no ok line once db/c1 is back"
ok "a producer deleted then created again: the consumer's line follows"

# auto refused with its consumer: a user's mkdir of a name whose producer cannot be made.
mkdir "$MNT/db/x" && echo '{"port": 6}' >"$MNT/db/x/data" || fail "db/x"
S2=$(svc shop x)
expect_eq "$(json "$S2/data" 'j["db"]')" "db/x" "an existing producer of the auto name is used"
expect_eq "$(json "$MNT/db/x/data" 'j["port"]')" "6" "and left as it was"
ok "auto names an existing producer of that name without touching it"

# pstate SVC-DIR: the state of its server, as info has it.
pstate() { json "$1/info" 'j["process"]["state"]'; }

# A consumer's server waits for its producer's to be ready.
P=$(svc srv p1)
W=$(svc web w1)
echo '{"back": "srv/p1"}' >"$W/data" || fail "web names srv/p1"
echo up >"$W/process/want" || fail "want up on the consumer"
wait_for "grep -q 'waiting for producer srv/p1' '$W/log'" 5 ||
	fail "no 'waiting for producer srv/p1' line in the consumer's log"
sleep 1
expect_eq "$(pstate "$W")" "starting" "a held consumer is starting"
[ ! -e "$MARKS/web.start" ] || fail "the consumer started before its producer"
t0=$(now)
echo up >"$P/process/want" || fail "want up on the producer"
wait_for "[ -e '$MARKS/web.start' ]" 10 || fail "the consumer did not start after its producer"
started=$(head -n 1 "$MARKS/web.start")
fge "$(fsub "$started" "$t0")" 1.9 ||
	fail "the consumer started $(fsub "$started" "$t0") s after the producer's start, before ready (2 s)"
wait_for "[ \"\$(pstate '$W')\" = ready ]" 5 ||
	fail "the consumer is not ready"
ok "a consumer's server starts only once its producer's is ready"

# Stopping the producer while the consumer runs: EBUSY until force, used once.
expect_errno "echo down > '$P/process/want'" "Device or resource busy"
expect_in "$(rcat "$P/lasterror")" "consumers running: web/w1; write force to ctl first" \
	"lasterror of a refused stop"
expect_errno "echo > '$P/actions/stop'" "Device or resource busy"
expect_errno "echo > '$P/actions/restart'" "Device or resource busy"
expect_eq "$(pstate "$P")" "ready" "the producer still runs"
echo force >"$P/ctl" || fail "force"
echo down >"$P/process/want" || fail "want down after force"
wait_for "[ \"\$(pstate '$P')\" = down ]" 10 ||
	fail "the producer did not stop"
expect_eq "$(pstate "$W")" "ready" "the consumer keeps running"
echo up >"$P/process/want" || fail "want up again"
wait_for "[ \"\$(pstate '$P')\" = ready ]" 10 ||
	fail "the producer did not start again"
expect_errno "echo down > '$P/process/want'" "Device or resource busy"
ok "stopping a producer with running consumers: EBUSY, then once after force"
echo down >"$W/process/want" || fail "stop the consumer"
echo down >"$P/process/want" || fail "stop the producer once its consumer is down"
zr_stop

# Across a restart the lines stay, and the auto producer is there.
zr_start
expect_in "$(rcat "$S/state")" "relation caches ok" "state line after a restart"
[ -d "$MNT/db/s1" ] || fail "db/s1 after a restart"
ok "relations survive a restart"
zr_stop

# A template that no longer has a role: its line goes at the next start.
mk_template "$TPL" shop '{"name": "shop", "version": "1.0.0",
  "consumes": {"db": {"template": "db", "min": 1, "auto": true}}, "actions": {"hello": {}}}'
zr_start
expect_not_in "$(rcat "$S/state")" "relation caches" "the line of a role the template dropped"
expect_in "$(rcat "$S/state")" "relation db ok" "the line of a role it keeps"
ok "the line of a role the template no longer has is dropped"
zr_stop
