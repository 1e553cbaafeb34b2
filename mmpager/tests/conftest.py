"""Shared fixtures for the mmpager pytest suites.

OB_BUILD (the build directory) and OB_ROOT (the repository) come from
tests/run-all; without them the suites look at build/ under the repository.
"""
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(os.environ.get("OB_ROOT", pathlib.Path(__file__).resolve().parents[2]))
BUILD = pathlib.Path(os.environ.get("OB_BUILD", ROOT / "build"))
UM_PROG = BUILD / "tests" / "mmpager" / "um-prog"
MMPAGER = BUILD / "bin" / "mmpager"


def uffd_usable():
    """userfaultfd needs root (vm.unprivileged_userfaultfd=0 here)."""
    try:
        with open("/proc/sys/vm/unprivileged_userfaultfd") as f:
            unpriv = f.read().strip() == "1"
    except OSError:
        unpriv = False
    return os.geteuid() == 0 or unpriv


@pytest.fixture(scope="session")
def um_prog():
    if not UM_PROG.exists():
        pytest.skip(f"{UM_PROG} not built (make mmpager)")
    if not uffd_usable():
        pytest.skip("userfaultfd needs root or vm.unprivileged_userfaultfd=1")
    return str(UM_PROG)


@pytest.fixture(scope="session")
def mmpager_bin():
    if not MMPAGER.exists():
        pytest.skip(f"{MMPAGER} not built (make mmpager)")
    if not uffd_usable():
        pytest.skip("userfaultfd needs root or vm.unprivileged_userfaultfd=1")
    return str(MMPAGER)


def run(cmd, env=None, timeout=300):
    """Run cmd with extra env; a hang fails the test instead of stalling."""
    full = dict(os.environ)
    full.update(env or {})
    return subprocess.run(cmd, env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=timeout)
