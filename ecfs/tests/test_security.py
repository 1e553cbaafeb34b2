# SPDX-License-Identifier: MIT
"""ecfs attacked as a hostile local user or a careless administrator would
(issue 19): a second user against a root mount with allow_other, two daemons
on one lower directory, operations that fail but still change things, and
error lines that must keep their reason.

Users made here are named obtest-sec-N and removed afterwards; sysctls a
test changes are restored by the same test."""
import contextlib
import errno
import os
import shutil
import stat
import subprocess
import tempfile

import pytest

from conftest import run_ecfs
from fuse_helpers import MountFailed, mounter, remount  # noqa: F401

PREFIX = "ECRYPTFS_FNEK_ENCRYPTED."

need_root_setpriv = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("setpriv") or not shutil.which("useradd"),
    reason="needs root, setpriv and useradd")


@contextlib.contextmanager
def local_user(name):
    """A throwaway local user (no home, no login); removed on exit."""
    subprocess.run(["userdel", name], stderr=subprocess.DEVNULL)
    subprocess.run(["useradd", "-M", "-N", "-s", "/usr/sbin/nologin", name], check=True)
    try:
        import pwd
        pw = pwd.getpwnam(name)
        yield pw.pw_uid, pw.pw_gid
    finally:
        subprocess.run(["userdel", name], stderr=subprocess.DEVNULL)


@contextlib.contextmanager
def sysctl(path, value):
    """Set /proc/sys/<path> for the block, then put the old value back."""
    p = "/proc/sys/" + path.replace(".", "/")
    with open(p) as f:
        old = f.read().strip()
    with open(p, "w") as f:
        f.write(str(value))
    try:
        yield
    finally:
        with open(p, "w") as f:
            f.write(old)


def as_user(uid, gid, *argv):
    return subprocess.run(["setpriv", "--reuid=%d" % uid, "--regid=%d" % gid,
                           "--clear-groups", *argv],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@contextlib.contextmanager
def shared_mount(mounter, opts):
    """A root mount with allow_other on a world-writable sticky (1777) root,
    under a directory other users may enter (pytest's tmp is 0700)."""
    top = tempfile.mkdtemp(prefix="ecfs-sec-")
    os.chmod(top, 0o755)
    m = None
    try:
        m = mounter(opts=["allow_other", *opts], mnt=os.path.join(top, "mnt"))
        os.chmod(m.mnt, 0o1777)
        yield m
    finally:
        problems = m.stop() if m else []
        shutil.rmtree(top)
    assert not problems, problems


def owner_view(path):
    st = os.lstat(path)
    return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode), st.st_size, st.st_mtime_ns


# ------------------------------------------------------------ item 1

