// SPDX-License-Identifier: MIT
/* mp-restore.c - a restoring process, as a VMM is, for "mmpager serve":
 * maps anonymous memory, registers it with a userfaultfd, hands the uffd
 * and the region layout (Firecracker's JSON) to the handler over its Unix
 * socket, then uses the memory.
 *
 *   mp-restore check SOCKET SNAPSHOT
 *	two regions (the snapshot's two halves, mapped apart, the second
 *	first in the layout); checks every page against SNAPSHOT, then gives
 *	a page back (MADV_DONTNEED) and checks that it reads as zeros.
 *   mp-restore bench SOCKET SNAPSHOT
 *	one region; prints the time from the hand-over until a first page is
 *	read (first_us) and until every page is resident (all_in_ms, by
 *	mincore, touching nothing).
 *   mp-restore copy SNAPSHOT
 *	the eager way: read the whole snapshot into memory first; same line.
 *
 * Exit status: 0, 1 on a mismatch or failure (said on stderr), 2 on usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define PG 4096

struct reg {
	char *base;
	size_t size;
	uint64_t offset;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int die(const char *what)
{
	fprintf(stderr, "mp-restore: %s: %s\n", what, strerror(errno));
	return -1;
}

static int snapshot_size(const char *path, size_t *size)
{
	struct stat sb;

	if (stat(path, &sb) < 0)
		return die(path);
	*size = (size_t)sb.st_size;
	return 0;
}

/* Map the regions, register them, connect and hand the uffd over. */
static int hand_over(const char *sock, struct reg *r, unsigned n, int *conn_out)
{
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_EVENT_REMOVE };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char json[1024], cbuf[CMSG_SPACE(sizeof(int))];
	size_t jl = 0;
	int uffd, conn;

	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) < 0)
		return die("userfaultfd");
	jl += (size_t)snprintf(json + jl, sizeof(json) - jl, "[");
	for (unsigned i = 0; i < n; i++) {
		struct uffdio_register reg;

		r[i].base = mmap(NULL, r[i].size, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (r[i].base == MAP_FAILED)
			return die("mmap");
		reg = (struct uffdio_register){
			.range = { (uintptr_t)r[i].base, r[i].size },
			.mode = UFFDIO_REGISTER_MODE_MISSING };
		if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0)
			return die("UFFDIO_REGISTER");
		jl += (size_t)snprintf(json + jl, sizeof(json) - jl,
				       "%s{\"base_host_virt_addr\": %llu, \"size\": %zu, "
				       "\"offset\": %llu, \"page_size\": %d, "
				       "\"page_size_kib\": %d}", i ? ", " : "",
				       (unsigned long long)(uintptr_t)r[i].base, r[i].size,
				       (unsigned long long)r[i].offset, PG, PG);
	}
	jl += (size_t)snprintf(json + jl, sizeof(json) - jl, "]");
	strncpy(sa.sun_path, sock, sizeof(sa.sun_path) - 1);
	conn = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (conn < 0 || connect(conn, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return die(sock);

	struct iovec iov = { json, jl };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &uffd, sizeof(int));
	if (sendmsg(conn, &mh, 0) != (ssize_t)jl)
		return die("sendmsg");
	close(uffd);
	*conn_out = conn;
	return 0;
}

static int check(const char *sock, const char *snap)
{
	size_t size, half;
	struct reg r[2];
	char *want, *page;
	int fd, conn;

	if (snapshot_size(snap, &size) < 0)
		return 1;
	half = size / 2 / PG * PG;
	r[0] = (struct reg){ NULL, size - half, half };	/* the second half first */
	r[1] = (struct reg){ NULL, half, 0 };
	want = malloc(size);
	fd = open(snap, O_RDONLY);
	if (!want || fd < 0 || pread(fd, want, size, 0) != (ssize_t)size)
		return die(snap), 1;
	close(fd);
	if (hand_over(sock, r, 2, &conn) < 0)
		return 1;
	for (unsigned i = 0; i < 2; i++)
		for (size_t off = 0; off < r[i].size; off += PG)
			if (memcmp(r[i].base + off, want + r[i].offset + off, PG)) {
				fprintf(stderr, "mp-restore: page at snapshot offset %zu differs\n",
					(size_t)r[i].offset + off);
				return 1;
			}
	page = r[1].base + PG;
	if (madvise(page, PG, MADV_DONTNEED) < 0)
		return die("madvise"), 1;
	for (size_t i = 0; i < PG; i++)
		if (page[i]) {
			fprintf(stderr, "mp-restore: a page given back does not read as zeros\n");
			return 1;
		}
	printf("ok pages=%zu\n", size / PG);
	free(want);
	close(conn);
	return 0;
}

static int all_resident(char *base, size_t size, unsigned char *vec)
{
	if (mincore(base, size, vec) < 0)
		return -1;
	for (size_t i = 0; i < size / PG; i++)
		if (!(vec[i] & 1))
			return 0;
	return 1;
}

static int bench(const char *sock, const char *snap)
{
	struct reg r = { NULL, 0, 0 };
	unsigned char *vec;
	volatile char sink;
	double t0, first, all;
	int conn, rc;

	if (snapshot_size(snap, &r.size) < 0)
		return 1;
	r.size = r.size / PG * PG;
	vec = malloc(r.size / PG);
	if (!vec)
		return 1;
	t0 = now_s();
	if (hand_over(sock, &r, 1, &conn) < 0)
		return 1;
	sink = r.base[r.size / 2];	/* the first instruction touches memory */
	first = now_s() - t0;
	while ((rc = all_resident(r.base, r.size, vec)) == 0)
		usleep(1000);
	all = now_s() - t0;
	(void)sink;
	if (rc < 0)
		return die("mincore"), 1;
	printf("engine=lazy first_us=%.0f all_in_ms=%.1f bytes=%zu\n", first * 1e6, all * 1e3,
	       r.size);
	close(conn);
	return 0;
}

static int copy(const char *snap)
{
	double t0 = now_s(), t;
	size_t size;
	char *mem;
	int fd;

	if (snapshot_size(snap, &size) < 0)
		return 1;
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fd = open(snap, O_RDONLY);
	if (mem == MAP_FAILED || fd < 0)
		return die(snap), 1;
	for (size_t off = 0; off < size;) {
		ssize_t n = pread(fd, mem + off, size - off > (8 << 20) ? 8 << 20 : size - off,
				  (off_t)off);

		if (n <= 0)
			return die("pread"), 1;
		off += (size_t)n;
	}
	t = now_s() - t0;
	printf("engine=copy first_us=%.0f all_in_ms=%.1f bytes=%zu\n", t * 1e6, t * 1e3, size);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "check"))
		return check(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "bench"))
		return bench(argv[2], argv[3]);
	if (argc == 3 && !strcmp(argv[1], "copy"))
		return copy(argv[2]);
	fprintf(stderr, "usage: mp-restore check|bench SOCKET SNAPSHOT | mp-restore copy "
		"SNAPSHOT\n");
	return 2;
}
