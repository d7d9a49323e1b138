#!/bin/bash
# Crash test (DESIGN §5): nothing acknowledged is lost. For CYCLES cycles (default 20): start
# the robot, run 4 writers (mkdir of new services, whole-object data writes, enqueues of a
# quick and a slow action), kill -9 the robot at a random moment 0.2–1.5 s later, restart it
# (every third cycle with --no-auto-unmount, so the restart meets a stale mount) and check with
# crash_check.py that every mkdir, data write and enqueue whose syscall had returned success
# is there, that data is one whole object that was written, and that no task or service
# appears that was never asked for; services of earlier cycles must keep their data and tasks
# (a sample after each cycle, all after the last). At the end the restored queues must drain.
#
# Prints "acknowledged N, lost 0" (N summed over the cycles); fails when anything was lost.
# ZR_SEED=N replays a run's random kill moments; CYCLES=N changes the count.
. "$(dirname "$0")/lib.sh"

CYCLES=${CYCLES:-20}
WRITERS=4
SEED=${ZR_SEED:-$((RANDOM * 32768 + RANDOM))}
RANDOM=$SEED
echo "seed $SEED (ZR_SEED=$SEED replays the kill moments)"
CHECK="$ZR_SRC/tests/integration/crash_check.py"
ACKS=$TMP/acks
STOP=$TMP/stop
STATEFILE=$TMP/check-state.json
mkdir -p "$ACKS"

mk_template "$TPL" c '{
  "name": "c", "version": "1.0.0", "description": "crash test",
  "data": {
    "seq": {"type": "integer", "default": 0, "minimum": 0},
    "w": {"type": "string", "default": ""},
    "pad": {"type": "string", "default": ""}
  },
  "actions": {
    "quick": {"args": {"n": {"type": "integer"}}, "required": ["n"]},
    "slow": {"args": {"n": {"type": "integer"}}, "required": ["n"]}
  }
}'
mk_action "$TPL/c" quick 'echo "quick $ARG_N"'
mk_action "$TPL/c" slow 'sleep 0.2; echo "slow $ARG_N"'

# writer K CYCLE: until $STOP exists, creates a service every 4th round and, on the newest
# service it created, writes data and enqueues a task (every 5th a slow one). Each operation
# is logged "a ..." before its syscall and "A ..." only after the syscall returned success.
# Error messages go to /dev/null first so that a failed open is silent too.
writer() {
	local k=$1 c=$2 log=$ACKS/w$1.c$2 i=0 svc='' new n action pad
	while [ ! -e "$STOP" ]; do
		i=$((i + 1))
		if [ $((i % 4)) -eq 1 ]; then
			new=c${c}w${k}s$i
			echo "a M $new" >>"$log"
			if mkdir "$MNT/c/$new" 2>/dev/null; then
				echo "A M $new" >>"$log"
				svc=$new
			fi
		fi
		[ -n "$svc" ] || continue
		printf -v pad "$svc.$i.%.0s" {1..48}
		echo "a D $svc $i" >>"$log"
		if echo "{\"seq\":$i,\"w\":\"$svc\",\"pad\":\"$pad\"}" 2>/dev/null >"$MNT/c/$svc/data"; then
			echo "A D $svc $i" >>"$log"
		fi
		n=$(((c * 10 + k) * 100000 + i))
		action=quick
		[ $((i % 5)) -ne 0 ] || action=slow
		echo "a Q $svc $n $action" >>"$log"
		if echo "{\"n\":$n}" 2>/dev/null >"$MNT/c/$svc/actions/$action"; then
			echo "A Q $svc $n $action" >>"$log"
		fi
	done
}