@need_root_setpriv
@pytest.mark.parametrize("protected", [0, 1])
@pytest.mark.parametrize("opts", [[], ["default_permissions"]], ids=["plain", "default_permissions"])
def test_hard_link_changes_nothing_of_the_target_but_its_link_count(mounter, protected, opts):
    """`ln root-file mine` by another user in a sticky 1777 directory must
    not hand the user the file: only nlink and ctime of the target change,
    and the user still cannot chmod it.  Objects the user creates are the
    user's."""
    with local_user("obtest-sec-1") as (uid, gid), sysctl("fs.protected_hardlinks", protected), \
            shared_mount(mounter, opts) as m:
        target = os.path.join(m.mnt, "team-file")
        with open(target, "w") as f:
            f.write("the team's data\n")
        os.chown(target, 0, 0)
        os.chmod(target, 0o640)
        lower = os.path.join(m.lower, "team-file")
        before, nlink = owner_view(lower), os.lstat(lower).st_nlink

        r = as_user(uid, gid, "ln", target, os.path.join(m.mnt, "mine"))
        if protected:
            assert r.returncode != 0 and b"not permitted" in r.stderr, r
        else:
            assert r.returncode == 0, r.stderr
        assert owner_view(lower) == before
        assert os.lstat(lower).st_nlink == nlink + (0 if protected else 1)
        assert owner_view(target) == owner_view(lower)[:2] + owner_view(target)[2:]
        r = as_user(uid, gid, "chmod", "666", target)
        assert r.returncode != 0 and b"not permitted" in r.stderr
        assert owner_view(lower) == before
        r = as_user(uid, gid, "cat", target)
        assert r.returncode != 0

        # What the user makes is the user's, and only that.
        assert as_user(uid, gid, "sh", "-c",
                       "cd %s && echo x > file && mkdir dir && ln -s file sym "
                       "&& mkfifo fifo" % m.mnt).returncode == 0
        for n in ("file", "dir", "sym", "fifo"):
            st = os.lstat(os.path.join(m.lower, n))
            assert (st.st_uid, st.st_gid) == (uid, gid), n
        # A link the user makes to the user's own file keeps it the user's;
        # a link root makes to it does not make it root's.
        assert as_user(uid, gid, "ln", os.path.join(m.mnt, "file"),
                       os.path.join(m.mnt, "file2")).returncode == 0
        os.link(os.path.join(m.mnt, "file"), os.path.join(m.mnt, "file3"))
        st = os.lstat(os.path.join(m.lower, "file"))
        assert (st.st_uid, st.st_gid, st.st_nlink) == (uid, gid, 3)
        assert owner_view(lower) == before


# ------------------------------------------------------------ item 2

def test_second_read_write_mount_of_a_lower_dir_is_refused(mounter, tmp_path):
    """Two daemons on one lower directory lose fsync'd data: the second
    read-write mount is refused with a message naming the first; a
    read-only one too while a writer is there."""
    first = mounter()
    with open(os.path.join(first.mnt, "f"), "w") as f:
        f.write("one\n")
    for opts in ([], ["ro"]):
        with pytest.raises(MountFailed) as ei:
            mounter(opts=opts, mnt=tmp_path / ("second-%s" % "-".join(opts)))
        msg = ei.value.err
        assert ei.value.rc == 1
        assert first.mnt in msg and "pid %d" % first.proc.pid in msg, msg
        assert str(first.lower) in msg, msg
    # Through another path to the same directory (a symlink): the same lock.
    alias = tmp_path / "alias"
    os.symlink(first.lower, alias)
    with pytest.raises(MountFailed):
        mounter(lower=alias, mnt=tmp_path / "via-alias")
    assert open(os.path.join(first.mnt, "f")).read() == "one\n"


def test_killed_daemon_never_blocks_the_next_mount(mounter, tmp_path):
    first = mounter()
    with open(os.path.join(first.mnt, "f"), "w") as f:
        f.write("kept\n")
    first.proc.kill()
    first.proc.wait()
    subprocess.run(["fusermount3", "-uz", first.mnt], stderr=subprocess.DEVNULL)
    first.proc = None              # dead on purpose: nothing to check
    second = mounter(mnt=tmp_path / "after-kill")
    assert open(os.path.join(second.mnt, "f")).read() == "kept\n"


def test_read_only_mounts_share_a_lower_dir_but_not_with_a_writer(mounter, tmp_path):
    w = mounter()
    with open(os.path.join(w.mnt, "f"), "w") as f:
        f.write("shared\n")
    assert not w.stop()
    made = mounter.made
    made.remove(w)
    r1 = mounter(opts=["ro"], mnt=tmp_path / "ro1")
    r2 = mounter(opts=["ro"], mnt=tmp_path / "ro2")
    for m in (r1, r2):
        assert open(os.path.join(m.mnt, "f")).read() == "shared\n"
    with pytest.raises(MountFailed) as ei:
        mounter(mnt=tmp_path / "rw")
    assert "already in use" in ei.value.err and \
        ("pid %d" % r1.proc.pid in ei.value.err or "pid %d" % r2.proc.pid in ei.value.err)


# ------------------------------------------------------------ item 5

def size_field(path):
    with open(path, "rb") as f:
        return int.from_bytes(f.read(8), "big")


