#!/bin/bash
# Attacks on the role model (issue 12, README "Security"): each is refused with its code and
# leaves nothing changed (services, data, tasks, files). User tokens and the node template,
# admin-only actions, one user against another's services, secrets outside their service (also
# through ../ encodings), producers named without the right to act on them, per-token quotas
# (small and default limits), a local uid on action files (FUSE, --allow-other), and the
# creator across a restart.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-http.sh"

UA=attacker-a-token-0123456789
UB=attacker-b-token-9876543210
printf '%s\n%s\n' "$UA" "$UB" >"$TMP/tokens"
id_of() { printf 'user:%s' "$(printf '%s' "$1" | sha256sum | cut -c1-16)"; }

# u: offered to users; "run" is admin-only and leaves a mark when it runs.
mk_template "$TPL" u '{"name": "u", "version": "1.0.0", "users": true,
  "data": {"note": {"type": "string", "default": "none"}},
  "actions": {"hello": {}, "run": {"admin": true},
              "slow": {"args": {"secs": {"type": "number", "default": 30}}}}}'
mk_action "$TPL/u" hello 'echo hi'
mk_action "$TPL/u" run 'touch "$MARKS/run.$(basename "$ZR_SERVICE")"; echo ran'
mk_action "$TPL/u" slow 'sleep "$ARG_SECS"'
# uapp: offered to users, consumes a u.
mk_template "$TPL" uapp '{"name": "uapp", "version": "1.0.0", "users": true,
  "consumes": {"host": {"template": "u"}},
  "actions": {"noop": {}, "adopt": {"args": {"target": {"type": "string"}}}}}'
mk_action "$TPL/uapp" noop 'true'
# adopt: a careless action that names whatever it is given as its producer (fd 3).
mk_action "$TPL/uapp" adopt 'printf '"'"'data {"host": "%s"}\n'"'"' "$ARG_TARGET" >&3'
# An older version of u that is not offered to users.
mk_template "$TMP/tpl-old" u '{"name": "u", "version": "0.9.0"}'
# nouser: a template without "users".
mk_template "$TPL" nouser '{"name": "nouser", "version": "1.0.0", "actions": {"noop": {}}}'
mk_action "$TPL/nouser" noop 'true'

