# SPDX-License-Identifier: MIT
"""Bounded resources (issue 22 item 2): a client that never finishes the
handshake is dropped, and accepting at the descriptor limit backs off and
logs once instead of spinning."""
import os
import resource
import socket
import subprocess
import time

from conftest import BLKD, make_image, need, nbdsh, nbdsh_roundtrip, run
from nbd_raw import CMD_READ, handshake_go, raw_connect, recv_exact, send_request
from test_multipath import wait_for

MB = 1 << 20


def test_a_silent_client_is_dropped_after_the_handshake_timeout(blkd, tmp_path):
    s = blkd(tmp_path, ["memory:1M"], "--handshake-timeout", "300ms")
    c = raw_connect(s.sock)
    c.settimeout(30)
    recv_exact(c, 18)                   # the greeting; then say nothing
    assert c.recv(4096) == b""          # the server hung up
    assert "handshake timed out" in s.log()
    need("nbdinfo")                     # a real client is unaffected
    assert int(run(["nbdinfo", "--size", s.uri()]).stdout) == MB


def test_accept_at_the_descriptor_limit_backs_off_and_logs_once(tmp_path):
    need("nbdinfo")
    sock = str(tmp_path / "nbd.sock")
    errlog = open(tmp_path / "blkd.err", "w")

    def low_fd_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (40, 40))
    proc = subprocess.Popen([BLKD, "serve", "-f", "-U", sock, "memory:1M"],
                            stderr=errlog, preexec_fn=low_fd_limit)
    clients = []
    try:
        wait_for(lambda: os.path.exists(sock), what="listening")
        for _ in range(60):             # more than the limit: the backlog holds them
            c = socket.socket(socket.AF_UNIX)
            c.connect(sock)
            clients.append(c)
        log = lambda: open(tmp_path / "blkd.err").read()
        wait_for(lambda: "accept:" in log(), what="the accept log line")
        time.sleep(2)                   # keep it at the limit for a while
        assert log().count("accept:") == 1, log()
        assert proc.poll() is None
        for c in clients:
            c.close()
        clients = []
        # served again once descriptors are free
        wait_for(lambda: run(["nbdinfo", "--size", f"nbd+unix:///?socket={sock}"],
                             check=False).stdout.strip() == str(MB), what="served again")
    finally:
        for c in clients:
            c.close()
        proc.terminate()
        proc.wait(timeout=30)
        errlog.close()


def rss_anon_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no RssAnon")


def test_unread_32m_reads_stay_within_the_budget_and_others_are_served(blkd, tmp_path):
    """40 READs of 32 MiB whose replies are never read: the server stops
    reading that client once its buffers reach the budget, the other
    client's 4 KiB I/O is served and correct, and the memory comes back
    when the flooding client goes."""
    need("nbdsh")
    img = make_image(tmp_path / "disk.img", 64 * MB)
    s = blkd(tmp_path, [img], "--no-mmap", "--max-inflight-bytes", "48M,96M")
    base = rss_anon_mb(s.proc.pid)
    flood = raw_connect(s.sock)
    handshake_go(flood)
    for i in range(40):
        send_request(flood, CMD_READ, 0, 32 * MB, cookie=i)
    wait_for(lambda: s.stats()["exports"][0]["stats"]["ops"]["read"] >= 1, what="a flood read")
    p = nbdsh_roundtrip(s.uri(), 64, 40 * 1024 * 1024, 4096)
    assert p.returncode == 0 and "ok" in p.stdout, p.stderr
    peak = 0
    for _ in range(20):                 # sample while the flood is pending
        peak = max(peak, rss_anon_mb(s.proc.pid))
        time.sleep(0.1)
    assert peak - base < 96 + 16, (base, peak)
    assert s.stats()["buffer_bytes"] <= 96 * MB
    reads = s.stats()["exports"][0]["stats"]["ops"]["read"]
    assert reads < 40 + 64             # the flood was not all read
    flood.close()
    wait_for(lambda: s.stats()["buffer_bytes"] < MB, what="buffers freed")
    if "san" not in BLKD:               # ASan keeps freed memory in quarantine
        wait_for(lambda: rss_anon_mb(s.proc.pid) - base < 16, what="memory given back")
