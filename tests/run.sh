#!/usr/bin/env bash
# The test command: installs missing packages, builds, runs the unit and integration suites,
# then does it all again under AddressSanitizer + UndefinedBehaviorSanitizer. It always ends
# with one line "N passed, N failed[, N skipped]" summed over both passes, and exits 0 only
# when nothing failed.
#
# Environment:
#   CI=true       configure with --werror, never skip the sanitizer pass, count skipped tests
#                 as failed (in CI a skip means a missing package or /dev/fuse)
#   ZR_NO_ASAN=1  skip the sanitizer pass (ignored in CI)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

ci=false
if [[ ${CI:-} == true || ${CI:-} == 1 ]]; then
	ci=true
fi

passed=0
failed=0
skipped=0
optional_skips=(integ-tmpl-mongodb)

# Prints the one final line and exits; every path out of this script goes through here so
# that a wrapper (CI, a human) can always read the last line.
finish() {
	local line="$passed passed, $failed failed"
	if $ci && ((skipped > 0)); then
		echo "run: CI: $skipped skipped test(s) counted as failed" >&2
		failed=$((failed + skipped))
		skipped=0
		line="$passed passed, $failed failed"
	fi
	if ((skipped > 0)); then
		line+=", $skipped skipped"
	fi
	echo "$line"
	if ((failed == 0)); then
		exit 0
	fi
	exit 1
}

if ! bash tests/deps.sh; then
	echo "run: missing build dependencies (see above)" >&2
	failed=1
	finish
fi

if [[ ! -c /dev/fuse ]]; then
	if $ci; then
		echo "run: /dev/fuse is missing: CI must run on a machine (or container) with FUSE" >&2
		failed=1
		finish
	fi
	echo "run: /dev/fuse is missing: the integration tests will be skipped" >&2
fi

# The value of the last "Label: N" line in a meson test log; meson prints its summary at the
# end, and a test's own output (--print-errorlogs) could contain a similar line earlier.
count() {
	awk -v label="$1" '
		index($0, label) == 1 { n = $NF }
		END { print (n == "" ? "" : n + 0) }
	' "$2"
}

# pass DIR [MESON-SETUP-OPTIONS...] [-- MESON-TEST-OPTIONS...]: configures, builds and tests
# in DIR and adds its counts to the totals. Returns 1 when the build itself failed.
pass() {
	local dir=$1
	shift
	local setup_opts=() test_opts=()
	while (($# > 0)) && [[ $1 != -- ]]; do
		setup_opts+=("$1")
		shift
	done
	if (($# > 0)); then
		shift
		test_opts=("$@")
	fi
	if $ci; then
		setup_opts+=(--werror)
	fi
	# meson refuses "setup" on a configured dir and "--reconfigure" on a new one.
	if [[ -f $dir/meson-private/coredata.dat ]]; then
		setup_opts+=(--reconfigure)
	fi

	echo "run: === $dir ===" >&2
	if ! meson setup "$dir" "${setup_opts[@]}" || ! meson compile -C "$dir"; then
		echo "run: $dir: build failed" >&2
		failed=$((failed + 1))
		return 1
	fi

	local log="$dir/run-test.log"
	# meson's own exit status only repeats what the summary says; the counts decide.
	meson test -C "$dir" --print-errorlogs --num-processes 2 "${test_opts[@]}" 2>&1 |
		tee "$log" || true

	local ok xfail fail xpass skip timeout
	ok=$(count 'Ok:' "$log")
	xfail=$(count 'Expected Fail:' "$log")
	fail=$(count 'Fail:' "$log")
	xpass=$(count 'Unexpected Pass:' "$log")
	skip=$(count 'Skipped:' "$log")
	timeout=$(count 'Timeout:' "$log")
	if [[ -z $ok || -z $fail ]]; then
		# No summary: no tests defined, or meson test itself broke. A test command that
		# ran nothing must not report success.
		echo "run: $dir: meson test printed no summary" >&2
		failed=$((failed + 1))
		return 0
	fi
	# A test of a server Debian does not ship (mongod) skips where it is missing, in CI too:
	# that skip is expected and not counted (its own line says why).
	local t
	for t in "${optional_skips[@]}"; do
		if grep -Eq "^ *[0-9]+/[0-9]+ .*[ /]$t +SKIP " "$log"; then
			skip=$((${skip:-0} - 1))
		fi
	done
	passed=$((passed + ok + ${xfail:-0}))
	failed=$((failed + fail + ${xpass:-0} + ${timeout:-0}))
	skipped=$((skipped + ${skip:-0}))
	return 0
}

if ! pass build; then
	finish
fi

if [[ ${ZR_NO_ASAN:-} == 1 ]] && ! $ci; then
	echo "run: ZR_NO_ASAN=1: skipping the sanitizer pass" >&2
	finish
fi

# abort_on_error and halt_on_error turn any report into a crash, so a test cannot pass with a
# sanitizer complaint in its log. Set here, meson test keeps them instead of its defaults.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Sanitized code runs a few times slower; the multiplier keeps slow runs from reading as
# timeouts. b_lundef=false is required to link shared objects with -fsanitize.
pass build-asan -Db_sanitize=address,undefined -Db_lundef=false -- --timeout-multiplier 3 || true
finish
