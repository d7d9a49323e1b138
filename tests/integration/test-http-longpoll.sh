#!/bin/bash
# 1,000 concurrent HTTP long polls, one per task, each answered with its own task's result when
# that task ends, and none before: the server holds them as suspended connections on its one
# loop (no thread per request), and other clients are served meanwhile.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-http.sh"

N_SVC=${N_SVC:-40}
N_PER=${N_PER:-25}
N=$((N_SVC * N_PER))

# Every task waits for the gate, then prints its own id.
mk_template "$TPL" g '{"name": "g", "version": "1.0.0", "actions": {"gate": {}}}'
mk_action "$TPL/g" gate 'while [ ! -e "$MARKS/open" ]; do sleep 0.5; done
echo "task $ZR_TASK"'
zr_start_http --jobs 64 --http-max-connections 4096 --http-max-conns-per-ip 4096 --history 200

# Services and tasks, queued over HTTP by a few clients at once.
for s in $(seq "$N_SVC"); do
	json_post "$ADMIN" /v1/g "{\"name\": \"s$s\"}"
	expect_eq "$HS" 201 "service s$s"
done
seq "$N_SVC" | xargs -P 8 -I{} sh -c '
	for i in $(seq '"$N_PER"'); do
		curl -sS -m 30 -o /dev/null -w "%{http_code}\n" -X POST -H "Authorization: Bearer '"$ADMIN"'" \
			"'"$URL"'/v1/g/s{}/actions/gate"
	done' >"$TMP/posts"
expect_eq "$(grep -c '^201$' "$TMP/posts")" "$N" "tasks queued over HTTP"
: >"$TMP/paths"
for s in $(seq "$N_SVC"); do
	task_ids "$MNT/g/s$s" | sed "s|^|/v1/g/s$s/tasks/|; s|\$|/result?wait=300|" >>"$TMP/paths"
done
expect_eq "$(wc -l <"$TMP/paths")" "$N" "tasks on the mount"
ok "$N tasks queued over HTTP in $N_SVC services"

HTTPTOOL_TIMEOUT=200 httptool longpoll "$URL" "$ADMIN" "$TMP/paths" 180 >"$TMP/answers" &
lp=$!
wait_for "[ \"\$(metric zrobot_http_waiting)\" -ge $N ]" 60 ||
	fail "only $(metric zrobot_http_waiting) long polls waiting"
expect_eq "$(metric zrobot_parked_reads)" "$N" "parked reads"
threads=$(awk '/^Threads:/ {print $2}' "/proc/$ZR_PID/status")
sleep 1
expect_eq "$(wc -l <"$TMP/answers")" 0 "answers before the gate opened"
t0=$(now)
expect_http 200 "$ADMIN" GET /v1/g/s1/state
fgt 1 "$(since "$t0")" || fail "a request took $(since "$t0") s with $N long polls waiting"
ok "$N long polls waiting ($threads threads in the robot), none answered, others served"

gate=$(now)
touch "$MARKS/open"
wait "$lp" || fail "not every long poll was answered: $(wc -l <"$TMP/answers") of $N"
dt=$(since "$gate")
"$ZR_PY" - "$TMP/answers" "$gate" "$N" <<'EOF' || fail "wrong answers"
import sys
answers, gate, n = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
seen = set()
for line in open(answers):
    t, status, path, body = line.rstrip("\n").split("\t", 3)
    tid = path.split("/")[5]
    assert float(t) >= gate, f"{path} answered before the gate opened"
    assert status == "200", f"{path}: status {status}: {body}"
    assert body == f"task {tid}\\n", f"{path}: {body!r}"
    seen.add(path)
assert len(seen) == n, f"{len(seen)} distinct answers of {n}"
EOF
ok "all $N long polls answered with their own task's result, $dt s after the gate opened"
expect_eq "$(metric zrobot_parked_reads)" 0 "parked reads at the end"
expect_eq "$(metric zrobot_http_waiting)" 0 "waiting requests at the end"
zr_stop
