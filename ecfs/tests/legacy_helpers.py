"""Helpers for the test_legacy_* suites: build the on-disk layouts users
bring (Ubuntu/Mint homes, 9.04, Synology shares, crouton chroots) from
kernel-written lower trees, compare plaintext trees, and clean up mounts.

Kernel-written trees come from ../shared/corpus (e-private-wrapped) or from
../shared/tools/kernel-ecryptfs write (one boot each, made once per test
session and cached under the session's tmp dir)."""
import hashlib
import json
import os
import shutil
import subprocess

import pytest

from conftest import CORPUS, KERNEL_TOOL, materialize_case, run_ecfs
from fuse_helpers import fusermount_u, is_mounted

CASE = os.path.join(CORPUS, "e-private-wrapped")
SYNO_KEY_HEX = "3332333338326233633466316336643231b2f8ad3a6454ea8738af537d132b28"
SYNO_PASS = "Secret-Key-123"          # legacy-ecryptfs.md §1.4 test vector
SYNO_WRAP_PASS = "$1$5YN01o9y"      # legacy-ecryptfs.md §1.4: DSM's wrapping passphrase


def need_case():
    if not os.path.isdir(CASE):
        pytest.skip("needs ../shared/corpus (kernel-written e-private-wrapped)")


def need_kernel():
    if not os.access(KERNEL_TOOL, os.X_OK):
        pytest.skip("needs ../shared/tools/kernel-ecryptfs (the kernel oracle)")


def tree(root):
    """{relative path: sha256 or 'dir'} of a plaintext tree."""
    out = {}
    for d, dirs, files in os.walk(root):
        for n in dirs:
            out[os.path.relpath(os.path.join(d, n), root)] = "dir"
        for n in files:
            with open(os.path.join(d, n), "rb") as f:
                out[os.path.relpath(os.path.join(d, n), root)] = hashlib.sha256(f.read()).hexdigest()
    return out


def corpus_home(dest):
    """The e-private-wrapped case as (lower, dot-ecryptfs copy, plain dir, manifest)."""
    need_case()
    os.makedirs(dest, exist_ok=True)
    lower, _, m = materialize_case(CASE, str(dest))
    conf = os.path.join(str(dest), "dot-ecryptfs")
    shutil.copytree(os.path.join(CASE, "dot-ecryptfs"), conf)
    for n in os.listdir(conf):
        os.chmod(os.path.join(conf, n), 0o600)
    os.chmod(conf, 0o700)
    return lower, conf, os.path.join(CASE, "plain"), m


def write_secret(path, text):
    with open(path, "w") as f:
        f.write(text)
    return str(path)


class Mounts:
    """Mount points a test made through ecfs; all unmounted at teardown."""

    def __init__(self):
        self.points = []

    def add(self, p):
        self.points.append(str(p))
        return str(p)

    def cleanup(self):
        for p in self.points:
            if is_mounted(p):
                fusermount_u(p)


@pytest.fixture
def mounts():
    m = Mounts()
    yield m
    m.cleanup()


def mounted_at(stdout):
    """The mount point 'ecfs recover' printed."""
    for line in stdout.decode().splitlines():
        if line.startswith("Success!") and " at " in line:
            return line.rsplit(" at ", 1)[1]
    raise AssertionError("no mount point in: %r" % stdout)


def kernel_write(plain, out, *args):
    env = dict(os.environ)
    env.setdefault("KERNEL_ECRYPTFS_ACCEL", "tcg")
    p = subprocess.run([KERNEL_TOOL, "write", str(plain), str(out), *args],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=900, env=env)
    assert p.returncode == 0, p.stdout.decode(errors="replace")[-3000:]


def kernel_read(lower, plain, *args):
    env = dict(os.environ)
    env.setdefault("KERNEL_ECRYPTFS_ACCEL", "tcg")
    return subprocess.run([KERNEL_TOOL, "read", str(lower), "--expect", str(plain), "--strict",
                           *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=900, env=env)


def make_plain(root):
    os.makedirs(os.path.join(root, "Photos", "2019"))
    with open(os.path.join(root, "notes.txt"), "w") as f:
        f.write("share notes\n")
    with open(os.path.join(root, "Photos", "2019", "img.bin"), "wb") as f:
        f.write(hashlib.sha256(b"img").digest() * 400)       # 12800 bytes
    with open(os.path.join(root, "Photos", "one.txt"), "w") as f:
        f.write("x")


def v1_wrap(secret, login):
    """An ecryptfs-utils v1 wrapped passphrase (default salt), via openssl."""
    d = hashlib.sha512(bytes.fromhex("0011223344556677") + login.encode()).digest()
    for _ in range(65535):
        d = hashlib.sha512(d).digest()
    sig = hashlib.sha512(d).digest()[:8].hex().encode()
    pt = secret.encode() + b"\0" * (-len(secret) % 16)
    ct = subprocess.run(["openssl", "enc", "-aes-128-ecb", "-nopad", "-K", d[:16].hex()],
                        input=pt, stdout=subprocess.PIPE, check=True).stdout
    return sig + ct


def syno_v2_key(tmp_path):
    """A .key wrapped as version 2 (random salt) with DSM's passphrase."""
    k = tmp_path / "Share.key"
    share_pw = write_secret(tmp_path / "share.pw", SYNO_PASS)
    wrap_pw = write_secret(tmp_path / "wrap.pw", SYNO_WRAP_PASS)
    run_ecfs("wrap-passphrase", "--passphrase-file", share_pw, "--login-password-file",
             wrap_pw, str(k))
    assert k.read_bytes()[:2] == b":\x02"
    return k


def syno_share(tmp_path, name):
    plain, share = tmp_path / "plain", tmp_path / "vol" / name
    make_plain(str(plain))
    os.makedirs(share.parent)
    pw = write_secret(tmp_path / "pw", SYNO_PASS)
    run_ecfs("encrypt", "--passphrase-file", pw, "--cipher", "aes", "--key-bytes", "32",
             "--fnek-same-key", str(plain), "-o", str(share))
    return plain, share
