"""POSIX operations through a real `ecfs mount`: bytes, sizes, errno values,
and the lower layout the kernel expects (header + whole extents, size field,
encrypted names and symlink targets)."""
import errno
import fcntl
import mmap
import os
import shutil
import stat
import subprocess
import sys
import tempfile

import pytest

from conftest import run_ecfs
from fuse_helpers import (RENAME_EXCHANGE, RENAME_NOREPLACE, decrypt_offline,  # noqa: F401
                          header_size_field, kernel_lower_size, lower_entries,
                          mounter, remount, renameat2)

PREFIX = "ECRYPTFS_FNEK_ENCRYPTED."


def data(n, seed=1):
    out = bytearray()
    x = seed
    while len(out) < n:
        x = (x * 6364136223846793005 + 1442695040888963407) & (2**64 - 1)
        out += x.to_bytes(8, "little")
    return bytes(out[:n])


def only_lower(lower):
    names = lower_entries(lower)
    assert len(names) == 1, names
    return os.path.join(lower, names[0])


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 4097, 12345, 1 << 20, (1 << 20) + 17])
def test_write_then_read_gives_bytes_and_kernel_layout(mounter, tmp_path, size):
    m = mounter()
    blob = data(size)
    with open(os.path.join(m.mnt, "f"), "wb") as f:
        f.write(blob)
    assert os.path.getsize(os.path.join(m.mnt, "f")) == size
    with open(os.path.join(m.mnt, "f"), "rb") as f:
        assert f.read() == blob
    low = only_lower(m.lower)
    assert os.path.getsize(low) == kernel_lower_size(size)
    assert header_size_field(low) == size
    with open(low, "rb") as f:
        assert blob[:64] not in f.read() or size < 16
    assert decrypt_offline(low, tmp_path / "pw") == blob
    remount(m)
    with open(os.path.join(m.mnt, "f"), "rb") as f:
        assert f.read() == blob


def test_unaligned_overwrites_read_modify_write(mounter, tmp_path):
    m = mounter()
    p = os.path.join(m.mnt, "f")
    model = bytearray(data(30000))
    with open(p, "wb") as f:
        f.write(model)
    fd = os.open(p, os.O_RDWR)
    for off, n in [(0, 1), (4095, 2), (5000, 100), (8191, 4098), (29999, 1), (12000, 9000)]:
        chunk = data(n, seed=off + 7)
        os.pwrite(fd, chunk, off)
        model[off:off + n] = chunk
    os.close(fd)
    with open(p, "rb") as f:
        assert f.read() == bytes(model)
    assert decrypt_offline(only_lower(m.lower), tmp_path / "pw") == bytes(model)


def test_write_past_eof_leaves_encrypted_zeros_not_holes(mounter, tmp_path):
    m = mounter()
    p = os.path.join(m.mnt, "sparse")
    with open(p, "wb") as f:
        f.write(b"head")
        f.seek(10 * 4096 + 10)
        f.write(b"tail")
    want = b"head" + bytes(10 * 4096 + 6) + b"tail"
    with open(p, "rb") as f:
        assert f.read() == want
    low = only_lower(m.lower)
    st = os.stat(low)
    assert st.st_size == kernel_lower_size(len(want))
    assert st.st_blocks * 512 >= st.st_size - 4096  # no lower holes
    assert decrypt_offline(low, tmp_path / "pw") == want


@pytest.mark.parametrize("steps", [[20000, 5000, 9000], [100, 0, 4096], [5000, 4096, 4097, 1]])
def test_truncate_down_and_up_zero_fills(mounter, tmp_path, steps):
    m = mounter()
    p = os.path.join(m.mnt, "t")
    model = bytearray(data(steps[0]))
    with open(p, "wb") as f:
        f.write(model)
    for s in steps[1:]:
        os.truncate(p, s)
        model = model[:s] + bytearray(max(0, s - len(model)))
        assert os.path.getsize(p) == s
        low = only_lower(m.lower)
        assert os.path.getsize(low) == kernel_lower_size(s)
        assert header_size_field(low) == s
    with open(p, "rb") as f:
        assert f.read() == bytes(model)
    assert decrypt_offline(only_lower(m.lower), tmp_path / "pw") == bytes(model)


