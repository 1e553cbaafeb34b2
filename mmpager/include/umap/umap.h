/* SPDX-License-Identifier: MIT */
/* umap/umap.h - UMap's C API over libmmpager, so a program written for LLNL
 * UMap builds and runs against libumap from this project unchanged.
 *
 * Same functions, types, flags and environment variables (UMAP_PAGESIZE,
 * UMAP_BUFSIZE in pages, UMAP_PAGE_FILLERS, UMAP_PAGE_EVICTORS,
 * UMAP_EVICT_HIGH_WATER_THRESHOLD, UMAP_EVICT_LOW_WATER_THRESHOLD in
 * percent, UMAP_MAX_FAULT_EVENTS, UMAP_READ_AHEAD), with UMap's defaults.
 * Added: MMPAGER_PTL=split|global, MMPAGER_STATS=1 (statistics on stderr at
 * exit).  Written from UMap's public documentation; no UMap code.
 * Errors are reported as UMap does, on stderr, and with errno set.
 */
#ifndef _UMAP_H_
#define _UMAP_H_

#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

#ifdef __cplusplus
extern "C" {
#endif

void *umap(void *addr, size_t length, int prot, int flags, int fd, off_t offset);
int uunmap(void *addr, size_t length);
int umap_flush(void);

struct umap_prefetch_item {
	void *page_base_addr;
};

int umap_has_write_support(void);
void umap_prefetch(int npages, struct umap_prefetch_item *page_array);
void umap_fetch_and_pin(char *paddr, uint64_t size);

long umapcfg_get_system_page_size(void);
uint64_t umapcfg_get_umap_page_size(void);
uint64_t umapcfg_get_max_fault_events(void);
uint64_t umapcfg_get_num_fillers(void);
uint64_t umapcfg_get_num_evictors(void);
uint64_t umapcfg_get_max_pages_in_buffer(void);
uint64_t umapcfg_get_read_ahead(void);
int umapcfg_get_evict_low_water_threshold(void);
int umapcfg_get_evict_high_water_threshold(void);

#ifdef __cplusplus
}
#endif

#define UMAP_PRIVATE	MAP_PRIVATE	/* the only sharing mode, as in UMap */
#define UMAP_FIXED	MAP_FIXED

#define UMAP_FAILED	((void *)-1)

#endif
