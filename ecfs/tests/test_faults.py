"""Faults of the lower filesystem reach the caller as errors, and never
leave a file that reads back as garbage.

Two sources of faults:
  - real ones: a full size-limited tmpfs (ENOSPC), a read-only bind mount
    of the lower directory (EROFS), a lower directory the daemon may not
    write because it runs as another user (EACCES);
  - injected ones: OB_FAULTS in the daemon's environment (common/lib/sys.c)
    makes the Nth lower pread/pwrite/ftruncate/fsetxattr of libecfs fail.
    Files are made by a clean mount first; the faulty mount then only
    writes data, so the counts follow the library's write order (ecfs/lib/
    file.c): a write is one pwrite of its extents (per FUSE request, at
    most 1 MiB) and, when the file grows, one 8-byte size-field pwrite;
    rules with minlen=4096 skip the size writes.
After each fault: the errno is the expected one, the file decrypts offline
(`ecfs decrypt`) to either the old or the new bytes of every extent, `ecfs
fsck` finds no size past the extents, and the mount still serves others.
"""
import errno
import pathlib
import shutil
import tempfile
import os
import time
import subprocess

import pytest

from conftest import run_ecfs
from fuse_helpers import decrypt_offline, mounter  # noqa: F401

EXT = 4096


def blob(n, tag):
    return (tag * (n // len(tag) + 1))[:n]


def fsck_clean(lower, pw):
    p = run_ecfs("fsck", "--passphrase-file", str(pw), str(lower), check=False)
    assert p.returncode == 0, p.stdout.decode() + p.stderr.decode()


def faulty(mounter, monkeypatch, plan, prepare=None, **kw):
    """A mount with fault plan plan; prepare(mnt) first runs on a clean one."""
    if prepare:
        m = mounter(**kw)
        prepare(m.mnt)
        assert not m.stop()
        kw["lower"] = m.lower
    monkeypatch.setenv("OB_FAULTS", plan)
    try:
        return mounter(**kw)
    finally:
        monkeypatch.delenv("OB_FAULTS")


def expect_errno(e, fn, *a):
    with pytest.raises(OSError) as ei:
        fn(*a)
    assert ei.value.errno == e, ei.value


def test_overwrite_eio_keeps_old_bytes(mounter, monkeypatch, tmp_path):
    old = blob(10000, b"old-")
    m = faulty(mounter, monkeypatch, "pwrite:EIO:minlen=4096:count=1",
               prepare=lambda mnt: open(os.path.join(mnt, "f"), "wb").write(old))
    p = os.path.join(m.mnt, "f")
    fd = os.open(p, os.O_WRONLY)
    try:
        expect_errno(errno.EIO, os.pwrite, fd, blob(10000, b"NEW!"), 0)
    finally:
        os.close(fd)
    assert open(p, "rb").read() == old
    lower = os.path.join(m.lower, "f")
    assert decrypt_offline(lower, tmp_path / "pw") == old
    # The fault was one call: the mount goes on, for this file and others.
    with open(p, "r+b") as f:
        f.write(b"after")
    open(os.path.join(m.mnt, "other"), "wb").write(b"fine")
    assert open(p, "rb").read() == b"after" + old[5:]
    assert open(os.path.join(m.mnt, "other"), "rb").read() == b"fine"
    assert not m.stop()
    fsck_clean(m.lower, tmp_path / "pw")
    assert decrypt_offline(lower, tmp_path / "pw") == b"after" + old[5:]


def test_torn_multi_request_write_is_old_or_new_per_extent(mounter, monkeypatch, tmp_path):
    # A 3 MiB overwrite of a 3 MiB file: its second 1 MiB request fails.
    size = 3 << 20
    old, new = blob(size, b"0ld."), blob(size, b"N3w!")
    m = faulty(mounter, monkeypatch, "pwrite:EIO:minlen=4096:after=1:count=1",
               prepare=lambda mnt: open(os.path.join(mnt, "big"), "wb").write(old))
    p = os.path.join(m.mnt, "big")
    fd = os.open(p, os.O_WRONLY)
    try:
        n = os.pwrite(fd, new, 0)
        assert n < size, "the failing request must show as a short write"
    except OSError as e:
        assert e.errno == errno.EIO
    os.close(fd)
    assert not m.stop()
    got = decrypt_offline(os.path.join(m.lower, "big"), tmp_path / "pw")
    assert len(got) == size
    for i in range(0, size, EXT):
        assert got[i:i + EXT] in (old[i:i + EXT], new[i:i + EXT]), "extent %d is garbage" % (i // EXT)
    assert got != new
    fsck_clean(m.lower, tmp_path / "pw")


def test_size_field_write_fails_file_keeps_old_size(mounter, monkeypatch, tmp_path):
    # The append: 1 extents, 2 size (fails).
    first = blob(5000, b"first")
    m = faulty(mounter, monkeypatch, "pwrite:EIO:after=1:count=1",
               prepare=lambda mnt: open(os.path.join(mnt, "grow"), "wb").write(first))
    p = os.path.join(m.mnt, "grow")
    fd = os.open(p, os.O_WRONLY | os.O_APPEND)
    try:
        expect_errno(errno.EIO, os.write, fd, blob(5000, b"second"))
    finally:
        os.close(fd)
    assert os.path.getsize(p) == 5000 and open(p, "rb").read() == first
    assert not m.stop()
    fsck_clean(m.lower, tmp_path / "pw")
    assert decrypt_offline(os.path.join(m.lower, "grow"), tmp_path / "pw") == first


def test_lower_truncate_fails_after_size_shrank(mounter, monkeypatch, tmp_path):
    m = faulty(mounter, monkeypatch, "ftruncate:EIO:count=1")
    p = os.path.join(m.mnt, "t")
    data = blob(20000, b"trunc")
    open(p, "wb").write(data)
    expect_errno(errno.EIO, os.truncate, p, 5000)
    # Size first, then the cut: the file is valid, only longer on the lower fs.
    assert not m.stop()
    fsck_clean(m.lower, tmp_path / "pw")
    got = decrypt_offline(os.path.join(m.lower, "t"), tmp_path / "pw")
    assert got in (data[:5000], data)


def test_read_eio_reaches_the_reader(mounter, monkeypatch, tmp_path):
    m = mounter()
    p = os.path.join(m.mnt, "r")
    open(p, "wb").write(blob(9000, b"read"))
    assert not m.stop()
    # Header reads are one 4096-byte pread; the data read is 3 extents.
    m = faulty(mounter, monkeypatch, "pread:EIO:minlen=8192", lower=m.lower)
    # O_DIRECT: one FUSE read of the whole file, not page-sized readahead.
    fd = os.open(os.path.join(m.mnt, "r"), os.O_RDONLY | os.O_DIRECT)
    expect_errno(errno.EIO, os.read, fd, 9000)
    os.close(fd)
    assert os.listdir(m.mnt) == ["r"]


def need_root():
    if os.geteuid() != 0:
        pytest.skip("needs root (mounts a small tmpfs / a read-only bind mount)")


@pytest.fixture
def small_fs(tmp_path):
    need_root()
    d = tmp_path / "small"
    d.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(d)], check=True)
    yield d
    subprocess.run(["umount", "-l", str(d)])


@pytest.fixture
def small_lower(small_fs):
    """An empty lower directory on the 2 MiB filesystem."""
    lower = small_fs / "lower"
    lower.mkdir()
    return lower


def test_full_filesystem_gives_enospc_and_valid_files(mounter, small_fs, small_lower, tmp_path):
    lower = small_lower
    m = mounter(lower=lower)
    keep = os.path.join(m.mnt, "keep")
    open(keep, "wb").write(b"keep me\n")
    p = os.path.join(m.mnt, "fill")
    chunk = blob(64 * 1024, b"fill")
    written = 0
    with pytest.raises(OSError) as ei:
        with open(p, "wb", buffering=0) as f:
            while True:
                written += f.write(chunk)
    assert ei.value.errno == errno.ENOSPC
    # Creating a file needs a header block: ENOSPC too, and nothing is left.
    before = set(os.listdir(lower))
    try:
        open(os.path.join(m.mnt, "new"), "wb").write(b"x" * 100000)
    except OSError as e:
        assert e.errno == errno.ENOSPC
    assert open(keep, "rb").read() == b"keep me\n"
    size = os.path.getsize(p)
    assert size >= written - len(chunk)
    assert open(p, "rb").read() == (chunk * (size // len(chunk) + 1))[:size]
    fsck_clean(lower, tmp_path / "pw")
    # Space back: the mount works again.  The kernel sends RELEASE after
    # close() returns, so the lower file (and its blocks) may stay open in
    # the daemon a moment after the unlink: wait for the space to come back.
    free_before = os.statvfs(small_fs).f_bavail
    os.unlink(p)
    for _ in range(200):
        if os.statvfs(small_fs).f_bavail > free_before + 64:
            break
        time.sleep(0.05)
    open(os.path.join(m.mnt, "again"), "wb").write(b"x" * 100000)
    assert os.path.getsize(os.path.join(m.mnt, "again")) == 100000
    assert set(os.listdir(lower)) >= before - {"fill"}
    assert not m.stop()
    fsck_clean(lower, tmp_path / "pw")
    assert decrypt_offline(lower / "keep", tmp_path / "pw") == b"keep me\n"


def test_read_only_lower_gives_erofs(mounter, tmp_path):
    need_root()
    lower, ro = tmp_path / "lower", tmp_path / "ro"
    lower.mkdir()
    ro.mkdir()
    m = mounter(lower=lower)
    open(os.path.join(m.mnt, "f"), "wb").write(b"before\n")
    assert not m.stop()
    subprocess.run(["mount", "--bind", str(lower), str(ro)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(ro)], check=True)
        m = mounter(lower=ro)
        expect_errno(errno.EROFS, open, os.path.join(m.mnt, "new"), "wb")
        expect_errno(errno.EROFS, open, os.path.join(m.mnt, "f"), "r+b")
        expect_errno(errno.EROFS, os.mkdir, os.path.join(m.mnt, "d"))
        assert open(os.path.join(m.mnt, "f"), "rb").read() == b"before\n"
        assert not m.stop()
    finally:
        subprocess.run(["umount", "-l", str(ro)])
    fsck_clean(lower, tmp_path / "pw")


def test_lower_permission_denied_gives_eacces(mounter, tmp_path):
    """The daemon runs as nobody; root changes the lower directory behind a
    long attribute cache, so the kernel lets the call through and the lower
    filesystem refuses it."""
    need_root()
    if not os.path.exists("/usr/bin/setpriv"):
        pytest.skip("needs setpriv")
    import pathlib
    import tempfile
    base = pathlib.Path(tempfile.mkdtemp(prefix="ecfs-eacces-"))   # nobody can reach it
    os.chmod(base, 0o755)
    lower, mnt = base / "lower", base / "mnt"
    for d in (lower, mnt):
        d.mkdir()
    os.makedirs(lower / "sub")
    pw = base / "pw"
    pw.write_text("test passphrase\n")
    for p in (base, lower, lower / "sub", mnt, pw):
        os.chown(p, 65534, 65534)
    from conftest import ECFS
    log = open(base / "log", "wb")
    d = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                          ECFS, "mount", "-f", "--passphrase-file", str(pw), "-o",
                          "timeout=3600", str(lower), str(mnt)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                         env=dict(os.environ, HOME=str(base)))
    try:
        from fuse_helpers import is_mounted
        for _ in range(1500):
            if is_mounted(mnt) or d.poll() is not None:
                break
            import time
            time.sleep(0.02)
        assert is_mounted(mnt), open(base / "log").read()
        client = ("import os,errno\n"
                  "os.stat('%s/sub')\n"
                  "open('%s/sub/a','wb').write(b'ok')\n"
                  "input()\n"
                  "try:\n open('%s/sub/b','wb')\nexcept OSError as e:\n print(e.errno)\n"
                  "else:\n print(0)\n") % (mnt, mnt, mnt)
        c = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                              "/usr/bin/python3", "-c", client], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
        import time
        while not os.path.exists(lower / "sub" / "a"):
            time.sleep(0.02)
        os.chmod(lower / "sub", 0o555)           # behind the cached 0755
        out, _ = c.communicate("\n", timeout=60)
        assert out.strip() == str(errno.EACCES)
    finally:
        subprocess.run(["fusermount3", "-u", str(mnt)])
        assert d.wait(timeout=60) == 0
    log.close()
    assert b"Sanitizer" not in open(base / "log", "rb").read()
    import shutil
    shutil.rmtree(base)


def lower_fs_type(path):
    return subprocess.run(["stat", "-f", "-c", "%T", str(path)], stdout=subprocess.PIPE,
                          text=True).stdout.strip()


def test_size_past_the_lower_limit_is_efbig_at_once(mounter, tmp_path):
    """pjdfstest truncate/12.t: 999999999999999 bytes is past ext4's 16 TiB.
    The gap must be refused up front, not filled with zeros until ENOSPC."""
    if lower_fs_type(tmp_path) != "ext2/ext3":
        pytest.skip("needs an ext4 lower directory (a 16 TiB file size limit)")
    m = mounter()
    p = os.path.join(m.mnt, "f")
    open(p, "wb").write(b"small")
    expect_errno(errno.EFBIG, os.truncate, p, 999999999999999)
    fd = os.open(p, os.O_WRONLY)
    try:
        expect_errno(errno.EFBIG, os.pwrite, fd, b"x", 999999999999999)
    finally:
        os.close(fd)
    assert open(p, "rb").read() == b"small"
    assert os.path.getsize(os.path.join(m.lower, "f")) == 8192 + 4096
    assert not m.stop()
    fsck_clean(m.lower, tmp_path / "pw")


def test_truncate_up_on_full_fs_gives_the_space_back(mounter, small_lower, tmp_path):
    lower = small_lower
    m = mounter(lower=lower)
    p = os.path.join(m.mnt, "f")
    open(p, "wb").write(b"data")
    expect_errno(errno.ENOSPC, os.truncate, p, 100 << 20)
    assert open(p, "rb").read() == b"data"
    assert os.path.getsize(lower / "f") == 8192 + 4096      # the fill was cut off
    open(os.path.join(m.mnt, "g"), "wb").write(b"y" * 500000)
    assert not m.stop()
    fsck_clean(lower, tmp_path / "pw")


def test_lower_refusing_chown_is_said_once(mounter, tmp_path):
    """Root serving other users gives each new lower file to its creator.
    When the lower filesystem refuses (bindfs --chown-deny stands for a
    root-squashed NFS export), the creates still succeed and the files stay
    root's; the daemon must say so, once per mount, not stay silent."""
    need_root()
    for tool in ("bindfs", "setpriv"):
        if not shutil.which(tool):
            pytest.skip("needs " + tool)
    base = pathlib.Path(tempfile.mkdtemp(prefix="ecfs-chown-"))   # nobody can reach it
    os.chmod(base, 0o755)
    real, lower, mnt = base / "real", base / "lower", base / "mnt"
    for d in (real, lower, mnt):
        d.mkdir()
    subprocess.run(["bindfs", "--chown-deny", str(real), str(lower)], check=True)
    try:
        m = mounter(lower=lower, mnt=mnt, opts=["allow_other"])
        os.chmod(mnt, 0o777)
        client = "for n in ('a', 'b', 'c'):\n open('%s/' + n, 'w').write(n * 100)\n" % mnt
        subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        "/usr/bin/python3", "-c", client], check=True, timeout=60)
        for n in "abc":
            assert open(mnt / n).read() == n * 100
        assert sorted(os.stat(real / f).st_uid for f in os.listdir(real)) == [0, 0, 0]
        assert not m.stop()
        said = [line for line in m.stderr().splitlines()
                if "cannot give new lower files to uid 65534" in line]
        assert len(said) == 1, m.stderr()
        assert str(lower) in said[0] and "stay root's" in said[0], said[0]
    finally:
        subprocess.run(["fusermount3", "-u", "-z", str(mnt)], stderr=subprocess.DEVNULL)
        subprocess.run(["umount", "-l", str(lower)])
        shutil.rmtree(base, ignore_errors=True)
