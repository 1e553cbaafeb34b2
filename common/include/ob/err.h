/* err.h - error values that carry a reason, for libraries that never print.
 *
 * A library function returns 0 or -errno and, when the caller passed a
 * struct ob_err, fills it with a one-line reason ("bad marker (expected
 * 3c81b7f5, got 00000000)").  Front ends print it as
 * "prog: <object>: <reason>[: <strerror>]" with ob_err_print().  Reasons
 * never contain key material: callers format sizes, offsets and signatures,
 * never keys or passphrases.
 */
#ifndef OB_ERR_H
#define OB_ERR_H

#include <stdarg.h>
#include <stdio.h>

#define OB_ERR_MSG 256

struct ob_err {
	int code;		/* negative errno, 0 when unset */
	char msg[OB_ERR_MSG];	/* reason, without object name or strerror */
};

/* Record -code with a printf-style reason.  err may be NULL.  Returns code
 * (negative errno) so a caller can write "return ob_err_set(err, -EIO, ...)".
 * Cannot fail. */
int ob_err_set(struct ob_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefix the existing reason with "<fmt>: "; keeps the code.  Cannot fail.
 * The reason stays whole: when both do not fit, the prefix is cut. */
void ob_err_prefix(struct ob_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void ob_err_clear(struct ob_err *err);

/* Format "prog: object: reason[: strerror]" into buf (truncated safely).
 * object may be NULL.  Returns the length of the whole line, as snprintf
 * does: len or more means it was cut. */
size_t ob_err_format(char *buf, size_t len, const char *prog, const char *object,
		     const struct ob_err *err);

/* Print ob_err_format() plus a newline to stderr, never cut (see err.c). */
void ob_err_print(const char *prog, const char *object, const struct ob_err *err);

/* Print "prog: <fmt...>" and a newline to stderr: the one-line message of a
 * front end that has no struct ob_err (usage, progress, refusals). */
void ob_msgv(const char *prog, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* The sink ob_err_print() writes to; tests replace it to capture messages. */
extern void (*ob_err_sink)(const char *line);

#endif