def test_ftruncate_on_open_fd(mounter):
    m = mounter()
    p = os.path.join(m.mnt, "t")
    fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
    os.write(fd, data(10000))
    os.ftruncate(fd, 3)
    assert os.fstat(fd).st_size == 3
    os.ftruncate(fd, 8000)
    assert os.pread(fd, 10000, 0) == data(3) + bytes(7997)
    os.close(fd)


def test_open_flags_trunc_append_excl(mounter):
    m = mounter()
    p = os.path.join(m.mnt, "f")
    with open(p, "wb") as f:
        f.write(b"x" * 5000)
    fd = os.open(p, os.O_WRONLY | os.O_TRUNC)
    os.close(fd)
    assert os.path.getsize(p) == 0
    for chunk in (b"a" * 3000, b"b" * 3000):
        fd = os.open(p, os.O_WRONLY | os.O_APPEND)
        os.write(fd, chunk)
        os.close(fd)
    with open(p, "rb") as f:
        assert f.read() == b"a" * 3000 + b"b" * 3000
    with pytest.raises(FileExistsError):
        os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    fd = os.open(os.path.join(m.mnt, "new"), os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    assert stat.S_IMODE(os.fstat(fd).st_mode) == 0o600
    os.close(fd)
    with pytest.raises(FileNotFoundError):
        os.open(os.path.join(m.mnt, "missing"), os.O_RDONLY)


def test_empty_file_is_a_header_only_lower_file(mounter):
    m = mounter()
    open(os.path.join(m.mnt, "e"), "wb").close()
    low = only_lower(m.lower)
    assert os.path.getsize(low) == 8192
    assert header_size_field(low) == 0


def test_fsync_and_fdatasync(mounter, tmp_path):
    m = mounter()
    fd = os.open(os.path.join(m.mnt, "s"), os.O_RDWR | os.O_CREAT, 0o644)
    os.write(fd, b"sync me")
    os.fsync(fd)
    os.fdatasync(fd)
    os.close(fd)
    assert decrypt_offline(only_lower(m.lower), tmp_path / "pw") == b"sync me"


def test_mkdir_rmdir_and_errors(mounter):
    m = mounter()
    d = os.path.join(m.mnt, "d")
    os.mkdir(d, 0o750)
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o750
    with pytest.raises(FileExistsError):
        os.mkdir(d)
    open(os.path.join(d, "x"), "w").close()
    with pytest.raises(OSError) as e:
        os.rmdir(d)
    assert e.value.errno == errno.ENOTEMPTY
    with pytest.raises(NotADirectoryError):
        os.rmdir(os.path.join(d, "x"))
    with pytest.raises(IsADirectoryError):
        os.unlink(d)
    os.unlink(os.path.join(d, "x"))
    os.rmdir(d)
    assert os.listdir(m.mnt) == []
    assert lower_entries(m.lower) == []


def test_unlinked_open_file_stays_usable(mounter):
    m = mounter()
    p = os.path.join(m.mnt, "u")
    fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
    os.write(fd, data(9000))
    os.unlink(p)
    assert not os.path.exists(p)
    assert lower_entries(m.lower) == []
    os.pwrite(fd, b"more", 9000)
    assert os.pread(fd, 20000, 0) == data(9000) + b"more"
    assert os.fstat(fd).st_size == 9004
    os.close(fd)


def test_rename_plain_noreplace_exchange(mounter):
    m = mounter()
    a, b, c = (os.path.join(m.mnt, n) for n in "abc")
    for p, v in ((a, b"A"), (b, b"B")):
        with open(p, "wb") as f:
            f.write(v)
    with pytest.raises(FileExistsError):
        renameat2(a, b, RENAME_NOREPLACE)
    renameat2(a, b, RENAME_EXCHANGE)
    assert open(a, "rb").read() == b"B" and open(b, "rb").read() == b"A"
    os.rename(a, c)
    assert sorted(os.listdir(m.mnt)) == ["b", "c"]
    os.rename(c, b)  # over an existing file
    assert os.listdir(m.mnt) == ["b"] and open(b, "rb").read() == b"B"
    os.mkdir(os.path.join(m.mnt, "d"))
    os.rename(b, os.path.join(m.mnt, "d", "moved"))
    assert open(os.path.join(m.mnt, "d", "moved"), "rb").read() == b"B"
    with pytest.raises(FileNotFoundError):
        renameat2(os.path.join(m.mnt, "nope"), a, RENAME_EXCHANGE)


def test_hard_links_share_content_and_inode(mounter):
    m = mounter()
    a, b = os.path.join(m.mnt, "a"), os.path.join(m.mnt, "b")
    with open(a, "wb") as f:
        f.write(b"shared")
    os.link(a, b)
    sa, sb = os.stat(a), os.stat(b)
    assert sa.st_ino == sb.st_ino and sa.st_nlink == 2
    with open(b, "ab") as f:
        f.write(b" more")
    assert open(a, "rb").read() == b"shared more"
    assert os.path.getsize(a) == 11
    os.unlink(a)
    assert os.stat(b).st_nlink == 1 and open(b, "rb").read() == b"shared more"


def test_symlinks_and_readlink(mounter):
    m = mounter()
    with open(os.path.join(m.mnt, "target"), "wb") as f:
        f.write(b"T")
    os.symlink("target", os.path.join(m.mnt, "rel"))
    os.symlink("/abs/dangling/x", os.path.join(m.mnt, "abs"))
    assert os.readlink(os.path.join(m.mnt, "rel")) == "target"
    assert open(os.path.join(m.mnt, "rel"), "rb").read() == b"T"
    st = os.lstat(os.path.join(m.mnt, "abs"))
    assert stat.S_ISLNK(st.st_mode) and st.st_size == len("/abs/dangling/x")
    assert os.readlink(os.path.join(m.lower, "rel")) == "target"  # names off


def test_chmod_chown_utimens(mounter):
    m = mounter()
    p = os.path.join(m.mnt, "f")
    open(p, "w").close()
    os.chmod(p, 0o640)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o640
    assert stat.S_IMODE(os.stat(only_lower(m.lower)).st_mode) == 0o640
    os.chown(p, 1234, 5678)
    st = os.stat(p)
    assert (st.st_uid, st.st_gid) == (1234, 5678)
    os.utime(p, ns=(1_000_000_123, 2_000_000_456))
    st = os.stat(p)
    assert st.st_atime_ns == 1_000_000_123 and st.st_mtime_ns == 2_000_000_456
    os.utime(p)  # now
    assert os.stat(p).st_mtime_ns > 2_000_000_456


def test_statfs_reports_lower_space(mounter):
    m = mounter()
    s, low = os.statvfs(m.mnt), os.statvfs(m.lower)
    assert s.f_blocks == low.f_blocks and s.f_namemax == low.f_namemax


def test_xattrs_pass_through_but_user_ecryptfs_is_hidden(mounter):
    m = mounter(opts=["ecryptfs_xattr_metadata"])
    p = os.path.join(m.mnt, "x")
    with open(p, "wb") as f:
        f.write(b"xattr mode")
    low = only_lower(m.lower)
    assert os.path.getsize(low) == 4096  # no header in the file
    assert len(os.getxattr(low, "user.ecryptfs")) == 26 + 31 + 24
    assert "user.ecryptfs" not in os.listxattr(p)
    with pytest.raises(OSError) as e:
        os.getxattr(p, "user.ecryptfs")
    assert e.value.errno == errno.ENODATA
    with pytest.raises(PermissionError):
        os.setxattr(p, "user.ecryptfs", b"x")
    os.setxattr(p, "user.note", b"hello")
    assert os.getxattr(p, "user.note") == b"hello"
    assert sorted(os.listxattr(p)) == ["user.note"]
    os.removexattr(p, "user.note")
    assert os.listxattr(p) == []
    assert open(p, "rb").read() == b"xattr mode"
    remount(m)
    assert os.path.getsize(p) == 10 and open(p, "rb").read() == b"xattr mode"


def test_security_labels_are_not_supported(mounter):
    """No LSM answered for the label (else the request would not reach
    ecfs), so lower labels mean nothing here: EOPNOTSUPP, which also lets
    ls -l stop asking for every file."""
    m = mounter()
    p = os.path.join(m.mnt, "f")
    with open(p, "w") as f:
        f.write("f")
    if os.geteuid() == 0:
        os.setxattr(only_lower(m.lower), "security.selinux", b"system_u:object_r:x_t:s0")
    for name in ("security.selinux", "security.SMACK64", "security.apparmor"):
        with pytest.raises(OSError) as e:
            os.getxattr(p, name)
        assert e.value.errno == errno.EOPNOTSUPP, name
        with pytest.raises(OSError) as e:
            os.setxattr(p, name, b"label")
        assert e.value.errno == errno.EOPNOTSUPP, name
    assert "security.selinux" not in os.listxattr(p)
    os.setxattr(p, "user.kept", b"yes")   # other names still pass through
    assert os.listxattr(p) == ["user.kept"]
    r = subprocess.run(["ls", "-l", m.mnt], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert r.returncode == 0 and r.stderr == b"" and r.stdout.split()[-1] == b"f"


# A VFS_CAP_REVISION_2 capability set: cap_net_bind_service (bit 10) in
# permitted and effective.
CAPS = bytes([0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
              0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00])


def test_write_drops_file_capabilities_set_through_the_mount(mounter):
    """ecfs answers "no security.capability" from memory once it has asked
    the lower file; a capability set through the mount must end that, so the
    kernel still strips it on the next write (file_remove_privs)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to set security.capability")
    m = mounter()
    p = os.path.join(m.mnt, "tool")
    with open(p, "wb") as f:
        f.write(b"one")           # the kernel asks; ecfs learns "none"
        f.write(b"two")           # answered from memory
    os.setxattr(p, "security.capability", CAPS)
    assert os.getxattr(p, "security.capability") == CAPS
    low = only_lower(m.lower)
    assert os.getxattr(low, "security.capability") == CAPS
    with open(p, "ab") as f:
        f.write(b"three")         # must strip the capability
    for path in (p, low):
        with pytest.raises(OSError) as e:
            os.getxattr(path, "security.capability")
        assert e.value.errno == errno.ENODATA
    assert open(p, "rb").read() == b"onetwothree"
    # set, removed by hand, set again: each change reaches the kernel
    os.setxattr(p, "security.capability", CAPS)
    os.removexattr(p, "security.capability")
    with open(p, "ab") as f:
        f.write(b"4")
    os.setxattr(p, "security.capability", CAPS)
    os.chown(p, 1, 1)             # chown strips capabilities too
    with pytest.raises(OSError) as e:
        os.getxattr(low, "security.capability")
    assert e.value.errno == errno.ENODATA


def test_attributes_set_on_an_open_file_reach_the_lower_file(mounter):
    """tar's sequence: write, then futimens, fchown, fchmod on the open fd
    (ecfs applies them on its open lower fd, not through /proc)."""
    m = mounter()
    p = os.path.join(m.mnt, "f")
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, b"x" * 10000)
        os.utime(fd, ns=(1_600_000_000_123_456_789, 1_500_000_000_987_654_321))
        if os.geteuid() == 0:
            os.fchown(fd, 4321, 8765)
        os.fchmod(fd, 0o751)
    finally:
        os.close(fd)
    low = os.stat(only_lower(m.lower))
    up = os.stat(p)
    for st in (low, up):
        assert stat.S_IMODE(st.st_mode) == 0o751
        assert st.st_mtime_ns == 1_500_000_000_987_654_321
        assert st.st_atime_ns == 1_600_000_000_123_456_789
        if os.geteuid() == 0:
            assert (st.st_uid, st.st_gid) == (4321, 8765)
    assert up.st_size == 10000
    remount(m)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o751 and os.path.getsize(p) == 10000


def mount_options(mnt):
    with open("/proc/self/mounts") as f:
        for line in f:
            fields = line.split()
            if fields[1] == mnt:
                return fields[3].split(",")
    raise AssertionError("%s is not mounted" % mnt)


def test_kernel_checks_permissions_unless_only_root_can_enter(mounter, tmp_path):
    """A root mount without allow_other leaves out default_permissions (root
    passes those checks anyway; each costs a GETATTR round trip); exec bits
    are still enforced.  With allow_other the kernel checks mode bits."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    m = mounter()
    assert "default_permissions" not in mount_options(m.mnt)
    p = os.path.join(m.mnt, "script")
    with open(p, "w") as f:
        f.write("#!/bin/sh\necho ran\n")
    os.chmod(p, 0o644)
    with pytest.raises(PermissionError):
        subprocess.run([p])
    assert not os.access(p, os.X_OK)
    os.chmod(p, 0o700)
    assert subprocess.run([p], stdout=subprocess.PIPE).stdout == b"ran\n"
    d = os.path.join(m.mnt, "locked")
    os.mkdir(d, 0o000)            # root still enters and creates
    with open(os.path.join(d, "in"), "w") as f:
        f.write("in")
    assert open(os.path.join(d, "in")).read() == "in"
    assert not m.stop()
    top = tempfile.mkdtemp(prefix="ecfs-perm-")
    try:
        m2 = mounter(opts=["allow_other"], mnt=os.path.join(top, "mnt"))
        assert "default_permissions" in mount_options(m2.mnt)
        assert not m2.stop()
    finally:
        shutil.rmtree(top)


LOCKER = r"""
import fcntl, sys
f = open(sys.argv[1], "r+b")
try:
    if sys.argv[2] == "flock":
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    else:
        fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 0)
except BlockingIOError:
    sys.exit(11)
sys.exit(0)
"""


@pytest.mark.parametrize("kind", ["flock", "posix"])
def test_locks_conflict_between_processes(mounter, kind):
    m = mounter()
    p = os.path.join(m.mnt, "lock")
    with open(p, "wb") as f:
        f.write(b"0123456789")
    f = open(p, "r+b")
    if kind == "flock":
        fcntl.flock(f, fcntl.LOCK_EX)
    else:
        fcntl.lockf(f, fcntl.LOCK_EX, 10, 0)
    r = subprocess.run([sys.executable, "-c", LOCKER, p, kind])
    assert r.returncode == 11
    f.close()
    r = subprocess.run([sys.executable, "-c", LOCKER, p, kind])
    assert r.returncode == 0


def test_fallocate_grows_with_zeros_and_punch_writes_zeros(mounter, tmp_path):
    m = mounter()
    p = os.path.join(m.mnt, "fa")
    fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
    os.write(fd, data(5000))
    os.posix_fallocate(fd, 0, 20000)
    assert os.fstat(fd).st_size == 20000
    assert os.pread(fd, 30000, 0) == data(5000) + bytes(15000)
    FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE = 1, 2
    LIBC = __import__("ctypes").CDLL(None, use_errno=True)
    assert LIBC.fallocate(fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE,
                          __import__("ctypes").c_long(100), __import__("ctypes").c_long(200)) == 0
    want = data(100) + bytes(200) + data(5000)[300:] + bytes(15000)
    assert os.pread(fd, 30000, 0) == want
    os.close(fd)
    assert decrypt_offline(only_lower(m.lower), tmp_path / "pw") == want


def test_shared_writable_mmap(mounter, tmp_path):
    m = mounter()
    p = os.path.join(m.mnt, "mm")
    with open(p, "wb") as f:
        f.write(bytes(3 * 4096 + 100))
    with open(p, "r+b") as f:
        mm = mmap.mmap(f.fileno(), 0)
        mm[10:15] = b"hello"
        mm[4096 * 3 + 50:4096 * 3 + 55] = b"world"
        mm.flush()
        mm.close()
    with open(p, "rb") as f:
        got = f.read()
    want = bytearray(3 * 4096 + 100)
    want[10:15] = b"hello"
    want[4096 * 3 + 50:4096 * 3 + 55] = b"world"
    assert got == bytes(want)
    remount(m)
    assert decrypt_offline(only_lower(m.lower), tmp_path / "pw") == bytes(want)


def test_inode_numbers_are_the_lower_ones_and_stable(mounter):
    m = mounter()
    os.mkdir(os.path.join(m.mnt, "d"))
    open(os.path.join(m.mnt, "d", "f"), "w").close()
    before = {n: os.stat(os.path.join(m.mnt, n)).st_ino for n in ("d", "d/f")}
    assert before["d"] == os.stat(os.path.join(m.lower, "d")).st_ino
    remount(m)
    after = {n: os.stat(os.path.join(m.mnt, n)).st_ino for n in ("d", "d/f")}
    assert before == after


def test_readdir_large_directory(mounter):
    m = mounter(args=["--fnek"])
    names = {"file-%04d-%s" % (i, "x" * (i % 50)) for i in range(600)}
    for n in names:
        open(os.path.join(m.mnt, n), "w").close()
    assert set(os.listdir(m.mnt)) == names
    assert all(n.startswith(PREFIX) for n in os.listdir(m.lower))
    with os.scandir(m.mnt) as it:
        for e in it:
            assert e.is_file() and e.stat().st_size == 0


def as_nobody(*argv):
    return subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                           *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"),
                    reason="needs root and setpriv")
def test_access_checks_follow_mode_bits_with_allow_other(mounter, tmp_path):
    top = tempfile.mkdtemp(prefix="ecfs-allow-other-")  # pytest's tmp is 0700
    os.chmod(top, 0o755)
    m = mounter(opts=["allow_other"], mnt=os.path.join(top, "mnt"))
    os.chmod(m.mnt, 0o755)
    for name, mode in (("public", 0o644), ("secret", 0o600)):
        with open(os.path.join(m.mnt, name), "w") as f:
            f.write(name)
        os.chmod(os.path.join(m.mnt, name), mode)
    assert as_nobody("cat", os.path.join(m.mnt, "public")).stdout == b"public"
    r = as_nobody("cat", os.path.join(m.mnt, "secret"))
    assert r.returncode != 0 and b"Permission denied" in r.stderr
    r = as_nobody("touch", os.path.join(m.mnt, "new"))
    assert r.returncode != 0 and b"Permission denied" in r.stderr
    os.chmod(m.mnt, 0o777)
    assert as_nobody("sh", "-c", "echo mine > %s/mine" % m.mnt).returncode == 0
    st = os.stat(os.path.join(m.lower, "mine"))
    assert (st.st_uid, st.st_gid) == (65534, 65534)  # owned by the caller
    assert not m.stop()
    shutil.rmtree(top)


NOBODY_WRITE = r"""
import os, sys
path, how = sys.argv[1], sys.argv[2]
if how == "write":
    with open(path, "r+b") as f:
        f.write(b"changed")
elif how == "truncate":
    os.truncate(path, 3)
elif how == "open-trunc":
    os.close(os.open(path, os.O_WRONLY | os.O_TRUNC))
"""


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"),
                    reason="needs root and setpriv")
