// SPDX-License-Identifier: MIT
/* secret.c - reading passphrases without ever putting them on a command line.
 *
 * Three sources, in order: a file (or stdin for "-"), the standard output of
 * an --extpass command run through /bin/sh (as gocryptfs does), or a prompt
 * on /dev/tty with echo off.  The buffer is locked memory; a caller wipes it
 * with secret_free() once the key is derived.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "ob/secmem.h"

/* Read up to ECFS_SECRET_MAX bytes from fd; -E2BIG if there is more. */
static int read_all(int fd, struct secret *s)
{
	for (;;) {
		ssize_t n = read(fd, s->buf + s->len, ECFS_SECRET_MAX - s->len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return 0;
		s->len += (size_t)n;
		if (s->len == ECFS_SECRET_MAX) {
			char extra;

			return read(fd, &extra, 1) > 0 ? -E2BIG : 0;
		}
	}
}

static int from_file(const char *path, struct secret *s, struct ob_err *err)
{
	int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
	int rc;

	if (fd < 0)
		return ob_err_set(err, -errno, "passphrase file %s", path);
	rc = read_all(fd, s);
	if (fd != STDIN_FILENO)
		close(fd);
	if (rc)
		return ob_err_set(err, rc, "reading passphrase file %s", path);
	return 0;
}

static int from_memory(const char *mem, struct secret *s, struct ob_err *err)
{
	size_t len = strlen(mem);

	if (len > ECFS_SECRET_MAX)
		return ob_err_set(err, -E2BIG, "passphrase longer than %d bytes", ECFS_SECRET_MAX);
	memcpy(s->buf, mem, len);
	s->len = len;
	return 0;
}

static int from_command(const char *cmd, struct secret *s, struct ob_err *err)
{
	int pipefd[2], status, rc;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC))
		return ob_err_set(err, -errno, "pipe for --extpass");
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return ob_err_set(err, rc, "fork for --extpass");
	}
	if (pid == 0) {
		dup2(pipefd[1], STDOUT_FILENO);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	rc = read_all(pipefd[0], s);
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (rc)
		return ob_err_set(err, rc, "reading the output of --extpass");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return ob_err_set(err, -EIO, "--extpass command failed (status %d)",
				  WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return 0;
}

static int from_tty(const char *prompt, struct secret *s, struct ob_err *err)
{
	struct termios old, quiet;
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	int rc = 0;

	if (fd < 0)
		return ob_err_set(err, -ENOKEY,
				  "no passphrase: no terminal to ask on (use --passphrase-file or --extpass)");
	if (tcgetattr(fd, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
		quiet.c_lflag |= ICANON;
		tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	if (write(fd, prompt, strlen(prompt)) < 0)
		rc = -errno;
	while (!rc && s->len < ECFS_SECRET_MAX) {
		char c;
		ssize_t n = read(fd, &c, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || c == '\n')
			break;
		s->buf[s->len++] = c;
	}
	tcsetattr(fd, TCSAFLUSH, &old);
	if (write(fd, "\n", 1) < 0)
		rc = rc ? rc : -errno;
	close(fd);
	if (rc)
		return ob_err_set(err, rc, "prompting on the terminal");
	/* The newline was consumed, not stored: add it so stripping agrees. */
	if (s->len < ECFS_SECRET_MAX)
		s->buf[s->len++] = '\n';
	return 0;
}

int secret_read(const struct secret_source *src, const char *prompt,
		struct secret *s, struct ob_err *err)
{
	int rc;

	s->len = 0;
	s->buf = ob_secure_alloc(ECFS_SECRET_MAX + 1);
	if (!s->buf)
		return ob_err_set(err, -ENOMEM, "allocating locked memory");
	if (src && src->mem)
		rc = from_memory(src->mem, s, err);
	else if (src && src->file)
		rc = from_file(src->file, s, err);
	else if (src && src->extpass)
		rc = from_command(src->extpass, s, err);
	else
		rc = from_tty(prompt, s, err);
	if (rc)
		goto fail;
	/* ecryptfs-utils strips one trailing newline; so do we. */
	if (s->len && s->buf[s->len - 1] == '\n')
		s->len--;
	if (s->len && s->buf[s->len - 1] == '\r')
		s->len--;
	s->buf[s->len] = '\0';
	if (s->len == 0) {
		rc = ob_err_set(err, -EINVAL, "empty passphrase");
		goto fail;
	}
	return 0;
fail:
	secret_free(s);
	return rc;
}

void secret_free(struct secret *s)
{
	ob_secure_free(s->buf);
	s->buf = NULL;
	s->len = 0;
}
