"""The libFuzzer harnesses of ecfs/fuzz: replay every seed and every saved
crash, then fuzz each parser for a bounded time.

Needs clang with its libFuzzer runtime (Debian: clang, libclang-rt-14-dev);
without them every test skips with the reason.  The harnesses are built with
"make fuzz" into $OB_BUILD/fuzz (default build/).  ECFS_FUZZ_SECONDS sets
the time each harness fuzzes (default 20); 0 skips the fuzzing runs but
keeps the replays.
"""
import glob
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import BUILD, ROOT

FUZZ_DIR = os.path.join(ROOT, "ecfs", "fuzz")
HARNESSES = sorted(os.path.basename(p)[len("fuzz-"):-2]
                   for p in glob.glob(os.path.join(FUZZ_DIR, "fuzz-*.c")))
SECONDS = int(os.environ.get("ECFS_FUZZ_SECONDS", "20"))
SAN_ENV = {"ASAN_OPTIONS": "abort_on_error=0",
           "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1"}


def libfuzzer_missing(tmp):
    """Why the fuzz build cannot work here, or None."""
    if not shutil.which("clang"):
        return "needs clang (Debian: clang)"
    src = os.path.join(tmp, "probe.c")
    with open(src, "w") as f:
        f.write("#include <stddef.h>\n#include <stdint.h>\n"
                "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)"
                "{ (void)d; (void)n; return 0; }\n")
    proc = subprocess.run(["clang", "-fsanitize=fuzzer,address,undefined", "-o",
                           os.path.join(tmp, "probe"), src],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if proc.returncode:
        return "clang has no libFuzzer runtime (Debian: libclang-rt-14-dev)"
    return None


@pytest.fixture(scope="module")
def fuzz_bins():
    # Not tmp_path_factory: other pytest runs prune its shared root.
    with tempfile.TemporaryDirectory(prefix="ecfs-fuzz-probe-") as tmp:
        why = libfuzzer_missing(tmp)
    if why:
        pytest.skip(why)
    proc = subprocess.run(["make", "-j2", "O=" + os.path.relpath(BUILD, ROOT), "fuzz"],
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.returncode == 0, "make fuzz failed:\n" + proc.stdout.decode(errors="replace")[-4000:]
    bins = {h: os.path.join(BUILD, "fuzz", "fuzz-" + h) for h in HARNESSES}
    for h, b in bins.items():
        assert os.access(b, os.X_OK), "make fuzz did not build %s" % b
    return bins


def inputs(kind, harness):
    d = os.path.join(FUZZ_DIR, kind, harness)
    return sorted(p for p in glob.glob(os.path.join(d, "*")) if os.path.isfile(p))


@pytest.mark.parametrize("harness", HARNESSES)
def test_seeds_and_regressions_replay(fuzz_bins, harness):
    """Every seed and every input that once crashed runs clean, once each."""
    seeds, regressions = inputs("corpus", harness), inputs("regressions", harness)
    assert seeds, "no seed corpus in ecfs/fuzz/corpus/%s" % harness
    proc = subprocess.run([fuzz_bins[harness], "-timeout=5", "-rss_limit_mb=1024",
                           *seeds, *regressions],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          env=dict(os.environ, **SAN_ENV), timeout=600)
    log = proc.stdout.decode(errors="replace")
    assert proc.returncode == 0, "%s crashed on a seed or regression:\n%s" % (
        harness, log[-6000:])
    assert log.count("Executed ") >= len(seeds) + len(regressions), log[-2000:]


@pytest.mark.parametrize("harness", HARNESSES)
def test_fuzz_bounded(fuzz_bins, harness):
    """ecfs/fuzz/run-fuzzers for ECFS_FUZZ_SECONDS: no crash, hang or leak
    (a finding is saved into ecfs/fuzz/regressions/<harness>/)."""
    if SECONDS <= 0:
        pytest.skip("ECFS_FUZZ_SECONDS=0 (tests/run-all fuzzes in the normal pass only: "
                    "the harnesses are the same sanitizer build in both)")
    proc = subprocess.run([os.path.join(FUZZ_DIR, "run-fuzzers"), str(SECONDS), harness],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          env=dict(os.environ, OB_BUILD=BUILD, **SAN_ENV),
                          timeout=SECONDS + 600)
    out = proc.stdout.decode(errors="replace")
    print(out)
    assert proc.returncode == 0, out
