/* SPDX-License-Identifier: MIT */
/*
 * tls.c - NBD_OPT_STARTTLS with GnuTLS: the server's credentials and one
 * session per connection that asked for it.
 *
 * Credentials, as nbdkit and qemu-nbd take them: an X.509 directory with
 * server-cert.pem and server-key.pem (and ca-cert.pem, needed to verify
 * client certificates with --tls-verify-peer), or a PSK file of
 * "username:hexkey" lines as psktool writes them.  Only file names are on
 * the command line; keys stay in GnuTLS's memory, and the process is made
 * undumpable once they are loaded.
 *
 * The session's transport is the connection's socket, read and written
 * blocking during the handshake (bounded by --handshake-timeout, conn.c)
 * and with MSG_DONTWAIT in the transmission phase (c->tls_nonblock), so
 * the reader and outq.c keep their never-block rules.
 *
 * GnuTLS reads a record in two exact pieces, its 5-byte header and its
 * body: two recv() calls for every 28-byte request.  In the transmission
 * phase the pull side reads ahead instead, up to TLS_RX bytes at a time
 * into c->tls_rx, so a burst of requests costs one system call; a read as
 * long as the buffer (a big record's body) goes straight to GnuTLS.
 * GnuTLS only reports EAGAIN once that buffer is empty, so poll and epoll
 * stay right about readability; an idle connection gives the buffer back.
 */
#include <errno.h>
#include <gnutls/gnutls.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include "server.h"
#include "tls.h"

struct blkd_tls {
	gnutls_certificate_credentials_t x509;
	gnutls_psk_server_credentials_t psk;
	bool verify_peer;
};

int blkd_tls_init(struct blkd_tls **out, const char *dir, const char *psk_file,
		  bool verify_peer, struct ob_err *err)
{
	struct blkd_tls *t = calloc(1, sizeof(*t));
	char cert[4096], key[4096], ca[4096];
	int rc;

	if (!t)
		return ob_err_set(err, -ENOMEM, "out of memory");
	t->verify_peer = verify_peer;
	if (psk_file) {
		if (gnutls_psk_allocate_server_credentials(&t->psk) ||
		    gnutls_psk_set_server_credentials_file(t->psk, psk_file)) {
			rc = ob_err_set(err, -EINVAL, "%s: cannot read the PSK file", psk_file);
			goto fail;
		}
	} else {
		snprintf(cert, sizeof(cert), "%s/server-cert.pem", dir);
		snprintf(key, sizeof(key), "%s/server-key.pem", dir);
		snprintf(ca, sizeof(ca), "%s/ca-cert.pem", dir);
		if (gnutls_certificate_allocate_credentials(&t->x509)) {
			rc = ob_err_set(err, -ENOMEM, "out of memory");
			goto fail;
		}
		rc = gnutls_certificate_set_x509_key_file(t->x509, cert, key, GNUTLS_X509_FMT_PEM);
		if (rc < 0) {
			rc = ob_err_set(err, -EINVAL, "%s, %s: %s", cert, key, gnutls_strerror(rc));
			goto fail;
		}
		rc = gnutls_certificate_set_x509_trust_file(t->x509, ca, GNUTLS_X509_FMT_PEM);
		if (rc < 0 && verify_peer) {
			rc = ob_err_set(err, -EINVAL, "%s: %s (needed by --tls-verify-peer)", ca,
					gnutls_strerror(rc));
			goto fail;
		}
	}
	prctl(PR_SET_DUMPABLE, 0);	/* no core file carries the keys */
	*out = t;
	return 0;
fail:
	blkd_tls_free(t);
	return rc;
}

void blkd_tls_free(struct blkd_tls *t)
{
	if (!t)
		return;
	if (t->x509)
		gnutls_certificate_free_credentials(t->x509);
	if (t->psk)
		gnutls_psk_free_server_credentials(t->psk);
	free(t);
}

#define TLS_RX (16u << 10)

struct blkd_tls_rx {
	size_t pos, len;
	char buf[TLS_RX];
};

/* Read ahead into c->tls_rx (transmission phase); bytes, 0, -1 + errno. */
static ssize_t rx_fill(struct blkd_conn *c)
{
	struct blkd_tls_rx *rx = c->tls_rx;
	ssize_t n;

	if (!rx) {
		rx = c->tls_rx = malloc(sizeof(*rx));
		if (!rx) {
			errno = ENOMEM;
			return -1;
		}
	}
	n = recv(c->fd, rx->buf, TLS_RX, MSG_DONTWAIT);
	rx->pos = 0;
	rx->len = n > 0 ? (size_t)n : 0;
	return n;
}

/* Hand GnuTLS what the read-ahead buffer holds, up to len bytes. */
static ssize_t rx_take(struct blkd_tls_rx *rx, void *buf, size_t len)
{
	size_t n = rx->len - rx->pos < len ? rx->len - rx->pos : len;

	memcpy(buf, rx->buf + rx->pos, n);
	rx->pos += n;
	return (ssize_t)n;
}

static ssize_t tls_pull(gnutls_transport_ptr_t p, void *buf, size_t len)
{
	struct blkd_conn *c = p;
	bool buffered = c->tls_rx && c->tls_rx->pos < c->tls_rx->len;
	ssize_t n;

	if (!c->tls_nonblock || (!buffered && len >= TLS_RX))
		n = recv(c->fd, buf, len, c->tls_nonblock ? MSG_DONTWAIT : 0);
	else if (buffered || (n = rx_fill(c)) > 0)
		n = rx_take(c->tls_rx, buf, len);
	if (n < 0)
		gnutls_transport_set_errno(c->tls, errno);
	return n;
}

