/* SPDX-License-Identifier: MIT */
/* layout.h - Firecracker's region layout (JSON), for "mmpager serve". */
#ifndef MMPAGER_LAYOUT_H
#define MMPAGER_LAYOUT_H

#include <stdbool.h>
#include <stdio.h>

#include "mmpager.h"

#define LAYOUT_MAX_REGIONS	1024
#define LAYOUT_MAX_REGIONS_STR	"1024"

/* Parse json into a malloc'ed array of *n regions; -EINVAL with why. */
int layout_parse(const char *json, struct mmp_restore_region **out, unsigned *n,
		 char *why, size_t whylen);
/* buf holds a whole top-level array or object. */
bool layout_complete(const char *buf, size_t len);

#endif
