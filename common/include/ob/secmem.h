/* secmem.h - memory for keys and passphrases: locked, never dumped, wiped.
 *
 * ob_secure_alloc() returns zeroed memory that is mlock()ed (so it is never
 * written to swap) and excluded from core dumps (MADV_DONTDUMP).  Locking is
 * best effort: when RLIMIT_MEMLOCK is exhausted the memory is still returned
 * and still wiped on free.  ob_secure_free() wipes with explicit_bzero()
 * before the memory is reused or unmapped.  Objects up to 8 KiB come from a
 * locked pool (cheap enough for one key per open file); use this for key
 * material, not for bulk data.
 */
#ifndef OB_SECMEM_H
#define OB_SECMEM_H

#include <stddef.h>

/* Zeroed, locked memory of at least len bytes; NULL (errno set) on failure. */
void *ob_secure_alloc(size_t len);

/* Wipe and release; p may be NULL.  Aborts on a pointer it did not hand
 * out or one already freed. */
void ob_secure_free(void *p);

/* Objects allocated and not yet freed: for leak checks in tests. */
long ob_secure_live(void);

/* Wipe len bytes in a way the compiler may not elide. */
void ob_wipe(void *p, size_t len);

/* Constant-time comparison: 0 when equal.  Use wherever a secret or a value
 * derived from one (a key signature) is compared. */
int ob_ct_memcmp(const void *a, const void *b, size_t len);

/* Keep this process out of core dumps and ptrace by other users
 * (PR_SET_DUMPABLE 0).  Call early in front ends that handle passphrases. */
void ob_secure_process(void);

#endif
