#!/usr/bin/env bash
# Fuzzes the parsers: builds the libFuzzer harnesses of tests/fuzz/ with clang and
# ASan+UBSan in their own build folder (build-fuzz/), then runs each for SECONDS.
#
#   tests/fuzz/run.sh SECONDS [HARNESS...]   HARNESS: manifest, payload, schema, ctl, path,
#                                            listing, blueprint (default all)
#
# Each harness starts from its seed corpus (tests/fuzz/corpus/<h>, never written) and the
# inputs found by earlier runs (build-fuzz/fuzz/<h>/corpus). A crash, a sanitizer report, a
# broken invariant, a leak, an input running over 20 s or allocating 1 GB at once, or the
# process passing 4 GB stops that harness; the others still run. Exits 0 when none failed,
# else 1 after printing each reproducer's path. Replay one with:
# build-fuzz/tests/fuzz/fuzz-<h> REPRODUCER (or build/tests/fuzz/fuzz-<h>-corpus).
# Needs clang and its libFuzzer runtime (Debian: clang-14, libclang-rt-14-dev).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

usage() {
	echo "usage: $0 SECONDS [manifest|payload|schema|ctl|path|listing|blueprint...]" >&2
	exit 2
}

(($# >= 1)) || usage
seconds=$1
shift
[[ $seconds =~ ^[1-9][0-9]*$ ]] || usage
harnesses=("$@")
if ((${#harnesses[@]} == 0)); then
	harnesses=(manifest payload schema ctl path listing blueprint)
fi
for h in "${harnesses[@]}"; do
	[[ -f tests/fuzz/fuzz-$h.c ]] || usage
done

# Fails here, with the packages to install, rather than deep in a meson log.
if ! command -v clang >/dev/null ||
	! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' |
	clang -fsanitize=fuzzer -x c - -o /dev/null 2>/dev/null; then
	echo "fuzz: clang with libFuzzer is missing: apt-get install clang libclang-rt-14-dev" >&2
	exit 1
fi

dir=build-fuzz
setup=(-Db_sanitize=address,undefined -Db_lundef=false -Dc_args=-fsanitize=fuzzer-no-link)
if [[ -f $dir/meson-private/coredata.dat ]]; then
	setup+=(--reconfigure)
fi
CC=clang meson setup "$dir" "${setup[@]}" >"$dir.setup.log" 2>&1 || {
	cat "$dir.setup.log" >&2
	echo "fuzz: meson setup failed" >&2
	exit 1
}
rm -f "$dir.setup.log"
targets=()
for h in "${harnesses[@]}"; do
	targets+=("tests/fuzz/fuzz-$h")
done
meson compile -C "$dir" "${targets[@]}"

# Any sanitizer report ends the input as a crash, so libFuzzer saves it. regcomp's many sizes
# of blocks keep ASan's allocator growing (1.7 GB after 3 minutes of fuzz-schema): a smaller
# quarantine and -rss_limit_mb=4096 keep a long run from a false out-of-memory, while
# -malloc_limit_mb=1024 still reports any one input that allocates a gigabyte at once.
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:allocator_may_return_null=1
ASAN_OPTIONS+=:quarantine_size_mb=64
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
# fuzz-manifest writes a template folder per input: in memory it runs several times faster.
scratch=/dev/shm
if [[ ! -d $scratch || ! -w $scratch ]]; then
	scratch=$PWD/$dir
fi
TMPDIR=$(mktemp -d "$scratch/zr-fuzz.XXXXXX")
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT

failed=()
for h in "${harnesses[@]}"; do
	work=$dir/fuzz/$h
	mkdir -p "$work/corpus" "$work/artifacts"
	log=$work/log
	echo "fuzz: fuzz-$h for ${seconds}s (log: $log)" >&2
	rc=0
	"$dir/tests/fuzz/fuzz-$h" -max_total_time="$seconds" -timeout=20 \
		-rss_limit_mb=4096 -malloc_limit_mb=1024 \
		-print_final_stats=1 -dict="tests/fuzz/$h.dict" \
		-artifact_prefix="$work/artifacts/" "$work/corpus" "tests/fuzz/corpus/$h" \
		>"$log" 2>&1 || rc=$?
	if ((rc == 0)); then
		grep -E '^(stat::number_of_executed_units|stat::new_units_added|#[0-9]+.*DONE)' \
			"$log" | sed "s/^/fuzz: fuzz-$h: /" >&2 || true
		continue
	fi
	tail -n 60 "$log" >&2
	reproducer=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
	echo "fuzz: fuzz-$h FAILED (exit $rc); reproducer: ${reproducer:-none written, see $log}" >&2
	failed+=("$h")
done

if ((${#failed[@]} > 0)); then
	echo "fuzz: failed: ${failed[*]}" >&2
	exit 1
fi
echo "fuzz: all ${#harnesses[@]} harness(es) ran ${seconds}s without a finding" >&2
