// SPDX-License-Identifier: MIT
/* lock.c - locks that count: acquisitions, contended acquisitions (the
 * trylock failed first) and total wait time.
 *
 * Counts, not times, are what compare split and global table locks on a
 * small machine (spec memory.md 3: contention counts are deterministic
 * enough for CI on 2 cores, ops/s are not).  The clock is read only on the
 * contended path, so an uncontended acquisition costs one trylock and one
 * relaxed add.
 */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "ob/clock.h"
#include "mp-int.h"

#define RELAXED memory_order_relaxed

void mp_cond_wait_ms(pthread_cond_t *cv, pthread_mutex_t *mu, long ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += ms * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_cond_timedwait(cv, mu, &ts);
}

void mp_lock_init(struct mp_lock *l)
{
	pthread_mutex_init(&l->mu, NULL);
	atomic_init(&l->acq, 0);
	atomic_init(&l->contended, 0);
	atomic_init(&l->wait_ns, 0);
}

void mp_lock_destroy(struct mp_lock *l)
{
	pthread_mutex_destroy(&l->mu);
}

void mp_lock(struct mp_lock *l)
{
	if (pthread_mutex_trylock(&l->mu) != 0) {
		uint64_t t0 = ob_mono_ns();

		pthread_mutex_lock(&l->mu);
		atomic_fetch_add_explicit(&l->contended, 1, RELAXED);
		atomic_fetch_add_explicit(&l->wait_ns, ob_mono_ns() - t0, RELAXED);
	}
	atomic_fetch_add_explicit(&l->acq, 1, RELAXED);
}

void mp_unlock(struct mp_lock *l)
{
	pthread_mutex_unlock(&l->mu);
}

void mp_lock_account(const struct mp_lock *l, struct mmp_lock_stats *s)
{
	s->locks++;
	s->acquisitions += atomic_load_explicit(&l->acq, RELAXED);
	s->contended += atomic_load_explicit(&l->contended, RELAXED);
	s->wait_ns += atomic_load_explicit(&l->wait_ns, RELAXED);
}

void mp_rwlock_init(struct mp_rwlock *l)
{
	pthread_rwlock_init(&l->rw, NULL);
	atomic_init(&l->acq, 0);
	atomic_init(&l->contended, 0);
	atomic_init(&l->wait_ns, 0);
}

void mp_rwlock_destroy(struct mp_rwlock *l)
{
	pthread_rwlock_destroy(&l->rw);
}

static void rw_contended(struct mp_rwlock *l, int (*lock)(pthread_rwlock_t *),
			 int (*trylock)(pthread_rwlock_t *))
{
	if (trylock(&l->rw) != 0) {
		uint64_t t0 = ob_mono_ns();

		lock(&l->rw);
		atomic_fetch_add_explicit(&l->contended, 1, RELAXED);
		atomic_fetch_add_explicit(&l->wait_ns, ob_mono_ns() - t0, RELAXED);
	}
	atomic_fetch_add_explicit(&l->acq, 1, RELAXED);
}

void mp_rdlock(struct mp_rwlock *l)
{
	rw_contended(l, pthread_rwlock_rdlock, pthread_rwlock_tryrdlock);
}

void mp_wrlock(struct mp_rwlock *l)
{
	rw_contended(l, pthread_rwlock_wrlock, pthread_rwlock_trywrlock);
}

void mp_rwunlock(struct mp_rwlock *l)
{
	pthread_rwlock_unlock(&l->rw);
}

void mp_rwlock_account(const struct mp_rwlock *l, struct mmp_lock_stats *s)
{
	s->locks++;
	s->acquisitions += atomic_load_explicit(&l->acq, RELAXED);
	s->contended += atomic_load_explicit(&l->contended, RELAXED);
	s->wait_ns += atomic_load_explicit(&l->wait_ns, RELAXED);
}
