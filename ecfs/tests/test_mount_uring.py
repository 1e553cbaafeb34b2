"""FUSE over io_uring (ring.c).  When the kernel offers it (the fuse module's
enable_uring parameter, Linux 6.14+) the daemon takes its requests from
per-CPU rings; with io_uring=off, with the parameter off, or when no ring
can be set up, it uses /dev/fuse.  Whichever way, a user must see the same
bytes, sizes and errors, and the daemon must exit cleanly.

What is observable of the transport: the daemon's io_uring descriptors and
how many completions they delivered (their fdinfo CqHead).  These tests set
kernel parameters, so they need root and restore what they changed."""
import errno
import hashlib
import os
import random
import signal
import time

import pytest

from fuse_helpers import (burst_of_changes, daemon_threads, idle_growth,  # noqa: F401
                          is_mounted, lower_entries, mounter, requests_then_pause,
                          task_cpu)

PARAM = "/sys/module/fuse/parameters/enable_uring"
IO_URING_DISABLED = "/proc/sys/kernel/io_uring_disabled"

pytestmark = pytest.mark.skipif(
    not os.path.exists(PARAM) or not os.access(PARAM, os.W_OK),
    reason="needs root and a kernel with FUSE over io_uring (Linux 6.14+)")


def set_knob(path, value):
    with open(path) as f:
        old = f.read().strip()
    with open(path, "w") as f:
        f.write(value)
    return old


@pytest.fixture
def uring(request):
    """enable_uring on for the test (or the value given), restored after."""
    old = set_knob(PARAM, getattr(request, "param", "Y"))
    yield
    set_knob(PARAM, "Y" if old in ("Y", "1") else "N")


def ring_fds(pid):
    """The daemon's io_uring fds.  Right after a mount they may not exist
    yet: mount(2) returns before the daemon has answered INIT, where the
    rings are set up; use ring_fds_of() when nothing has been asked yet."""
    found = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == "anon_inode:[io_uring]":
                found.append(fd)
        except FileNotFoundError:
            pass
    return found


def ring_fds_of(m):
    """ring_fds() once INIT is over: a first request waits for it."""
    os.listdir(m.mnt)
    return ring_fds(m.proc.pid)


def ring_completions(pid):
    """Completions the daemon has taken from its rings: requests + 1 each
    for the REGISTER answers."""
    total = 0
    for fd in ring_fds(pid):
        with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
            for line in f:
                if line.startswith("CqHead:"):
                    total += int(line.split()[1])
    return total


def workload(mnt):
    """Create, write at odd offsets, read back, rename, list, remove: the
    checksums and listing a user would see."""
    seen = {}
    blob = hashlib.sha256(b"seed").digest() * 40000          # 1.28 MB
    with open(os.path.join(mnt, "big"), "wb") as f:
        f.write(blob)
        f.seek(3 * 1024 * 1024 + 17)
        f.write(b"tail")
    os.makedirs(os.path.join(mnt, "d/e"))
    for i in range(40):
        with open(os.path.join(mnt, "d/e/f%d" % i), "w") as f:
            f.write("file %d\n" % i * (i + 1))
    os.rename(os.path.join(mnt, "d/e/f0"), os.path.join(mnt, "d/moved"))
    os.truncate(os.path.join(mnt, "d/e/f1"), 3)
    with open(os.path.join(mnt, "big"), "rb") as f:
        seen["big"] = hashlib.sha256(f.read()).hexdigest()
    seen["size"] = os.stat(os.path.join(mnt, "big")).st_size
    seen["f1"] = open(os.path.join(mnt, "d/e/f1")).read()
    seen["list"] = sorted(os.listdir(os.path.join(mnt, "d/e")))
    with pytest.raises(OSError) as e:
        os.rmdir(os.path.join(mnt, "d"))
    seen["rmdir"] = e.value.errno
    with pytest.raises(FileNotFoundError):
        open(os.path.join(mnt, "d/e/missing"))
    for name in seen["list"]:
        os.unlink(os.path.join(mnt, "d/e", name))
    seen["empty"] = os.listdir(os.path.join(mnt, "d/e"))
    return seen


EXPECTED = {
    "size": 3 * 1024 * 1024 + 17 + 4,
    "f1": "fil",
    "list": sorted("f%d" % i for i in range(1, 40)),
    "rmdir": errno.ENOTEMPTY,
    "empty": [],
}


def check(seen):
    blob = hashlib.sha256(b"seed").digest() * 40000
    want = blob + bytes(3 * 1024 * 1024 + 17 - len(blob)) + b"tail"
    assert seen["big"] == hashlib.sha256(want).hexdigest()
    for k, v in EXPECTED.items():
        assert seen[k] == v, k


