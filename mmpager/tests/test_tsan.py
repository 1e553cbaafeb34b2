"""A ThreadSanitizer run of the page-table tests under threads
(tests/unit/test-ptab.c: faults, evictions, flushes and unmaps of the same
and of different table pages), built here with -fsanitize=thread; the
pager's own state must be free of data races.  Region memory, which the
kernel orders through write protection, is suppressed (tests/tsan.supp)."""
import subprocess

import pytest

from conftest import BUILD, ROOT, run, uffd_usable


def test_ptab_under_tsan(tmp_path):
    if "san" in BUILD.name:
        pytest.skip("built from the sources, the same in every pass: run once, in the normal pass")
    if not uffd_usable():
        pytest.skip("userfaultfd needs root or vm.unprivileged_userfaultfd=1")
    # the library's NBD store links libnbd
    libs = subprocess.run(["pkg-config", "--libs", "cmocka", "libnbd"], stdout=subprocess.PIPE,
                          text=True)
    if libs.returncode != 0:
        pytest.skip("cmocka or libnbd not installed")
    exe = tmp_path / "test-ptab-tsan"
    srcs = sorted(str(p) for p in (ROOT / "mmpager" / "lib").glob("*.c"))
    cc = subprocess.run(
        ["cc", "-std=c11", "-D_GNU_SOURCE", "-O1", "-g", "-fsanitize=thread", "-pthread",
         "-I", str(ROOT / "common" / "include"), "-I", str(ROOT / "mmpager" / "include"),
         "-I", str(ROOT / "mmpager" / "lib")] + srcs +
        [str(ROOT / "common" / "lib" / "err.c"),
         str(ROOT / "mmpager" / "tests" / "unit" / "test-ptab.c"), "-o", str(exe)] +
        libs.stdout.split(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if cc.returncode != 0 and "tsan" in cc.stdout:
        pytest.skip("this compiler cannot build with -fsanitize=thread")
    assert cc.returncode == 0, cc.stdout
    supp = ROOT / "mmpager" / "tests" / "tsan.supp"
    r = run([str(exe)], {"TSAN_OPTIONS": f"suppressions={supp} history_size=7",
                         "ASAN_OPTIONS": ""}, timeout=900)
    out = r.stdout + r.stderr
    assert "WARNING: ThreadSanitizer" not in out, out[-4000:]
    assert r.returncode == 0, out[-2000:]
    assert "[  PASSED  ] 7 test(s)" in out
