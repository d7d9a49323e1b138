#!/bin/bash
# The kernel's caches never show stale data. Directory attributes are cached (issue 11: a
# service's folder, the root, a template's folder) and a template's folder keeps its listing,
# so every change, through the mount, over HTTP (the kernel sees no request) or by the robot
# itself (a task), must show at the next ls or stat. Each check runs in a tight loop, so a
# cache without invalidation fails. Then "." and ".." in every listing, and find ends.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-http.sh"

mk_t
zr_start_http
T=$MNT/t
N=${CACHE_LOOPS:-20}

# mtime of a path with nanoseconds; stat never served from a stale cache.
mt() { timeout 10 stat -c %y "$1"; }
has() { timeout 10 ls "$1" | grep -qx "$2"; }

# --- mkdir and rmdir through the mount ---
for i in $(seq "$N"); do
	before=$(mt "$T")
	timeout 10 mkdir "$T/m$i" || fail "mkdir t/m$i"
	[ "$(mt "$T")" != "$before" ] || fail "stat t after mkdir t/m$i: mtime unchanged"
	has "$T" "m$i" || fail "ls t right after mkdir t/m$i does not show it"
	[ -d "$T/m$i" ] || fail "stat t/m$i after its mkdir"
done
for i in $(seq "$N"); do
	before=$(mt "$T")
	timeout 10 rmdir "$T/m$i" || fail "rmdir t/m$i"
	[ "$(mt "$T")" != "$before" ] || fail "stat t after rmdir t/m$i: mtime unchanged"
	! has "$T" "m$i" || fail "ls t right after rmdir t/m$i still shows it"
	[ ! -e "$T/m$i" ] || fail "t/m$i still there after its rmdir"
done
ok "mkdir/rmdir through the mount x$N: the next ls and stat of the template show it"

# --- the same over HTTP: the kernel hears of it only through the robot's invalidations ---
ls -la "$T" >/dev/null # the template's attributes and listing are cached now
for i in $(seq "$N"); do
	before=$(mt "$T")
	json_post "$ADMIN" /v1/t "{\"name\": \"h$i\"}"
	expect_eq "$HS" 201 "POST /v1/t h$i"
	[ "$(mt "$T")" != "$before" ] || fail "stat t after POST of h$i: mtime unchanged"
	has "$T" "h$i" || fail "ls t right after POST of h$i does not show it"
	stat "$T/h$i" >/dev/null || fail "stat t/h$i after its POST"
done
for i in $(seq "$N"); do
	stat "$T/h$i" >/dev/null || fail "stat t/h$i" # its entry and attributes are cached now
	before=$(mt "$T")
	expect_http 204 "$ADMIN" DELETE "/v1/t/h$i"
	[ ! -e "$T/h$i" ] || fail "stat t/h$i right after its DELETE: still there"
	[ "$(mt "$T")" != "$before" ] || fail "stat t after DELETE of h$i: mtime unchanged"
	! has "$T" "h$i" || fail "ls t right after DELETE of h$i still shows it"
done
ok "POST/DELETE of services over HTTP x$N: the next ls and stat of the template show it"

# --- tasks appear in tasks/; data's size and mtime follow its writes ---
S=$(svc t a)
for i in $(seq "$N"); do
	before=$(mt "$S/tasks")
	id=$(submit "$S" echo "{\"n\": $i}")
	[ "$(mt "$S/tasks")" != "$before" ] || fail "stat tasks/ after task $id: mtime unchanged"
	has "$S/tasks" "$id" || fail "ls tasks/ right after a write to actions/ does not show $id"
done
ok "a new task shows at the next ls of tasks/ x$N, tasks/'s mtime moves"
for i in $(seq "$N"); do
	before=$(mt "$S/data")
	text="{\"greeting\": \"$(printf 'x%.0s' $(seq "$i"))\", \"count\": $i}"
	timeout 10 bash -c 'printf "%s" "$2" >"$1"' _ "$S/data" "$text" || fail "write data $i"
	size=$(timeout 10 stat -c %s "$S/data")
	expect_eq "$size" "$(timeout 10 cat "$S/data" | wc -c)" "stat size of data after write $i"
	[ "$(mt "$S/data")" != "$before" ] || fail "stat data after write $i: mtime unchanged"
done
ok "data: stat's size and mtime follow each write x$N"

# --- "." and ".." in every listing; ".." of the root is the root ---
ino() { timeout 10 stat -c %i "$1"; }
# dots DIR [PARENT]: ls -a starts with . and .., with the numbers of DIR and PARENT (the
# mount point's ".." is outside the mount: ls may show either side's number).
dots() {
	local l
	l=$(LC_ALL=C timeout 10 ls -a -i -1 "$1" | head -n 2 | awk '{print $2 "=" $1}' | tr '\n' ' ')
	if [ -z "${2:-}" ]; then
		expect_match "$l" "^\\.=$(ino "$1") \\.\\.=[0-9]+ \$" "ls -ai of $1"
		return
	fi
	expect_eq "$l" ".=$(ino "$1") ..=$(ino "$2") " "ls -ai of $1"
}
dots "$MNT"
dots "$T" "$MNT"
dots "$S" "$T"
dots "$S/tasks" "$S"
dots "$S/tasks/$id" "$S/tasks"
dots "$MNT/@robot" "$MNT"
dots "$MNT/@robot/templates" "$MNT/@robot"
expect_eq "$(timeout 10 ls -a "$S/actions" | grep -c '^\.\.\?$')" 2 "one . and one .. in actions/"
ok "ls -a shows . and .. first (root, @robot, a template, a service, tasks/, a task)"
# readdirplus gives "." and ".." no reference: listing them often leaks and breaks nothing.
for i in $(seq "$N"); do
	timeout 10 ls -la "$S" "$S/tasks" "$MNT" >/dev/null || fail "ls -la round $i"
done
out=$(timeout 60 find "$MNT" -path "$MNT/@remote" -prune -o -print 2>&1) ||
	fail "find over the tree failed: $(echo "$out" | grep -v "^$MNT" | head -3)"
expect_eq "$(echo "$out" | grep -c "^$S/tasks/$id/state\$")" 1 "find lists a task's state once"
ok "find over the tree ends, each entry once"

zr_stop
ok "stopped cleanly"
