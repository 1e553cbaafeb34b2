# SPDX-License-Identifier: MIT
"""Shared fixtures for the blkd pytest suites.

Every test starts its own blkd on a private Unix socket (or a free
127.0.0.1 port) in its own tmp_path, drives it with real NBD clients and
stops it by pid.  The binary is $OB_BUILD/bin/blkd (default build/).
Client tools that are missing make the test skip with the tool's name.
"""
import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

ROOT = os.environ.get("OB_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BUILD = os.environ.get("OB_BUILD") or os.path.join(ROOT, "build")
BLKD = os.path.join(BUILD, "bin", "blkd")
# nbdsh and the nbd module live in Debian's python (python3-libnbd)
TOOL_ENV = dict(os.environ, PATH="/usr/bin:/usr/sbin:/bin:/sbin:" + os.environ.get("PATH", ""))


def need(*tools):
    for t in tools:
        if not shutil.which(t, path=TOOL_ENV["PATH"]):
            pytest.skip(f"{t} not installed")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One blkd process in the foreground, with its socket and logs."""

    def __init__(self, tmp, files, *args, control=True, trace=False):
        self.tmp = str(tmp)
        self.sock = os.path.join(self.tmp, "nbd.sock")
        self.ctl = os.path.join(self.tmp, "ctl.sock") if control else None
        self.trace = os.path.join(self.tmp, "trace.log") if trace else None
        self.errlog = os.path.join(self.tmp, "blkd.err")
        cmd = [BLKD, "serve", "-f", "-U", self.sock]
        if self.ctl:
            cmd += ["-C", self.ctl]
        if self.trace:
            cmd += ["--trace-text", self.trace]
        cmd += list(args) + list(files)
        self.err = open(self.errlog, "w")
        self.proc = subprocess.Popen(cmd, stderr=self.err, stdout=subprocess.DEVNULL)
        end = time.time() + 20
        while not os.path.exists(self.sock) or (self.ctl and not os.path.exists(self.ctl)):
            if self.proc.poll() is not None:
                raise AssertionError(f"blkd exited with {self.proc.returncode}: {self.log()}")
            if time.time() > end:
                raise AssertionError("blkd did not start listening")
            time.sleep(0.02)

    def uri(self, export=""):
        return f"nbd+unix:///{export}?socket={self.sock}"

    def log(self):
        self.err.flush()
        with open(self.errlog) as f:
            return f.read()

    def ctl_cmd(self, line):
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(self.ctl)
            s.sendall(line.encode() + b"\n")
            out = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                out += b
        return out.decode()

    def stats(self):
        return json.loads(self.ctl_cmd("stats"))

    def trace_lines(self):
        with open(self.trace) as f:
            return [l.split() for l in f.read().splitlines()]

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.err.close()
        return self.proc.returncode


@pytest.fixture
def blkd():
    if not os.access(BLKD, os.X_OK):
        pytest.skip(f"{BLKD} not built")
    servers = []

    def start(tmp, files, *args, **kw):
        s = Server(tmp, files, *args, **kw)
        servers.append(s)
        return s
    yield start
    for s in servers:
        s.stop()


# fio (verify state) and btt (per-device .dat files) write into their
# working directory: give them a scratch one, never the checkout.
_SCRATCH = tempfile.mkdtemp(prefix="blkd-tests-")
atexit.register(shutil.rmtree, _SCRATCH, True)


def run(cmd, timeout=120, check=True, **kw):
    kw.setdefault("cwd", _SCRATCH)
    p = subprocess.run(cmd, env=TOOL_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"{cmd[0]} failed ({p.returncode}): {p.stdout}\n{p.stderr}")
    return p


def nbdsh(uri, script, timeout=60, check=True, meta=False):
    """Run a Python snippet in nbdsh with h connected to uri (asking for
    base:allocation first when meta is true)."""
    need("nbdsh")
    pre = f"h.add_meta_context('base:allocation')\n" if meta else ""
    pre += f"h.connect_uri({uri!r})\n"
    return run(["nbdsh", "-c", pre + script], timeout=timeout, check=check)


def make_image(path, size, pattern=None):
    with open(path, "wb") as f:
        if pattern is None:
            f.truncate(size)
        else:
            f.write(pattern * (size // len(pattern)))
    return str(path)


def nbdsh_roundtrip(uri, count, base, step, timeout=120):
    """Write count random 4 KiB blocks at base + i * step through nbdsh,
    read each back, flush; the completed nbdsh run."""
    return nbdsh(uri, "import os\n"
                 "for i in range(%d):\n"
                 "    d = os.urandom(4096)\n"
                 "    h.pwrite(d, %d + i * %d)\n"
                 "    assert h.pread(4096, %d + i * %d) == d\n"
                 "h.flush()\nprint('ok')" % (count, base, step, base, step),
                 timeout=timeout, check=False)
