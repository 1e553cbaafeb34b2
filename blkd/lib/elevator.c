/* SPDX-License-Identifier: MIT */
/*
 * elevator.c - the table of I/O schedulers (spec B.2) and the name lookup
 * the queue uses at creation and at a run-time switch.  The calls into an
 * elevator, with their checks for optional hooks, are the inline
 * functions at the end of blkd-int.h.
 */
#include <string.h>

#include "blkd-int.h"

static const struct blkd_elevator_ops *const elevators[] = {
	&blkd_elv_noop, &blkd_elv_deadline, &blkd_elv_fair,
};
static const char *const elevator_names[] = { "noop", "deadline", "fair", NULL };

const char *const *blkd_scheduler_names(void)
{
	return elevator_names;
}

const struct blkd_elevator_ops *blkd_elevator_find(const char *name)
{
	for (size_t i = 0; i < sizeof(elevators) / sizeof(elevators[0]); i++)
		if (!strcmp(elevators[i]->name, name))
			return elevators[i];
	if (!strcmp(name, "cfq"))
		return &blkd_elv_fair;
	return NULL;
}
