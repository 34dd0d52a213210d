/* What every harness in fuzz/ shares: one private temporary folder per
 * fuzzer process (removed at exit), for the harnesses whose code under test
 * reads files (the manual issuer's inbox, known_hosts, saved plans).
 * Nothing here is part of certsync. */
#ifndef CS_FUZZ_COMMON_H
#define CS_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* libFuzzer's entry points (each harness defines the second, some the
 * first). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The process's temporary folder: made on first use under $TMPDIR (or
 * /tmp), removed with everything in it when the process exits.  Aborts
 * when it cannot be made: a harness without it would test nothing. */
const char *fz_tmpdir(void);

/* fz_tmpdir()/name; the caller frees. */
char *fz_path(const char *name);

/* Replace file path with exactly data (created 0600); aborts on failure
 * (a full disk is not a finding of the code under test). */
void fz_write(const char *path, const void *data, size_t len);

#endif
