/* SPDX-License-Identifier: MIT */
/*
 * server.h - the private header of the NBD server: exports, connections
 * and the server that owns them.
 *
 * Calls run one way, down this list:
 *   main.c                   picks the command
 *   serve.c, ctl-client.c    the commands
 *   config.c, listen.c       the command line; listening and accepting
 *   evloop.c                 the event loop and the connection threads
 *   conn.c                   a connection's steps and lifetime
 *   nbd-handshake.c, transmission.c, control.c   the two NBD phases; control
 *   export.c, sockio.c, log.c, nbd-proto.c       leaves
 *
 * Lock order: srv->lock (the connection list) before srv->pool_lock before
 * conn->lock (a
 * connection's slots) before conn->send_lock (its socket's write side);
 * queue locks are never held while any of these is taken (bio end_io runs
 * with the queue lock dropped, see queue.c).
 */
#ifndef BLKD_SERVER_H
#define BLKD_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "blkd.h"
#include "nbd-proto.h"

#define BLKD_TRACE_MAJOR 43	/* nbd, so btt shows plain Q2C/D2C tables */

struct blkd_export {
	char *name;
	char *desc;
	char *path;
	struct blkd_backend *be;
	struct blkd_queue *q;
	bool readonly;
	uint32_t min_block;
	unsigned index;			/* blktrace minor */
	struct blkd_limit client_limit;	/* each client's (fields atomic) */
	struct blkd_server *srv;
};

struct blkd_conn;

struct blkd_server {
	struct blkd_export *exports;
	unsigned nr_exports;
	unsigned max_inflight;		/* requests per connection */
	uint64_t max_conn_bytes;	/* slot buffer capacity per connection */
	uint64_t max_total_bytes;	/* ... and of every connection together */
	uint64_t buf_bytes;		/* that total now (atomic) */
	unsigned poll_us;		/* a reader polls this long before it sleeps */
	unsigned handshake_ms;		/* a handshake must end this soon */
	int tls_mode;			/* enum blkd_tls_mode (tls.h) */
	struct blkd_tls *tls;		/* credentials, when TLS is on */
	bool verbose;
	pthread_mutex_t lock;
	pthread_cond_t conns_changed;
	/* guarded by lock */
	struct blkd_conn *conns;	/* doubly linked */
	unsigned nr_conns;
	unsigned long next_id;
	bool stopping;
	/* connection threads and the event loop (evloop.c) */
	int epfd;			/* every connection's socket and wake fd */
	int ev_wake;			/* eventfd: wakes the event loop */
	pthread_t ev_thread;
	bool ev_running;
	pthread_t *pool;
	unsigned nr_pool;
	pthread_mutex_t pool_lock;	/* after srv->lock, before conn->lock */
	pthread_cond_t pool_cond;
	struct blkd_conn *runq_head, *runq_tail;	/* under pool_lock */
	unsigned runq_len;		/* under pool_lock; read relaxed */
	unsigned pool_idle;		/* under pool_lock */
	unsigned max_handshakes;	/* pool threads that may negotiate at once */
	unsigned nr_handshakes;		/* negotiating now (atomic) */
	bool pool_stop;
	struct blkd_conn *retired;	/* to free, under pool_lock */
	FILE *trace;			/* --trace-text file */
	pthread_mutex_t trace_lock;
	struct blkd_blktrace *blktrace;	/* --trace DIR */
};

/* One request slot of a connection: a bio plus what the reply needs. */
struct blkd_slot {
	struct blkd_bio bio;
	struct blkd_conn *conn;
	uint64_t cookie;
	uint16_t type;
	uint16_t nbd_flags;
	size_t cap;			/* allocated size of bio.buf */
	struct blkd_slot *next_free;
	/* the reply, built by transmission.c; kept here until it has left
	 * (outq.c) */
	uint8_t hdr[32];
	struct iovec iov[2];
	int niov;
	size_t sent;			/* bytes of it already sent */
	struct blkd_slot *next_pending;	/* the output queue, then a done chain */
};

