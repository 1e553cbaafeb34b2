# SPDX-License-Identifier: MIT
"""No thread per connection (issue 22 item 2): idle and handshaking
clients wait in the event loop, a bounded pool of threads serves requests,
and a client that hangs up has its queued requests cancelled instead of
run."""
import os
import resource
import socket
import subprocess
import time

from conftest import make_image, need, nbdsh, nbdsh_roundtrip, run
from nbd_raw import (CMD_FLUSH, CMD_READ, CMD_WRITE, handshake_go, raw_connect,
                     recv_exact, send_request)
from test_multipath import wait_for

MB = 1 << 20


def proc_status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {key}")


def test_2000_idle_connections_take_no_thread_each(blkd, tmp_path):
    """1,000 clients that connect and say nothing and 1,000 that negotiate
    and then idle: the server keeps a bounded number of threads and modest
    memory, and another client's I/O is served and correct."""
    need("nbdsh")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 8192
    if hard != resource.RLIM_INFINITY and hard < want:
        want = hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    clients = []
    try:
        img = make_image(tmp_path / "disk.img", 16 * MB)
        s = blkd(tmp_path, [img], "--handshake-timeout", "120s")
        pid = s.proc.pid
        base_threads = proc_status(pid, "Threads")
        base_rss = proc_status(pid, "RssAnon")
        for i in range(2000):
            c = raw_connect(s.sock)
            c.settimeout(60)
            if i % 2:
                handshake_go(c)             # negotiated, then idle
            else:
                recv_exact(c, 18)           # the greeting; then silence
            clients.append(c)
        wait_for(lambda: s.stats().get("connections", 0) >= 2000, what="2000 connections")
        threads = proc_status(pid, "Threads")
        rss_mb = (proc_status(pid, "RssAnon") - base_rss) / 1024
        assert threads < 64, (base_threads, threads)
        assert rss_mb < 128, rss_mb
        p = nbdsh_roundtrip(s.uri(), 32, 0, 65536)
        assert p.returncode == 0 and "ok" in p.stdout, p.stderr
        assert proc_status(pid, "Threads") < 64
        # the idle negotiated ones still work
        c = clients[1]
        send_request(c, CMD_READ, 0, 4096, cookie=7)
        hdr = recv_exact(c, 16)
        assert hdr[4:8] == b"\0\0\0\0" and hdr[8:16] == (7).to_bytes(8, "big")
        assert recv_exact(c, 4096) == open(img, "rb").read(4096)
    finally:
        for c in clients:
            c.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_closed_connections_queued_requests_are_cancelled(blkd, tmp_path):
    """Behind a write the upstream holds for 3 s and a FLUSH (drain: later
    requests wait for it), 40 READs sit in the queue; the client hangs up.
    They never reach the upstream: the stats count them as cancelled, not
    as errors nor as backend I/Os (the READs are 8 KiB apart, so none
    merges: before the fix backend_ios counted all 40), and another
    client's FLUSH still succeeds."""
    need("nbdkit", "nbdsh")
    up = str(tmp_path / "up.sock")
    nbdkit = subprocess.Popen(["nbdkit", "-f", "-U", up, "--filter=delay", "memory", "16M",
                               "wdelay=3"], stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: os.path.exists(up), what="nbdkit")
        s = blkd(tmp_path, [f"nbd+unix:///?socket={up}"])
        c = raw_connect(s.sock)
        handshake_go(c)
        send_request(c, CMD_WRITE, 0, 4096, cookie=1, payload=b"x" * 4096)
        send_request(c, CMD_FLUSH, cookie=2)
        for i in range(40):
            send_request(c, CMD_READ, i * 8192, 4096, cookie=10 + i)
        wait_for(lambda: s.stats()["exports"][0]["stats"]["ops"]["read"] >= 40,
                 what="the reads queued")
        c.close()
        wait_for(lambda: s.stats()["exports"][0]["stats"]["queue_depth"] == 0,
                 what="the queue emptied", timeout=60)
        st = s.stats()["exports"][0]["stats"]
        assert st.get("cancelled", 0) >= 40, st
        assert st["errors"] == 0, st
        assert st["backend_ios"] <= 4, st      # the WRITE and the FLUSH's steps
        p = nbdsh(s.uri(), "h.pwrite(b'y' * 512, 0)\nh.flush()\nprint('ok')", timeout=60,
                  check=False)
        assert p.returncode == 0 and "ok" in p.stdout, p.stderr
    finally:
        nbdkit.kill()                   # blkd, stopped later, still holds it
        nbdkit.wait(timeout=30)


def test_stalled_negotiations_leave_threads_for_transmission(blkd, tmp_path):
    """With 2 connection threads, 4 clients that send half an option and
    stall (a 60 s handshake timeout) must not hold both threads: a client
    already transmitting still gets its READ answered.  Before the cap on
    concurrent negotiations both threads sat in those handshakes and the
    READ waited for the timeout."""
    img = make_image(tmp_path / "disk.img", MB, pattern=b"\x3c")
    s = blkd(tmp_path, [img], "--conn-threads", "2", "--handshake-timeout", "60s")
    c = raw_connect(s.sock)
    handshake_go(c)
    time.sleep(0.1)                     # its thread moves on (not required to pass)
    stalled = []
    try:
        for _ in range(4):
            x = raw_connect(s.sock)
            recv_exact(x, 18)
            x.sendall(b"\0\0\0\3IHAVE")    # flags, then half an option magic
            stalled.append(x)
        time.sleep(0.5)                 # they reach the threads first (not required to pass)
        c.settimeout(30)
        send_request(c, CMD_READ, 0, 4096, cookie=9)
        hdr = recv_exact(c, 16)
        assert hdr[8:16] == (9).to_bytes(8, "big") and hdr[4:8] == b"\0\0\0\0"
        assert recv_exact(c, 4096) == b"\x3c" * 4096
        # and a new client still negotiates once the stalled ones give up
        for x in stalled:
            x.close()
        p = nbdsh(s.uri(), "print(h.get_size())", timeout=60)
        assert p.stdout.strip() == str(MB)
    finally:
        for x in stalled:
            x.close()
        c.close()
