/* err.c - reasons attached to negative errno values (see ob/err.h). */
#include "ob/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void err_sink_stderr(const char *line)
{
	fprintf(stderr, "%s\n", line);
}

void (*ob_err_sink)(const char *line) = err_sink_stderr;

int ob_err_set(struct ob_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

void ob_err_prefix(struct ob_err *err, const char *fmt, ...)
{
	char old[OB_ERR_MSG];
	va_list ap;
	int n;

	if (!err)
		return;
	memcpy(old, err->msg, sizeof(old));
	va_start(ap, fmt);
	n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	/* The old reason is the cause: it stays whole, and what is cut when
	 * both do not fit is the end of the prefix (marked with "..."). */
	size_t olen = strnlen(old, sizeof(old) - 1), room = sizeof(err->msg) - 1 - olen;
	size_t at = (size_t)n;

	if (room < 5) {			/* no room for any of the prefix */
		memcpy(err->msg, old, sizeof(old));
		return;
	}
	if (at + 2 > room) {
		at = room - 5;
		memcpy(err->msg + at, "...", 3);
		at += 3;
	}
	memcpy(err->msg + at, ": ", 2);
	memcpy(err->msg + at + 2, old, olen);
	err->msg[at + 2 + olen] = '\0';
}

void ob_err_clear(struct ob_err *err)
{
	if (err) {
		err->code = 0;
		err->msg[0] = '\0';
	}
}

size_t ob_err_format(char *buf, size_t len, const char *prog, const char *object,
		     const struct ob_err *err)
{
	const char *reason = err && err->msg[0] ? err->msg : NULL;
	int code = err ? err->code : 0;
	size_t n = 0;

	/* n counts what the whole line needs, like snprintf, even past len. */
#define OB_APPEND(...) do { \
		int w_ = snprintf(n < len ? buf + n : NULL, n < len ? len - n : 0, \
				  __VA_ARGS__); \
		n += w_ > 0 ? (size_t)w_ : 0; \
	} while (0)

	if (len)
		buf[0] = '\0';
	OB_APPEND("%s", prog);
	if (object)
		OB_APPEND(": %s", object);
	if (reason)
		OB_APPEND(": %s", reason);
	/* The errno text adds nothing when the reason already says it. */
	if (code < 0 && (!reason || !strstr(reason, strerror(-code))))
		OB_APPEND(": %s", strerror(-code));
#undef OB_APPEND
	return n;
}

/*
 * A line is never cut: an object name can be longer than any fixed buffer
 * (a lower path 12 directories deep in encrypted names is past 1 KiB), and
 * the reason comes after it.  Without memory for the whole line the reason
 * goes first and the object after it, cut at the end.
 */
void ob_err_print(const char *prog, const char *object, const struct ob_err *err)
{
	char line[1024], *big = NULL;
	size_t n = ob_err_format(line, sizeof(line), prog, object, err);

	if (n >= sizeof(line)) {
		big = malloc(n + 1);
		if (big) {
			ob_err_format(big, n + 1, prog, object, err);
		} else {
			n = ob_err_format(line, sizeof(line), prog, NULL, err);
			if (object && n < sizeof(line))
				snprintf(line + n, sizeof(line) - n, " (in %s)", object);
		}
	}
	ob_err_sink(big ? big : line);
	free(big);
}

void ob_msgv(const char *prog, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}