/* Who runs a connection (evloop.c); under srv->pool_lock. */
enum blkd_sched {
	BLKD_SCHED_PARKED,		/* waits in the epoll set, no thread */
	BLKD_SCHED_QUEUED,		/* on the run queue */
	BLKD_SCHED_RUNNING,		/* a pool thread runs its step */
	BLKD_SCHED_DEAD,		/* retired, to be freed */
};

/* Where a connection is in its life (conn.c). */
enum blkd_phase {
	BLKD_PHASE_HANDSHAKE,
	BLKD_PHASE_TRANSMISSION,
	BLKD_PHASE_DRAIN,
};

struct reader;
struct blkd_tls_rx;

struct blkd_conn {
	struct blkd_conn *prev, *next;	/* srv->conns, under srv->lock */
	struct blkd_conn *run_next;	/* run queue or retired list */
	enum blkd_sched sched;
	bool again;			/* an event came while it ran */
	bool want_in, want_out;		/* what a parked step waits for (evloop.c) */
	enum blkd_phase phase;		/* only its running thread touches it */
	uint64_t deadline_ns;		/* handshake or drain ends by then (0: none) */
	bool budget_wait;		/* parked for buffer budget (atomic) */
	bool hs_wait;			/* parked for a handshake thread (atomic) */
	bool disc;			/* the client said NBD_CMD_DISC */
	struct reader *rd;		/* transmission state between steps */
	struct blkd_throttle thr;	/* against exp->client_limit */
	uint64_t throttled_ns;		/* thr's total, for stats (atomic) */
	struct blkd_server *srv;
	struct blkd_export *exp;
	int fd;
	unsigned long id;
	char peer[64];
	struct blkd_client client;
	/* negotiated */
	bool structured;
	bool no_zeroes;
	bool meta_alloc;		/* base:allocation selected */
	char *meta_export;		/* the export it was selected for */
	uint16_t tflags;
	struct gnutls_session_int *tls;	/* after STARTTLS (tls.c) */
	bool tls_nonblock;		/* transmission: the session never blocks */
	bool tls_held;			/* GnuTLS holds a record half sent (outq.c);
					 * under send_lock */
	struct blkd_tls_rx *tls_rx;	/* its read-ahead (tls.c), reader only */
	/* slots */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct blkd_slot *slots;
	struct blkd_slot *free_slots;	/* under lock */
	unsigned inflight;		/* under lock */
	pthread_mutex_t send_lock;
	bool dead;			/* a send failed; under send_lock */
	/* the output queue (outq.c), under send_lock */
	bool corked;			/* the reader runs a batch */
	struct blkd_slot *out_head, *out_tail;
	unsigned nout_unpushed;		/* appended while corked, not tried yet */
	int wake_fd;			/* eventfd: wakes the reader's poll */
	bool reader_waits;		/* for a slot or budget; under lock */
	uint64_t buf_bytes;		/* capacity of the slots' buffers; under lock */
};

void blkd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct blkd_config;

/* sockio.c: whole buffers on a blocking socket; 0 or -errno
 * (-ECONNRESET at end of file) */
int blkd_read_full(int fd, void *buf, size_t len);
int blkd_write_full(int fd, const void *buf, size_t len);
/* The same on a connection, through its TLS session once there is one. */
int blkd_conn_read_full(struct blkd_conn *c, void *buf, size_t len);
int blkd_conn_write_full(struct blkd_conn *c, const void *buf, size_t len);
/* One non-blocking receive on the connection: bytes, 0 at EOF, -1 + errno. */
ssize_t blkd_conn_recv(struct blkd_conn *c, void *buf, size_t len);

/* export.c */
int blkd_open_exports(struct blkd_server *srv, const struct blkd_config *cfg);
void blkd_close_exports(struct blkd_server *srv);
/* Transmission flags for an export as this connection negotiated it. */
uint16_t blkd_export_tflags(const struct blkd_export *exp, bool structured);
struct blkd_export *blkd_export_find(struct blkd_server *srv, const char *name);

