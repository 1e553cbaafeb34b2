# SPDX-License-Identifier: MIT
"""Bounded resources (issue 22 item 2): a client that never finishes the
handshake is dropped, and accepting at the descriptor limit backs off and
logs once instead of spinning."""
import os
import resource
import socket
import subprocess
import time

from conftest import BLKD, TOOL_ENV, need, run
from nbd_raw import raw_connect, recv_exact
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
