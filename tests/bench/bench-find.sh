#!/usr/bin/env bash
# Measures the parent → children and producer → consumers lookups (README "Parents and
# children", "Producers and consumers") through the filesystem:
#   1. `find` over a mount with N services (default 2000; N=20000 for the figures below), each
#      but the first with one parent and one producer (service i names service i/10 as both:
#      every children/ and consumers/ folder lists up to ten), against `find` over a tmpfs
#      tree with the same number of entries (N folders, each holding as many entries as a
#      service folder shows): "find: X s, tmpfs: Y s, ratio X/Y".
#   2. `ls -l` (each entry looked up) of one children/ folder and one consumers/ folder with
#      K entries (default N/2; 10000 for the figures below): one producer that K services name
#      as parent and producer.
#   3. creating C services (default N/2; 10000 below) with one mkdir(1) of C folders, each of
#      a template with a role, on a robot with no other service.
# Stores of 1 and 2 are built directly with python's sqlite3 (lib.sh build_store), the robot
# started once untimed (its first start makes the work folders). Medians of ROUNDS (3) runs.
#
#     ZROBOT=build/fs/zrobot N=20000 K=10000 C=10000 bash tests/bench/bench-find.sh
#
# PARTS (default "find ls create") runs only the parts it names. The last line, for run.sh:
#     medians FIND-S TMPFS-S LS-CHILDREN-S LS-CONSUMERS-S CREATE-S
#
# Figures (2 cores shared with other helpers' builds and tests, so noisy; N=20000, K=C=10000;
# one round before, medians of 3 after), before the index (every children/ and consumers/
# listing and lookup walked every service) → after it:
#   find over 20,000 services:          > 15 min (stopped 78 % through) → 11.4 s (tmpfs: 0.38 s)
#   ls -l children/ with 10,000 entries:  459 s → 0.43 s
#   ls -l consumers/ with 10,000:         319 s → 0.38 s
#   create 10,000 services with a role:    36 s → 9.3 s
set -euo pipefail

n=${N:-2000}
k=${K:-$((n / 2))}
c=${C:-$((n / 2))}
rounds=${ROUNDS:-3}
parts=" ${PARTS:-find ls create} "
# What the last line prints for run.sh: "-" for a part not run.
find_s=- peer_s=- lsc_s=- lsp_s=- mk_s=-

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_need python3 fusermount3 mountpoint find
bench_init bench-find
peer=$tmp/peer
bench_on_exit=unmount_peer
unmount_peer() {
	if mountpoint -q "$peer" 2>/dev/null; then
		umount "$peer" 2>/dev/null || umount -l "$peer" 2>/dev/null || true
	fi
}

log() {
	printf '%s  %s\n' "$(date +%T)" "$*" >&2
}

# The template bench, with a role "up" that any bench service may fill.
tpl=$tmp/templates
bench_template "$tpl"
cat >"$tpl/bench/template.json" <<'JSON'
{"name": "bench", "version": "1.0.0", "description": "benchmark",
 "actions": {"noop": {}, "hold": {"timeout": 3600}},
 "consumes": {"up": {"template": "bench", "min": 0, "max": 1}}}
JSON
robot_args=(--templates "$tpl" --listen none --log-level warn --jobs 1)

# relate DATA-DIR MODE: gives the services of build_store's store their parents and producers.
# MODE tree: s<i> names s<i/10> (i > 0); MODE star: s<i> names s000000 (i > 0).
relate() {
	python3 - "$1/zrobot.db" "$2" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
star = sys.argv[2] == "star"
rows = db.execute("SELECT guid, name FROM services").fetchall()
with db:
    for guid, name in rows:
        i = int(name[1:])
        if i == 0:
            continue
        p = "bench/s%06d" % (0 if star else i // 10)
        db.execute("UPDATE services SET parent = ?, data = ? WHERE guid = ?",
                   (p, '{"up": "%s"}' % p, guid))
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
db.close()
PY
}

# secs CMD: the seconds CMD (eval'd) takes.
secs() {
	local t0=$EPOCHREALTIME
	eval "$1" >/dev/null
	awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f\n", b - a }'
}

part() {
	[[ $parts == *" $1 "* ]]
}

# ---- 1. find over N services ----
if part find; then
	log "store with $n services (parents and producers), robot"
	build_store "$tmp/data1" "$n" 0
	relate "$tmp/data1" tree
	first_start "$tmp/data1" "${robot_args[@]}"
	start_robot "$tmp/data1" "${robot_args[@]}"
	svc_entries=$(find "$mnt/bench/s000001" -mindepth 1 -maxdepth 1 | wc -l)
	[[ $(ls "$mnt/bench/s000000/children" | wc -l) -ge 1 ]] || bench_die "no children shown"
	log "the tmpfs peer: $n folders of $svc_entries entries"
	mkdir -p "$peer"
	mount -t tmpfs -o size=512m tmpfs "$peer"
	python3 - "$peer" "$n" "$svc_entries" <<-'PY'
	import os, sys
	root, n, m = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
	for i in range(n):
	    d = os.path.join(root, "s%06d" % i)
	    os.mkdir(d)
	    for j in range(m):
	        open(os.path.join(d, "e%d" % j), "w").close()
	PY
	log "find, $rounds rounds"
	interleave "$rounds" "secs 'find $mnt/bench'" "$tmp/find.robot" "secs 'find $peer'" "$tmp/find.peer"
	stop_robot
	unmount_peer
	find_s=$(median <"$tmp/find.robot")
	peer_s=$(median <"$tmp/find.peer")
	echo "find: $find_s s, tmpfs: $peer_s s, ratio $(awk -v a="$find_s" -v b="$peer_s" \
		'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }') ($n services, $svc_entries entries each)"
fi

# ---- 2. ls of children/ and consumers/ with K entries ----
if part ls; then
	log "store with $((k + 1)) services, one parent and producer of the others"
	build_store "$tmp/data2" "$((k + 1))" 0
	relate "$tmp/data2" star
	first_start "$tmp/data2" "${robot_args[@]}"
	start_robot "$tmp/data2" "${robot_args[@]}"
	p=$mnt/bench/s000000
	got=$(ls "$p/children" | wc -l)
	[[ $got == "$k" ]] || bench_die "children/ lists $got, not $k"
	got=$(ls "$p/consumers" | wc -l)
	[[ $got == "$k" ]] || bench_die "consumers/ lists $got, not $k"
	for ((r = 0; r < rounds; r++)); do
		secs "ls -l $p/children" >>"$tmp/lsc"
		secs "ls -l $p/consumers" >>"$tmp/lsp"
	done
	stop_robot
	lsc_s=$(median <"$tmp/lsc")
	lsp_s=$(median <"$tmp/lsp")
	echo "ls -l children/: $lsc_s s, ls -l consumers/: $lsp_s s ($k entries)"
fi

# ---- 3. create C services of a template with a role ----
if part create; then
	log "creating $c services, $rounds rounds"
	for ((r = 0; r < rounds; r++)); do
		start_robot "$tmp/data3-$r" "${robot_args[@]}"
		names=()
		for ((i = 0; i < c; i++)); do
			names+=("$mnt/bench/c$i")
		done
		secs 'mkdir "${names[@]}"' >>"$tmp/mk"
		stop_robot
	done
	mk_s=$(median <"$tmp/mk")
	echo "create: $mk_s s ($c services with a role)"
fi
echo "medians $find_s $peer_s $lsc_s $lsp_s $mk_s"
