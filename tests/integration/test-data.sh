#!/bin/bash
# The data file: mode 0600, a whole object applied at once by one write (replace, defaults
# filled), an invalid write refused with EINVAL leaving the old data, a body in several writes
# applied on close, an invalid multi-write body failing close() with EINVAL; actions see data.
. "$(dirname "$0")/lib.sh"

mk_t
zr_start
S=$(svc t a)

expect_eq "$(stat -c %a "$S/data")" 600 "mode of data"
ok "data has mode 0600 (stat)"
expect_eq "$(json "$S/data" 'j')" '{"count": 1, "greeting": "hello"}' "initial data"

echo '{"greeting": "yo", "count": 5}' >"$S/data" || fail "echo > data"
expect_eq "$(json "$S/data" 'j')" '{"count": 5, "greeting": "yo"}' "data after one write"
ok "one write of a whole object is applied at once"
echo '{"count": 7}' >"$S/data" || fail "echo > data"
expect_eq "$(json "$S/data" 'j')" '{"count": 7, "greeting": "hello"}' "data after writing only count"
ok "a write replaces the whole object (missing fields get their defaults)"
expect_eq "$(zrtool write-read "$S/actions/dump" dump | grep '^DATA_')" \
	"$(printf 'DATA_COUNT=7\nDATA_GREETING=hello')" "DATA_* seen by an action"
ok "actions see the new data (DATA_COUNT=7, DATA_GREETING=hello)"

# Refused writes: EINVAL from the write itself, old data stays, lasterror says why.
before=$(rcat "$S/data")
bad() { # bad PAYLOAD WORD MSG
	expect_errno "\"\$ZR_PY\" \"\$ZRTOOL\" write '$S/data' '$1'" "Invalid argument"
	expect_eq "$(rcat "$S/data")" "$before" "data after $3"
	local le
	le=$(rcat "$S/lasterror")
	expect_match "$le" '^[0-9T:.Z-]+ /t/a/data EINVAL .' "lasterror after $3"
	expect_in "$le" "$2" "lasterror after $3"
	ok "$3: EINVAL, data unchanged, lasterror: ${le#* /t/a/data }"
}
bad '{"count": "many"}' count "a string for an integer"
bad '{"count": -1}' count "a value below the minimum"
bad '{"nope": 1}' nope "an unknown field"
bad '[1, 2]' "" "an array"
bad '{"count": 1}}' "" "trailing garbage"
bad '"text"' "" "a JSON string"

# Several writes on one fd: applied when the file is closed.
out=$(zrtool data-chunks "$S/data" '{"greeting": ' '"multi", ' '"count": 9}') ||
	fail "data-chunks (valid body): $out"
expect_eq "$out" "close ok" "close of a valid multi-write body"
expect_eq "$(json "$S/data" 'j')" '{"count": 9, "greeting": "multi"}' "data after a multi-write body"
ok "a body in three writes is applied on close"
before=$(rcat "$S/data")
rc=0
out=$(zrtool data-chunks "$S/data" '{"count": ' '"bad"}') || rc=$?
expect_eq "$out" "close EINVAL" "close of an invalid multi-write body (rc=$rc)"
expect_eq "$(rcat "$S/data")" "$before" "data after an invalid multi-write body"
expect_in "$(rcat "$S/lasterror")" "/t/a/data EINVAL" "lasterror after an invalid multi-write body"
ok "an invalid multi-write body: close() fails EINVAL, data unchanged, lasterror set"
rc=0
out=$(zrtool data-chunks "$S/data" '{"count": ' '3') || rc=$?
expect_eq "$out" "close EINVAL" "close of a truncated body"
expect_eq "$(rcat "$S/data")" "$before" "data after a truncated body"
ok "an incomplete body: close() fails EINVAL, data unchanged"

# bash ignores close() errors, but the data must still not change.
echo '{"count": ' >"$S/data"
expect_eq "$(rcat "$S/data")" "$before" "data after echo of an incomplete object"
ok "echo of an incomplete object changes nothing"

# O_TRUNC alone does nothing.
timeout 10 bash -c ": >'$S/data'" || fail ": > data failed"
expect_eq "$(rcat "$S/data")" "$before" "data after an O_TRUNC open"
ok "an O_TRUNC open without a write keeps the data"

# Size and mtime are true.
expect_eq "$(stat -c %s "$S/data")" "$(rcat "$S/data" | wc -c)" "st_size of data"
m1=$(stat -c %Y "$S/data")
sleep 1.1
echo '{"count": 2}' >"$S/data" || fail "echo > data"
m2=$(stat -c %Y "$S/data")
[ "$m2" -gt "$m1" ] || fail "mtime of data did not change: $m1 -> $m2"
expect_eq "$(stat -c %s "$S/data")" "$(rcat "$S/data" | wc -c)" "st_size of data after a write"
ok "data: st_size equals its content, mtime moves on a write"
grep -q '"data.changed"' <(timeout 5 cat "$S/events") || fail "no data.changed event"
ok "a data.changed event was logged"

zr_stop
