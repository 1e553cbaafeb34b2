"""The poll window (spin=USEC, wire.c): after a request that changes the
tree the daemon polls the FUSE device for the next one before it sleeps.
What a user can see of it is CPU time: it must be spent right after such
requests, not after reads and lookups, not with spin=0, and it must stop
when the mount goes quiet.  These mounts say io_uring=off: with rings
SCHED_IDLE pollers keep the CPUs awake instead (test_mount_uring.py)."""
import os
import time

import pytest

from fuse_helpers import (burst_of_changes, idle_growth, mounter,  # noqa: F401 (fixture)
                          requests_then_pause, task_cpu)

pytestmark = pytest.mark.skipif(os.cpu_count() == 1,
                                reason="with one CPU the daemon never polls")

def daemon_cpu(m):
    return task_cpu(m.proc.pid)


@pytest.fixture
def spin_mount(mounter, tmp_path):
    made = []

    def make(us):
        lower = tmp_path / ("lower%d" % len(made))   # one mount per lower directory
        lower.mkdir()
        made.append(mounter(lower=lower, opts=["timeout=0", "spin=%d" % us, "io_uring=off"]))
        return made[-1]
    return make


def test_polling_stops_when_the_mount_goes_quiet(spin_mount):
    for us in (50, 10000):
        m = spin_mount(us)
        requests_then_pause(m, 20, 0.01, daemon_cpu)
        before = daemon_cpu(m)
        time.sleep(1.5)
        idle = daemon_cpu(m) - before
        assert idle < 0.15, "spin=%d: %.2f s of CPU while idle" % (us, idle)


def test_window_follows_changes_not_reads_and_spin_0_spends_none(spin_mount):
    # 50 requests 20 ms apart: a 10 ms window polls about 10 ms after each.
    spent = requests_then_pause(spin_mount(10000), 50, 0.02, daemon_cpu)
    reads = requests_then_pause(spin_mount(10000), 50, 0.02, daemon_cpu, change=False)
    none = requests_then_pause(spin_mount(0), 50, 0.02, daemon_cpu)
    assert spent > 0.2, "spin=10000 spent only %.2f s polling after chmods" % spent
    assert reads < 0.1, "spin=10000 spent %.2f s polling after lookups" % reads
    assert none < 0.1, "spin=0 still spent %.2f s" % none


@pytest.mark.parametrize("opts", [[], ["spin=10000"]], ids=["default", "spin10ms"])
def test_idle_mount_wakes_no_thread_after_a_burst(mounter, opts):
    """An idle mount pays nothing: once the poll window after the last
    change has passed, no daemon thread runs at all (no timer, no
    periodic wake-up), so over 3 quiet seconds the daemon gains no CPU
    ticks and no context switches (slack: 2 of each)."""
    m = mounter(opts=["io_uring=off"] + opts)
    burst_of_changes(m.mnt)
    time.sleep(0.5)             # 50 times the longest window
    ticks, switches, ran = idle_growth(m.proc.pid, 3.0)
    assert ticks <= 2 and switches <= 2, \
        "idle for 3 s: %d ticks, %d context switches (%s)" % (ticks, switches, ran)
