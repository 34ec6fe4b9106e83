/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The parsers' fuzz harnesses (tests/fuzz/fuzz-*.c): each one is a libFuzzer target
 * (LLVMFuzzerTestOneInput), run by `make check` through driver.c and by libFuzzer itself
 * after `make fuzz-libfuzzer`. A harness must not leak, abort or print on any input: a
 * parser that crashes, reads out of bounds or logs a critical is what they look for. */
#pragma once

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a C string (the parsers take NUL-terminated text; an embedded NUL ends it,
 * as it would for them). g_free it. */
char *fuzz_string(const uint8_t *data, size_t size);
/* Drops GLib's messages (parsers warn about bad input, which is every input here) but
 * aborts on a critical or an error: those are bugs. Once per process; idempotent. */
void fuzz_quiet_logs(void);
/* A private directory for the process, removed at exit. */
const char *fuzz_scratch_dir(void);
/* Writes @size bytes to @path (replacing it); aborts if it cannot, which is no parser bug
 * but no run either. */
void fuzz_write_file(const char *path, const uint8_t *data, size_t size);
