"""Files streamed through the mount, start to end.

Reads: the mount's read-ahead window (readahead=KIB, readahead.c).  By
default a root mount widens it to 1 MiB, so a sequential read reaches the
daemon as 1 MiB READs instead of the kernel's 128 KiB ones.  What a user
sees: the bdi's read_ahead_kb, the daemon's read calls per MiB read, the
bytes, and one clear line when the window could not be set although it was
asked for.

Writes: the ciphertext of a stream is not kept in the lower page cache
behind the plaintext the kernel caches above (after_stream_write(), file.c)."""
import os
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import ECFS
from fuse_helpers import is_mounted, mount_devno, mounter  # noqa: F401 (fixture)

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="only root may set a bdi's read-ahead")

MIB = 1 << 20


def window_kib(mnt):
    """read_ahead_kb of the mount at mnt."""
    with open("/sys/class/bdi/%s/read_ahead_kb" % mount_devno(mnt)) as f:
        return int(f.read())


def daemon_read_calls(m):
    with open("/proc/%d/io" % m.proc.pid) as f:
        return dict(line.split(": ") for line in f.read().splitlines())["syscr"]


def cold_read_calls(mounter, lower, data, opts):
    """Read a file written by an earlier mount through a fresh one (nothing
    of it in that mount's page cache); returns (bytes, daemon read calls)."""
    m = mounter(lower=lower, opts=opts)
    before = int(daemon_read_calls(m))
    with open(os.path.join(m.mnt, "big"), "rb") as f:
        got = b""
        while True:
            chunk = f.read(MIB)
            if not chunk:
                break
            got += chunk
    calls = int(daemon_read_calls(m)) - before
    assert not m.stop()
    assert got == data
    return calls


@ROOT_ONLY
@pytest.mark.parametrize("opts,kib", [([], 1024), (["readahead=4096"], 4096),
                                      (["readahead=0"], 128),
                                      (["readahead=4096", "io_uring=off"], 4096)])
def test_window_is_what_the_option_says(mounter, opts, kib):
    m = mounter(opts=opts)
    assert window_kib(m.mnt) == kib
    with open(os.path.join(m.mnt, "f"), "wb") as f:
        f.write(b"x" * 5000)
    with open(os.path.join(m.mnt, "f"), "rb") as f:
        assert f.read() == b"x" * 5000


@ROOT_ONLY
def test_wide_window_means_fewer_larger_reads_same_bytes(mounter, tmp_path):
    lower = tmp_path / "lower"
    lower.mkdir()
    data = os.urandom(24 * MIB)
    m = mounter(lower=lower)
    with open(os.path.join(m.mnt, "big"), "wb") as f:
        f.write(data)
    assert not m.stop()
    wide = cold_read_calls(mounter, lower, data, [])
    narrow = cold_read_calls(mounter, lower, data, ["readahead=0"])
    # 24 READs of 1 MiB against 192 of 128 KiB (each a lower pread, and a
    # /dev/fuse read when requests come that way)
    assert wide * 3 < narrow, "1 MiB window: %d read calls, 128 KiB: %d" % (wide, narrow)


def nobody_mount(top, opts):
    """Mount as uid 65534 (through fusermount3), write and read a file,
    unmount; returns (the daemon's stderr, the mount's window in KiB)."""
    lower, mnt, pw = (os.path.join(top, n) for n in ("lower", "mnt", "pw"))
    for d in (lower, mnt):
        os.makedirs(d, exist_ok=True)
    with open(pw, "w") as f:
        f.write("test passphrase\n")
    for p in (lower, mnt, pw):
        os.chown(p, 65534, 65534)
    drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
            "env", "HOME=" + top]
    argv = drop + [ECFS, "mount", "-f", "--passphrase-file", pw] + \
        (["-o", ",".join(opts)] if opts else []) + [lower, mnt]
    log = os.path.join(top, "log")
    with open(log, "wb") as errf:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=errf)
    try:
        for _ in range(1500):
            if is_mounted(mnt) or proc.poll() is not None:
                break
            time.sleep(0.02)
        assert is_mounted(mnt), open(log).read()
        kib = window_kib(mnt)
        w = subprocess.run(drop + ["sh", "-c", "echo data > %s/f && cat %s/f" % (mnt, mnt)],
                           stdout=subprocess.PIPE, timeout=60)
        assert w.stdout == b"data\n"
    finally:
        subprocess.run(drop[:4] + ["fusermount3", "-u", mnt], timeout=60)
        assert proc.wait(timeout=60) == 0
    with open(log) as f:
        return f.read(), kib


@ROOT_ONLY
@pytest.mark.skipif(not shutil.which("setpriv"), reason="needs setpriv")
def test_user_mount_keeps_kernel_window_and_says_so_only_when_asked(tmp_path):
    top = tempfile.mkdtemp(prefix="ecfs-ra-")  # pytest's tmp is 0700
    os.chmod(top, 0o755)
    try:
        err, kib = nobody_mount(os.path.join(top, "a"), ["readahead=2048"])
        assert kib == 128
        lines = [ln for ln in err.splitlines() if "readahead" in ln]
        assert len(lines) == 1, err
        assert "readahead=2048 not set" in lines[0] and "read_ahead_kb: Permission denied" in lines[0]
        err, kib = nobody_mount(os.path.join(top, "b"), [])
        assert kib == 128 and "readahead" not in err, err
    finally:
        shutil.rmtree(top)


def resident_bytes(path):
    r = subprocess.run(["fincore", "-b", "-n", "-o", "RES", path], stdout=subprocess.PIPE,
                       check=True)
    return int(r.stdout)


@pytest.mark.skipif(not shutil.which("fincore"), reason="needs fincore (util-linux)")
def test_streamed_write_leaves_little_ciphertext_cached(mounter, tmp_path):
    if subprocess.run(["stat", "-f", "-c", "%T", str(tmp_path)],
                      stdout=subprocess.PIPE).stdout.strip() == b"tmpfs":
        pytest.skip("tmpfs pages cannot be dropped")
    lower = tmp_path / "lower"
    lower.mkdir()
    data = os.urandom(64 * MIB)
    m = mounter(lower=lower)
    with open(os.path.join(m.mnt, "big"), "wb") as f:
        for i in range(0, len(data), MIB):
            f.write(data[i:i + MIB])
            f.flush()
            os.fsync(f.fileno())  # each MiB written out before the next comes
    (name,) = os.listdir(lower)
    cached = resident_bytes(os.path.join(lower, name))
    # the last 8 MiB (EF_DROP_LAG) stay, and the header; 64 MiB without dropping
    assert cached < 24 * MIB, "%d MiB of 64 still cached below" % (cached // MIB)
    with open(os.path.join(m.mnt, "small"), "wb") as f:
        f.write(data[:256 * 1024])  # too small to be a stream: kept
        f.flush()
        os.fsync(f.fileno())
    small = [n for n in os.listdir(lower) if n != name][0]
    assert resident_bytes(os.path.join(lower, small)) >= 256 * 1024
    assert not m.stop()
    m = mounter(lower=lower)
    with open(os.path.join(m.mnt, "big"), "rb") as f:
        assert f.read() == data