def set_size_field(path, size):
    with open(path, "r+b") as f:
        f.write(size.to_bytes(8, "big"))


def test_truncate_that_fails_changes_nothing(mounter, tmp_path):
    """A shrink whose new last extent cannot be read (the size field points
    past the extents on disk) fails with EIO and leaves the size field and
    the lower file as they were."""
    m = mounter()
    with open(os.path.join(m.mnt, "f"), "wb") as f:
        f.write(b"d" * 12345)              # 4 extents: 8192 + 16384 bytes
    assert not m.stop()
    lower = os.path.join(m.lower, "f")
    set_size_field(lower, 20000)           # damaged: extent 4 is not there
    before = open(lower, "rb").read()
    m.start()
    with pytest.raises(OSError) as ei:
        os.truncate(os.path.join(m.mnt, "f"), 18000)
    assert ei.value.errno == errno.EIO
    assert open(lower, "rb").read() == before
    assert size_field(lower) == 20000
    # A shrink into the extents that are there still works (and repairs).
    os.truncate(os.path.join(m.mnt, "f"), 5000)
    assert open(os.path.join(m.mnt, "f"), "rb").read() == b"d" * 5000
    assert size_field(lower) == 5000


@pytest.mark.parametrize("size", [1 << 63, (1 << 64) - 1, (1 << 63) - 1])
def test_file_with_a_damaged_size_field_can_be_renamed_and_removed(mounter, size):
    """unlink and rename never need a readable header: a size field no file
    can have makes the file unreadable (EIO), not impossible to remove."""
    m = mounter()
    for n in ("a", "b"):
        with open(os.path.join(m.mnt, n), "wb") as f:
            f.write(b"x" * 5000)
    assert not m.stop()
    for n in ("a", "b"):
        set_size_field(os.path.join(m.lower, n), size)
    m.start()
    with pytest.raises(OSError) as ei:
        open(os.path.join(m.mnt, "a"), "rb").read()
    assert ei.value.errno == errno.EIO
    os.stat(os.path.join(m.mnt, "a"))
    os.rename(os.path.join(m.mnt, "a"), os.path.join(m.mnt, "c"))
    os.unlink(os.path.join(m.mnt, "c"))
    os.unlink(os.path.join(m.mnt, "b"))
    assert os.listdir(m.mnt) == [] and os.listdir(m.lower) == []
    assert "size field" in m.stderr() and "largest file size" in m.stderr()


# ------------------------------------------------------------ item 6

def test_error_lines_keep_their_reason_13_levels_deep(mounter, tmp_path):
    """With encrypted names a path 13 directories deep is past 1 KiB; an
    error line about a file there still ends with its reason."""
    m = mounter(args=["--fnek"])
    rel = os.path.join(*["d%02d_%s" % (i, "x" * 40) for i in range(13)])
    os.makedirs(os.path.join(m.mnt, rel))
    with open(os.path.join(m.mnt, rel, "victim"), "wb") as f:
        f.write(b"v" * 5000)
    assert not m.stop()
    lower = next(os.path.join(d, f[0]) for d, _, f in os.walk(m.lower) if f)
    assert len(lower) > 1100 and lower.count(PREFIX) == 14
    with open(lower, "r+b") as f:            # the marker: no header now
        f.seek(8)
        f.write(bytes(8))
    reason = "not an eCryptfs file"
    for argv in (["info", lower],
                 ["decrypt", "--passphrase-file", str(tmp_path / "pw"), lower,
                  "-o", str(tmp_path / "out")]):
        r = run_ecfs(*argv, check=False)
        line = r.stderr.decode().strip()
        assert r.returncode != 0
        assert line.startswith("ecfs: " + lower + ": ") and reason in line, line[-200:]
    m.start()
    with pytest.raises(OSError) as ei:
        open(os.path.join(m.mnt, rel, "victim"), "rb").read()
    assert ei.value.errno == errno.EIO
    log = [ln for ln in m.stderr().splitlines() if lower in ln]
    assert log and "metadata" in log[0].split(lower)[1], m.stderr()[-300:]


