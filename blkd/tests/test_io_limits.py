# SPDX-License-Identifier: MIT
"""I/O limits per export and per client (issue 22 item 4), as cgroup
io.max: token buckets for IOPS and bytes/s, read and write apart, changed
at run time with "blkd ctl ... limit".  Timings are asserted loosely
(a 1 MiB/s limit makes 4 MiB take at least 3 s), the rest by counters."""
import subprocess
import time

from conftest import BLKD, make_image, need, nbdsh, run
from nbd_raw import CMD_READ, CMD_WRITE, handshake_go, raw_connect, recv_exact, send_request

MB = 1 << 20
READ_4M = ("for i in range(64):\n"
           "    h.pread(65536, i * 65536)\n"
           "print('ok')")


def timed_nbdsh(uri, script):
    t0 = time.monotonic()
    p = nbdsh(uri, script, timeout=120, check=False)
    assert p.returncode == 0 and "ok" in p.stdout, p.stderr
    return time.monotonic() - t0


def export_stats(s):
    return s.stats()["exports"][0]["stats"]


def test_an_export_read_limit_holds_and_is_reported(blkd, tmp_path):
    need("nbdsh")
    img = make_image(tmp_path / "d.img", 8 * MB)
    s = blkd(tmp_path, [img], "--limit", "export:rbps=1M")
    assert timed_nbdsh(s.uri(), READ_4M) >= 3.0
    st = export_stats(s)
    assert st["bytes"]["read"] >= 4 * MB
    assert st["throttled_us"] >= 1_000_000, st
    # writes are not held by a read limit
    before = export_stats(s)["throttled_us"]
    timed_nbdsh(s.uri(), "h.pwrite(b'x' * 65536 * 16, 0)\nprint('ok')")
    assert export_stats(s)["throttled_us"] - before < 200_000


def test_a_client_iops_limit_holds_that_client_only(blkd, tmp_path):
    need("nbdsh")
    s = blkd(tmp_path, ["memory:8M"], "--limit", "client:wiops=50")
    c = raw_connect(s.sock)
    c.settimeout(60)
    handshake_go(c)
    t0 = time.monotonic()
    for i in range(100):
        send_request(c, CMD_WRITE, i * 4096, 4096, cookie=i, payload=b"w" * 4096)
    for _ in range(100):
        assert recv_exact(c, 16)[4:8] == b"\0\0\0\0"
    assert time.monotonic() - t0 >= 1.5
    clients = s.stats()["exports"][0]["clients"]
    mine = [x for x in clients if x["stats"]["ops"]["write"] == 100]
    assert len(mine) == 1 and mine[0]["stats"]["throttled_us"] >= 1_000_000, clients
    # the export as a whole was never held
    assert export_stats(s)["throttled_us"] == 0
    c.close()


def test_ctl_changes_limits_at_run_time(blkd, tmp_path):
    need("nbdsh")
    img = make_image(tmp_path / "d.img", 8 * MB)
    s = blkd(tmp_path, [img])
    assert "rbps=max" in s.ctl_cmd("limit -")
    out = run([BLKD, "ctl", s.ctl, "limit", "-", "export", "rbps=1M,riops=max"]).stdout
    assert out.strip() == "ok"
    assert "export riops=max wiops=max rbps=1048576 wbps=max" in s.ctl_cmd("limit -")
    assert timed_nbdsh(s.uri(), READ_4M) >= 3.0
    held = export_stats(s)["throttled_us"]
    assert held >= 1_000_000
    assert s.ctl_cmd("limit - export rbps=max").strip() == "ok"
    timed_nbdsh(s.uri(), READ_4M)
    assert export_stats(s)["throttled_us"] == held       # no longer held
    bad = run([BLKD, "ctl", s.ctl, "limit", "-", "export", "rbps=fast"], check=False)
    assert "rbps: 'fast' is not a positive size" in bad.stdout + bad.stderr


def test_the_fair_scheduler_keeps_its_shares_under_an_export_limit(blkd, tmp_path):
    """Two clients read as fast as they can under riops=200: the fair
    scheduler still splits what the limit lets through between them."""
    img = make_image(tmp_path / "d.img", 8 * MB)
    s = blkd(tmp_path, [img], "-s", "fair", "--limit", "export:riops=200")
    conns = []
    for _ in range(2):
        c = raw_connect(s.sock)
        c.settimeout(60)
        handshake_go(c)
        conns.append(c)
    n = 120
    for i in range(n):                  # both queue deep at once, nothing merges
        for k, c in enumerate(conns):
            send_request(c, CMD_READ, (i * 4 + k * 2) * 4096, 4096, cookie=i)
    time.sleep(0.6)                     # part of it through the limit
    clients = s.stats()["exports"][0]["clients"]
    done = [x["stats"]["ops"]["read"] - x["stats"]["queue_depth"] for x in clients]
    assert len(done) == 2 and sum(done) < 2 * n, done      # the limit holds
    assert min(done) * 3 >= max(done), done                # shared
    for c in conns:
        for _ in range(n):
            assert recv_exact(c, 16)[4:8] == b"\0\0\0\0"
            recv_exact(c, 4096)
        c.close()


def test_bad_limits_are_refused(tmp_path):
    for arg, msg in (("export:rbps=", "rbps"), ("disk:riops=1", "expected export:KEYS"),
                     ("client:speed=1", "unknown key 'speed'")):
        p = subprocess.run([BLKD, "serve", "-f", "-U", str(tmp_path / "s"), "--limit", arg,
                            "memory:1M"], stderr=subprocess.PIPE, text=True, timeout=30)
        assert p.returncode == 2 and msg in p.stderr, p.stderr
