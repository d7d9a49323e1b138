/* The libFuzzer entry points every harness defines, and the check harnesses use for the
 * invariants they assert. Each harness is linked either with libFuzzer (tests/fuzz/run.sh,
 * clang) or with driver.c, which feeds it a corpus (meson test, any compiler). */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Called once before any input; may set up scratch state. Returns 0. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
/* Runs one input (borrowed, size bytes, not NUL-terminated). Returns 0; a crash, a sanitizer
 * report or FUZZ_CHECK failing is the finding. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the code under test: abort() (a crash for libFuzzer, with the input saved)
 * naming what broke. Not assert(): it must hold in release builds too. */
#define FUZZ_CHECK(expr)                                                                 \
	do {                                                                             \
		if (!(expr)) {                                                           \
			fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed\n", __FILE__,      \
				__LINE__, #expr);                                        \
			abort();                                                         \
		}                                                                        \
	} while (0)