# ------------------------------------------------------------ item 8

MAN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "man", "ecfs.1")
FALLOC = {"KEEP_SIZE": 1, "PUNCH_HOLE": 2, "COLLAPSE_RANGE": 8, "ZERO_RANGE": 0x10,
          "INSERT_RANGE": 0x20, "UNSHARE_RANGE": 0x40}


def fallocate(fd, mode, off, length):
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.fallocate(fd, mode, ctypes.c_long(off), ctypes.c_long(length)):
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def test_fallocate_modes_do_what_the_man_page_says(mounter, tmp_path):
    m = mounter()
    p = os.path.join(m.mnt, "fa")
    body = os.urandom(10000)
    with open(p, "wb") as f:
        f.write(body)
    lower = os.path.join(m.lower, "fa")
    fd = os.open(p, os.O_RDWR)
    try:
        # KEEP_SIZE: lower extents allocated, size unchanged.
        blocks = os.stat(lower).st_blocks
        fallocate(fd, FALLOC["KEEP_SIZE"], 20000, 40000)
        assert os.fstat(fd).st_size == 10000
        assert os.stat(lower).st_blocks > blocks
        # PUNCH_HOLE: encrypted zeros, no space freed.
        blocks = os.stat(lower).st_blocks
        fallocate(fd, FALLOC["PUNCH_HOLE"] | FALLOC["KEEP_SIZE"], 100, 5000)
        assert os.pread(fd, 20000, 0) == body[:100] + bytes(5000) + body[5100:]
        assert os.stat(lower).st_blocks == blocks
        # ZERO_RANGE without KEEP_SIZE grows the file to the range's end.
        fallocate(fd, FALLOC["ZERO_RANGE"], 9000, 6000)
        assert os.fstat(fd).st_size == 15000
        assert os.pread(fd, 20000, 0) == body[:100] + bytes(5000) + body[5100:9000] + bytes(6000)
        for mode in ("COLLAPSE_RANGE", "INSERT_RANGE", "UNSHARE_RANGE"):
            with pytest.raises(OSError) as ei:
                fallocate(fd, FALLOC[mode], 0, 4096)
            assert ei.value.errno == errno.EOPNOTSUPP, mode
    finally:
        os.close(fd)
    man = open(MAN).read()
    for word in ("FALLOC_FL_KEEP_SIZE", "FALLOC_FL_PUNCH_HOLE", "FALLOC_FL_ZERO_RANGE",
                 "free no space", "COLLAPSE_RANGE"):
        assert word in man, word


def lower_mount_options(path):
    r = subprocess.run(["findmnt", "-n", "-o", "OPTIONS", "-T", str(path)],
                       stdout=subprocess.PIPE, text=True)
    return r.stdout.strip().split(",")


def test_lower_atime_follows_the_kernel_ecryptfs(mounter):
    """The kernel's eCryptfs reads a file's header at lookup and open, so the
    lower atime moves by the lower mount's relatime rule on a stat through
    the mount; the man page says so.  Upper times are the lower ones."""
    m = mounter()
    if "relatime" not in lower_mount_options(m.lower):
        pytest.skip("the lower filesystem is not mounted relatime")
    with open(os.path.join(m.mnt, "f"), "wb") as f:
        f.write(b"x" * 5000)
    assert not m.stop()
    lower = os.path.join(m.lower, "f")
    st = os.stat(lower)
    old = st.st_mtime_ns - 10**9 * 100000     # well before the last change
    os.utime(lower, ns=(old, st.st_mtime_ns))
    m.start()                                 # cold: nothing cached
    up = os.stat(os.path.join(m.mnt, "f"))
    assert up.st_mtime_ns == st.st_mtime_ns
    first = os.stat(lower).st_atime_ns
    assert first > old                        # the header read counted
    open(os.path.join(m.mnt, "f"), "rb").read()
    assert os.stat(lower).st_atime_ns == first  # relatime: once per change
    man = open(MAN).read()
    assert "relatime" in man and "noatime" in man


