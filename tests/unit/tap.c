/* TAP output for unit tests (see tap.h). */
#include "tests/unit/tap.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int count, failed;

bool tap_ok(bool cond, const char *name, const char *fmt, ...)
{
	count++;
	printf("%sok %d - %s\n", cond ? "" : "not ", count, name);
	if (!cond) {
		failed++;
		if (fmt) {
			va_list ap;
			va_start(ap, fmt);
			printf("# ");
			vprintf(fmt, ap);
			printf("\n");
			va_end(ap);
		}
	}
	fflush(stdout);
	return cond;
}

bool tap_str(const char *got, const char *want, const char *name)
{
	bool same = (got && want) ? strcmp(got, want) == 0 : got == want;
	return tap_ok(same, name, "got  \"%s\"\n# want \"%s\"", got ? got : "(null)",
		      want ? want : "(null)");
}

bool tap_int(long long got, long long want, const char *name)
{
	return tap_ok(got == want, name, "got %lld, want %lld", got, want);
}

void tap_note(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("# ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
}

int tap_done(void)
{
	printf("1..%d\n", count);
	return failed ? 1 : 0;
}
