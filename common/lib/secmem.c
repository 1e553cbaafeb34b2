/* secmem.c - locked, wiped allocations for key material (see ob/secmem.h).
 *
 * A mount makes and drops a file key (and its expanded cipher key) for
 * every file it creates or opens: 10,000 small files are 20,000 key
 * objects.  A mapping per object would cost mmap + mlock + madvise + munlock
 * + munmap each time, so small objects come from a pool instead:
 *
 *   size classes of 64 << c bytes (c = 0..7, up to 8 KiB), carved from
 *   256 KiB arenas that are mlock()ed and MADV_DONTDUMP once; a freed chunk
 *   is wiped and goes on its class's free list.  Arenas are never returned:
 *   the pool is bounded by the peak number of live keys.
 *
 * Larger objects get their own mapping, with a header page in front.
 * Every chunk carries a 16-byte header (magic, class, length) just below the
 * caller's pointer, so ob_secure_free() knows where it came from.  The pool
 * is process-wide, like malloc's, behind one mutex held only to pop or push
 * a chunk.  ob_secure_live() counts objects not yet freed, so tests can
 * check that every key was released.
 */
#include "ob/secmem.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#define POOL_CLASSES	8
#define POOL_MIN	64
#define POOL_MAX	(POOL_MIN << (POOL_CLASSES - 1))	/* 8 KiB */
#define ARENA_BYTES	(256u << 10)
#define MAGIC_POOL	0x5ec0a11cu
#define MAGIC_MAP	0x5ec0b16bu
#define MAGIC_FREE	0x5ec0f4eeu

struct chunk_head {
	uint32_t magic;
	uint32_t cls;		/* size class, pool chunks */
	uint64_t len;		/* mapping length, mapped chunks */
};

struct free_chunk {
	struct free_chunk *next;
};

static struct {
	pthread_mutex_t lock;
	struct free_chunk *free[POOL_CLASSES];	/* guarded by lock */
	uint8_t *arena, *arena_end;		/* guarded by lock */
	long live;				/* guarded by lock */
} pool = { .lock = PTHREAD_MUTEX_INITIALIZER };

static size_t page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);

	return p > 0 ? (size_t)p : 4096;
}

/* Anonymous memory that is locked (best effort) and kept out of dumps. */
static void *map_locked(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	(void)mlock(p, len);
	(void)madvise(p, len, MADV_DONTDUMP);
	return p;
}

static unsigned size_class(size_t len)
{
	unsigned c = 0;

	while ((size_t)(POOL_MIN << c) < len)
		c++;
	return c;
}

/* Called with pool.lock held. */
static void *pool_carve(unsigned cls)
{
	size_t need = sizeof(struct chunk_head) + ((size_t)POOL_MIN << cls);
	uint8_t *p;

	if (!pool.arena || (size_t)(pool.arena_end - pool.arena) < need) {
		/* The tail of the old arena is lost: at most one chunk's worth. */
		pool.arena = map_locked(ARENA_BYTES);
		if (!pool.arena)
			return NULL;
		pool.arena_end = pool.arena + ARENA_BYTES;
	}
	p = pool.arena;
	pool.arena += need;
	return p;
}

static void *pool_alloc(size_t len)
{
	unsigned cls = size_class(len);
	struct chunk_head *h;
	void *p;

	pthread_mutex_lock(&pool.lock);
	if (pool.free[cls]) {
		p = pool.free[cls];
		pool.free[cls] = pool.free[cls]->next;
		h = (struct chunk_head *)p - 1;
		h->magic = MAGIC_POOL;
	} else {
		h = pool_carve(cls);
		if (!h) {
			pthread_mutex_unlock(&pool.lock);
			errno = ENOMEM;
			return NULL;
		}
		h->magic = MAGIC_POOL;
		h->cls = cls;
		p = h + 1;
	}
	pool.live++;
	pthread_mutex_unlock(&pool.lock);
	memset(p, 0, (size_t)POOL_MIN << cls);
	return p;
}

static void *map_alloc(size_t len)
{
	size_t pg = page_size();
	size_t map_len;
	uint8_t *base;
	struct chunk_head *h;

	if (len > SIZE_MAX - 2 * pg) {
		errno = ENOMEM;
		return NULL;
	}
	map_len = pg + ((len + pg - 1) / pg) * pg;
	base = map_locked(map_len);
	if (!base)
		return NULL;
	h = (struct chunk_head *)(base + pg) - 1;
	h->magic = MAGIC_MAP;
	h->len = map_len;
	pthread_mutex_lock(&pool.lock);
	pool.live++;
	pthread_mutex_unlock(&pool.lock);
	return base + pg;
}

void *ob_secure_alloc(size_t len)
{
	if (len == 0)
		len = 1;
	return len <= POOL_MAX ? pool_alloc(len) : map_alloc(len);
}

void ob_secure_free(void *p)
{
	struct chunk_head *h;

	if (!p)
		return;
	h = (struct chunk_head *)p - 1;
	if (h->magic == MAGIC_MAP) {
		size_t pg = page_size(), len = h->len;
		uint8_t *base = (uint8_t *)p - pg;

		explicit_bzero(p, len - pg);
		munmap(base, len);
		pthread_mutex_lock(&pool.lock);
		pool.live--;
		pthread_mutex_unlock(&pool.lock);
		return;
	}
	if (h->magic != MAGIC_POOL || h->cls >= POOL_CLASSES)
		abort();		/* not ours: a double free or a stray pointer */
	explicit_bzero(p, (size_t)POOL_MIN << h->cls);
	h->magic = MAGIC_FREE;
	pthread_mutex_lock(&pool.lock);
	((struct free_chunk *)p)->next = pool.free[h->cls];
	pool.free[h->cls] = p;
	pool.live--;
	pthread_mutex_unlock(&pool.lock);
}

long ob_secure_live(void)
{
	long n;

	pthread_mutex_lock(&pool.lock);
	n = pool.live;
	pthread_mutex_unlock(&pool.lock);
	return n;
}

void ob_wipe(void *p, size_t len)
{
	if (p && len)
		explicit_bzero(p, len);
}

int ob_ct_memcmp(const void *a, const void *b, size_t len)
{
	const volatile uint8_t *x = a, *y = b;
	uint8_t acc = 0;

	for (size_t i = 0; i < len; i++)
		acc |= x[i] ^ y[i];
	return acc != 0;
}

void ob_secure_process(void)
{
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}
