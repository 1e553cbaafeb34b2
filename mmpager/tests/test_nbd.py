"""The NBD store (issue 25): pages from an export served by blkd and by
nbdkit over a Unix socket, random reads/writes/evictions/flushes checked
against a model, write-back checked in the file the server serves; a server
killed mid-run gives SIGBUS on the pages it can no longer serve and a log
line, never a hang.  Every wait is bounded."""
import os
import random
import selectors
import shutil
import signal
import subprocess
import time

import pytest

from conftest import BUILD, run, uffd_usable

MP_NBD = BUILD / "tests" / "mmpager" / "mp-nbd"
BLKD = BUILD / "bin" / "blkd"


@pytest.fixture(scope="module")
def mp_nbd():
    if not MP_NBD.exists():
        pytest.skip(f"{MP_NBD} not built (make mmpager)")
    if not uffd_usable():
        pytest.skip("userfaultfd needs root or vm.unprivileged_userfaultfd=1")
    return str(MP_NBD)


def server_cmd(kind, sock, path):
    if kind == "blkd":
        if not BLKD.exists():
            pytest.skip(f"{BLKD} not built")
        return [str(BLKD), "serve", "-f", "-U", str(sock), str(path)]
    if not shutil.which("nbdkit"):
        pytest.skip("nbdkit not installed (mmpager/deps.debian)")
    return ["nbdkit", "-f", "-U", str(sock), "file", f"file={path}"]


def start_server(kind, sock, path):
    p = subprocess.Popen(server_cmd(kind, sock, path), stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not sock.exists():
        if p.poll() is not None or time.monotonic() > deadline:
            p.kill()
            pytest.fail(f"{kind} did not listen on {sock}: {p.communicate(timeout=10)[1]}")
        time.sleep(0.05)
    return p


def stop_server(p):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=30)


def readline(p, timeout):
    """A line of p's stdout, or fail: a helper that hangs fails the test."""
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ)
    if not sel.select(timeout):
        p.kill()
        pytest.fail("no line from the helper within %ds" % timeout)
    return p.stdout.readline()


@pytest.mark.parametrize("kind", ["blkd", "nbdkit"])
def test_model_and_write_back(mp_nbd, kind, tmp_path):
    data, sock = tmp_path / "export", tmp_path / "sock"
    initial = random.Random(7).randbytes(1 << 20)
    data.write_bytes(initial)
    (tmp_path / "initial").write_bytes(initial)
    srv = start_server(kind, sock, data)
    try:
        r = run([mp_nbd, "model", f"nbd+unix:///?socket={sock}", str(tmp_path / "initial"),
                 str(tmp_path / "model"), "11", "20000"], timeout=300)
        assert r.returncode == 0, r.stderr
    finally:
        stop_server(srv)
    model = (tmp_path / "model").read_bytes()
    assert model != initial                 # the run wrote
    assert data.read_bytes() == model       # ... and all of it reached the export


@pytest.mark.parametrize("kind", ["blkd", "nbdkit"])
def test_server_killed_gives_sigbus(mp_nbd, kind, tmp_path):
    data, sock = tmp_path / "export", tmp_path / "sock"
    data.write_bytes(random.Random(3).randbytes(4 << 20))
    srv = start_server(kind, sock, data)
    # the sanitizer build would catch the SIGBUS itself
    env = dict(os.environ, ASAN_OPTIONS="handle_sigbus=0")
    p = subprocess.Popen([mp_nbd, "touch", f"nbd+unix:///?socket={sock}"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert readline(p, 60).startswith("ready"), p.stderr.read()
        srv.kill()
        srv.wait(timeout=30)
        p.stdin.write("go\n")
        p.stdin.flush()
        out, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
        stop_server(srv)
    assert p.returncode == -signal.SIGBUS, (p.returncode, out, err)
    assert "read every page" not in out
    assert "nbd store nbd+unix" in err and "lost" in err
    assert "SIGBUS" in err


def test_bad_uri_is_an_error(mp_nbd, tmp_path):
    r = run([mp_nbd, "touch", f"nbd+unix:///?socket={tmp_path}/none"], timeout=60)
    assert r.returncode == 1
    assert "nbd store nbd+unix" in r.stderr


def test_read_only_export_refuses_writable_map(mp_nbd, tmp_path):
    if not BLKD.exists():
        pytest.skip(f"{BLKD} not built")
    data, sock = tmp_path / "export", tmp_path / "sock"
    data.write_bytes(bytes(1 << 20))
    (tmp_path / "initial").write_bytes(bytes(1 << 20))
    p = subprocess.Popen([str(BLKD), "serve", "-f", "-r", "-U", str(sock), str(data)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        r = run([mp_nbd, "model", f"nbd+unix:///?socket={sock}", str(tmp_path / "initial"),
                 str(tmp_path / "model"), "1", "10"], timeout=120)
    finally:
        stop_server(p)
    assert r.returncode == 1
    assert "read-only" in r.stderr or "writ" in r.stderr, r.stderr


def test_tool_bench_over_nbd(mp_nbd, tmp_path):
    """mmpager bench URI: every workload through the NBD store; sort's
    write-back lands in the file blkd serves."""
    import struct
    from conftest import MMPAGER
    data, sock = tmp_path / "export", tmp_path / "sock"
    data.write_bytes(random.Random(5).randbytes(2 << 20))
    srv = start_server("blkd", sock, data)
    try:
        r = run([str(MMPAGER), "bench", f"nbd+unix:///?socket={sock}", "--buffer", "512K",
                 "--ops", "1000", "--threads", "2"], timeout=300)
        bad = run([str(MMPAGER), "bench", f"nbd+unix:///?socket={sock}", "--engine", "mmap"])
    finally:
        stop_server(srv)
    assert r.returncode == 0, r.stderr
    lines = [dict(kv.split("=", 1) for kv in l.split()) for l in r.stdout.splitlines()]
    assert [l.get("workload") for l in lines[:4]] == ["randread", "seqscan", "randwrite", "sort"]
    assert int(lines[4]["evictions"]) > 0
    words = struct.unpack("<%dQ" % ((2 << 20) // 8), data.read_bytes())
    assert list(words) == sorted(words)
    assert bad.returncode == 1 and "needs a file" in bad.stderr
    r = run([str(MMPAGER), "bench", f"nbd+unix:///?socket={sock}"])
    assert r.returncode == 1 and "nbd store" in r.stderr