def test_requests_come_through_the_rings(uring, mounter):
    m = mounter()
    pid = m.proc.pid
    fds = ring_fds_of(m)
    assert len(fds) >= os.cpu_count(), "one ring per CPU at least: %s" % fds
    before = ring_completions(pid)
    check(workload(m.mnt))
    served = ring_completions(pid) - before
    assert served > 150, "only %d requests came through the rings" % served
    # what reached the lower directory is ciphertext
    lower = os.path.join(m.lower, "big")
    with open(lower, "rb") as f:
        raw = f.read()
    assert hashlib.sha256(b"seed").digest() not in raw
    assert os.path.getsize(lower) > EXPECTED["size"]


def test_io_uring_off_uses_dev_fuse(uring, mounter):
    m = mounter(opts=["io_uring=off"])
    assert ring_fds_of(m) == []
    check(workload(m.mnt))


@pytest.mark.parametrize("uring", ["N"], indirect=True)
def test_kernel_not_offering_uses_dev_fuse(uring, mounter):
    m = mounter()
    assert ring_fds_of(m) == []
    check(workload(m.mnt))


def test_same_lower_bytes_readable_either_way(uring, mounter, tmp_path):
    """A tree written through the rings reads back through /dev/fuse and the
    other way round."""
    os.makedirs(tmp_path / "la")
    a = mounter(lower=tmp_path / "la")
    seen_a = workload(a.mnt)
    with open(os.path.join(a.mnt, "keep"), "wb") as f:
        f.write(b"ring-written" * 5000)
    assert not a.stop()
    b = mounter(lower=tmp_path / "la", opts=["io_uring=off"])
    with open(os.path.join(b.mnt, "keep"), "rb") as f:
        assert f.read() == b"ring-written" * 5000
    with open(os.path.join(b.mnt, "big"), "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == seen_a["big"]
    with open(os.path.join(b.mnt, "keep2"), "wb") as f:
        f.write(b"dev-fuse-written" * 3000)
    assert not b.stop()
    c = mounter(lower=tmp_path / "la")
    assert ring_fds_of(c)
    with open(os.path.join(c.mnt, "keep2"), "rb") as f:
        assert f.read() == b"dev-fuse-written" * 3000


def test_no_rings_possible_falls_back_with_a_message(uring, mounter):
    """io_uring forbidden by the system: the daemon must not promise the
    kernel rings it cannot set up (the mount would hang); it says why and
    serves /dev/fuse."""
    if not os.access(IO_URING_DISABLED, os.W_OK):
        pytest.skip("kernel.io_uring_disabled not settable here")
    old = set_knob(IO_URING_DISABLED, "2")
    try:
        m = mounter()
        fds = ring_fds_of(m)  # INIT answered while io_uring is still off
    finally:
        set_knob(IO_URING_DISABLED, old)
    assert fds == []
    check(workload(m.mnt))
    err = m.stderr()
    assert "fuse-io-uring: cannot set up the rings" in err, err
    assert err.count("\n") == 1, err


def test_sigterm_and_unmount_end_the_ring_threads(uring, mounter):
    m = mounter()
    with open(os.path.join(m.mnt, "f"), "w") as f:
        f.write("x")
    assert ring_fds(m.proc.pid)
    m.proc.send_signal(signal.SIGTERM)
    assert m.proc.wait(timeout=20) == 0, m.stderr()
    assert not is_mounted(m.mnt)
    assert lower_entries(m.lower)          # the file stayed, encrypted
    m2 = mounter(lower=m.lower)
    assert open(os.path.join(m2.mnt, "f")).read() == "x"


def ring_threads(pid):
    """{tid: CPUs it may run on} of the daemon's ring threads."""
    found = {}
    for tid in daemon_threads(pid, "ecfs-ring"):
        try:
            found[tid] = os.sched_getaffinity(tid)
        except ProcessLookupError:
            pass
    return found


def test_ring_threads_pinned_let_go_after_a_run_of_reads(uring, mounter):
    """Ring threads start on their queue's CPU, and a long run of small
    reads (fio-like) lets the busy one run anywhere.  (Which thread takes
    the next other request, and so pins itself again, is the kernel's
    choice, so that half is not checked here.)"""
    if os.cpu_count() < 2:
        pytest.skip("one CPU: nothing to pin to")
    m = mounter()
    everywhere = os.sched_getaffinity(m.proc.pid)
    ring_fds_of(m)          # the ring threads start when INIT is answered
    threads = ring_threads(m.proc.pid)
    assert len(threads) == 2 * os.cpu_count(), threads
    assert all(len(c) == 1 for c in threads.values()), threads
    assert set().union(*threads.values()) == everywhere
    path = os.path.join(m.mnt, "data")
    with open(path, "wb") as f:
        f.write(os.urandom(16 * 1024 * 1024))
    mine = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(everywhere)})     # one queue gets it all
    try:
        fd = os.open(path, os.O_RDONLY)
        rnd, free, before = random.Random(5), [], ring_completions(m.proc.pid)
        for _ in range(20):     # rounds of 1000 cache-missing 4 KiB reads
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            for p in rnd.sample(range(4096), 1000):
                assert len(os.pread(fd, 4096, p * 4096)) == 4096
            free = [t for t, c in ring_threads(m.proc.pid).items() if c == everywhere]
            if free:
                break
        os.close(fd)
        assert len(free) == 1, "%s after %d requests" % (
            ring_threads(m.proc.pid), ring_completions(m.proc.pid) - before)
    finally:
        os.sched_setaffinity(0, mine)


