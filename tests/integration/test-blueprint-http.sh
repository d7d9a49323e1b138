#!/bin/bash
# POST /v1/@robot/blueprint (issue 14): 200 with the outcome as JSON
# {"name", "dry_run", "items": [{"verb", "path", "action", "task", "why"}], "error"}; a refused
# blueprint is 422 with the outcome (its failed item, its error) and nothing applied; the
# admin token may apply anything, a user token only services of templates offered to users
# and services it created (README "Security"); no token or a bad one is 401, a service's
# secret 403.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-http.sh"

mk_t
mk_template "$TPL" u '{"name": "u", "version": "1.0.0", "users": true,
  "data": {"size": {"type": "integer", "default": 1, "minimum": 0}},
  "actions": {"hi": {"args": {"who": {"type": "string", "default": "x"}}}}}'
mk_action "$TPL/u" hi 'echo "hi $ARG_WHO size=$DATA_SIZE"'
USER1=user-token-0123456789abcdef
USER2=second-user-token-zyxwvutsrq
printf '%s\n%s\n' "$USER1" "$USER2" >"$TMP/tokens"
zr_start_http --token-file "$TMP/tokens"
P=/v1/@robot/blueprint

# items VERB: "path" of the items of that verb in the last body, one a line, in order.
items() {
	jbody "'\n'.join(i['path'] for i in j['items'] if i['verb'] == '$1')"
}

# ---- the admin: create, queue, the JSON outcome ----
BP1='{"services": [{"u/a": {"size": 2}}, {"t/b": {"count": 3}}],
 "actions": [{"template": "u", "actions": ["hi"], "args": {"who": "admin"}}]}'
json_post "$ADMIN" "$P" "$BP1"
expect_eq "$HS" 200 "POST of a blueprint by the admin: status ($HB)"
expect_match "$(hdr Content-Type)" '^application/json' "content type of the outcome"
expect_eq "$(jbody 'j["dry_run"]')" false "dry_run"
expect_eq "$(jbody 'j["error"]')" null "error of an accepted blueprint"
expect_eq "$(items created | tr '\n' ' ')" "u/a t/b " "created items"
expect_eq "$(jbody '[i["action"] for i in j["items"] if i["verb"] == "queued"]')" '["hi"]' "queued items"
expect_eq "$(jbody '[i["path"] for i in j["items"] if i["verb"] == "queued"]')" '["u/a"]' "queued item's path"
task=$(jbody '[i["task"] for i in j["items"] if i["verb"] == "queued"][0]')
expect_match "$task" '^[0-9]+$' "the queued item's task id"
out=$(timeout 30 cat "$MNT/u/a/tasks/$task/result") || fail "result of task $task"
expect_eq "$out" "hi admin size=2" "the task the outcome names"
expect_eq "$(json "$MNT/t/b/data" 'j["count"]')" 3 "data of t/b"
expect_eq "$(json "$MNT/u/a/info" 'j["creator"]')" admin "creator of u/a"
ok "POST by the admin: 200, JSON outcome with created and queued items; the task ran"

json_post "$ADMIN" "$P" '{"services": [{"u/a": {"size": 2}}, {"t/b": {"count": 3}}]}'
expect_eq "$HS" 200 "the same services again: status ($HB)"
expect_eq "$(items unchanged | tr '\n' ' ')" "u/a t/b " "unchanged items"
expect_eq "$(jbody 'len(j["items"])')" 2 "items of an unchanged apply"
ok "the same services again: 200, every item unchanged"

# ?dry_run=1 changes nothing and stores nothing; ?name= names the stored apply.
json_post "$ADMIN" "$P?dry_run=1&name=dry" '{"services": [{"u/dry": {}}, {"u/a": {"size": 7}}]}'
expect_eq "$HS" 200 "a dry run: status ($HB)"
expect_eq "$(jbody 'j["dry_run"]')" true "dry_run of a dry run"
expect_eq "$(jbody '[i["verb"] + " " + i["path"] for i in j["items"]]')" '["create u/dry", "update u/a"]' \
	"items of a dry run"
[ ! -e "$MNT/u/dry" ] || fail "a dry run created u/dry"
[ ! -e "$MNT/@robot/blueprints/dry" ] || fail "a dry run was stored"
expect_eq "$(json "$MNT/u/a/data" 'j["size"]')" 2 "u/a after a dry run"
json_post "$ADMIN" "$P?name=web" '{"services": [{"u/a": {"size": 2}}]}'
expect_eq "$HS" 200 "a named apply: status ($HB)"
expect_eq "$(jbody 'j["name"]')" web "name of the apply"
expect_eq "$(jsonstr "$(rcat "$MNT/@robot/blueprints/web/content")" 'j["services"][0]["u/a"]["size"]')" 2 \
	"content of the stored apply web"
ok "?dry_run=1: the plan (create, update), nothing changed or stored; ?name= names the stored apply"

# A YAML body, as a file of the CLI's would be sent.
http "$ADMIN" POST "$P" -H 'Content-Type: application/yaml' \
	--data-binary $'services:\n  - u/y: {size: 4}\nactions:\n  - {service: y, actions: [hi], args: {who: yaml}}\n'
expect_eq "$HS" 200 "a YAML blueprint: status ($HB)"
expect_eq "$(items created)" u/y "created by the YAML blueprint"
task=$(jbody '[i["task"] for i in j["items"] if i["verb"] == "queued"][0]')
out=$(timeout 30 cat "$MNT/u/y/tasks/$task/result") || fail "result of task $task"
expect_eq "$out" "hi yaml size=4" "the YAML blueprint's task"
ok "a YAML body: 200, created and queued"

