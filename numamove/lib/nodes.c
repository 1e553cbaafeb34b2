// SPDX-License-Identifier: MIT
/* nodes.c - what the host says about its NUMA nodes (spec 1.5).
 *
 * Everything comes from sysfs and procfs under nm_host.root so unit tests
 * can hand in a fake tree: /sys/devices/system/node/{has_memory,online,
 * nodeN/{meminfo,cpulist,distance}}, /proc/sys/kernel/numa_balancing,
 * /proc/zoneinfo (what a node can still take) and /proc/vmstat.  Nothing here is cached: callers that loop (follow, vacate)
 * see hot-added or offlined nodes on the next round.
 */
#include "nm-int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NODE_DIR "/sys/devices/system/node"

static int host_path(const struct nm_host *h, char *path, size_t len, const char *fmt,
		     va_list ap)
{
	int n = snprintf(path, len, "%s", h && h->root ? h->root : "");
	int m;

	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	m = vsnprintf(path + n, len - (size_t)n, fmt, ap);
	if (m < 0 || (size_t)m >= len - (size_t)n)
		return -ENAMETOOLONG;
	return 0;
}

ssize_t nm_read_file(const struct nm_host *h, char *buf, size_t len, const char *fmt, ...)
{
	char path[512];
	va_list ap;
	ssize_t n, got = 0;
	int fd, rc;

	va_start(ap, fmt);
	rc = host_path(h, path, sizeof(path), fmt, ap);
	va_end(ap);
	if (rc)
		return rc;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while ((size_t)got < len - 1) {
		n = read(fd, buf + got, len - 1 - (size_t)got);
		if (n < 0) {
			rc = -errno;
			close(fd);
			return rc;
		}
		if (n == 0)
			break;
		got += n;
	}
	buf[got] = '\0';
	close(fd);
	return got;
}

FILE *nm_fopen(const struct nm_host *h, const char *fmt, ...)
{
	char path[512];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = host_path(h, path, sizeof(path), fmt, ap);
	va_end(ap);
	if (rc) {
		errno = -rc;
		return NULL;
	}
	return fopen(path, "re");
}

int nm_open(const struct nm_host *h, int flags, const char *fmt, ...)
{
	char path[512];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = host_path(h, path, sizeof(path), fmt, ap);
	va_end(ap);
	if (rc)
		return rc;
	rc = open(path, flags | O_CLOEXEC);
	return rc < 0 ? -errno : rc;
}

int nm_host_nodes(const struct nm_host *h, struct nm_mask *nodes, struct ob_err *err)
{
	char buf[4096];
	ssize_t n;

	n = nm_read_file(h, buf, sizeof(buf), NODE_DIR "/has_memory");
	if (n < 0)
		n = nm_read_file(h, buf, sizeof(buf), NODE_DIR "/online");
	if (n == -ENOENT) {
		/* A kernel without CONFIG_NUMA: one node, 0. */
		nm_mask_zero(nodes);
		nm_mask_set(nodes, 0);
		return 0;
	}
	if (n < 0)
		return ob_err_set(err, (int)n, "%s/has_memory", NODE_DIR);
	return nm_mask_parse(buf, nodes, err);
}

static int meminfo_field(const char *buf, const char *key, uint64_t *kb)
{
	const char *p = strstr(buf, key);

	if (!p)
		return -ENOENT;
	p += strlen(key);
	while (*p == ' ' || *p == ':')
		p++;
	*kb = strtoull(p, NULL, 10);
	return 0;
}

int nm_host_node_mem(const struct nm_host *h, int node, uint64_t *total_kb,
		     uint64_t *free_kb, struct ob_err *err)
{
	char buf[4096];
	ssize_t n;

	n = nm_read_file(h, buf, sizeof(buf), NODE_DIR "/node%d/meminfo", node);
	if (n < 0)
		return ob_err_set(err, (int)n, "node %d: no meminfo", node);
	if (meminfo_field(buf, "MemTotal", total_kb) || meminfo_field(buf, "MemFree", free_kb))
		return ob_err_set(err, -EINVAL, "node %d: meminfo has no MemTotal/MemFree", node);
	return 0;
}

/* One zone of /proc/zoneinfo, as far as the page allocator's watermark
 * check (mm/page_alloc.c __zone_watermark_ok) needs it. */
struct zone_wm {
	char name[16];
	uint64_t free, min, boost;
	uint64_t protection[8];		/* lowmem_reserve, by the allocation's zone */
	int nprot;
};

/* Pages of the zone a movable allocation may still take: it must leave the
 * min watermark (plus boost) and the reserve kept against allocations
 * that could use a higher zone; the lowest is ZONE_MOVABLE's slot. */
static uint64_t zone_usable(const struct zone_wm *z, int movable_idx)
{
	uint64_t keep = z->min + z->boost;

	if (movable_idx >= 0 && movable_idx < z->nprot)
		keep += z->protection[movable_idx];
	return z->free > keep ? z->free - keep : 0;
}

static void zone_protection(struct zone_wm *z, const char *p)
{
	char *end;

	p = strchr(p, '(');
	if (!p)
		return;
	p++;
	for (z->nprot = 0; z->nprot < 8; z->nprot++) {
		z->protection[z->nprot] = strtoull(p, &end, 10);
		if (end == p)
			break;
		p = end;
		while (*p == ',' || *p == ' ')
			p++;
	}
}