SCHED_IDLE = 5


def pollers(pid):
    """{tid: (scheduling policy, CPUs it may run on, CPU seconds)} of the
    daemon's idle pollers (idlepoll.c)."""
    found = {}
    for tid in daemon_threads(pid, "ecfs-poll"):
        try:
            with open("/proc/%d/task/%d/stat" % (pid, tid)) as f:
                policy = int(f.read().rsplit(")", 1)[1].split()[38])
            found[tid] = (policy, os.sched_getaffinity(tid), task_cpu(pid, tid))
        except (FileNotFoundError, ProcessLookupError):
            pass
    return found


def poll_cpu(m):
    return sum(p[2] for p in pollers(m.proc.pid).values())


def burst(m, change, n=300):
    """n chmods or stats 2 ms apart: the pollers' CPU time meanwhile."""
    return requests_then_pause(m, n, 0.002, poll_cpu, change)


def test_idle_pollers_spin_after_changes_only_and_stop_when_quiet(uring, mounter):
    """One SCHED_IDLE poller per CPU, pinned there.  They spend CPU time
    in the window after each request that changes the tree (here 5 ms
    after each chmod, 2 ms apart: all the time), none after lookups, and
    none once the mount is quiet."""
    if os.cpu_count() < 2:
        pytest.skip("one CPU: no pollers")
    m = mounter(opts=["timeout=0", "spin=5000"])
    burst(m, True, n=5)           # the pollers start with the first requests
    found = pollers(m.proc.pid)
    assert len(found) == os.cpu_count(), found
    assert all(p[0] == SCHED_IDLE for p in found.values()), found
    assert sorted(tuple(p[1]) for p in found.values()) == \
        [(c,) for c in sorted(os.sched_getaffinity(m.proc.pid))]
    spent = burst(m, True)
    assert spent > 0.2, "pollers spent %.2f s during 300 chmods" % spent
    time.sleep(0.1)
    quiet = poll_cpu(m)
    time.sleep(1.0)
    assert poll_cpu(m) - quiet < 0.05
    assert burst(m, False) < 0.05  # lookups: no window


@pytest.mark.parametrize("opts", [[], ["spin=10000"]], ids=["default", "spin10ms"])
def test_idle_mount_wakes_no_thread_after_a_burst(uring, mounter, opts):
    """With rings too an idle mount pays nothing: after a burst of changes
    and the poll window, the pollers sleep on their futex and the ring
    threads in io_uring_enter; over 3 quiet seconds no daemon thread gains
    CPU ticks or context switches (slack: 2 of each)."""
    m = mounter(opts=opts)
    burst_of_changes(m.mnt)
    assert ring_fds(m.proc.pid), "no rings: the test would prove nothing"
    if os.cpu_count() > 1 and "spin=0" not in opts:
        assert pollers(m.proc.pid), "no pollers: the test would prove nothing"
    time.sleep(0.5)             # 50 times the longest window
    ticks, switches, ran = idle_growth(m.proc.pid, 3.0)
    assert ticks <= 2 and switches <= 2, \
        "idle for 3 s: %d ticks, %d context switches (%s)" % (ticks, switches, ran)


@pytest.mark.parametrize("opts", [["spin=0"], ["io_uring=off"]])
def test_no_pollers_with_spin_0_or_without_rings(uring, mounter, opts):
    m = mounter(opts=opts)
    with open(os.path.join(m.mnt, "f"), "w") as f:
        f.write("x")
    os.chmod(os.path.join(m.mnt, "f"), 0o600)
    assert pollers(m.proc.pid) == {}