static ssize_t tls_push(gnutls_transport_ptr_t p, const void *buf, size_t len)
{
	struct blkd_conn *c = p;
	ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL | (c->tls_nonblock ? MSG_DONTWAIT : 0));

	if (n < 0)
		gnutls_transport_set_errno(c->tls, errno);
	return n;
}

/* A GnuTLS error as -errno, for the callers of recv/send. */
static int tls_errno(ssize_t rc)
{
	switch (rc) {
	case GNUTLS_E_AGAIN: return -EAGAIN;
	case GNUTLS_E_INTERRUPTED: return -EINTR;
	case GNUTLS_E_PREMATURE_TERMINATION: return -ECONNRESET;
	default: return -EIO;
	}
}

/*
 * The cipher.  GnuTLS goes by the client's order, and libnbd's GnuTLS puts
 * ChaCha20-Poly1305 first: with it, ChaCha20 and Poly1305 were 70% of
 * the server's cycles on 1 MiB reads, for nbdkit as for blkd.  With AES-NI
 * and PCLMUL, AES-GCM costs a tenth as much (gnutls-cli
 * --benchmark-ciphers here: AES-128-GCM 4.4 GB/s, ChaCha20-Poly1305
 * 0.44 GB/s; 1 MiB TLS reads went from 264 to 950 MiB/s), so the server's
 * order decides, AES-GCM first; NORMAL's other ciphers stay, after it.
 * Without those instructions the client's choice stands.
 */
#define AES_FIRST "%SERVER_PRECEDENCE:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:" \
		  "+CHACHA20-POLY1305:+AES-256-CCM:+AES-128-CCM:+AES-256-CBC:+AES-128-CBC"
#define PSK_KX "+ECDHE-PSK:+DHE-PSK:+PSK"

static bool cpu_has_fast_aes(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_cpu_init();
	return __builtin_cpu_supports("aes") && __builtin_cpu_supports("pclmul");
#else
	return false;
#endif
}

static int set_priority(gnutls_session_t s, bool psk)
{
	bool aes = cpu_has_fast_aes();

	if (psk)
		return gnutls_priority_set_direct(s, aes ? "NORMAL:" AES_FIRST ":" PSK_KX
							 : "NORMAL:" PSK_KX, NULL);
	return aes ? gnutls_set_default_priority_append(s, AES_FIRST, NULL, 0)
		   : gnutls_set_default_priority(s);
}

int blkd_tls_start(struct blkd_conn *c)
{
	struct blkd_tls *t = c->srv->tls;
	gnutls_session_t s;
	int rc;

	if (gnutls_init(&s, GNUTLS_SERVER))
		return -ENOMEM;
	c->tls = s;
	if (t->psk) {
		rc = set_priority(s, true);
		if (!rc)
			rc = gnutls_credentials_set(s, GNUTLS_CRD_PSK, t->psk);
	} else {
		rc = set_priority(s, false);
		if (!rc)
			rc = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, t->x509);
		if (t->verify_peer)
			gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUIRE);
	}
	if (rc)
		goto fail;
	gnutls_transport_set_ptr(s, c);
	gnutls_transport_set_pull_function(s, tls_pull);
	gnutls_transport_set_push_function(s, tls_push);
	/* the socket blocks here, up to --handshake-timeout: AGAIN is that
	 * timeout, not a reason to try again */
	do
		rc = gnutls_handshake(s);
	while (rc == GNUTLS_E_INTERRUPTED);
	if (rc < 0)
		goto fail;
	if (t->verify_peer && !t->psk) {
		unsigned status = 0;

		if (gnutls_certificate_verify_peers3(s, NULL, &status) || status) {
			blkd_log("conn %lu: %s: client certificate not trusted", c->id, c->peer);
			return -EACCES;
		}
	}
	return 0;
fail:
	blkd_log("conn %lu: %s: TLS handshake failed: %s", c->id, c->peer, gnutls_strerror(rc));
	return rc == GNUTLS_E_AGAIN ? -EAGAIN : -EACCES;
}

void blkd_tls_end(struct blkd_conn *c)
{
	free(c->tls_rx);
	c->tls_rx = NULL;
	if (!c->tls)
		return;
	gnutls_deinit(c->tls);
	c->tls = NULL;
}

void blkd_tls_idle(struct blkd_conn *c)
{
	if (c->tls_rx && c->tls_rx->pos == c->tls_rx->len) {
		free(c->tls_rx);
		c->tls_rx = NULL;
	}
}

ssize_t blkd_tls_recv(struct blkd_conn *c, void *buf, size_t len)
{
	ssize_t n = gnutls_record_recv(c->tls, buf, len);

	if (n >= 0)
		return n;
	errno = -tls_errno(n);
	return -1;
}

ssize_t blkd_tls_send(struct blkd_conn *c, const void *buf, size_t len)
{
	ssize_t n = gnutls_record_send(c->tls, buf, len);

	if (n >= 0)
		return n;
	errno = -tls_errno(n);
	return -1;
}

bool blkd_tls_pending(struct blkd_conn *c)
{
	return c->tls && (gnutls_record_check_pending(c->tls) > 0 ||
			  (c->tls_rx && c->tls_rx->pos < c->tls_rx->len));
}