def test_syncfs_returns_and_the_man_page_says_what_it_syncs(mounter):
    """Linux sends FUSE_SYNCFS to virtiofs only: sync -f MOUNTPOINT reaches
    no /dev/fuse daemon.  It must still succeed, every acknowledged write
    must already be in the lower file, and the man page must say so."""
    m = mounter()
    with open(os.path.join(m.mnt, "f"), "wb") as f:
        f.write(b"durable" * 1000)
    assert subprocess.run(["sync", "-f", m.mnt]).returncode == 0
    assert size_field(os.path.join(m.lower, "f")) == 7000
    man = open(MAN).read()
    assert "FUSE_SYNCFS" in man and "sync \\-f LOWER" in man


# ------------------------------------------------------------ item 7

@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("gcore"),
                    reason="needs root and gdb's gcore")
def test_core_image_of_the_daemon_holds_no_key_bytes(mounter, tmp_path):
    """A core image (gcore, as root) of a mount with an open file holds
    neither the key-wrapping key, nor that file's key, nor their expanded
    schedules (OpenSSL's contexts are in the locked, never-dumped pool):
    the first round key of an AES schedule is the key itself."""
    from test_secrets import PASSPHRASE, fek_of, kek64
    if not shutil.which("openssl"):
        pytest.skip("needs the openssl CLI to unwrap FEKs")
    pw = tmp_path / "secret-pw"
    pw.write_text(PASSPHRASE + "\n")
    m = mounter(passfile=pw)
    with open(os.path.join(m.mnt, "f"), "wb") as f:
        f.write(b"x" * 70000)
    if "libasan" in open("/proc/%d/maps" % m.proc.pid).read():
        pytest.skip("an ASan process's core image holds its whole shadow memory")
    keep = open(os.path.join(m.mnt, "f"), "rb")   # its FEK in use
    try:
        keep.read()
        kek = kek64(PASSPHRASE)
        needles = {"key-wrapping key": kek[:16],
                   "FEK of the open file": fek_of(os.path.join(m.lower, "f"), kek)}
        core = tmp_path / "core"
        r = subprocess.run(["gcore", "-o", str(core), str(m.proc.pid)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
        image = str(core) + ".%d" % m.proc.pid
        assert r.returncode == 0 and os.path.exists(image), r.stdout[-2000:]
        with open(image, "rb") as f:
            data = f.read()
        os.unlink(image)
        assert len(data) > 1 << 20            # a real image, not an empty file
        found = ["%s at offset %#x" % (what, data.find(n)) for what, n in needles.items()
                 if n in data]
        assert not found, "key bytes in the core image: %s" % found
    finally:
        keep.close()
    man = open(MAN).read()       # and what a non-root mount cannot lock
    assert "RLIMIT_MEMLOCK" in man and "written to swap" in man


# ------------------------------------------------------------ item 9

def test_open_that_runs_out_of_space_says_so_and_changes_nothing(mounter, monkeypatch,
                                                                  tmp_path):
    """A 0-byte lower file (what a kill between create and header leaves)
    gets its header on the first read-write open.  When that write fails
    for want of space the opener gets ENOSPC, not EIO (an error a healthy
    daemon gave under load), the file stays 0 bytes, and the next open
    works."""
    m = mounter()
    assert not m.stop()
    lower = os.path.join(m.lower, "cut")
    open(lower, "wb").close()
    monkeypatch.setenv("OB_FAULTS", "pwrite:ENOSPC:count=1")
    m.start()
    monkeypatch.delenv("OB_FAULTS")
    p = os.path.join(m.mnt, "cut")
    with pytest.raises(OSError) as ei:
        open(p, "ab").close()
    assert ei.value.errno == errno.ENOSPC
    assert os.path.getsize(lower) == 0
    with open(p, "ab") as f:
        f.write(b"after")
    assert open(p, "rb").read() == b"after"
    assert m.stderr() == ""
