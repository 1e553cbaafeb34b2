"""Shared fixtures for the ecfs pytest suites.

Binaries come from $OB_BUILD (set by tests/run-all; default build/), so the
same tests drive the normal and the sanitizer build.  Tests that need the
kernel-written corpus or the kernel oracle (../shared beside the checkout)
skip with a reason when it is absent.  The corpus is read-only: cases are
copied to a temporary directory before use, and the copy is rebuilt into a
real lower tree (symlinks and user.ecryptfs xattrs, which shared/ stores as
plain files).
"""
import hashlib
import json
import os
import shutil
import subprocess

import pytest

ROOT = os.environ.get("OB_ROOT") or os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("OB_BUILD") or os.path.join(ROOT, "build")
ECFS = os.path.join(BUILD, "bin", "ecfs")
SHARED = os.path.normpath(os.path.join(ROOT, "..", "shared"))
CORPUS = os.path.join(SHARED, "corpus")
# OB_NO_VM=1 (the sanitizer pass of `make check-all`) skips every test that
# boots the kernel oracle: those check the kernel's reading of bytes that the
# same code writes, under the sanitizers, in the tests that do run.
KERNEL_TOOL = os.path.join(SHARED, "tools", "kernel-ecryptfs") \
    if not os.environ.get("OB_NO_VM") else "(kernel oracle off: OB_NO_VM is set)"


# The modules whose time goes into kernel-oracle boots (a QEMU guest each,
# under TCG: one CPU busy for 10-50 s).  Their tests are marked "kernel", and
# tests/run-all runs them two at a time (pytest-xdist), after the rest.  Not
# test_crash nor test_pam: they kill daemons on a clock or change the
# machine's PAM setup.
GUEST_MODULES = {
    "test_kernel_oracle", "test_keys_kernel", "test_legacy_fsck", "test_legacy_nas",
    "test_legacy_passphrase", "test_legacy_private", "test_legacy_readme",
    "test_legacy_recover", "test_mount_kernel", "test_offline_ciphers",
    "test_offline_names", "test_offline_rescue", "test_offline_special",
    "test_recover_keyopts",
}


def pytest_configure(config):
    config.addinivalue_line("markers", "kernel: boots the real kernel via ../shared/tools/kernel-ecryptfs")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.module.__name__.rsplit(".", 1)[-1] in GUEST_MODULES:
            item.add_marker(pytest.mark.kernel)


def run_ecfs(*args, input=None, check=True, **kw):
    """Run the ecfs binary; returns CompletedProcess with bytes output."""
    proc = subprocess.run([ECFS, *args], input=input, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=600, **kw)
    if check and proc.returncode != 0:
        raise AssertionError("ecfs %s failed (%d): %s" % (
            " ".join(args), proc.returncode, proc.stderr.decode(errors="replace")))
    return proc


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def corpus_cases():
    if not os.path.isdir(CORPUS):
        return []
    return sorted(d for d in os.listdir(CORPUS)
                  if os.path.isfile(os.path.join(CORPUS, d, "manifest.json")))


def need_corpus():
    if not os.path.isdir(CORPUS):
        pytest.skip("needs ../shared/corpus (kernel-written lower files)")


def materialize_case(case_dir, dest):
    """Copy a corpus case's lower tree to dest as a real lower directory."""
    with open(os.path.join(case_dir, "manifest.json")) as f:
        manifest = json.load(f)
    lower = os.path.join(dest, "lower")
    shutil.copytree(os.path.join(case_dir, "lower"), lower, symlinks=True)
    for root, dirs, files in os.walk(lower):
        for d in dirs:
            os.chmod(os.path.join(root, d), 0o755)
        for fn in files:
            p = os.path.join(root, fn)
            if not os.path.islink(p):
                os.chmod(p, 0o644)
    for e in manifest["files"]:
        # shared/ cannot hold empty directories: recreate them.
        if e["type"] == "dir" and isinstance(e.get("lower_path"), str):
            os.makedirs(os.path.join(lower, e["lower_path"]), exist_ok=True)
        target = e.get("lower_symlink_target")
        if e["type"] == "symlink" and target:
            p = os.path.join(lower, e["lower_path"])
            if not os.path.islink(p):
                os.unlink(p)
                os.symlink(target, p)
    xdir = os.path.join(case_dir, "xattrs")
    if os.path.isdir(xdir):
        for root, _, files in os.walk(xdir):
            for fn in files:
                rel = os.path.relpath(os.path.join(root, fn), xdir)
                with open(os.path.join(root, fn), "rb") as f:
                    os.setxattr(os.path.join(lower, rel), "user.ecryptfs", f.read())
    pw = os.path.join(dest, "passphrase")
    with open(pw, "w") as f:
        f.write(manifest["passphrase"])
    return lower, pw, manifest


@pytest.fixture
def ecfs_bin():
    if not os.access(ECFS, os.X_OK):
        pytest.fail("ecfs binary missing at %s: run make first" % ECFS)
    return ECFS


@pytest.fixture
def passfile(tmp_path):
    p = tmp_path / "pw"
    p.write_text("test passphrase\n")
    return str(p)
