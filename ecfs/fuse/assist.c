/* assist.c - a second CPU for one large request.
 *
 * Requests that come through io_uring (ring.c) are served on the CPU of
 * the program that made them, which is what a chain of small requests
 * wants.  A sequential reader wants the opposite: the kernel's readahead
 * asks for 1 MiB at a time, and decrypting it on the reader's CPU leaves
 * the other idle while the reader waits.  So a large read is split in two
 * and the second half goes to a helper thread that may run anywhere; the
 * wake-up it costs is small next to decrypting half a megabyte.
 *
 * One helper per further online CPU, started on first use.  When none
 * can be started, the job runs on the caller's thread.
 */
#include "ecfs-fuse.h"

#include <pthread.h>
#include <unistd.h>

static struct {
	pthread_mutex_t lock;
	pthread_cond_t work;		/* a job was queued */
	pthread_cond_t done;		/* a job finished */
	struct ef_job *head, **tail;
	unsigned helpers;
} A = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.work = PTHREAD_COND_INITIALIZER,
	.done = PTHREAD_COND_INITIALIZER,
	.tail = &A.head,
};

static pthread_once_t assist_once = PTHREAD_ONCE_INIT;

static void *helper_main(void *unused)
{
	for (;;) {
		struct ef_job *j;

		pthread_mutex_lock(&A.lock);
		while (!A.head)
			pthread_cond_wait(&A.work, &A.lock);
		j = A.head;
		A.head = j->next;
		if (!A.head)
			A.tail = &A.head;
		pthread_mutex_unlock(&A.lock);

		j->fn(j);

		pthread_mutex_lock(&A.lock);
		j->finished = true;
		pthread_cond_broadcast(&A.done);
		pthread_mutex_unlock(&A.lock);
	}
	return NULL;
}

static void start_helpers(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	pthread_attr_t attr;

	if (cpus < 2 || pthread_attr_init(&attr))
		return;
	(void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (long i = 1; i < cpus && i <= 8; i++) {
		pthread_t tid;

		if (pthread_create(&tid, &attr, helper_main, NULL))
			break;
		A.helpers++;
	}
	pthread_attr_destroy(&attr);
}

void ef_assist_start(struct ef_job *j)
{
	pthread_once(&assist_once, start_helpers);
	j->next = NULL;
	j->finished = false;
	j->inline_run = !A.helpers;
	if (j->inline_run)
		return;			/* ef_assist_wait() runs it */
	pthread_mutex_lock(&A.lock);
	*A.tail = j;
	A.tail = &j->next;
	pthread_cond_signal(&A.work);
	pthread_mutex_unlock(&A.lock);
}

void ef_assist_wait(struct ef_job *j)
{
	if (j->inline_run) {
		j->fn(j);
		return;
	}
	pthread_mutex_lock(&A.lock);
	while (!j->finished)
		pthread_cond_wait(&A.done, &A.lock);
	pthread_mutex_unlock(&A.lock);
}