body=(-H 'Content-Type: application/json' --data-binary)
# services: the sorted service folders of the tree (what "nothing created" compares).
services() { (cd "$MNT" && ls -d */*/ 2>/dev/null | grep -v '^@') | sort; }
# tasks_of T/S: the ids of its tasks, one a line.
tasks_of() { ls "$MNT/$1/tasks" | grep -v queue | sort -n | tr '\n' ' '; }

zr_start_http --token-file "$TMP/tokens" --max-services-per-token 3 --max-tasks-per-token 3 \
	--allow-other --group-actions --templates "$TMP/tpl-old"

# ---- user tokens and the built-in node template ----
svc node adm >/dev/null
json_post "$ADMIN" /v1/node '{"name": "adm2"}'
SNODE=$(jbody 'j["secret"]')
before=$(services)
json_post "$UA" /v1/node '{"name": "mine"}'
expect_eq "$HS" 403 "user token creating a node service"
expect_in "$(jbody 'j["detail"]')" "not offered to user tokens" "the reason in the body"
json_post "$UA" /v1/nouser '{"name": "mine"}'
expect_eq "$HS" 403 "user token creating a service of a template without users"
expect_eq "$(services)" "$before" "services after refused creates"
expect_in "$(cat "$TMP/robot.log")" "template node is not offered to user tokens" "the reason in the log"
ok "a user token may not create node services (403, reason in body and log, nothing created)"

t0=$(tasks_of node/adm)
le0=$(cat "$MNT/node/adm/lasterror")
json_post "$UA" /v1/node/adm/actions/exec '{"cmd": "touch /tmp/zr-pwned-by-user"}'
expect_eq "$HS" 403 "user token POST node/adm/actions/exec"
# Someone with no right on a service may not write its lasterror either (the robot log has it).
expect_eq "$(cat "$MNT/node/adm/lasterror")" "$le0" "node/adm's lasterror after another's refusal"
expect_in "$(cat "$TMP/robot.log")" "Refused write to /node/adm/actions/exec" "the refusal in the log"
json_post "$SNODE" /v1/node/adm2/actions/exec '{"cmd": "touch /tmp/zr-pwned-by-secret"}'
expect_eq "$HS" 403 "node service's secret POST its actions/exec"
expect_in "$(jbody 'j["detail"]')" "admin-only" "the reason for the secret"
expect_in "$(cat "$MNT/node/adm2/lasterror")" "EACCES" "lasterror of the refused exec"
json_post "$SNODE" /v1/node/adm2/actions/info ''
expect_eq "$HS" 201 "the secret runs node's info (not admin-only)"
expect_eq "$(tasks_of node/adm)" "$t0" "node/adm's tasks after the refused exec"
[ ! -e /tmp/zr-pwned-by-user ] && [ ! -e /tmp/zr-pwned-by-secret ] || fail "exec ran for a non-admin"
[ "$(json "$MNT/@robot/templates/node/manifest" 'j["actions"]["exec"]["admin"]')" = true ] ||
	fail "node's exec is not marked admin"
ok "node's exec is admin-only: a user token and the service's secret get 403, nothing runs"

# An admin-only action on the user's own service is refused too; others run.
json_post "$UA" /v1/u '{"name": "a1"}'
expect_eq "$HS" 201 "user A creates u/a1"
SA1=$(jbody 'j["secret"]')
expect_http 403 "$UA" POST /v1/u/a1/actions/run
expect_http 403 "$SA1" POST /v1/u/a1/actions/run
expect_http 201 "$UA" POST /v1/u/a1/actions/hello
[ ! -e "$MARKS/run.a1" ] || fail "an admin-only action ran for a user"
expect_http 201 "$ADMIN" POST /v1/u/a1/actions/run
wait_for "[ -e '$MARKS/run.a1' ]" 10 || fail "the admin's run did not run"
ok "an admin-only action: 403 for the creator and the secret, 201 for the admin"
expect_http 403 "$UA" PUT /v1/u/a1/upgrade -d 0.9.0
expect_in "$(cat "$MNT/u/a1/lasterror")" "not offered to user tokens" "lasterror of the refused upgrade"
expect_eq "$(cat "$MNT/u/a1/upgrade")" 1.0.0 "u/a1's version after the refused upgrade"
ok "a user token may not move its service to a version not offered to users (403)"

# ---- user A against user B's service ----
json_post "$UB" /v1/u '{"name": "b1", "data": {"note": "b-private-note"}}'
expect_eq "$HS" 201 "user B creates u/b1"
SB1=$(jbody 'j["secret"]')
expect_http 201 "$UB" POST /v1/u/b1/actions/hello
d0=$(cat "$MNT/u/b1/data") t0=$(tasks_of u/b1)
expect_http 403 "$UA" GET /v1/u/b1/data
expect_http 403 "$UA" PUT /v1/u/b1/data "${body[@]}" '{"note": "a-was-here"}'
expect_http 403 "$UA" POST /v1/u/b1/actions/hello
expect_http 403 "$UA" PUT /v1/u/b1/ctl -d force
expect_http 403 "$UA" PUT /v1/u/b1/upgrade -d latest
expect_http 201 "$UB" POST /v1/u/b1/actions/slow "${body[@]}" '{"secs": 30}'
tb=$(jbody 'j["id"]')
t0=$(tasks_of u/b1)
expect_http 403 "$UA" POST "/v1/u/b1/tasks/$tb/cancel"
expect_http 403 "$UA" DELETE /v1/u/b1
expect_in "$(jbody 'j["detail"]')" "may not delete" "the reason of the refused DELETE"
expect_eq "$(cat "$MNT/u/b1/data")" "$d0" "u/b1's data"
expect_eq "$(tasks_of u/b1)" "$t0" "u/b1's tasks"
expect_eq "$(cat "$MNT/u/b1/tasks/$tb/state")" running "B's task after A's cancel"
[ -d "$MNT/u/b1" ] || fail "user A deleted u/b1"
expect_http 204 "$UB" POST "/v1/u/b1/tasks/$tb/cancel"
ok "user A may not read, change, act on, cancel or delete user B's service (403, nothing changed)"

# ---- what a user token may not read ----
expect_http 403 "$UA" GET /v1/@robot/log
expect_http 403 "$UA" GET /v1/node/adm/data
expect_http 200 "$UA" GET /v1/u/a1/data
# No file or listing a user token may read shows another service's secret or data.
$ZR_PY - "$URL" "$UA" "$SB1" "$SNODE" "b-private-note" <<'PY' || fail "a user token read a secret"
import json, sys, urllib.request, urllib.error
url, tok, bad = sys.argv[1], sys.argv[2], sys.argv[3:]
seen, todo = set(), ["/v1/"]
while todo:
    p = todo.pop()
    if p in seen or "/@remote" in p:
        continue
    seen.add(p)
    rq = urllib.request.Request(url + p, headers={"Authorization": "Bearer " + tok})
    if p.endswith(("/result", "/log")) or "/results/" in p or "/actions/" in p:
        rq.full_url = url + p + ("&" if "?" in p else "?") + "wait=0"
    try:
        body = urllib.request.urlopen(rq, timeout=10).read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        body = e.read().decode("utf-8", "replace")
    for b in bad:
        if b in body:
            sys.exit("%s shows %s..." % (p, b[:8]))
    if p.endswith("/"):
        for e in json.loads(body).get("entries", []):
            if e["kind"] == "dir":
                todo.append(p + e["name"] + "/")
            elif e["kind"] == "file":
                todo.append(p + e["name"])
print(len(seen))
PY
ok "a user token: @robot/log and others' data 403, its own data 200; no readable file shows a secret"

# ---- a secret outside its service ----
d0=$(cat "$MNT/u/b1/data")
expect_http 403 "$SA1" GET /v1/u/b1/data
expect_http 403 "$SA1" PUT /v1/u/b1/data "${body[@]}" '{"note": "secret-a-was-here"}'
expect_http 403 "$SA1" POST /v1/u/b1/actions/hello
expect_http 403 "$SA1" DELETE /v1/u/b1
expect_http 403 "$SA1" DELETE /v1/u/a1
expect_http 403 "$SA1" POST /v1/u "${body[@]}" '{"name": "by-secret"}'
for p in /v1/u/a1/../b1/data /v1/u/a1/%2e%2e/b1/data /v1/u/a1/%2E%2E/b1/data \
	/v1/u/a1/.%2e/b1/data /v1/u/a1%2f..%2fb1/data /v1/u/a1/..%2fb1/data \
	/v1/u/a1/%2e%2e%2fb1%2fdata /v1/u/a1/actions/../../b1/data /v1/u/a1/%252e%252e/b1/data \
	/v1/u/a1/./../b1/data; do
	http "$SA1" GET "$p"
	case $HS in 400 | 403 | 404) ;; *) fail "GET $p with A's secret: status $HS" ;; esac
	expect_not_in "$HB" b-private-note "GET $p"
	http "$SA1" PUT "$p" "${body[@]}" '{"note": "traversed"}'
	case $HS in 400 | 403 | 404 | 405) ;; *) fail "PUT $p with A's secret: status $HS" ;; esac
done
expect_eq "$(cat "$MNT/u/b1/data")" "$d0" "u/b1's data after A's secret"
[ -d "$MNT/u/a1" ] && [ ! -e "$MNT/u/by-secret" ] || fail "a secret deleted or created a service"
ok "a secret reaches nothing of another service, also through ../ and %2e%2e/%2f encodings"

# ---- producers: naming one needs the right to act on it ----
before=$(services)
json_post "$UB" /v1/uapp '{"name": "b-app", "data": {"host": "u/a1"}}'
expect_eq "$HS" 403 "user B naming A's service as producer at create"
json_post "$UB" /v1/uapp '{"name": "b-app2", "data": {"host": "@remote/x/u/a1"}}'
expect_eq "$HS" 403 "user B naming a producer on another robot"
expect_eq "$(services)" "$before" "services after refused creates with producers"
ok "a user token may not name another's service (or another robot's) as producer at create (403)"

# ---- quotas (here --max-services-per-token 3, --max-tasks-per-token 3) ----
json_post "$UB" /v1/uapp '{"name": "b-app"}'
expect_eq "$HS" 201 "user B creates uapp/b-app"
d0=$(cat "$MNT/uapp/b-app/data")
expect_http 403 "$UB" PUT /v1/uapp/b-app/data "${body[@]}" '{"host": "u/a1"}'
expect_eq "$(cat "$MNT/uapp/b-app/data")" "$d0" "uapp/b-app's data after naming A's service"
expect_http 204 "$UB" PUT /v1/uapp/b-app/data "${body[@]}" '{"host": "u/b1"}'
d0=$(cat "$MNT/uapp/b-app/data")
expect_http 201 "$UB" POST /v1/uapp/b-app/actions/adopt "${body[@]}" '{"target": "u/a1"}'
ta=$(jbody 'j["id"]')
wait_state "$MNT/uapp/b-app" "$ta" ok 10
expect_eq "$(cat "$MNT/uapp/b-app/data")" "$d0" "uapp/b-app's data after its action named A's service"
ok "a data write naming a producer needs the right to act on it (403; from an action: ignored), its own is fine"

json_post "$UB" /v1/u '{"name": "b3"}'
expect_eq "$HS" 201 "user B's third service"
before=$(services)
json_post "$UB" /v1/u '{"name": "b4"}'
expect_eq "$HS" 429 "user B's fourth service"
expect_eq "$(jbody 'j["error"]')" EDQUOT "error of the fourth service"
expect_in "$(jbody 'j["detail"]')" "max-services-per-token" "the reason in the body"
expect_in "$(cat "$TMP/robot.log")" "max-services-per-token" "the reason in the log"
expect_eq "$(services)" "$before" "services after the refused fourth"
json_post "$ADMIN" /v1/u '{"name": "adm-x"}'
expect_eq "$HS" 201 "the admin is not limited"
json_post "$UA" /v1/u '{"name": "a2"}'
expect_eq "$HS" 201 "user A has its own count"
expect_http 204 "$UB" DELETE /v1/u/b3
json_post "$UB" /v1/u '{"name": "b4"}'
expect_eq "$HS" 201 "a deleted service freed its slot"
ok "services per token: the 4th is 429 EDQUOT (reason in body and log), a deletion frees a slot, admin unlimited"

for i in 1 2 3; do
	expect_http 201 "$UB" POST /v1/u/b4/actions/slow "${body[@]}" '{"secs": 30}'
done
t0=$(tasks_of u/b4)
expect_http 429 "$UB" POST /v1/u/b4/actions/slow "${body[@]}" '{"secs": 30}'
expect_eq "$(jbody 'j["error"]')" EAGAIN "error of the 4th task"
expect_in "$(cat "$MNT/u/b4/lasterror")" "max-tasks-per-token" "lasterror of the 4th task"
expect_http 429 "$SB1" POST /v1/u/b1/actions/hello
expect_eq "$(tasks_of u/b4)" "$t0" "u/b4's tasks after the refusal"
# A local user writing to one of B's services counts against B too (FUSE: EAGAIN).
chmod 755 "$TMP"
command -v setpriv >/dev/null 2>&1 || skip "setpriv is missing"
expect_errno "setpriv --reuid=65534 --regid=0 --clear-groups bash -c 'echo > $MNT/u/b1/actions/hello'" \
	"Resource temporarily unavailable"
# The admin is never refused; its task on B's service counts against B (4 now).
expect_http 201 "$ADMIN" POST /v1/u/b4/actions/hello
read -r first second _ <<<"$(tasks_of u/b4)"
expect_http 204 "$UB" POST "/v1/u/b4/tasks/$first/cancel"
expect_http 429 "$UB" POST /v1/u/b4/actions/hello
expect_http 204 "$UB" POST "/v1/u/b4/tasks/$second/cancel"
# A running task's slot frees when it ends, which a cancel only asks for.
wait_state "$MNT/u/b4" "$second" cancelled 10
expect_http 201 "$UB" POST /v1/u/b4/actions/hello
ok "tasks per token: the 4th queued is 429 EAGAIN with lasterror (FUSE EAGAIN), admin unlimited, ended tasks free slots"

# ---- FUSE: a local uid on action files ----
expect_eq "$(stat -c %a "$MNT/u/a1/actions/hello")" 660 "action mode with --group-actions"
t0=$(tasks_of u/a1)
expect_errno "setpriv --reuid=65534 --regid=65534 --clear-groups bash -c 'echo > $MNT/u/a1/actions/hello'" \
	"Permission denied"
expect_errno "setpriv --reuid=65534 --regid=0 --clear-groups bash -c 'echo > $MNT/u/a1/actions/run'" \
	"Permission denied"
expect_eq "$(tasks_of u/a1)" "$t0" "u/a1's tasks after the local user's refused writes"
run_ok "setpriv --reuid=65534 --regid=0 --clear-groups bash -c 'echo > $MNT/u/a1/actions/hello'" >/dev/null
expect_errno "setpriv --reuid=65534 --regid=0 --clear-groups bash -c 'echo {} > $MNT/u/a1/data'" \
	"Permission denied"
ok "--group-actions: the group writes action files (0660), others get EACCES, admin-only actions EACCES"
zr_stop

# ---- the creator survives a restart; without --group-actions action files are 0600 ----
zr_start_http --token-file "$TMP/tokens" --max-services-per-token 3 --allow-other
expect_eq "$(jsonstr "$(cat "$MNT/u/a1/info")" 'j["creator"]')" "$(id_of "$UA")" "creator of u/a1 after a restart"
expect_eq "$(jsonstr "$(cat "$MNT/node/adm/info")" 'j["creator"]')" admin "creator of node/adm"
expect_http 403 "$UB" POST /v1/u/a1/actions/hello
expect_http 201 "$UA" POST /v1/u/a1/actions/hello
expect_http 200 "$UA" GET /v1/u/a1/data
json_post "$UB" /v1/u '{"name": "b5"}'
expect_eq "$HS" 429 "user B's 4th service after a restart (the count is restored)"
expect_eq "$(stat -c %a "$MNT/u/a1/actions/hello")" 600 "action mode without --group-actions"
t0=$(tasks_of u/a1)
expect_errno "setpriv --reuid=65534 --regid=0 --clear-groups bash -c 'echo > $MNT/u/a1/actions/hello'" \
	"Permission denied"
expect_eq "$(tasks_of u/a1)" "$t0" "u/a1's tasks after a local user's write"
ok "after a restart: creators, ownership and counts hold; action files 0600 refuse a local uid (EACCES)"
zr_stop

# ---- the default limits are README's: 100 services, 1000 tasks at once per token ----
rm -rf "$DATA" && mkdir -p "$DATA"
zr_start_http --token-file "$TMP/tokens"
expect_in "$("$ZROBOT" --help 2>&1)" "(default 100)" "--help names the default"
expect_in "$(cat "$ZR_SRC/README.md")" '`--max-services-per-token N` | 100' "README's default"
$ZR_PY - "$URL" "$UA" <<'PY' || fail "the default limits"
import http.client, json, sys, urllib.parse
url, tok = urllib.parse.urlsplit(sys.argv[1]), sys.argv[2]
c = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
def req(m, p, body=None):
    c.request(m, p, body=json.dumps(body) if body is not None else None,
              headers={"Authorization": "Bearer " + tok, "Content-Type": "application/json"})
    r = c.getresponse()
    return r.status, r.read()
for i in range(100):
    s, b = req("POST", "/v1/u", {"name": "s%03d" % i})
    assert s == 201, (i, s, b)
s, b = req("POST", "/v1/u", {"name": "s100"})
assert s == 429 and b"max-services-per-token" in b, (s, b)
# 1000 tasks queued or running at once over two services; the 1001st is refused.
for i in range(1000):
    s, b = req("POST", "/v1/u/s%03d/actions/slow" % (i % 2), {"secs": 60})
    assert s == 201, (i, s, b)
s, b = req("POST", "/v1/u/s002/actions/slow", {"secs": 60})
assert s == 429 and b"max-tasks-per-token" in b, (s, b)
PY
ok "defaults: the 101st service and the 1001st task at once of one token are 429"
zr_stop
