# SPDX-License-Identifier: MIT
"""Shared fixtures for the numamove pytest suites.

OB_BUILD (the build directory) and OB_ROOT (the repository) come from
tests/run-all; without them the suites look at build/ under the repository.
"""
import os
import pathlib

import pytest

ROOT = pathlib.Path(os.environ.get("OB_ROOT", pathlib.Path(__file__).resolve().parents[2]))
BUILD = pathlib.Path(os.environ.get("OB_BUILD", ROOT / "build"))
NUMAMOVE = BUILD / "bin" / "numamove"


@pytest.fixture(scope="session")
def numamove():
    if not NUMAMOVE.exists():
        pytest.skip(f"{NUMAMOVE} not built (make {NUMAMOVE.relative_to(ROOT)})")
    return str(NUMAMOVE)
