# SPDX-License-Identifier: MIT
"""The server around the block layer: hostile protocol input, the command
line, daemon mode and pid file, the control socket (stats, scheduler
switching at run time), and a real ext4 through nbdfuse + loop."""
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import time

import pytest

from conftest import BLKD, TOOL_ENV, make_image, need, nbdsh, run
from nbd_raw import IHAVEOPT, closed, handshake_go, raw_connect, recv_exact

MB = 1 << 20

def test_hostile_input_closes_only_that_connection(blkd, tmp_path):
    s = blkd(tmp_path, ["memory:8M"])
    good = raw_connect(s.sock)
    handshake_go(good)
    # 1: bad request magic after GO
    bad = raw_connect(s.sock)
    handshake_go(bad)
    bad.sendall(b"\xde\xad\xbe\xef" + bytes(24))
    assert closed(bad)
    # 2: unknown client flags in the handshake
    bad2 = raw_connect(s.sock)
    recv_exact(bad2, 18)
    bad2.sendall(struct.pack(">I", 0x80))
    assert closed(bad2)
    # 3: an absurd option length
    bad3 = raw_connect(s.sock)
    recv_exact(bad3, 18)
    bad3.sendall(struct.pack(">I", 1) + struct.pack(">QII", IHAVEOPT, 7, 1 << 30))
    assert closed(bad3)
    # 4: a 1 GiB write payload
    bad4 = raw_connect(s.sock)
    handshake_go(bad4)
    bad4.sendall(struct.pack(">IHHQQI", 0x25609513, 0, 1, 1, 0, 1 << 30))
    assert closed(bad4)
    # 5: garbage, then hang up mid-handshake
    bad5 = raw_connect(s.sock)
    bad5.sendall(os.urandom(7))
    bad5.close()
    # the good connection is unharmed: write then read back
    good.sendall(struct.pack(">IHHQQI", 0x25609513, 0, 1, 7, 4096, 4) + b"abcd")
    magic, err, cookie = struct.unpack(">IIQ", recv_exact(good, 16))
    assert (magic, err, cookie) == (0x67446698, 0, 7)
    good.sendall(struct.pack(">IHHQQI", 0x25609513, 0, 0, 8, 4096, 4))
    magic, err, cookie = struct.unpack(">IIQ", recv_exact(good, 16))
    assert (err, cookie) == (0, 8)
    assert recv_exact(good, 4) == b"abcd"
    # unknown command and bad flags get EINVAL, connection stays
    good.sendall(struct.pack(">IHHQQI", 0x25609513, 0, 42, 9, 0, 0))
    assert struct.unpack(">IIQ", recv_exact(good, 16))[1:] == (22, 9)
    good.sendall(struct.pack(">IHHQQI", 0x25609513, 0x8000, 0, 10, 0, 512))
    assert struct.unpack(">IIQ", recv_exact(good, 16))[1:] == (22, 10)
    good.sendall(struct.pack(">IHHQQI", 0x25609513, 0, 2, 11, 0, 0))   # DISC
    assert closed(good)
    log = s.log()
    assert "bad request magic" in log
    assert "unknown client flags" in log
    assert "option 7 data too long" in log
    assert "WRITE payload too large" in log
    assert s.proc.poll() is None


def test_unknown_options_get_err_unsup_and_negotiation_continues(blkd, tmp_path):
    s = blkd(tmp_path, ["memory:8M"])
    c = raw_connect(s.sock)
    recv_exact(c, 18)
    c.sendall(struct.pack(">I", 1))
    for opt in (11, 5, 99):        # EXTENDED_HEADERS, STARTTLS, unknown
        c.sendall(struct.pack(">QII", IHAVEOPT, opt, 0))
        _, o, rtype, ln = struct.unpack(">QIII", recv_exact(c, 20))
        recv_exact(c, ln)
        assert (o, rtype) == (opt, 0x80000001)
    c.sendall(struct.pack(">QII", IHAVEOPT, 1, 0))     # EXPORT_NAME ""
    size, flags = struct.unpack(">QH", recv_exact(c, 10))
    assert size == 8 * MB and flags & 1 and flags & 0x100   # HAS_FLAGS, MULTI_CONN
    recv_exact(c, 124)                                       # zeroes: NO_ZEROES not asked
    c.close()


