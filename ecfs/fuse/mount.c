/* mount.c - placeholder until the FUSE mount lands: says so clearly. */
#include "../cli/cli.h"

int cmd_mount(int argc, char **argv)
{
	cli_msg("mount: not available in this build yet");
	return EXIT_FAIL;
}

int cmd_umount(int argc, char **argv)
{
	cli_msg("umount: not available in this build yet");
	return EXIT_FAIL;
}
