/* secmem.c - locked, wiped allocations for key material (see ob/secmem.h).
 *
 * Each allocation is its own anonymous mapping, preceded by one header page
 * that records the mapping length; the caller's pointer is the page after
 * it.  One mapping per key is wasteful for many small keys, but a mount holds
 * a handful of keys plus one FEK per open file, and page granularity is
 * what mlock() and MADV_DONTDUMP work in anyway.
 */
#include "ob/secmem.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

struct secmem_head {
	size_t map_len;
};

static size_t page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);

	return p > 0 ? (size_t)p : 4096;
}

void *ob_secure_alloc(size_t len)
{
	size_t pg = page_size();
	size_t map_len;
	uint8_t *base;

	if (len == 0)
		len = 1;
	if (len > SIZE_MAX - 2 * pg) {
		errno = ENOMEM;
		return NULL;
	}
	map_len = pg + ((len + pg - 1) / pg) * pg;
	base = mmap(NULL, map_len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		return NULL;
	(void)mlock(base + pg, map_len - pg);		/* best effort */
	(void)madvise(base, map_len, MADV_DONTDUMP);
	((struct secmem_head *)base)->map_len = map_len;
	return base + pg;
}

void ob_secure_free(void *p)
{
	size_t pg = page_size();
	uint8_t *base;
	size_t map_len;

	if (!p)
		return;
	base = (uint8_t *)p - pg;
	map_len = ((struct secmem_head *)base)->map_len;
	explicit_bzero(base + pg, map_len - pg);
	munlock(base + pg, map_len - pg);
	munmap(base, map_len);
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
