/* SPDX-License-Identifier: MIT */
/* sd-listen.h - listening sockets handed over by systemd (sd-listen.c). */
#ifndef BLKD_SD_LISTEN_H
#define BLKD_SD_LISTEN_H

/* Take the sockets systemd passed to this process, once, before blkd
 * forks: their count (0 when not socket-activated), or -1 after a message
 * on stderr when the variables name sockets that are not listening. */
int blkd_sd_listen_take(void);

/* Copy up to max of the taken sockets into fds; returns how many. */
int blkd_sd_listen_fds(int *fds, int max);

#endif