int nm_host_node_avail(const struct nm_host *h, int node, uint64_t *avail_kb,
		       struct ob_err *err)
{
	struct zone_wm zones[8];
	int nz = 0, movable_idx = -1, cur_node = -1;
	char *line = NULL;
	size_t llen = 0;
	FILE *f = nm_fopen(h, "/proc/zoneinfo");

	*avail_kb = 0;
	if (!f)
		return ob_err_set(err, -errno, "/proc/zoneinfo");
	while (getline(&line, &llen, f) > 0) {
		struct zone_wm *z = nz ? &zones[nz - 1] : NULL;
		char name[16];
		unsigned long long v;
		int n;

		if (sscanf(line, "Node %d, zone %15s", &n, name) == 2) {
			cur_node = n;
			if (n != node || nz == 8)
				continue;
			/* Zones are listed in index order, empty ones too. */
			if (!strcmp(name, "Movable"))
				movable_idx = nz;
			z = &zones[nz++];
			memset(z, 0, sizeof(*z));
			snprintf(z->name, sizeof(z->name), "%s", name);
			continue;
		}
		if (cur_node != node || !z)
			continue;
		if (sscanf(line, " pages free %llu", &v) == 1)
			z->free = v;
		else if (sscanf(line, " min %llu", &v) == 1)
			z->min = v;
		else if (sscanf(line, " boost %llu", &v) == 1)
			z->boost = v;
		else if (strstr(line, "protection:"))
			zone_protection(z, line);
	}
	free(line);
	fclose(f);
	if (!nz)
		return ob_err_set(err, -ENOENT, "node %d: not in /proc/zoneinfo", node);
	for (int i = 0; i < nz; i++)
		*avail_kb += zone_usable(&zones[i], movable_idx < 0 ? nz - 1 : movable_idx) *
			     ((uint64_t)sysconf(_SC_PAGESIZE) / 1024);
	return 0;
}

int nm_host_node_cpus(const struct nm_host *h, int node, struct nm_mask *cpus,
		      struct ob_err *err)
{
	char buf[4096];
	ssize_t n;

	n = nm_read_file(h, buf, sizeof(buf), NODE_DIR "/node%d/cpulist", node);
	if (n < 0)
		return ob_err_set(err, (int)n, "node %d: no cpulist", node);
	return nm_mask_parse(buf, cpus, err);
}

int nm_host_cpus_to_nodes(const struct nm_host *h, const struct nm_mask *cpus,
			  struct nm_mask *nodes, struct ob_err *err)
{
	struct nm_mask online, ncpus, both;
	char buf[4096];
	int node, rc;

	nm_mask_zero(nodes);
	/* CPU-only nodes count too, so read "online" rather than has_memory. */
	if (nm_read_file(h, buf, sizeof(buf), NODE_DIR "/online") < 0 ||
	    nm_mask_parse(buf, &online, NULL)) {
		rc = nm_host_nodes(h, &online, err);
		if (rc)
			return rc;
	}
	nm_mask_for_each(node, &online) {
		if (nm_host_node_cpus(h, node, &ncpus, NULL))
			continue;
		nm_mask_and(&both, &ncpus, cpus);
		if (nm_mask_weight(&both))
			nm_mask_set(nodes, node);
	}
	return 0;
}

int nm_host_distance(const struct nm_host *h, int a, int b, struct ob_err *err)
{
	char row[4096], list[4096], *p = row, *end;
	struct nm_mask online;
	ssize_t n;
	int node;

	n = nm_read_file(h, row, sizeof(row), NODE_DIR "/node%d/distance", a);
	if (n < 0)
		return ob_err_set(err, (int)n, "node %d: no distance", a);
	if (nm_read_file(h, list, sizeof(list), NODE_DIR "/online") < 0 ||
	    nm_mask_parse(list, &online, NULL))
		return ob_err_set(err, -ENOENT, "no online node list");
	/* The row lists the distances to the online nodes in order. */
	nm_mask_for_each(node, &online) {
		long d = strtol(p, &end, 10);

		if (end == p)
			break;
		if (node == b)
			return (int)d;
		p = end;
	}
	return ob_err_set(err, -ENOENT, "no distance from node %d to node %d", a, b);
}

int nm_host_numa_balancing(const struct nm_host *h)
{
	char buf[64];
	ssize_t n = nm_read_file(h, buf, sizeof(buf), "/proc/sys/kernel/numa_balancing");

	if (n < 0)
		return (int)n;
	return atoi(buf);
}

int nm_host_vmstat_migrate(const struct nm_host *h, uint64_t *success, uint64_t *fail)
{
	FILE *f = nm_fopen(h, "/proc/vmstat");
	char key[64];
	uint64_t v;

	*success = *fail = 0;
	if (!f)
		return -errno;
	while (fscanf(f, "%63s %" SCNu64, key, &v) == 2) {
		if (!strcmp(key, "pgmigrate_success"))
			*success = v;
		else if (!strcmp(key, "pgmigrate_fail"))
			*fail = v;
	}
	fclose(f);
	return 0;
}