/* listen.c: a listening fd / the number of TCP fds, or -errno (printed).
 * A Unix socket a live server listens on is refused (-EADDRINUSE); own
 * identifies the file we made, which blkd_unlink_own removes only if it
 * is still ours. */
struct blkd_unix_owner {
	dev_t dev;
	ino_t ino;
};
int blkd_listen_unix(const char *path, struct blkd_unix_owner *own);
void blkd_unlink_own(const char *path, const struct blkd_unix_owner *own);
/* The port a TCP listener got (for -p 0), or 0. */
unsigned blkd_listen_port(int fd);
int blkd_listen_tcp(const char *ip, const char *port, int *fds, int max);
/* Accept one client: 0, or -errno of accept4 (EMFILE at the fd limit). */
int blkd_accept(struct blkd_server *srv, int lfd);

/* conn.c: take over fd; the connection waits in the event loop until
 * the client speaks */
void blkd_conn_start(struct blkd_server *srv, int fd, const char *peer);
/* Run c until it would block; true when it ended (and was retired). */
bool blkd_conn_step(struct blkd_conn *c);
void blkd_conn_free(struct blkd_conn *c);

/* evloop.c: the event loop and the connection threads */
int blkd_evloop_start(struct blkd_server *srv, unsigned nthreads);
void blkd_evloop_stop(struct blkd_server *srv);
int blkd_conn_watch(struct blkd_conn *c);	/* into the epoll set; -errno */
void blkd_conn_schedule(struct blkd_conn *c);
void blkd_conn_retire(struct blkd_conn *c);	/* freed by the event loop */
bool blkd_pool_busy(struct blkd_server *srv);	/* connections wait to run */

/* transmission.c: the transmission phase, after the handshake, in steps:
 * -EAGAIN when it would block (call again on the next event), 0 when the
 * client left, else -errno.  blkd_transmission_end frees its state. */
int blkd_transmission_step(struct blkd_conn *c);
void blkd_transmission_end(struct blkd_conn *c);
/* Give back n slots chained by next_pending (their replies have left). */
void blkd_slots_put(struct blkd_conn *c, struct blkd_slot *s, unsigned n);

/* outq.c: replies on their way out; nothing here blocks on the socket */
#define BLKD_BIG_REPLY (64u << 10)	/* pushed at once, never corked */
void blkd_outq_add(struct blkd_conn *c, struct blkd_slot *s, bool corkable);
bool blkd_outq_push(struct blkd_conn *c);	/* true: bytes still wait */
void blkd_conn_kick(struct blkd_conn *c);
/* Sleep until readable (want_read), a kick, or timeout_ms (-1: none);
 * sends waiting replies when the socket takes them.  0 or -errno. */
int blkd_conn_wait(struct blkd_conn *c, bool want_read, int timeout_ms);

/* nbd-handshake.c: 0 = transmission starts on c->exp; <0 = hang up. */
int blkd_handshake(struct blkd_conn *c);

/* serve.c, ctl-client.c: the commands */
int blkd_cmd_serve(int argc, char **argv);
int blkd_cmd_ctl(int argc, char **argv);

/* throttle-client.c: may the request in hand start under the client's
 * limits?  0, or the ns to wait (then c->deadline_ns wakes it). */
uint64_t blkd_client_throttle(struct blkd_conn *c, uint16_t nbd_type, uint32_t len);
void blkd_client_limit_get(const struct blkd_export *e, struct blkd_limit *lim);
void blkd_client_limit_set(struct blkd_export *e, const struct blkd_limit *lim);

/* control.c */
int blkd_control_handle(struct blkd_server *srv, int fd);
size_t blkd_server_stats_json(struct blkd_server *srv, char *buf, size_t len);
void blkd_trace_event(void *arg, const struct blkd_trace_rec *rec);

#endif
