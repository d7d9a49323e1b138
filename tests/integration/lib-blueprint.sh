# Helpers for the blueprint tests (issue 14, DESIGN §8); source after lib.sh. A blueprint is
# written to @robot/blueprint in one write and the outcome read on the same handle (zrtool.py
# write-read), as the README shows: one line per item, "created|updated|unchanged|failed T/S"
# and "queued T/S ACTION task ID", and for a refused blueprint a last line "error: <reason>"
# after which the read fails with EINVAL.

BP_RC=      # exit status of the last bp_apply: 0, or 2 when the write or the read failed
BP_OUT=     # the outcome read
BP_ERR=     # zrtool's stderr: "EINVAL (read: Invalid argument)" when the read failed
BP_S=       # seconds the write and the read took
BP_ERROR=   # bp_refused: the reason of the "error: " line

# bp_apply_file FILE: applies the blueprint in FILE (bounded: BP_TIMEOUT, default 60 s; a hang
# fails the test).
bp_apply_file() {
	local t0 rc=0
	t0=$(now)
	timeout -k 2 "${BP_TIMEOUT:-60}" "$ZR_PY" "$ZRTOOL" write-read "$MNT/@robot/blueprint" - \
		<"$1" >"$TMP/bp.out" 2>"$TMP/bp.err" || rc=$?
	BP_S=$(since "$t0")
	BP_RC=$rc
	BP_OUT=$(cat "$TMP/bp.out")
	BP_ERR=$(cat "$TMP/bp.err")
	[ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] ||
		fail "applying $1 hung (killed after ${BP_TIMEOUT:-60} s); outcome so far: $BP_OUT"
}

# bp_apply TEXT: the same with the text itself (written as is: add the final newline).
bp_apply() {
	printf '%s' "$1" >"$TMP/bp.in"
	bp_apply_file "$TMP/bp.in"
}

# bp_ok TEXT MSG: applies TEXT; it must be accepted: the read ends without error, and no line
# says failed or error.
bp_ok() {
	bp_apply "$1"
	[ "$BP_RC" -eq 0 ] || fail "$2: apply exited $BP_RC ($BP_ERR); outcome: $BP_OUT"
	case $BP_OUT in
	failed* | *$'\n'failed* | error:* | *$'\n'error:*) fail "$2: accepted with a failure: $BP_OUT" ;;
	esac
	bp_check_lines "$2"
}

# bp_check_lines MSG: every line of BP_OUT has the outcome's form.
bp_check_lines() {
	local l
	while IFS= read -r l; do
		printf '%s\n' "$l" | grep -Eq '^((created|updated|unchanged|deleted) [a-z0-9][a-z0-9_.-]*/[a-z0-9][a-z0-9_.-]*|queued [a-z0-9][a-z0-9_.-]*/[a-z0-9][a-z0-9_.-]* [a-z0-9][a-z0-9_.-]* task [0-9]+|failed [^ ]+( [a-z0-9][a-z0-9_.-]*)? line [0-9]+, column [0-9]+: .+|error: .+)$' ||
			fail "$1: outcome line '$l' is not one of the README's forms; outcome: $BP_OUT"
	done <<<"$BP_OUT"
}

# bp_refused TEXT MSG: applies TEXT; it must be refused as the issue's Decisions say: the
# write returns, the outcome ends with "error: <reason>" (in BP_ERROR) and the read then fails
# with EINVAL.
bp_refused() {
	bp_apply "$1"
	bp_expect_refused "$2"
}

bp_expect_refused() {
	[ "$BP_RC" -eq 2 ] || fail "$1: apply exited $BP_RC, want a refusal; outcome: $BP_OUT"
	expect_match "$BP_ERR" '^EINVAL \(read' "$1: the read after a refused outcome"
	local last
	last=$(printf '%s\n' "$BP_OUT" | tail -n 1)
	expect_match "$last" '^error: .+' "$1: last line of the outcome"
	BP_ERROR=${last#error: }
	bp_check_lines "$1"
}

# bp_line VERB T/S: the outcome has the line "VERB T/S" (created, updated, unchanged...).
bp_line() {
	printf '%s\n' "$BP_OUT" | grep -qxF "$1 $2" || fail "no line '$1 $2' in the outcome: $BP_OUT"
}

# bp_task T/S ACTION: the id of the task the outcome's "queued T/S ACTION task ID" names.
bp_task() {
	local id
	id=$(printf '%s\n' "$BP_OUT" | awk -v p="$1" -v a="$2" \
		'$1 == "queued" && $2 == p && $3 == a && $4 == "task" { print $5; exit }')
	[ -n "$id" ] || fail "no line 'queued $1 $2 task ID' in the outcome: $BP_OUT"
	echo "$id"
}

# bp_count VERB: how many lines of the outcome start with VERB.
bp_count() {
	printf '%s\n' "$BP_OUT" | grep -c "^$1 " || true
}

# no_service T S...: none of the services T/S exists (checked by stat, not by a listing).
no_service() {
	local t=$1 s
	shift
	for s in "$@"; do
		[ ! -e "$MNT/$t/$s" ] || fail "$t/$s exists after a refused blueprint"
	done
}

# n_services T: how many services template T has (a listing).
n_services() {
	timeout 30 ls "$MNT/$1" | wc -l
}