def test_cli_usage_errors_name_the_problem(tmp_path):
    if not os.access(BLKD, os.X_OK):
        pytest.skip("blkd not built")
    cases = [
        (["serve", "--bogus", "x"], "option '--bogus'"),
        (["serve", "-U", str(tmp_path / "s")], "no FILE to serve"),
        (["serve", "memory:1M"], "nothing to listen on"),
        (["serve", "-s", "cfq2", "-U", "s", "memory:1M"], "unknown scheduler 'cfq2'"),
        (["serve", "--ordered", "barrier", "-U", "s", "memory:1M"], "unknown mode 'barrier'"),
        (["serve", "-t", "0", "-U", "s", "memory:1M"], "--threads"),
        (["serve", "--poll", "soon", "-U", "s", "memory:1M"], "--poll: expected microseconds"),
        (["frobnicate"], "unknown command 'frobnicate'"),
    ]
    for args, msg in cases:
        p = subprocess.run([BLKD] + args, capture_output=True, text=True, cwd=tmp_path)
        assert p.returncode == 2, args
        assert msg in p.stderr, (args, p.stderr)
    p = subprocess.run([BLKD, "serve", "--help"], capture_output=True, text=True)
    assert p.returncode == 0 and "--scheduler" in p.stdout and "--ordered" in p.stdout
    p = subprocess.run([BLKD, "serve", "-f", "-U", str(tmp_path / "s"),
                        str(tmp_path / "missing.img")], capture_output=True, text=True)
    assert p.returncode == 1 and "missing.img" in p.stderr


