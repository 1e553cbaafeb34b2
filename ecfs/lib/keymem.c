// SPDX-License-Identifier: MIT
/* keymem.c - OpenSSL's copies of our keys live in the locked pool too.
 *
 * OpenSSL expands a key into a schedule inside a context it allocates
 * itself (EVP_CipherInit_ex2 -> the provider's newctx), with its own
 * allocator, which is malloc: the schedules of the key-wrapping key, of the
 * filename key and of every open file's FEK sat in ordinary heap, in every
 * core image (gcore found six copies of the wrapping key's schedule) and
 * swappable wherever mlockall() is not allowed.  OpenSSL lets a program
 * replace its allocator once, before its first allocation
 * (CRYPTO_set_mem_functions); this file does that when the program is
 * loaded, and sends what OpenSSL allocates while a thread keys a context
 * (between ecfs_keymem_begin() and ecfs_keymem_end(), cipher.c) to
 * ob_secure_alloc(): locked (best effort), never dumped, wiped on free.
 * Everything else OpenSSL allocates goes to malloc as before.
 *
 * Each block carries a 16-byte tag in front of it: which allocator it came
 * from and its length, so free and realloc need no lookup.  If OpenSSL
 * refused the replacement (something allocated through it first),
 * ecfs_keymem_active() is false and schedules stay in OpenSSL's heap, which
 * OpenSSL wipes when it frees a context.
 */
#include "ecfs-int.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ob/secmem.h"

#define TAG_BYTES	16
#define TAG_HEAP	0x6b6d6801u
#define TAG_SECURE	0x6b6d6802u

struct tag {
	uint32_t magic;
	uint32_t pad;
	size_t len;
};

_Static_assert(sizeof(struct tag) <= TAG_BYTES, "the tag fits its slot");

static _Thread_local unsigned keying;	/* begin/end nesting on this thread */
static bool active;

static void *tagged(struct tag *t, uint32_t magic, size_t len)
{
	if (!t)
		return NULL;
	t->magic = magic;
	t->len = len;
	return (uint8_t *)t + TAG_BYTES;
}

static struct tag *tag_of(void *p)
{
	struct tag *t = (struct tag *)((uint8_t *)p - TAG_BYTES);

	if (t->magic != TAG_HEAP && t->magic != TAG_SECURE)
		abort();	/* not ours: OpenSSL freed a stray pointer */
	return t;
}

static void *km_malloc(size_t len, const char *file, int line)
{
	if (len > SIZE_MAX - TAG_BYTES)
		return NULL;
	if (keying)
		return tagged(ob_secure_alloc(len + TAG_BYTES), TAG_SECURE, len);
	return tagged(malloc(len + TAG_BYTES), TAG_HEAP, len);
}

static void km_free(void *p, const char *file, int line)
{
	struct tag *t;

	if (!p)
		return;
	t = tag_of(p);
	if (t->magic == TAG_SECURE) {
		ob_secure_free(t);	/* wipes */
	} else {
		t->magic = 0;
		free(t);
	}
}

static void *km_realloc(void *p, size_t len, const char *file, int line)
{
	struct tag *t;
	void *n;

	if (!p)
		return km_malloc(len, file, line);
	if (len == 0) {
		km_free(p, file, line);
		return NULL;
	}
	t = tag_of(p);
	if (t->magic == TAG_HEAP) {
		if (len > SIZE_MAX - TAG_BYTES)
			return NULL;
		return tagged(realloc(t, len + TAG_BYTES), TAG_HEAP, len);
	}
	/* A secure block stays secure, whoever grows it. */
	n = tagged(ob_secure_alloc(len + TAG_BYTES), TAG_SECURE, len);
	if (!n)
		return NULL;
	memcpy(n, p, t->len < len ? t->len : len);
	ob_secure_free(t);
	return n;
}

__attribute__((constructor)) static void keymem_install(void)
{
	active = CRYPTO_set_mem_functions(km_malloc, km_realloc, km_free) == 1;
}

bool ecfs_keymem_active(void)
{
	return active;
}

void ecfs_keymem_begin(void)
{
	keying++;
}

void ecfs_keymem_end(void)
{
	keying--;
}
