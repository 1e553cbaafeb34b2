"""mmpager serve (issue 25): the lazy restore of a memory snapshot into a
process that hands over its userfaultfd and region layout the way
Firecracker does; every page is checked against the snapshot by the
process itself (mp-restore).  Bad hand-overs are clear errors.  Every wait
is bounded."""
import json
import os
import random
import socket
import subprocess
import time

import pytest

from conftest import BUILD, run

MP_RESTORE = BUILD / "tests" / "mmpager" / "mp-restore"


@pytest.fixture(scope="module")
def mp_restore(mmpager_bin):
    if not MP_RESTORE.exists():
        pytest.skip(f"{MP_RESTORE} not built (make mmpager)")
    return str(MP_RESTORE)


def start_serve(mmpager_bin, snap, sock, *extra):
    p = subprocess.Popen([mmpager_bin, "serve", "--snapshot", str(snap), "--socket", str(sock),
                          "--timeout", "60s", *extra], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not sock.exists():
        if p.poll() is not None or time.monotonic() > deadline:
            p.kill()
            pytest.fail("mmpager serve did not listen: %s" % (p.communicate(timeout=10),))
        time.sleep(0.05)
    return p


def finish(p):
    try:
        return p.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        pytest.fail("mmpager serve did not end after its process exited")


@pytest.mark.parametrize("prefetch", [True, False])
def test_every_page_restored(mmpager_bin, mp_restore, tmp_path, prefetch):
    snap, sock = tmp_path / "snap", tmp_path / "sock"
    snap.write_bytes(random.Random(9).randbytes(16 << 20))
    srv = start_serve(mmpager_bin, snap, sock, *([] if prefetch else ["--no-prefetch"]))
    r = run([mp_restore, "check", str(sock), str(snap)], timeout=120)
    out, err = finish(srv)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ok pages=4096")
    assert srv.returncode == 0, err
    assert "serving pid=" in out and "regions=2" in out
    stats = dict(kv.split("=") for kv in out.splitlines()[-1].split()[1:])
    assert int(stats["errors"]) == 0
    assert int(stats["zeroed"]) >= 1               # the page given back read as zeros
    if prefetch:
        assert int(stats["prefetched"]) > 0
    else:
        assert int(stats["prefetched"]) == 0
        assert int(stats["fault_pages"]) >= 4096    # every page on demand
    assert not sock.exists()


def hand_over_raw(sock, payload):
    """Send payload with an fd (not a uffd: the layout is refused first)."""
    with open("/dev/null", "rb") as f, socket.socket(socket.AF_UNIX) as s:
        s.settimeout(30)
        s.connect(str(sock))
        socket.send_fds(s, [payload.encode()], [f.fileno()])
        s.recv(1)       # until the server closes


@pytest.mark.parametrize("layout,why", [
    ("[{\"size\": 4096, \"offset\": 0}]", "lacks base_host_virt_addr"),
    ("[{\"base_host_virt_addr\": 4096, \"size\": 8192, \"offset\": 1048576, "
     "\"page_size\": 4096}]", "past the end of the snapshot"),
    ("[{\"base_host_virt_addr\": 4096, \"size\": 4096, \"offset\": 0, "
     "\"page_size\": 8192}]", "page size 8192"),
    ("[]", "no regions"),
    ("[{\"base_host_virt_addr\": -1}]", "non-negative integer"),
])
def test_bad_layout(mmpager_bin, tmp_path, layout, why):
    snap, sock = tmp_path / "snap", tmp_path / "sock"
    snap.write_bytes(bytes(1 << 20))
    srv = start_serve(mmpager_bin, snap, sock)
    hand_over_raw(sock, layout)
    out, err = finish(srv)
    assert srv.returncode == 1
    assert why in err and err.count("\n") == 1, err


def test_firecracker_field_names(mmpager_bin, tmp_path):
    """Firecracker's deprecated page_size_kib (filled with bytes) stands in
    for page_size: the layout is accepted up to the uffd itself."""
    snap, sock = tmp_path / "snap", tmp_path / "sock"
    snap.write_bytes(bytes(1 << 20))
    srv = start_serve(mmpager_bin, snap, sock)
    hand_over_raw(sock, json.dumps([{"base_host_virt_addr": 1 << 30, "size": 8192,
                                     "offset": 4096, "page_size_kib": 4096}]))
    out, err = finish(srv)
    assert "bad region layout" not in err, err


def test_no_client_times_out(mmpager_bin, tmp_path):
    snap = tmp_path / "snap"
    snap.write_bytes(bytes(1 << 20))
    r = run([mmpager_bin, "serve", "--snapshot", str(snap), "--socket", str(tmp_path / "s"),
             "--timeout", "1s"], timeout=60)
    assert r.returncode == 1 and "no process connected" in r.stderr
    assert not (tmp_path / "s").exists()


def test_usage_errors(mmpager_bin, tmp_path):
    r = run([mmpager_bin, "serve", "--snapshot", "x"])
    assert r.returncode == 2 and "--socket" in r.stderr
    r = run([mmpager_bin, "serve", "--snapshot", str(tmp_path / "none"), "--socket",
             str(tmp_path / "s")])
    assert r.returncode == 1 and "none: cannot open" in r.stderr