@pytest.mark.parametrize("how", ["write", "truncate", "open-trunc"])
def test_writes_without_fsetid_drop_suid_and_sgid(mounter, how):
    """Linux drops suid (and sgid if group-executable) when someone without
    CAP_FSETID writes or truncates; ecfs does it for the kernel
    (HANDLE_KILLPRIV_V2), and stat through the mount must show it at once."""
    top = tempfile.mkdtemp(prefix="ecfs-killpriv-")
    os.chmod(top, 0o755)
    try:
        m = mounter(opts=["allow_other"], mnt=os.path.join(top, "mnt"))
        os.chmod(m.mnt, 0o777)
        cases = {"both": (0o6777, 0o0777), "sgid-no-gx": (0o2767, 0o2767),
                 "plain": (0o0777, 0o0777)}
        for name, (mode, _) in cases.items():
            p = os.path.join(m.mnt, name)
            with open(p, "wb") as f:
                f.write(b"original")
            os.chown(p, 65534, 65534)
            os.chmod(p, mode)
            assert stat.S_IMODE(os.stat(p).st_mode) == mode
        for name, (mode, want) in cases.items():
            p = os.path.join(m.mnt, name)
            r = as_nobody(sys.executable, "-c", NOBODY_WRITE, p, how)
            assert r.returncode == 0, r.stderr
            assert stat.S_IMODE(os.stat(p).st_mode) == want, name
        # root keeps them: it has CAP_FSETID
        p = os.path.join(m.mnt, "root")
        with open(p, "wb") as f:
            f.write(b"x")
        os.chmod(p, 0o4755)
        with open(p, "r+b") as f:
            f.write(b"y")
        os.truncate(p, 1)
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o4755
        os.chown(p, 1, 1)         # chown drops suid, for anyone
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o0755
        remount(m)
        for name, (mode, want) in cases.items():
            assert stat.S_IMODE(os.stat(os.path.join(m.mnt, name)).st_mode) == want, name
        assert not m.stop()
    finally:
        shutil.rmtree(top)