# ---- refused: 422 with the outcome, nothing applied ----
json_post "$ADMIN" "$P" '{"services": [
  {"u/c": {}},
  {"t/b": {"count": 4}},
  {"t/d": {"count": -1}}]}'
expect_eq "$HS" 422 "a blueprint with bad data: status ($HB)"
expect_match "$(jbody 'j["error"]')" '.+' "error of a refused blueprint"
expect_eq "$(jbody '[i["path"] for i in j["items"] if i["verb"] == "failed"]')" '["t/d"]' "failed items"
expect_match "$(jbody '[i["why"] for i in j["items"] if i["verb"] == "failed"][0]')" \
	'^line 4, column [0-9]+: ' "why of the failed item"
[ ! -e "$MNT/u/c" ] || fail "u/c exists after a refused blueprint"
[ ! -e "$MNT/t/d" ] || fail "t/d exists after a refused blueprint"
expect_eq "$(json "$MNT/t/b/data" 'j["count"]')" 3 "data of t/b after a refused blueprint"
ok "bad data in the 3rd entry: 422, the failed item with its line, nothing applied"

json_post "$ADMIN" "$P" '{"services": [{"u/c": {}}, '
expect_eq "$HS" 422 "a blueprint that is not JSON: status ($HB)"
# libyaml puts the end of the text on the next line.
expect_match "$(jbody 'j["error"]')" 'line 2, column 1\b' "error of a syntax error"
json_post "$ADMIN" "$P" '{"services": [{"u/c": {}}], "extra": 1}'
expect_eq "$HS" 422 "an unknown key: status ($HB)"
[ ! -e "$MNT/u/c" ] || fail "u/c exists after a refused blueprint"
ok "a syntax error and an unknown key: 422 with the error"

# ---- a user token ----
json_post "$USER1" "$P" '{"services": [{"u/mine": {"size": 5}}],
 "actions": [{"actions": "hi", "args": {"who": "user"}}]}'
expect_eq "$HS" 200 "a user token's blueprint of a template offered to users: status ($HB)"
expect_eq "$(items created)" u/mine "created by the user token"
expect_eq "$(json "$MNT/u/mine/info" 'j["creator"]')" "user:$(printf '%s' "$USER1" | sha256sum | cut -c1-16)" \
	"creator of u/mine"
task=$(jbody '[i["task"] for i in j["items"] if i["verb"] == "queued"][0]')
out=$(timeout 30 cat "$MNT/u/mine/tasks/$task/result") || fail "result of task $task"
expect_eq "$out" "hi user size=5" "the user's task"
json_post "$USER1" "$P" '{"services": [{"u/mine": {"size": 6}}]}'
expect_eq "$HS" 200 "a user token updates its own service: status ($HB)"
expect_eq "$(items updated)" u/mine "updated by the user token"
expect_eq "$(json "$MNT/u/mine/data" 'j["size"]')" 6 "data of u/mine after the user's update"
ok "a user token creates and updates its own services of a template offered to users"

# ---- who may POST at all ----
for tok in - "not-a-token-at-all-0000"; do
	json_post "$tok" "$P" '{"services": [{"u/anon": {}}]}'
	expect_eq "$HS" 401 "POST without a valid token"
done
json_post "$ADMIN" /v1/u '{"name": "s1"}'
SECRET=$(jbody 'j["secret"]')
json_post "$SECRET" "$P" '{"services": [{"u/s1": {"size": 3}}]}'
expect_eq "$HS" 403 "POST by a service's secret"
expect_eq "$(json "$MNT/u/s1/data" 'j["size"]')" 1 "u/s1 after its secret's blueprint"
[ ! -e "$MNT/u/anon" ] || fail "u/anon exists"
ok "no token or a bad one: 401; a service's secret: 403; nothing applied"

# What it may not touch: a template not offered to users, the admin's service, another user's.
json_post "$USER2" "$P" '{"services": [{"u/other": {}}]}'
expect_eq "$HS" 200 "the second user's blueprint: status ($HB)"
for bp in '{"services": [{"u/new1": {}}, {"t/new2": {}}]}' \
	'{"services": [{"u/new1": {}}, {"u/a": {"size": 9}}]}' \
	'{"services": [{"u/new1": {}}, {"u/other": {"size": 9}}]}' \
	'{"services": [{"u/new1": {}}, {"u/a": {"size": 2}}], "actions": [{"service": "a", "actions": "hi"}]}'; do
	tasks_a=$(task_ids "$MNT/u/a" | wc -l)
	json_post "$USER1" "$P" "$bp"
	expect_eq "$HS" 422 "a user token's blueprint naming what it may not touch: status; $bp ($HB)"
	expect_match "$(jbody 'j["error"]')" '.+' "the error"
	[ ! -e "$MNT/u/new1" ] || fail "u/new1 exists after a refused blueprint: $bp"
	[ ! -e "$MNT/t/new2" ] || fail "t/new2 exists after a refused blueprint: $bp"
	expect_eq "$(json "$MNT/u/a/data" 'j["size"]')" 2 "u/a's size after $bp"
	expect_eq "$(json "$MNT/u/other/data" 'j["size"]')" 1 "u/other's size after $bp"
	expect_eq "$(task_ids "$MNT/u/a" | wc -l)" "$tasks_a" "tasks of u/a after $bp"
done
ok "a user token naming a template not offered, the admin's or another user's service: 422, nothing applied"

zr_stop
