/* err.c - reasons attached to negative errno values (see ob/err.h). */
#include "ob/err.h"

#include <errno.h>
#include <stdarg.h>
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
	if (n < 0 || (size_t)n >= sizeof(err->msg) - 2)
		return;
	/* Truncating the old reason is fine: the head is what was added. */
	size_t at = (size_t)n, room = sizeof(err->msg) - 1 - at - 2;
	size_t olen = strnlen(old, room);

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

void ob_err_format(char *buf, size_t len, const char *prog, const char *object,
		   const struct ob_err *err)
{
	const char *reason = err && err->msg[0] ? err->msg : NULL;
	int code = err ? err->code : 0;
	size_t n = 0;

#define OB_APPEND(...) do { \
		if (n < len) { \
			int w_ = snprintf(buf + n, len - n, __VA_ARGS__); \
			n += w_ > 0 ? (size_t)w_ : 0; \
		} \
	} while (0)

	if (len == 0)
		return;
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
}

void ob_err_print(const char *prog, const char *object, const struct ob_err *err)
{
	char line[1024];

	ob_err_format(line, sizeof(line), prog, object, err);
	ob_err_sink(line);
}
