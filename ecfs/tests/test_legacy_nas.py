"""Synology shares and crouton chroots, from trees the real kernel wrote
(../shared/tools/kernel-ecryptfs write; one boot per layout, made once per
session, ~15 s each under TCG).

Synology: AES-256, names with the content key (mount.ecryptfs default),
a 16-byte user.ecryptfs size copy per file as DSM's FAST_LOOKUP keeps it,
and the exported .key file (legacy-ecryptfs.md §1.4 vector).  crouton: two
64-hex passphrases, each v1-wrapped with the user's passphrase in
<chroot>/.ecryptfs, the second one the filename key."""
import os
import shutil
import struct
import subprocess

import pytest

from conftest import run_ecfs
from legacy_helpers import (SYNO_KEY_HEX, SYNO_PASS, kernel_write, make_plain, mounted_at,
                            mounts, need_kernel, tree, v1_wrap, write_secret)  # noqa: F401

CR1 = "0123456789abcdef" * 4
CR2 = "fedcba9876543210" * 4


@pytest.fixture(scope="module")
def kernel_trees(tmp_path_factory):
    need_kernel()
    d = tmp_path_factory.mktemp("kernel")
    plain = d / "plain"
    make_plain(str(plain))
    syno_pw = write_secret(d / "syno.pw", SYNO_PASS)
    kernel_write(plain, d / "syno", "--passphrase-file", syno_pw, "--fnek-same-key",
                 "--key-bytes", "32")
    c1, c2 = write_secret(d / "c1", CR1), write_secret(d / "c2", CR2)
    kernel_write(plain, d / "crouton", "--passphrase-file", c1, "--fnek-passphrase-file", c2)
    return d


def syno_share(kernel_trees, tmp_path, with_key=True):
    vol = tmp_path / "volume1"
    share = vol / "@Projects@"
    shutil.copytree(kernel_trees / "syno", share)
    for dirpath, _, files in os.walk(share):
        for n in files:
            p = os.path.join(dirpath, n)
            with open(p, "rb") as f:
                head = f.read(16)
            os.setxattr(p, "user.ecryptfs", head)       # DSM's FAST_LOOKUP copy
    if with_key:
        (vol / "Projects.key").write_bytes(bytes.fromhex(SYNO_KEY_HEX))
    return vol, share


def test_synology_share_with_exported_key_file(kernel_trees, tmp_path, mounts):  # noqa: F811
    vol, share = syno_share(kernel_trees, tmp_path)
    mnt = mounts.add(tmp_path / "mnt")
    p = run_ecfs("recover", "--mountpoint", mnt, str(tmp_path), stdin=open(os.devnull))
    out = p.stdout.decode()
    assert "Synology" in out and "Projects.key" in out
    assert mounted_at(p.stdout) == mnt
    assert tree(mnt) == tree(kernel_trees / "plain")


def test_synology_share_with_password(kernel_trees, tmp_path, mounts):  # noqa: F811
    vol, share = syno_share(kernel_trees, tmp_path, with_key=False)
    pw = write_secret(tmp_path / "pw", SYNO_PASS)
    mnt = mounts.add(tmp_path / "mnt")
    run_ecfs("recover", "--mountpoint", mnt, "--passphrase-file", pw, str(share))
    assert tree(mnt) == tree(kernel_trees / "plain")


def test_synology_wrong_password_names_the_key(kernel_trees, tmp_path, mounts):  # noqa: F811
    vol, share = syno_share(kernel_trees, tmp_path, with_key=False)
    pw = write_secret(tmp_path / "pw", "wrong")
    p = run_ecfs("recover", "--mountpoint", mounts.add(tmp_path / "mnt"), "--passphrase-file",
                 pw, str(share), check=False)
    assert p.returncode == 1
    assert b"wrong key" in p.stderr and b"67be581aa757897e" in p.stderr and b".key" in p.stderr


def test_synology_size_copy_checked_and_repaired_by_fsck(kernel_trees, tmp_path):
    vol, share = syno_share(kernel_trees, tmp_path, with_key=False)
    pw = write_secret(tmp_path / "pw", SYNO_PASS)
    assert run_ecfs("fsck", "--passphrase-file", pw, str(share)).returncode == 0
    victim = next(os.path.join(d, f) for d, _, fs in os.walk(share) for f in fs)
    os.setxattr(victim, "user.ecryptfs", struct.pack(">Q", 3) + b"\x11" * 8)
    p = run_ecfs("fsck", "--passphrase-file", pw, "--json", str(share), check=False)
    assert p.returncode == 1 and b'"stale_size_copy": 1' in p.stdout
    run_ecfs("fsck", "--passphrase-file", pw, "--repair", "--yes", str(share))
    with open(victim, "rb") as f:
        assert os.getxattr(victim, "user.ecryptfs")[:8] == f.read(8)


def test_synology_size_copy_follows_writes_through_the_mount(kernel_trees, tmp_path, mounts):  # noqa: F811
    vol, share = syno_share(kernel_trees, tmp_path, with_key=False)
    pw = write_secret(tmp_path / "pw", SYNO_PASS)
    mnt = mounts.add(tmp_path / "mnt")
    run_ecfs("recover", "--rw", "--mountpoint", mnt, "--passphrase-file", pw, str(share))
    with open(os.path.join(mnt, "notes.txt"), "a") as f:
        f.write("more than before, same extent count\n")
    subprocess.run(["fusermount3", "-u", mnt], check=True)
    p = run_ecfs("fsck", "--passphrase-file", pw, "--json", str(share), check=False)
    assert b'"stale_size_copy": 0' in p.stdout


def test_crouton_chroot(kernel_trees, tmp_path, mounts):  # noqa: F811
    chroot = tmp_path / "chroots" / "precise"
    shutil.copytree(kernel_trees / "crouton", chroot)
    (chroot / ".ecryptfs").write_bytes(b"\n" + v1_wrap(CR1, "chroot pw") + v1_wrap(CR2, "chroot pw"))
    pw = write_secret(tmp_path / "pw", "chroot pw")
    mnt = mounts.add(tmp_path / "mnt")
    p = run_ecfs("recover", "--mountpoint", mnt, "--login-password-file", pw, str(chroot))
    assert b"crouton" in p.stdout
    assert tree(mnt) == tree(kernel_trees / "plain")
    bad = write_secret(tmp_path / "bad", "nope")
    p = run_ecfs("recover", "--mountpoint", str(tmp_path / "m2"), "--login-password-file", bad,
                 str(chroot), check=False)
    assert p.returncode == 1 and b"crouton -e" in p.stderr
