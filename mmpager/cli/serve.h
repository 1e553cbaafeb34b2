/* SPDX-License-Identifier: MIT */
/* serve.h - the "mmpager serve" command (serve.c). */
#ifndef MMPAGER_SERVE_H
#define MMPAGER_SERVE_H

/* argv[0] is "serve"; returns the exit status. */
int cmd_serve(int argc, char **argv);

#endif