def test_without_allow_other_other_users_are_kept_out(mounter):
    m = mounter()
    if not shutil.which("setpriv") or os.geteuid() != 0:
        pytest.skip("needs root and setpriv")
    r = as_nobody("ls", m.mnt)
    assert r.returncode != 0


# ------------------------------------------------------------------ FNEK

def test_fnek_names_are_encrypted_and_listed_in_plaintext(mounter, tmp_path):
    m = mounter(args=["--fnek"])
    os.mkdir(os.path.join(m.mnt, "dir with spaces"))
    with open(os.path.join(m.mnt, "dir with spaces", "unicodé-日本.txt"), "wb") as f:
        f.write(b"u")
    os.symlink("dir with spaces/unicodé-日本.txt", os.path.join(m.mnt, "link"))
    top = lower_entries(m.lower)
    assert len(top) == 2 and all(n.startswith(PREFIX) for n in top)
    assert sorted(os.listdir(m.mnt)) == ["dir with spaces", "link"]
    assert open(os.path.join(m.mnt, "link"), "rb").read() == b"u"
    lows = [os.path.join(m.lower, n) for n in top]
    link = next(p for p in lows if os.path.islink(p))
    assert os.readlink(link).startswith(PREFIX)  # target encrypted too
    assert os.lstat(os.path.join(m.mnt, "link")).st_size == len("dir with spaces/unicodé-日本.txt".encode())
    out = run_ecfs("ls", "-R", "--passphrase-file", str(tmp_path / "pw"), m.lower).stdout.decode()
    assert "dir with spaces/unicodé-日本.txt" in out


