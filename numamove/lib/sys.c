// SPDX-License-Identifier: MIT
/* sys.c - the real system calls behind struct nm_sys.
 *
 * Only move_pages(2) goes through the table: it is the call whose odd
 * results (positive counts with unwritten statuses, bogus EBUSY for THP
 * sub-pages, spec 1.2) the mover must survive, so unit tests replace it.
 * We call it through syscall() and do not link libnuma.
 */
#include "nm-int.h"

#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

static long sys_move_pages(void *priv, int pid, unsigned long count, void **pages,
			   const int *nodes, int *status, int flags)
{
	long rc = syscall(SYS_move_pages, pid, count, pages, nodes, status, flags);

	return rc < 0 ? -errno : rc;
}

const struct nm_sys nm_sys_default = {
	.move_pages = sys_move_pages,
	.priv = NULL,
};
