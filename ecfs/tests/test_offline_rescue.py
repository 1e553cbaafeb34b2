"""Rescue paths of issue 20: Synology keys of either wrapping version, an
explicit recover --key-file whatever the directory is called, and real
Ubuntu homes whose ~/.Private and ~/.ecryptfs are absolute symlinks into
/home/.ecryptfs/USER on the old disk.

The trees are written by `ecfs encrypt` (the kernel reads those trees in
test_kernel_oracle.py and test_offline_ciphers.py), so these run without
../shared.
"""
import os
import re
import subprocess

import pytest

from conftest import run_ecfs
import kernel_matrix as km
from legacy_helpers import (SYNO_PASS, mounted_at, mounts, syno_share, syno_v2_key,  # noqa: F401
                            tree, write_secret)

def make_plain(root):
    os.makedirs(os.path.join(root, "docs"))
    with open(os.path.join(root, "docs", "report.txt"), "w") as f:
        f.write("quarterly figures\n")
    with open(os.path.join(root, "top.bin"), "wb") as f:
        f.write(bytes(range(256)) * 40)


def test_synology_v2_key_unwraps_without_a_password(tmp_path):
    k = syno_v2_key(tmp_path)
    p = run_ecfs("unwrap-passphrase", str(k), stdin=subprocess.DEVNULL, check=False)
    assert p.returncode == 0, p.stderr.decode()
    assert p.stdout == SYNO_PASS.encode() + b"\n"


def test_recover_uses_an_explicit_key_file_on_a_renamed_share(tmp_path, mounts):  # noqa: F811
    """A copy of @Projects@ under another name, and the same with a
    trailing slash: --key-file (here a version-2 one) is used, no prompt."""
    plain, share = syno_share(tmp_path, "projects-copy")
    k = syno_v2_key(tmp_path)
    for arg in (str(share), str(share) + "/"):
        mnt = mounts.add(tmp_path / ("mnt%d" % len(arg)))
        p = run_ecfs("recover", "--key-file", str(k), "--mountpoint", mnt, arg,
                     stdin=subprocess.DEVNULL, check=False)
        assert p.returncode == 0, p.stderr.decode()
        assert mounted_at(p.stdout) == mnt
        assert tree(mnt) == tree(str(plain))


MOUNT_PASS = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
LOGIN = "alice login pw"


def ubuntu_disk(tmp_path):
    """An old disk as ecryptfs-setup-private leaves it: the data and keys
    in /home/.ecryptfs/alice, and ~/.Private, ~/.ecryptfs absolute links
    to them (dangling here)."""
    disk = tmp_path / "old"
    real = disk / "home" / ".ecryptfs" / "alice"
    home = disk / "home" / "alice"
    os.makedirs(real / ".ecryptfs")
    os.makedirs(home)
    plain = tmp_path / "plain"
    make_plain(str(plain))
    mp = write_secret(tmp_path / "mp", MOUNT_PASS)
    run_ecfs("encrypt", "--passphrase-file", mp, "--fnek", str(plain), "-o", str(real / ".Private"))
    login = write_secret(tmp_path / "login", LOGIN)
    run_ecfs("wrap-passphrase", "--passphrase-file", mp, "--login-password-file", login,
             str(real / ".ecryptfs" / "wrapped-passphrase"))
    os.symlink("/home/.ecryptfs/alice/.Private", home / ".Private")
    os.symlink("/home/.ecryptfs/alice/.ecryptfs", home / ".ecryptfs")
    return disk, home, plain, login, real


def test_recover_ubuntu_home_with_absolute_links(tmp_path, mounts):  # noqa: F811
    disk, home, plain, login, _ = ubuntu_disk(tmp_path)
    for n, arg in enumerate((home, home / ".Private")):
        mnt = mounts.add(tmp_path / ("mnt%d" % n))
        p = run_ecfs("recover", "--login-password-file", login, "--mountpoint", mnt, str(arg),
                     stdin=subprocess.DEVNULL, check=False)
        assert p.returncode == 0, p.stderr.decode()
        assert mounted_at(p.stdout) == mnt
        assert tree(mnt) == tree(str(plain))


def test_recover_ubuntu_home_wrong_login_names_the_signature(tmp_path, mounts):  # noqa: F811
    disk, home, plain, login, real = ubuntu_disk(tmp_path)
    info = run_ecfs("info", str(real / ".Private" / os.listdir(real / ".Private")[0]),
                    check=False).stdout.decode()
    wrong = write_secret(tmp_path / "wrong", "not alice's password")
    p = run_ecfs("recover", "--login-password-file", wrong, "--mountpoint",
                 mounts.add(tmp_path / "mnt"), str(home), stdin=subprocess.DEVNULL, check=False)
    assert p.returncode == 1
    err = p.stderr.decode()
    assert "wrong login password" in err
    want = re.search(r"key signature ([0-9a-f]{16})", info).group(1)
    assert "files want key sig " + want in err


def daemon_comm(arg):
    """comm of the running process with arg on its command line."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                args = f.read().split(b"\0")
            with open("/proc/%s/comm" % pid) as f:
                comm = f.read().strip()
        except OSError:
            continue
        if arg.encode() in args:
            return comm
    return None


def test_recover_temp_mount_point_named_daemon_and_removed(tmp_path, mounts):  # noqa: F811
    """The daemon is "ecfs" in ps (not "exe"), and `ecfs umount` removes
    the ecfs-recover.XXXXXX directory recover made."""
    disk, home, plain, login, _ = ubuntu_disk(tmp_path)
    tmpdir = tmp_path / "tmp"
    os.makedirs(tmpdir)
    p = run_ecfs("recover", "--login-password-file", login, str(home),
                 stdin=subprocess.DEVNULL, env=dict(os.environ, TMPDIR=str(tmpdir)))
    mnt = mounts.add(mounted_at(p.stdout))
    assert os.path.dirname(mnt) == str(tmpdir)
    assert os.path.basename(mnt).startswith("ecfs-recover.")
    assert daemon_comm(str(home)) == "ecfs"
    run_ecfs("umount", mnt)
    assert not os.path.exists(mnt)


@pytest.mark.parametrize("cipher,kb,mode", [("blowfish", 56, "fnek"), ("twofish", 32, "same"),
                                            ("des3_ede", 24, "fnek")])
def test_recover_finds_the_key_size_of_files_and_names(cipher, kb, mode, tmp_path, mounts):  # noqa: F811
    """recover mounted non-AES trees with the cipher's default key size, so
    blowfish-56 or twofish-32 names did not decode; it now takes the size
    from the files' key packets and the names' validated decoding.  On the
    kernel's own tree when the matrix cache has it, else on ecfs's."""
    plain, lower, pf = (None, None, None)
    case = os.path.join(km.CACHE, "%s-%d-%s" % (cipher, kb, mode))
    if os.path.exists(os.path.join(case, "done")):
        plain, lower, pf = km.kernel_tree(cipher, kb, mode)
    else:
        plain, lower = str(tmp_path / "plain"), str(tmp_path / "lower")
        km.make_plain(plain)
        pf = write_secret(tmp_path / "pw", km.PASSPHRASE)
        run_ecfs("encrypt", *km.key_args(pf, cipher, kb, mode), plain, "-o", lower)
    mnt = mounts.add(tmp_path / "mnt")
    p = run_ecfs("recover", "--passphrase-file", pf, "--mountpoint", mnt, lower,
                 stdin=subprocess.DEVNULL, check=False)
    assert p.returncode == 0, (p.stdout + p.stderr).decode()
    assert tree(mnt) == tree(plain)
