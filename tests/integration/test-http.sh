#!/bin/bash
# The HTTP API: every endpoint and its statuses, the FS and HTTP views agree (tasks queued
# through one are seen and finished through the other), long polls (?wait) on results and
# journals, Server-Sent Events in order and resumed with Last-Event-ID, metrics in both views.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-http.sh"

mk_t
mk_template "$TPL" app '{"name": "app", "version": "1.0.0", "consumes": {"host": {"template": "t"}},
  "actions": {"noop": {}}}'
mk_action "$TPL/app" noop 'true'
zr_start_http --queue-max 3

# ---- the root and @robot ----
expect_http 200 "$ADMIN" GET /v1/
expect_eq "$(hdr Content-Type)" application/json "listing content type"
# The test's templates app and t, and every built-in one (node, the server templates).
want=$("$ZR_PY" -c 'import json, os, sys
print(json.dumps(sorted(["@remote", "@robot", "app", "t"] + os.listdir(sys.argv[1]))))' "$ZR_SRC/templates")
expect_eq "$(jbody '[e["name"] for e in j["entries"]]')" "$want" "root listing"
expect_eq "$(jbody '[(e["kind"], e["mode"]) for e in j["entries"] if e["name"] == "t"]')" '[["dir", "0755"]]' "t entry"
expect_http 200 "$ADMIN" GET /v1
expect_http 200 "$ADMIN" GET /v1/@robot/info
expect_eq "$(jbody 'j["listen"]')" "$URL" "@robot/info listen"
expect_eq "$(jsonstr "$(rcat "$MNT/@robot/info")" 'j["listen"]')" "$URL" "@robot/info listen on the mount"
expect_http 200 "$ADMIN" GET /v1/@robot/
expect_in "$HB" '"metrics"' "@robot listing"
expect_http 404 "$ADMIN" GET /v1/nope
expect_eq "$(jbody 'sorted(j)')" '["detail", "errno", "error"]' "error body keys"
expect_eq "$(jbody 'j["error"]')" ENOENT "404 error name"
expect_http 404 "$ADMIN" GET /nope
# / is the web dashboard (issue 15): its page, without a token (test-dashboard.sh tests it).
expect_http 200 - GET /
expect_eq "$(hdr Content-Type)" "text/html; charset=utf-8" "the dashboard at /"
expect_http 405 "$ADMIN" PATCH /v1/
expect_eq "$(hdr Allow)" "GET, HEAD" "Allow of the root"
expect_http 405 "$ADMIN" POST /v1/@robot/info -d x
ok "root, @robot, 404 and 405 with JSON errors"

# ---- services: POST to a template, mkdir on the mount, DELETE ----
json_post "$ADMIN" /v1/t '{"name": "a", "data": {"greeting": "hi"}}'
expect_eq "$HS" 201 "POST /v1/t"
expect_eq "$(hdr Location)" /v1/t/a "Location of a new service"
expect_match "$(jbody 'j["secret"]')" '^[0-9a-f]{64}$' "secret"
expect_eq "$(jbody '[j["template"], j["name"], j["path"]]')" '["t", "a", "t/a"]' "new service JSON"
[ -d "$MNT/t/a" ] || fail "t/a created over HTTP is not on the mount"
expect_eq "$(jsonstr "$(rcat "$MNT/t/a/data")" 'j["greeting"]')" hi "data given at creation"
json_post "$ADMIN" /v1/t '{"name": "a"}'
expect_eq "$HS" 409 "POST of an existing name"
expect_eq "$(jbody 'j["error"]')" EEXIST "409 error"
json_post "$ADMIN" /v1/t '{"name": "Bad Name"}'
expect_eq "$HS" 400 "POST of an invalid name"
expect_in "$HB" "invalid service name" "invalid name detail"
json_post "$ADMIN" /v1/t '{"name": "x", "data": {"count": -1}}'
expect_eq "$HS" 400 "POST with invalid data"
expect_in "$HB" count "invalid data detail"
[ ! -e "$MNT/t/x" ] || fail "a refused service exists"
json_post "$ADMIN" /v1/nope '{"name": "x"}'
expect_eq "$HS" 404 "POST to a missing template"
json_post "$ADMIN" /v1/t '{"nam": "x"}'
expect_eq "$HS" 400 "POST with an unknown key"
ok "POST to a template: 201 + Location + secret, 409, 400 (name, data, keys), 404"

svc t b >/dev/null
expect_http 200 "$ADMIN" GET /v1/t
expect_eq "$(jbody '[e["name"] for e in j["entries"]]')" '["a", "b"]' "services listed over HTTP"
expect_http 204 "$ADMIN" DELETE /v1/t/b
[ ! -e "$MNT/t/b" ] || fail "t/b deleted over HTTP is still on the mount"
expect_http 404 "$ADMIN" DELETE /v1/t/b
expect_http 405 "$ADMIN" DELETE /v1/t/a/state
expect_http 405 "$ADMIN" DELETE /v1/t
expect_http 405 "$ADMIN" DELETE /v1/@robot
expect_eq "$(hdr Allow)" "GET, HEAD" "Allow of @robot"
expect_http 405 "$ADMIN" DELETE /v1/t/a/actions
ok "mkdir shows over HTTP, DELETE of a service (204, 404), DELETE elsewhere 405"

# ---- symbolic links: producers/<role> and consumers/<t>.<s> answer with a redirect ----
json_post "$ADMIN" /v1/app '{"name": "c", "data": {"host": "t/a"}}'
expect_eq "$HS" 201 "a consumer of t/a"
SC=$(jbody 'j["secret"]')
expect_http 200 "$ADMIN" GET /v1/app/c/producers
expect_eq "$(jbody '[(e["name"], e["kind"], e["target"]) for e in j["entries"]]')" \
	'[["host", "symlink", "../../../t/a"]]' "producers listing"
expect_http 307 "$ADMIN" GET /v1/app/c/producers/host
expect_eq "$(hdr Location)" /v1/t/a "Location of producers/host"
expect_http 307 "$ADMIN" GET /v1/t/a/consumers/app.c/info
expect_eq "$(hdr Location)" /v1/app/c/info "Location through consumers/app.c"
expect_http 200 "$ADMIN" GET /v1/app/c/producers/host/state -L
expect_eq "$HB" "$(rcat "$MNT/t/a/state")" "state through a followed link"
expect_http 307 "$SC" GET /v1/app/c/producers/host/state
expect_http 403 "$SC" GET /v1/app/c/producers/host/state -L
expect_http 409 "$ADMIN" DELETE /v1/t/a
expect_eq "$(jbody 'j["error"]')" EBUSY "DELETE of a producer with consumers"
expect_http 204 "$ADMIN" DELETE /v1/app/c
ok "links: listed with their target, answered 307 (followed: 200; a secret is checked on the target: 403)"

# ---- service files ----
S=$MNT/t/a
expect_http 200 "$ADMIN" GET /v1/t/a
expect_eq "$(jbody '[(e["name"], e["kind"], e["mode"]) for e in j["entries"] if e["name"] in ("data", "actions")]')" \
	'[["actions", "dir", "0555"], ["data", "file", "0600"]]' "service listing"
expect_http 200 "$ADMIN" GET /v1/t/a/info
expect_eq "$(jbody 'j["template"]')" t "info over HTTP"
expect_http 200 "$ADMIN" HEAD /v1/t/a/state
expect_http 200 "$ADMIN" GET /v1/t/a/actions
expect_eq "$(jbody '[e["name"] for e in j["entries"]]')" \
	'["cleanup", "dump", "echo", "fail", "noisy", "slow", "stdin"]' "actions listing"
ok "service listing (kinds, modes), info, HEAD"

# ---- tasks: HTTP and the mount agree ----
json_post "$ADMIN" /v1/t/a/actions/echo '{"n": 3, "msg": "hi"}'
expect_eq "$HS" 201 "POST to an action"
id=$(jbody 'j["id"]')
expect_eq "$(hdr Location)" "/v1/t/a/tasks/$id" "Location of a task"
expect_eq "$(jbody '[j["action"], j["service"], j["args"]]')" '["echo", "t/a", {"msg": "hi", "n": 3}]' "task JSON"
expect_http 200 "$ADMIN" GET "/v1/t/a/tasks/$id/result?wait=10"
expect_eq "$HB" "n=3 msg=hi" "result over HTTP"
expect_eq "$(hdr Zr-Task-State)" ok "Zr-Task-State"
expect_eq "$(hdr Zr-Task)" "$id" "Zr-Task"
expect_eq "$(rcat "$S/tasks/$id/result")" "n=3 msg=hi" "result of an HTTP task on the mount"
expect_eq "$(rcat "$S/tasks/$id/state")" ok "state of an HTTP task on the mount"
ok "a task queued over HTTP is finished and read through both views"

id2=$(submit "$S" echo 'n=7')
expect_http 200 "$ADMIN" GET "/v1/t/a/tasks/$id2/result?wait=10"
expect_eq "$HB" "n=7 msg=" "result over HTTP of a task queued on the mount"
expect_http 200 "$ADMIN" GET "/v1/t/a/tasks/$id2/args"
expect_eq "$(jbody 'j["n"]')" 7 "args over HTTP"
expect_http 200 "$ADMIN" GET "/v1/t/a/results/echo?wait=10"
expect_eq "$HB" "n=7 msg=" "results/echo over HTTP"
ok "a task queued on the mount is read over HTTP"

http "$ADMIN" POST /v1/t/a/actions/echo -H 'Content-Type: text/plain' --data-binary $'n=5\nmsg=kv'
expect_eq "$HS" 201 "key=value lines"
expect_http 200 "$ADMIN" GET "/v1/t/a/tasks/$(jbody 'j["id"]')/result?wait=10"
expect_eq "$HB" "n=5 msg=kv" "result of key=value lines"
expect_http 201 "$ADMIN" POST /v1/t/a/actions/echo
expect_http 201 "$ADMIN" POST /v1/t/a/actions/echo -H 'Content-Type: text/plain' --data-binary echo
json_post "$ADMIN" /v1/t/a/actions/echo '{"n": -1}'
expect_eq "$HS" 400 "bad arguments"
expect_in "$(jbody 'j["detail"]')" "'n'" "bad arguments detail"
expect_in "$(rcat "$S/lasterror")" "EINVAL" "lasterror after a refused HTTP write"
json_post "$ADMIN" /v1/t/a/actions/echo '{"n": 1'
expect_eq "$HS" 400 "malformed JSON to an action"
http "$ADMIN" POST /v1/t/a/actions/echo -d 'n=1'
expect_eq "$HS" 415 "form-encoded body to an action"
expect_http 405 "$ADMIN" POST /v1/t/a/state -d x
expect_in "$(hdr Allow)" GET "Allow of a read-only file"
expect_http 404 "$ADMIN" POST /v1/t/a/actions/nope
ok "payloads: JSON, key=value lines, empty, the action's name; 400, 415, 405, 404"

# A failed task: 200 with its error text and Zr-Task-State error.
json_post "$ADMIN" /v1/t/a/actions/fail '{}'
fid=$(jbody 'j["id"]')
expect_http 200 "$ADMIN" GET "/v1/t/a/tasks/$fid/result?wait=10"
expect_in "$HB" "exit status 3" "error text of a failed task"
expect_eq "$(hdr Zr-Task-State)" error "Zr-Task-State of a failed task"
expect_http 200 "$ADMIN" GET "/v1/t/a/tasks/$fid/error"
expect_in "$HB" "boom" "tasks/<id>/error"
ok "a failed task's result: 200, error text, Zr-Task-State: error"

# ---- long polls ----
tq=$(now) # before the POST: the task cannot end sooner than 1.5 s after this
json_post "$ADMIN" /v1/t/a/actions/slow '{"secs": 1.5, "n": 9}'
sid=$(jbody 'j["id"]')
t0=$(now)
expect_http 204 "$ADMIN" GET "/v1/t/a/tasks/$sid/result"
expect_match "$(hdr Zr-Task-State)" '^(queued|running)$' "state of a task still running"
expect_http 204 "$ADMIN" GET "/v1/t/a/tasks/$sid/result?wait=0.3"
expect_http 204 "$ADMIN" HEAD "/v1/t/a/tasks/$sid/result?wait=5"
dt=$(since "$t0")
fgt 1.2 "$dt" || fail "204 answers took $dt s"
expect_http 200 "$ADMIN" GET "/v1/t/a/results/slow?wait=10"
dt=$(since "$tq")
expect_eq "$HB" "slept 9" "long poll of results/slow"
fge "$dt" 1.5 || fail "the long poll answered $dt s after the POST, before the task could end"
fgt 5 "$dt" || fail "the long poll took $dt s for a 1.5 s task"
expect_http 400 "$ADMIN" GET "/v1/t/a/results/slow?wait=soon"
ok "?wait: 204 without it or at expiry, 200 when the task ends ($dt s), 400 for a bad value"

# FS reader and HTTP long poll on the same task, finished through the mount's cancel file.
json_post "$ADMIN" /v1/t/a/actions/slow '{"secs": 30}'
cid=$(jbody 'j["id"]')
(timeout 20 cat "$S/tasks/$cid/result" >"$TMP/fs-result" 2>&1; echo "rc=$?" >>"$TMP/fs-result") &
curl -sS -m 20 -o "$TMP/lp.body" -D "$TMP/lp.headers" -H "Authorization: Bearer $ADMIN" \
	"$URL/v1/t/a/tasks/$cid/result?wait=20" &
lp=$!
sleep 0.5
run_ok "echo x > '$S/tasks/$cid/cancel'" >/dev/null
wait "$lp" || fail "the long poll failed"
expect_in "$(cat "$TMP/lp.body")" cancelled "long poll of a task cancelled on the mount"
expect_in "$(cat "$TMP/lp.headers")" "Zr-Task-State: cancelled" "Zr-Task-State of a cancelled task"
wait_for "grep -q rc= '$TMP/fs-result'" 10 || fail "the FS reader did not end"
expect_in "$(cat "$TMP/fs-result")" "rc=1" "FS reader of a cancelled task"
ok "an HTTP long poll and a FS reader of one task, cancelled on the mount"

# Queue bound (--queue-max 3) → 429; cancel over HTTP.
json_post "$ADMIN" /v1/t/a/actions/slow '{"secs": 30}'
ids=("$(jbody 'j["id"]')")
for i in 1 2 3; do
	json_post "$ADMIN" /v1/t/a/actions/slow '{"secs": 30}'
	expect_eq "$HS" 201 "queued task $i"
	ids+=("$(jbody 'j["id"]')")
done
json_post "$ADMIN" /v1/t/a/actions/slow '{"secs": 30}'
expect_eq "$HS" 429 "a full queue"
expect_eq "$(jbody 'j["error"]')" EAGAIN "429 error"
expect_http 200 "$ADMIN" GET /v1/t/a/tasks/queue
expect_eq "$(printf '%s' "$HB" | tr '\n' ' ')" "${ids[1]} ${ids[2]} ${ids[3]}" "tasks/queue over HTTP"
expect_http 403 "$ADMIN" GET "/v1/t/a/tasks/${ids[0]}/cancel"
for i in 3 2 1 0; do
	expect_http 204 "$ADMIN" POST "/v1/t/a/tasks/${ids[$i]}/cancel"
done
wait_state "$S" "${ids[0]}" cancelled 10
expect_http 400 "$ADMIN" POST "/v1/t/a/tasks/${ids[0]}/cancel"
ok "a full queue is 429; cancel files over HTTP (204, 400 once ended, 403 to read)"

# ---- data ----
http "$ADMIN" PUT /v1/t/a/data -H 'Content-Type: application/json' --data-binary '{"greeting": "yo", "count": 2}'
expect_eq "$HS" 204 "PUT data"
expect_eq "$(jsonstr "$(rcat "$S/data")" '[j["greeting"], j["count"]]')" '["yo", 2]' "data on the mount after PUT"
http "$ADMIN" PUT /v1/t/a/data -H 'Content-Type: application/json' --data-binary '{"count": -5}'
expect_eq "$HS" 400 "PUT of invalid data"
expect_in "$(jbody 'j["detail"]')" count "invalid data detail"
http "$ADMIN" PUT /v1/t/a/data -H 'Content-Type: application/json' --data-binary '[1]'
expect_eq "$HS" 400 "PUT of a JSON array"
http "$ADMIN" PUT /v1/t/a/data -H 'Content-Type: application/json' --data-binary '{"count": '
expect_eq "$HS" 400 "PUT of malformed JSON"
http "$ADMIN" PUT /v1/t/a/data -H 'Content-Type: text/plain' --data-binary '{"count": 1}'
expect_eq "$HS" 415 "PUT data as text/plain"
run_ok "printf '{\"greeting\": \"fs\"}' > '$S/data'" >/dev/null
expect_http 200 "$ADMIN" GET /v1/t/a/data
expect_eq "$(jbody '[j["greeting"], j["count"]]')" '["fs", 1]' "data written on the mount, read over HTTP"
expect_http 405 "$ADMIN" PUT /v1/t/a/state -d x
ok "data: PUT 204, 400 (invalid, array, malformed), 415; both views agree"

# ---- state, log, events ----
expect_http 200 "$ADMIN" GET /v1/t/a/state
expect_eq "$HB" "$(rcat "$S/state")" "state over HTTP and on the mount"
expect_in "$HB" "actions echo ok" "state content"
expect_eq "$(hdr Content-Type)" "text/plain; charset=utf-8" "state content type"
expect_http 200 "$ADMIN" GET /v1/t/a/log
expect_in "$HB" "boom: failed on purpose" "service log over HTTP"
expect_http 200 "$ADMIN" GET "/v1/t/a/tasks/$fid/log"
expect_in "$HB" "first stderr line" "task log over HTTP"

expect_http 200 "$ADMIN" GET /v1/@robot/events
expect_eq "$(hdr Content-Type)" application/x-ndjson "events content type"
n=$(hdr Zr-Lines)
expect_eq "$n" "$(printf '%s\n' "$HB" | wc -l)" "Zr-Lines of the whole window"
expect_eq "$(printf '%s\n' "$HB" | head -n 1 | jsonstr "$(cat)" 'j["seq"]')" 1 "first event"
t0=$(now)
expect_http 204 "$ADMIN" GET "/v1/@robot/events?wait=0.5"
fge "$(since "$t0")" 0.4 || fail "events?wait=0.5 answered after $(since "$t0") s"
expect_http 200 "$ADMIN" GET "/v1/@robot/events?after=$((n - 2))"
expect_eq "$(printf '%s\n' "$HB" | wc -l)" 2 "events after N"
(sleep 0.5; submit "$S" echo 'n=1' >/dev/null) &
bg=$!
t0=$(now)
expect_http 200 "$ADMIN" GET "/v1/@robot/events?after=$n&wait=10"
fge "$(since "$t0")" 0.3 || fail "the events long poll answered before the event"
expect_eq "$(printf '%s\n' "$HB" | head -n 1 | jsonstr "$(cat)" '[j["seq"], j["event"]]')" \
	"[$((n + 1)), \"task.queued\"]" "the next event"
wait "$bg"
expect_http 200 "$ADMIN" GET "/v1/t/a/events"
expect_in "$HB" '"service.created"' "service events over HTTP"
expect_http 400 "$ADMIN" GET "/v1/@robot/events?after=x"
ok "journals: the window with Zr-Lines, ?after, ?wait (204, then the next event)"

# ---- Server-Sent Events ----
expect_http 200 "$ADMIN" GET /v1/@robot/events
n=$(hdr Zr-Lines)
httptool sse "$URL/v1/@robot/events?after=$n" "$ADMIN" 30 30 >"$TMP/sse.out" &
sse=$!
sleep 0.5
for i in $(seq 5); do
	json_post "$ADMIN" /v1/t/a/actions/echo "{\"n\": $i}"
	submit "$S" echo "n=$((i + 10))" >/dev/null
done
wait "$sse" || fail "the event stream ended early: $(cat "$TMP/sse.out")"
"$ZR_PY" - "$TMP/sse.out" "$n" <<'EOF' || fail "event stream out of order: $(cat "$TMP/sse.out")"
import json, sys
lines = [l.rstrip("\n").split("\t", 2) for l in open(sys.argv[1])]
first = int(sys.argv[2]) + 1
queued, finished = [], []
for k, (eid, ev, data) in enumerate(lines):
    j = json.loads(data)
    assert ev == "message", ev
    assert int(eid) == first + k, (eid, first + k)
    assert j["seq"] == int(eid), (j["seq"], eid)
    if j["event"] == "task.queued":
        queued.append(j["task"])
    if j["event"] == "task.finished":
        assert j["task"] in queued, j
        finished.append(j["task"])
assert len(queued) >= 10, queued
assert queued == sorted(queued), queued
EOF
mid=$(sed -n 20p "$TMP/sse.out" | cut -f1)
httptool sse "$URL/v1/@robot/events" "$ADMIN" 3 10 "$mid" >"$TMP/sse2.out" || fail "resumed stream failed"
expect_eq "$(head -n 1 "$TMP/sse2.out" | cut -f1)" "$((mid + 1))" "first event after Last-Event-ID"
expect_eq "$(head -n 1 "$TMP/sse2.out")" "$(sed -n 21p "$TMP/sse.out")" "resumed event"
httptool sse "$URL/v1/t/a/events" "$ADMIN" 1 10 >/dev/null || fail "stream of a service's events"
ok "SSE: 30 events in order (id = seq, queued before finished), Last-Event-ID resumes"

# ---- metrics ----
expect_http 200 "$ADMIN" GET /metrics
expect_eq "$(hdr Content-Type)" "text/plain; version=0.0.4; charset=utf-8" "metrics content type"
for m in 'zrobot_tasks{state="ok"}' 'zrobot_tasks_ended_total{state="cancelled"}' 'zrobot_queue_length{service="t/a"}' \
	'zrobot_action_duration_seconds_count{template="t",action="echo"}' 'zrobot_fuse_requests_total' \
	'zrobot_http_requests_total{code="201"}' 'zrobot_parked_reads' 'process_resident_memory_bytes' \
	'zrobot_http_connections' 'zrobot_http_waiting'; do
	expect_in "$HB" "$m " "metric $m"
done
v=$(printf '%s\n' "$HB" | grep -F 'zrobot_action_duration_seconds_count{template="t",action="echo"} ' | awk '{print $2}')
[ "$v" -ge 15 ] || fail "echo durations counted $v times"
v=$(printf '%s\n' "$HB" | grep '^zrobot_fuse_requests_total ' | awk '{print $2}')
[ "$v" -gt 10 ] || fail "FUSE requests counted: $v"
fs_metrics=$(rcat "$MNT/@robot/metrics")
expect_in "$fs_metrics" 'zrobot_http_requests_total{code="201"}' "HTTP counts in @robot/metrics"
expect_in "$fs_metrics" '# TYPE zrobot_action_duration_seconds histogram' "histogram in @robot/metrics"
expect_http 200 "$ADMIN" GET /v1/@robot/metrics
expect_eq "$(hdr Content-Type)" "text/plain; version=0.0.4; charset=utf-8" "@robot/metrics content type"
expect_http 405 "$ADMIN" POST /metrics -d x
# Prometheus' naming conventions, family by family: our prefix (or the standard process_ ones),
# _total on counters and only there, base units, and every sample under a declared family.
bad=$(printf '%s\n' "$fs_metrics" | awk '
	/^# TYPE / { name = $3; type = $4; fam[name] = type
		if (name !~ /^(zrobot|process)_[a-z0-9_]+$/) print "prefix: " name
		if (type == "counter" && name !~ /_total$/) print "counter without _total: " name
		if (type != "counter" && name ~ /_total$/) print type " with _total: " name
		if (name ~ /_(ms|milliseconds|us|kb|mb|kib|mib|percent|minutes|hours)(_|$)/) print "unit: " name
		next }
	/^#/ || NF == 0 { next }
	{ s = $1; sub(/\{.*/, "", s); b = s; sub(/_(bucket|sum|count)$/, "", b)
	  if (!(s in fam) && !(b in fam && fam[b] == "histogram")) print "undeclared: " s }')
[ -z "$bad" ] || fail "metric names: $bad"
ok "metrics: GET /metrics and @robot/metrics; every family named the Prometheus way"

# Stopping with requests waiting: each gets an answer (or its connection closes) at once.
json_post "$ADMIN" /v1/t/a/actions/slow '{"secs": 30}'
sid=$(jbody 'j["id"]')
curl -sS -m 20 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ADMIN" \
	"$URL/v1/t/a/tasks/$sid/result?wait=60" >"$TMP/stop1" 2>/dev/null &
w1=$!
curl -sS -m 20 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ADMIN" \
	"$URL/v1/@robot/events?wait=60&after=end" >"$TMP/stop2" 2>/dev/null &
w2=$!
httptool sse "$URL/v1/@robot/events?after=end" "$ADMIN" 1000 20 >/dev/null 2>&1 &
w3=$!
wait_for "[ \"\$(metric zrobot_http_waiting)\" = 3 ]" 5 || fail "requests not waiting: $(metric zrobot_http_waiting)"
t0=$(now)
zr_stop
wait "$w1" "$w2" "$w3" 2>/dev/null
fgt 8 "$(since "$t0")" || fail "waiting clients were answered $(since "$t0") s after SIGTERM"
expect_match "$(cat "$TMP/stop1") $(cat "$TMP/stop2")" '^(200|503|000) (200|503|000)$' "answers at shutdown"
ok "SIGTERM with a long poll, an events wait and an event stream: answered ($(cat "$TMP/stop1"), $(cat "$TMP/stop2")), exit 0"
