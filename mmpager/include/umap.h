/* SPDX-License-Identifier: MIT */
/* umap.h - for programs that include <umap.h> rather than <umap/umap.h>. */
#include "umap/umap.h"
