/* SPDX-License-Identifier: MIT */
/*
 * tls.h - STARTTLS for the server (tls.c): credentials, and a connection's
 * session once it asked.  recv/send return like recv(2)/send(2): bytes,
 * or -1 with errno (EAGAIN when the socket has no more now).
 */
#ifndef BLKD_TLS_H
#define BLKD_TLS_H

#include <stdbool.h>
#include <sys/types.h>

#include "ob/err.h"

struct blkd_conn;
struct blkd_tls;

enum blkd_tls_mode { BLKD_TLS_OFF, BLKD_TLS_ON, BLKD_TLS_REQUIRE };

/* X.509 directory or PSK file (one of them). */
int blkd_tls_init(struct blkd_tls **out, const char *dir, const char *psk_file,
		  bool verify_peer, struct ob_err *err);
void blkd_tls_free(struct blkd_tls *t);
/* The server side of the TLS handshake on c's socket: 0 or -errno. */
int blkd_tls_start(struct blkd_conn *c);
void blkd_tls_end(struct blkd_conn *c);
ssize_t blkd_tls_recv(struct blkd_conn *c, void *buf, size_t len);
ssize_t blkd_tls_send(struct blkd_conn *c, const void *buf, size_t len);
/* Between requests: give back the read-ahead buffer if it is empty. */
void blkd_tls_idle(struct blkd_conn *c);
/* Bytes decrypted or read ahead but not yet taken (poll would not see
 * them). */
bool blkd_tls_pending(struct blkd_conn *c);

#endif
