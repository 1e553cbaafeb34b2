/* sys.c - the system-call table and the OB_FAULTS fault plan (ob/sys.h).
 *
 * The plan is parsed once (pthread_once) into a small fixed array of rules;
 * after that it is read-only except for each rule's call counter, which is
 * atomic, so the wrappers are safe from any thread without a lock.
 */
#include "ob/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/xattr.h>
#include <unistd.h>

static int real_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	return openat(dirfd, path, flags, mode);
}

struct ob_sys_ops ob_sys = {
	.pread		= pread,
	.pwrite		= pwrite,
	.fsync		= fsync,
	.ftruncate	= ftruncate,
	.fsetxattr	= fsetxattr,
	.openat		= real_openat,
};

enum sys_op { OP_PREAD, OP_PWRITE, OP_FSYNC, OP_FTRUNCATE, OP_FSETXATTR, OP_OPENAT, OP_COUNT };

static const char *const op_names[OP_COUNT] = {
	"pread", "pwrite", "fsync", "ftruncate", "fsetxattr", "openat",
};

static const struct { const char *name; int value; } errnos[] = {
	{ "EIO", EIO }, { "ENOSPC", ENOSPC }, { "EDQUOT", EDQUOT }, { "EROFS", EROFS },
	{ "EACCES", EACCES }, { "EPERM", EPERM }, { "EFBIG", EFBIG }, { "ENOMEM", ENOMEM },
	{ "EINTR", EINTR },
};

#define MAX_RULES 8

struct rule {
	enum sys_op op;
	int err;
	unsigned long after, count;	/* count 0 = no limit */
	size_t minlen;
	atomic_ulong calls;		/* matching calls seen so far */
};

static struct rule rules[MAX_RULES];
static int nrules;
static bool ops_armed[OP_COUNT];
static pthread_once_t plan_once = PTHREAD_ONCE_INIT;

static int parse_rule(char *s, struct rule *r)
{
	char *save = NULL, *tok;
	int i;

	memset(r, 0, sizeof(*r));
	tok = strtok_r(s, ":", &save);
	for (i = 0; tok && i < OP_COUNT && strcmp(tok, op_names[i]); i++)
		;
	if (!tok || i == OP_COUNT)
		return -1;
	r->op = (enum sys_op)i;
	tok = strtok_r(NULL, ":", &save);
	for (i = 0; tok && i < (int)(sizeof(errnos) / sizeof(errnos[0])); i++)
		if (!strcmp(tok, errnos[i].name))
			break;
	if (!tok || i == (int)(sizeof(errnos) / sizeof(errnos[0])))
		return -1;
	r->err = errnos[i].value;
	while ((tok = strtok_r(NULL, ":", &save))) {
		char *eq = strchr(tok, '='), *end;
		unsigned long v;

		if (!eq || !eq[1])
			return -1;
		errno = 0;
		v = strtoul(eq + 1, &end, 10);
		if (errno || *end)
			return -1;
		*eq = '\0';
		if (!strcmp(tok, "after"))
			r->after = v;
		else if (!strcmp(tok, "count"))
			r->count = v;
		else if (!strcmp(tok, "minlen"))
			r->minlen = v;
		else
			return -1;
	}
	return 0;
}

static void plan_parse(void)
{
	const char *env = getauxval(AT_SECURE) ? NULL : getenv("OB_FAULTS");
	char buf[512], *save = NULL, *tok;
	int n = 0;

	if (!env || !*env)
		return;
	if (strlen(env) >= sizeof(buf))
		goto bad;
	strcpy(buf, env);
	for (tok = strtok_r(buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
		if (n == MAX_RULES || parse_rule(tok, &rules[n]))
			goto bad;
		n++;
	}
	for (int i = 0; i < n; i++)
		ops_armed[rules[i].op] = true;
	nrules = n;
	return;
bad:
	fprintf(stderr, "OB_FAULTS: cannot parse \"%s\" (OP:ERRNO[:after=N][:count=M]"
		"[:minlen=L], ';' between rules): ignored\n", env);
}

/* 0 to make the real call, or the errno this call must fail with. */
static int fault(enum sys_op op, size_t len)
{
	pthread_once(&plan_once, plan_parse);
	if (!ops_armed[op])
		return 0;
	for (int i = 0; i < nrules; i++) {
		struct rule *r = &rules[i];
		unsigned long k;

		if (r->op != op || len < r->minlen)
			continue;
		k = atomic_fetch_add(&r->calls, 1);
		if (k >= r->after && (r->count == 0 || k - r->after < r->count))
			return r->err;
	}
	return 0;
}

#define FAIL_IF_PLANNED(op, len)			\
	do {						\
		int e_ = fault(op, len);		\
		if (e_) {				\
			errno = e_;			\
			return -1;			\
		}					\
	} while (0)

ssize_t ob_sys_pread(int fd, void *buf, size_t len, off_t off)
{
	FAIL_IF_PLANNED(OP_PREAD, len);
	return ob_sys.pread(fd, buf, len, off);
}

ssize_t ob_sys_pwrite(int fd, const void *buf, size_t len, off_t off)
{
	FAIL_IF_PLANNED(OP_PWRITE, len);
	return ob_sys.pwrite(fd, buf, len, off);
}

int ob_sys_fsync(int fd)
{
	FAIL_IF_PLANNED(OP_FSYNC, 0);
	return ob_sys.fsync(fd);
}

int ob_sys_ftruncate(int fd, off_t len)
{
	FAIL_IF_PLANNED(OP_FTRUNCATE, 0);
	return ob_sys.ftruncate(fd, len);
}

int ob_sys_fsetxattr(int fd, const char *name, const void *value, size_t len, int flags)
{
	FAIL_IF_PLANNED(OP_FSETXATTR, len);
	return ob_sys.fsetxattr(fd, name, value, len, flags);
}

int ob_sys_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	FAIL_IF_PLANNED(OP_OPENAT, 0);
	return ob_sys.openat(dirfd, path, flags, mode);
}