def test_fnek_name_limit_is_143_bytes(mounter):
    m = mounter(args=["--fnek"])
    ok = os.path.join(m.mnt, "q" * 143)
    open(ok, "w").close()
    assert os.path.exists(ok)
    with pytest.raises(OSError) as e:
        open(os.path.join(m.mnt, "q" * 144), "w")
    assert e.value.errno == errno.ENAMETOOLONG
    with pytest.raises(OSError) as e:
        os.mkdir(os.path.join(m.mnt, "é" * 72))  # 144 bytes
    assert e.value.errno == errno.ENAMETOOLONG
    assert os.statvfs(m.mnt).f_namemax == 143


def test_fnek_hides_undecryptable_lower_names(mounter):
    m = mounter(args=["--fnek"])
    os.mkdir(os.path.join(m.lower, "lost+found"))
    open(os.path.join(m.lower, PREFIX + "garbage"), "w").close()
    open(os.path.join(m.mnt, "visible"), "w").close()
    assert os.listdir(m.mnt) == ["visible"]


def test_fnek_rename_and_link_use_new_encrypted_names(mounter):
    m = mounter(args=["--fnek-same-key"])
    with open(os.path.join(m.mnt, "one"), "w") as f:
        f.write("1")
    os.rename(os.path.join(m.mnt, "one"), os.path.join(m.mnt, "two"))
    os.link(os.path.join(m.mnt, "two"), os.path.join(m.mnt, "three"))
    assert sorted(os.listdir(m.mnt)) == ["three", "two"]
    assert len(lower_entries(m.lower)) == 2
    remount(m)
    assert open(os.path.join(m.mnt, "three")).read() == "1"


def test_symlink_times_change_on_the_link_itself(mounter):
    m = mounter()
    os.symlink("target", os.path.join(m.mnt, "l"))
    os.utime(os.path.join(m.mnt, "l"), ns=(10**9, 2 * 10**9), follow_symlinks=False)
    assert os.lstat(os.path.join(m.mnt, "l")).st_mtime_ns == 2 * 10**9
    assert os.lstat(os.path.join(m.lower, "l")).st_mtime_ns == 2 * 10**9
