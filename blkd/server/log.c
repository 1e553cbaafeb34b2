/* SPDX-License-Identifier: MIT */
/*
 * log.c - the server's log lines: "blkd: <message>" on stderr, one write
 * per line so lines from different connection threads never interleave.
 */
#include <stdarg.h>
#include <stdio.h>

#include "server.h"

void blkd_log(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n] = '\n';
	fprintf(stderr, "blkd: %.*s", n + 1, line);
}