total_ack=0 total_lost=0 total_bad=0
t_start=$(now)
zr_start --history 100000
for cycle in $(seq 1 "$CYCLES"); do
	rm -f "$STOP"
	pids=()
	for k in $(seq 1 $WRITERS); do
		writer "$k" "$cycle" &
		pids+=($!)
	done
	# A random moment in [0.2, 1.5] s.
	delay=$(awk -v r=$((RANDOM % 1301)) 'BEGIN { printf "%.3f", 0.2 + r / 1000 }')
	sleep "$delay"
	kill -KILL "$ZR_PID"
	zr_reap "$ZR_PID" 10 || fail "cycle $cycle: kill -9 did not end the robot"
	touch "$STOP"
	for p in "${pids[@]}"; do
		# Every syscall on a dead mount fails at once: the writers see $STOP within a round.
		for _ in $(seq 100); do
			pid_alive "$p" || break
			sleep 0.05
		done
		if pid_alive "$p"; then
			kill -KILL "$p" 2>/dev/null
			fail "cycle $cycle: writer $p did not stop within 5 s of the kill"
		fi
		wait "$p" 2>/dev/null
	done
	# Actions the dead robot ran are orphans now.
	zr_kill_actions
	# Every third robot runs without auto_unmount: its kill leaves a stale mount for the next.
	extra=()
	[ $((cycle % 3)) -ne 0 ] || extra=(--no-auto-unmount)
	zr_start --history 100000 "${extra[@]}"
	# Earlier cycles' services: a sample of 100 after each cycle, all of them after the last.
	sample=100
	[ "$cycle" -ne "$CYCLES" ] || sample=0
	out=$(timeout 120 "$ZR_PY" "$CHECK" "$MNT" "$ACKS" "$cycle" "$STATEFILE" $sample) ||
		{ printf '%s\n' "$out"; fail "cycle $cycle (killed after $delay s): acknowledged operations lost or half-done"; }
	printf '%s\n' "$out" | grep -v '^TOTALS'
	read -r _ a l b <<<"$(printf '%s\n' "$out" | grep '^TOTALS')"
	total_ack=$((total_ack + a))
	total_lost=$((total_lost + l))
	total_bad=$((total_bad + b))
done
echo "acknowledged $total_ack, lost $total_lost"
[ "$total_lost" -eq 0 ] || fail "lost $total_lost acknowledged operations"
[ "$total_bad" -eq 0 ] || fail "$total_bad half-done or unasked-for results"
[ "$total_ack" -ge $((CYCLES * 10)) ] || fail "only $total_ack operations acknowledged in $CYCLES cycles: the writers barely ran"
ok "$CYCLES kill -9 cycles in $(since "$t_start") s: acknowledged $total_ack, lost 0"

# The restored queues go on: every task ends, ok or interrupted (none was asked to fail). How
# many are left depends on how fast the robot acknowledged the writers (thousands of 0.2 s tasks
# on 8 jobs), so the test asks for progress, not for a fixed time: the count of queued and
# running tasks must fall within every 30 s until it reaches 0.
left=$(json "$MNT/@robot/info" 'j["tasks"]["queued"] + j["tasks"]["running"]')
echo "restored queues: $left tasks left after the last restart"
best=$left
t_best=$(now)
while [ "$left" -gt 0 ]; do
	sleep 1
	left=$(json "$MNT/@robot/info" 'j["tasks"]["queued"] + j["tasks"]["running"]')
	if [ "$left" -lt "$best" ]; then
		best=$left
		t_best=$(now)
	elif fgt "$(fsub "$(now)" "$t_best")" 30; then
		fail "restored queues stopped draining: $left tasks left, none ended in 30 s: $(rcat "$MNT/@robot/info")"
	fi
done
states=$(cd "$MNT/c" && timeout 60 cat -- */tasks/*/state | sort | uniq -c)
echo "$states"
printf '%s\n' "$states" | grep -Evq ' (ok|interrupted)$' && fail "tasks in unexpected states after the drain: $states"
[ "$(printf '%s\n' "$states" | grep -c ' ok$')" -eq 1 ] || fail "no task ran ok after the restarts"
ok "restored queues drained: every task ok or interrupted"
zr_stop
