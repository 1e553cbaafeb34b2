"""Hard links and special files through encrypt and decrypt (issue 20
item 3), as `cp -a` into and out of a kernel mount keeps them: hard links
stay links (the lower files share one inode and one header), FIFOs,
sockets and device nodes are recreated (device nodes need root), and the
command exits 0.  The kernel reads the ecfs-written tree and writes one
for decrypt (two boots, skipped without ../shared).
"""
import os
import socket
import stat

import pytest

from conftest import run_ecfs
import kernel_matrix as km

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="device nodes need root")


def special_tree(root, devices):
    os.makedirs(os.path.join(root, "sub"))
    with open(os.path.join(root, "a"), "w") as f:
        f.write("linked content\n")
    os.link(os.path.join(root, "a"), os.path.join(root, "sub", "b"))
    os.link(os.path.join(root, "a"), os.path.join(root, "c"))
    with open(os.path.join(root, "single"), "w") as f:
        f.write("one link\n")
    os.mkfifo(os.path.join(root, "fifo"), 0o640)
    if devices:
        os.mknod(os.path.join(root, "null"), 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        os.mknod(os.path.join(root, "loop"), 0o660 | stat.S_IFBLK, os.makedev(7, 200))


def describe(root):
    """Path -> (type, mode, rdev, link group) for every entry."""
    out, inodes = {}, {}
    for top, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(top, n)
            st = os.lstat(p)
            group = None
            if not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1:
                group = inodes.setdefault(st.st_ino, len(inodes))
            rdev = st.st_rdev if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else 0
            out[os.path.relpath(p, root)] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode),
                                             rdev, group)
    return out


def lower_groups(lower):
    """Sizes of the hard-link groups among the lower files."""
    counts = {}
    for top, dirs, files in os.walk(lower):
        for n in files:
            st = os.lstat(os.path.join(top, n))
            if stat.S_ISREG(st.st_mode):
                counts[st.st_ino] = counts.get(st.st_ino, 0) + 1
    return sorted(c for c in counts.values() if c > 1)


@pytest.mark.parametrize("fnek", [False, True], ids=["clear-names", "fnek"])
def test_links_and_special_files_round_trip(fnek, tmp_path, passfile):
    plain, lower, back = tmp_path / "plain", tmp_path / "lower", tmp_path / "back"
    devices = os.geteuid() == 0
    special_tree(str(plain), devices)
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(plain / "sock"))
    s.close()
    keys = ["--passphrase-file", passfile] + (["--fnek"] if fnek else [])
    p = run_ecfs("encrypt", *keys, str(plain), "-o", str(lower), check=False)
    assert p.returncode == 0, p.stderr.decode()
    assert lower_groups(str(lower)) == [3]
    p = run_ecfs("decrypt", *keys, str(lower), "-o", str(back), check=False)
    assert p.returncode == 0, p.stderr.decode()
    assert describe(str(back)) == describe(str(plain))
    with open(back / "sub" / "b") as f:
        assert f.read() == "linked content\n"


@pytest.mark.kernel
@needs_root
@pytest.mark.skipif(not km.have_tool(), reason="needs ../shared/tools/kernel-ecryptfs")
def test_kernel_and_ecfs_agree_on_links_and_special_files(tmp_path, passfile):
    plain = tmp_path / "plain"
    special_tree(str(plain), True)
    keys = ["--passphrase-file", passfile, "--fnek"]
    lower = tmp_path / "lower"
    run_ecfs("encrypt", *keys, str(plain), "-o", str(lower))
    p = km.kernel("read", str(lower), *keys, "--expect", str(plain), "--strict")
    assert p.returncode == 0, p.stdout.decode(errors="replace")[-3000:]
    klower, back = tmp_path / "klower", tmp_path / "back"
    p = km.kernel("write", str(plain), str(klower), *keys)
    assert p.returncode == 0, p.stdout.decode(errors="replace")[-3000:]
    p = run_ecfs("decrypt", *keys, str(klower), "-o", str(back), check=False)
    assert p.returncode == 0, p.stderr.decode()
    assert describe(str(back)) == describe(str(plain))