def test_daemon_mode_pidfile_and_clean_exit(tmp_path):
    need("nbdinfo")
    if not os.access(BLKD, os.X_OK):
        pytest.skip("blkd not built")
    sock, pidf = tmp_path / "d.sock", tmp_path / "blkd.pid"
    img = make_image(tmp_path / "disk.img", 2 * MB)
    p = subprocess.run([BLKD, "serve", "-U", str(sock), "-P", str(pidf), img],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    pid = int(pidf.read_text())
    try:
        assert sock.exists()           # listening before the parent returned
        out = run(["nbdinfo", "--size", f"nbd+unix:///?socket={sock}"]).stdout
        assert int(out) == 2 * MB
    finally:
        os.kill(pid, signal.SIGTERM)
    for _ in range(200):
        if not pidf.exists() and not sock.exists():
            break
        time.sleep(0.05)
    assert not pidf.exists() and not sock.exists()


def test_control_socket_stats_and_scheduler_switch(blkd, tmp_path):
    need("fio")
    s = blkd(tmp_path, ["memory:32M", "memory:4M"], "-x", "a", "-x", "b", "-s", "noop")
    fio = subprocess.Popen(["fio", "--name=x", "--ioengine=nbd", f"--uri={s.uri('a')}",
                            "--rw=randrw", "--bs=4k", "--iodepth=8", "--size=8M",
                            "--io_size=24M", "--output=/dev/null"],
                           env=TOOL_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen = set()
    try:
        # switch schedulers back and forth while I/O runs
        for sched in ["deadline", "fair", "noop", "deadline"] * 5:
            assert s.ctl_cmd(f"scheduler a {sched}") == "ok\n"
            seen.add(s.ctl_cmd("scheduler a").strip())
            st = s.stats()
            time.sleep(0.01)
    finally:
        assert fio.wait(timeout=120) == 0
    assert seen == {"deadline", "fair", "noop"}
    assert s.ctl_cmd("scheduler a elevator").startswith("error: unknown scheduler")
    assert s.ctl_cmd("scheduler nosuch noop").startswith("error: no export")
    assert s.ctl_cmd("scheduler b").strip() == "noop"
    st = s.stats()
    a = st["exports"][0]
    assert a["name"] == "a" and a["size"] == 32 * MB and a["ordered"] == "drain"
    total = a["stats"]["ops"]["read"] + a["stats"]["ops"]["write"]
    assert total == 24 * MB // 4096
    assert sum(a["stats"]["latency_us_log2"]) == total
    assert a["stats"]["queue_depth"] == 0 and a["stats"]["max_queue_depth"] >= 1
    # per-client stats while a client is connected
    out = nbdsh(s.uri("b"), """
import json, socket
h.pwrite(b'z' * 8192, 0)
c = socket.socket(socket.AF_UNIX); c.connect(%r); c.sendall(b'stats\\n')
data = b''
while True:
    b_ = c.recv(65536)
    if not b_: break
    data += b_
st = json.loads(data)
cl = st['exports'][1]['clients']
print('clients', len(cl), cl[0]['stats']['ops']['write'], cl[0]['stats']['bytes']['write'])
""" % s.ctl).stdout
    assert "clients 1 1 8192" in out
    p = run([BLKD, "ctl", s.ctl, "stats"])
    assert json.loads(p.stdout)["exports"][1]["stats"]["ops"]["write"] == 1


def test_stats_file_is_rewritten(blkd, tmp_path):
    need("qemu-io")
    sf = tmp_path / "stats.json"
    s = blkd(tmp_path, ["memory:8M"], "--stats", str(sf))
    run(["qemu-io", "-f", "raw", s.uri(), "-c", "write 0 64k"])
    for _ in range(100):
        if sf.exists() and json.loads(sf.read_text())["exports"][0]["stats"]["ops"]["write"]:
            break
        time.sleep(0.05)
    assert json.loads(sf.read_text())["exports"][0]["stats"]["ops"]["write"] == 1


def test_ext4_through_nbdfuse_and_loop(blkd, tmp_path):
    need("nbdfuse", "losetup", "mkfs.ext4", "e2fsck", "fusermount3")
    if os.geteuid() != 0 or not os.path.exists("/dev/fuse"):
        pytest.skip("needs root and /dev/fuse for nbdfuse + loop")
    img = make_image(tmp_path / "disk.img", 128 * MB)
    s = blkd(tmp_path, [img], "-s", "fair", trace=False)
    fusedir, mnt = tmp_path / "fuse", tmp_path / "mnt"
    fusedir.mkdir()
    mnt.mkdir()
    fuse = subprocess.Popen(["nbdfuse", str(fusedir / "disk"), s.uri()], env=TOOL_ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    loop = None
    mounted = False
    try:
        for _ in range(200):
            if (fusedir / "disk").exists():
                break
            time.sleep(0.05)
        loop = run(["losetup", "-f", "--show", str(fusedir / "disk")]).stdout.strip()
        run(["mkfs.ext4", "-q", "-F", loop], timeout=180)
        run(["mount", loop, str(mnt)])
        mounted = True
        data = os.urandom(8 * MB)
        with open(mnt / "file", "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        run(["umount", str(mnt)])
        mounted = False
        p = run(["e2fsck", "-fn", loop], check=False, timeout=180)
        assert p.returncode == 0, p.stdout + p.stderr
        run(["mount", "-o", "ro", loop, str(mnt)])
        mounted = True
        assert (mnt / "file").read_bytes() == data
    finally:
        if mounted:
            subprocess.run(["umount", str(mnt)])
        if loop:
            subprocess.run(["losetup", "-d", loop])
        subprocess.run(["fusermount3", "-u", str(fusedir)], env=TOOL_ENV)
        try:
            fuse.wait(timeout=20)
        except subprocess.TimeoutExpired:
            fuse.kill()
    st = s.stats()["exports"][0]["stats"]
    assert st["ops"]["flush"] > 0          # fsync reached the server as FLUSH
    assert st["errors"] == 0


@pytest.mark.parametrize("poll", ["50", "2000"])
def test_readers_poll_only_after_requests(blkd, tmp_path, poll):
    """--poll keeps a reader awake for a while after a batch; a connected
    client that sends nothing must cost (almost) no CPU."""
    need("nbdsh")
    img = make_image(tmp_path / "disk.img", 4 * MB, b"\x33" * 4096)
    s = blkd(tmp_path, [img], "--poll", poll)
    out = nbdsh(s.uri(), f"""
import os, time
def cpu():
    with open('/proc/{s.proc.pid}/stat') as f:
        v = f.read().rsplit(')', 1)[1].split()
    return (int(v[11]) + int(v[12])) / os.sysconf('SC_CLK_TCK')
for i in range(2000):
    h.pwrite(bytes([i % 256]) * 4096, (i % 1024) * 4096)
assert h.pread(4096, 999 * 4096) == bytes([999 % 256]) * 4096
time.sleep(0.2)
before = cpu()
time.sleep(1.5)
print(cpu() - before)
""")
    idle = float(out.stdout.strip())
    assert idle < 0.15, f"server used {idle:.2f} s of CPU in 1.5 s with an idle client"
    assert s.stop() == 0
