"""ecfs setup-private / mount-private / umount-private use the same
~/.ecryptfs files as ecryptfs-utils: a directory set up by ecfs unwraps with
ecryptfs-unwrap-passphrase and the real kernel reads what was written
through ecfs mount-private; a ~/.ecryptfs written by ecryptfs-utils (the
corpus case) mounts with ecfs mount-private."""
import os
import shutil
import subprocess

import pytest

from conftest import KERNEL_TOOL, run_ecfs
from fuse_helpers import fusermount_u, is_mounted
from legacy_helpers import corpus_home, kernel_read, tree, write_secret

UNWRAP = shutil.which("ecryptfs-unwrap-passphrase")


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "home"
    h.mkdir()
    env = dict(os.environ, HOME=str(h))
    yield h, env
    for p in (h / "Private", tmp_path / "mnt"):
        if is_mounted(str(p)):
            fusermount_u(str(p))


def test_setup_mount_write_umount(home, tmp_path):
    h, env = home
    login = write_secret(tmp_path / "login", "my login password")
    p = run_ecfs("setup-private", "--login-password-file", login, env=env)
    assert b"Record your mount passphrase" in p.stdout
    conf = h / ".ecryptfs"
    for n in ("wrapped-passphrase", "Private.sig", "Private.mnt", "auto-mount", "auto-umount"):
        assert (conf / n).exists(), n
    assert (conf / "Private.mnt").read_text() == str(h / "Private") + "\n"
    sigs = (conf / "Private.sig").read_text().split("\n")
    assert len(sigs) == 3 and sigs[2] == ""
    mp = run_ecfs("unwrap-passphrase", "--login-password-file", login, env=env).stdout.strip()
    assert len(mp) == 32 and all(c in b"0123456789abcdef" for c in mp)
    if UNWRAP:
        out = subprocess.run([UNWRAP, str(conf / "wrapped-passphrase"), "-"],
                             input=b"my login password", stdout=subprocess.PIPE, check=True).stdout
        assert out.strip() == mp
    mpf = write_secret(tmp_path / "mp", mp.decode())
    assert run_ecfs("sig", "--fnek", "--passphrase-file", mpf).stdout.decode().split("\n")[:2] == sigs[:2]
    run_ecfs("mount-private", "--login-password-file", login, env=env)
    os.makedirs(h / "Private" / "docs")
    (h / "Private" / "docs" / "a.txt").write_text("private text\n")
    run_ecfs("umount-private", env=env)
    assert not is_mounted(str(h / "Private"))
    assert all(n.startswith("ECRYPTFS_FNEK_ENCRYPTED.") for n in os.listdir(h / ".Private"))
    p = run_ecfs("setup-private", "--login-password-file", login, env=env, check=False)
    assert p.returncode == 1 and b"already set up" in p.stderr
    # the kernel reads it, with the keys ecryptfs-setup-private would add
    plain = tmp_path / "plain"
    os.makedirs(plain / "docs")
    (plain / "docs" / "a.txt").write_text("private text\n")
    if os.access(KERNEL_TOOL, os.X_OK):
        r = kernel_read(h / ".Private", plain, "--passphrase-file", mpf, "--fnek")
        assert r.returncode == 0, r.stdout.decode(errors="replace")[-2000:]


def test_mount_private_on_an_ecryptfs_utils_home(home, tmp_path):
    h, env = home
    lower, conf, plain, m = corpus_home(tmp_path / "c")
    shutil.move(lower, h / ".Private")
    shutil.move(conf, h / ".ecryptfs")
    login = write_secret(tmp_path / "login", m["wrapped_passphrase"]["login_password"])
    mnt = tmp_path / "mnt"
    os.makedirs(mnt)
    run_ecfs("mount-private", "--login-password-file", login, "--mountpoint", str(mnt), env=env)
    assert tree(str(mnt)) == tree(plain)
    fusermount_u(str(mnt))
    # Private.mnt from the old machine points elsewhere: say so clearly.
    p = run_ecfs("mount-private", "--login-password-file", login, env=env, check=False)
    assert p.returncode != 0 and b"/home/user/Private" in p.stderr


def test_mount_private_without_setup_explains(home, tmp_path):
    h, env = home
    p = run_ecfs("mount-private", env=env, check=False, stdin=subprocess.DEVNULL)
    assert p.returncode == 1 and b"Private.sig" in p.stderr and b"setup-private" in p.stderr
