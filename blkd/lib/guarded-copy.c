/* SPDX-License-Identifier: MIT */
/*
 * guarded-copy.c - memcpy to or from a shared file mapping that turns the
 * mapping's SIGBUS into an error code.
 *
 * A store into a MAP_SHARED mapping raises SIGBUS where pwrite would have
 * returned an errno: the page could not be read back (EIO), the file shrank
 * under the mapping, or the filesystem could not reserve a block for a hole
 * (ENOSPC).  The file backend copies through a mapping only under this
 * guard and, on a fault, redoes the request with pread/pwrite, which gives
 * the real errno.  A SIGBUS that no guarded copy is waiting for goes to the
 * handler that was there before (the default kills the process, as it
 * would have without this file).
 *
 * The handler is installed with SA_NODEFER, so jumping out of it leaves
 * SIGBUS unblocked and sigsetjmp need not save the signal mask (that would
 * be a system call per copy).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>

#include "blkd-int.h"

static __thread sigjmp_buf *volatile guard;
static struct sigaction prev_bus;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static int install_error;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	sigjmp_buf *jb = guard;

	if (jb) {
		guard = NULL;
		siglongjmp(*jb, 1);
	}
	/* Not a guarded copy: put the old disposition back and return, so the
	 * faulting instruction runs again and meets it. */
	sigaction(SIGBUS, &prev_bus, NULL);
}

static void install(void)
{
	struct sigaction sa = { .sa_sigaction = on_sigbus,
				.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK };

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &prev_bus))
		install_error = -errno;
}

int blkd_guard_install(void)
{
	pthread_once(&install_once, install);
	return install_error;
}

int blkd_guarded_copy(void *dst, const void *src, size_t len)
{
	sigjmp_buf jb;

	if (sigsetjmp(jb, 0))
		return -EFAULT;
	guard = &jb;
	__asm__ volatile("" ::: "memory");
	memcpy(dst, src, len);
	__asm__ volatile("" ::: "memory");
	guard = NULL;
	return 0;
}
