# SPDX-License-Identifier: MIT
"""blkd --trace DIR: blktrace files read by the real blkparse, btt and
blkrawverify (Debian package blktrace; issue 8, spec D).

A known workload goes through blkd; the server is stopped (the trace is
complete once it exits), then the stock tools read the files.  The tests
count each action, match every Q with a C, and check that btt builds its
latency tables.
"""
import json
import os
import re
import subprocess

import pytest

from conftest import make_image, need, nbdsh, run
from test_multipath import Nbdkit, mpath_args, mp_state

MB = 1 << 20
LINE = re.compile(r"^\s*(\d+),(\d+)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+(\d+)\s+(\S+)\s+(\S+)\s*(.*)$")


def blkparse(tdir):
    need("blkparse")
    p = run(["blkparse", "-D", tdir, "-i", "blkd"])
    assert "unsupported" not in p.stderr.lower() and "bad" not in p.stderr.lower(), p.stderr
    events, messages = [], []
    for line in p.stdout.splitlines():
        m = LINE.match(line)
        if m:
            dev = (int(m[1]), int(m[2]))
            act, rwbs, rest = m[7], m[8], m[9]
            if act == "m":                      # a message note: "m N text"
                messages.append(rest)
                continue
            sm = re.match(r"(\d+) \+ (\d+)", rest)
            events.append(dict(dev=dev, cpu=int(m[3]), time=float(m[5]), pid=int(m[6]),
                               act=act, rwbs=rwbs, rest=rest,
                               sector=int(sm[1]) if sm else None,
                               nsect=int(sm[2]) if sm else None))
    assert "Skips: 0 forward" in p.stdout, p.stdout[-600:]
    return events, messages


def counts(events):
    c = {}
    for e in events:
        c[e["act"]] = c.get(e["act"], 0) + 1
    return c


def assert_every_q_has_a_c(events):
    """Each queued bio lies inside some completed request of its direction."""
    cs = [e for e in events if e["act"] == "C"]
    for q in (e for e in events if e["act"] == "Q"):
        kind = q["rwbs"].replace("S", "")
        hit = [c for c in cs if c["rwbs"].replace("S", "") == kind and c["time"] >= q["time"] and
               (q["sector"] is None or (c["sector"] is not None and
                c["sector"] <= q["sector"] and
                q["sector"] + q["nsect"] <= c["sector"] + c["nsect"]))]
        assert hit, f"no C for {q}"


def btt_tables(tdir, tmp):
    need("btt")
    dump = os.path.join(str(tmp), "trace.bin")
    run(["blkparse", "-D", tdir, "-i", "blkd", "-d", dump, "-O"])
    out = run(["btt", "-i", dump]).stdout
    rows = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) == 5 and f[0] in ("Q2Q", "Q2G", "G2I", "I2D", "D2C", "Q2C", "Q2M"):
            rows[f[0]] = int(f[4])
    return rows, out


def test_known_workload_counts_every_action_and_matches_q_with_c(blkd, tmp_path):
    img = make_image(tmp_path / "disk.img", 16 * MB)
    tdir = str(tmp_path / "trace")
    s = blkd(tmp_path, [img], "--trace", tdir)
    # one request at a time (no merges): 8 writes, 4 reads, a flush, a FUA write
    nbdsh(s.uri(), """
for i in range(8): h.pwrite(bytes([i + 1]) * 4096, i * 65536)
for i in range(4): assert h.pread(4096, i * 65536) == bytes([i + 1]) * 4096
h.flush()
h.pwrite(b'f' * 8192, 1048576, nbd.CMD_FLAG_FUA)
""")
    assert s.stop() == 0
    names = sorted(os.listdir(tdir))
    assert names and all(re.fullmatch(r"blkd\.blktrace\.\d+", n) for n in names), names
    assert {int(n.rsplit(".", 1)[1]) for n in names} == set(range(len(names)))  # contiguous
    events, _ = blkparse(tdir)
    c = counts(events)
    # file backend = drain-fua: the flush is Q G I, a pre-flush I D C, then its own C;
    # the FUA write is Q G I, pre-flush I D C, the write re-inserted as a step I D C
    assert c.get("Q") == 14 and c.get("G") == 14, c
    assert c.get("I") == 12 + 2 + 3 and c.get("D") == 12 + 1 + 2, c
    assert c.get("C") == 12 + 2 + 2, c
    assert "M" not in c and "F" not in c and "R" not in c, c
    assert {e["rwbs"] for e in events if e["act"] == "Q"} == {"W", "R", "FWS", "WFS"}
    assert [e["nsect"] for e in events if e["act"] == "Q" and e["rwbs"] == "WFS"] == [16]
    assert all(e["dev"] == (43, 0) for e in events)
    assert_every_q_has_a_c(events)
    assert all(e["rest"].endswith("[0]") for e in events if e["act"] == "C")   # no errors
    qnames = {e["rest"].rsplit("[", 1)[1] for e in events if e["act"] == "Q"}
    assert qnames == {"blkd-conn]"}          # process notes name the submitting thread
    rows, out = btt_tables(tdir, tmp_path)
    # btt leaves out the empty flush: it has no sectors to follow
    assert rows.get("Q2C") == 13 and rows.get("D2C", 0) >= 12, out


def test_merges_in_the_trace_agree_with_the_stats(blkd, tmp_path):
    img = make_image(tmp_path / "disk.img", 16 * MB)
    tdir = str(tmp_path / "trace")
    s = blkd(tmp_path, [img], "--trace", tdir, "--threads", "1")
    # many adjacent writes in flight at once: the reader submits them in batches
    nbdsh(s.uri(), """
bufs = [nbd.Buffer.from_bytearray(bytearray([i % 251]) * 4096) for i in range(256)]
for rnd in range(4):
    cookies = [h.aio_pwrite(bufs[i], (rnd * 256 + i) * 4096) for i in range(256)]
    while h.aio_in_flight() > 0:
        h.poll(-1)
""")
    merges = s.stats()["exports"][0]["stats"]["merges"]
    assert s.stop() == 0
    events, _ = blkparse(tdir)
    c = counts(events)
    assert c["Q"] == 1024
    assert c.get("M", 0) + c.get("F", 0) == merges
    assert c["Q"] == c["G"] + c.get("M", 0) + c.get("F", 0)     # every bio: a request or a merge
    assert c["D"] == c["C"] == c["G"]
    if c.get("P"):
        assert c["P"] == c["U"]
    assert_every_q_has_a_c(events)
    rows, out = btt_tables(tdir, tmp_path)
    assert rows.get("Q2C", 0) > 0 and rows.get("D2C", 0) > 0, out


def test_failover_shows_as_requeue_and_issue_on_another_path(blkd, tmp_path):
    need("nbdkit")
    img = make_image(tmp_path / "disk.img", 16 * MB, b"\x33")
    errfile = str(tmp_path / "b.errors-on")
    a = Nbdkit(tmp_path, "a", img)
    b = Nbdkit(tmp_path, "b", img, filters=["error"],
               params=["error=EIO", "error-rate=100%", f"error-file={errfile}"])
    try:
        tdir = str(tmp_path / "trace")
        s = blkd(tmp_path, ["mpath"], *mpath_args(a.uri, b.uri, extra=[
            "--selector", "round-robin", "--trace", tdir]))
        open(errfile, "w").close()
        nbdsh(s.uri(), "for i in range(10): assert h.pread(4096, i * 65536) == b'\\x33' * 4096")
        requeues = sum(p["requeues"] for p in mp_state(s)["paths"])
        assert s.stop() == 0
    finally:
        a.stop()
        b.stop()
    events, messages = blkparse(tdir)
    c = counts(events)
    assert c["Q"] == 10 and c["C"] == 10
    assert c["R"] == requeues >= 1, (c, requeues)
    assert c["D"] == 10 + c["R"]
    for r in (e for e in events if e["act"] == "R"):           # R, then D again, then C
        later = [e["act"] for e in events if e["sector"] == r["sector"] and e["time"] >= r["time"]]
        assert later[:1] == ["R"] and "D" in later and later[-1] == "C", later
    assert any("path 1: Input/output error, requeue" in m for m in messages), messages
    assert any(re.search(r"issue to path 0 \(retry 1\)", m) for m in messages), messages
    assert_every_q_has_a_c(events)
    rows, out = btt_tables(tdir, tmp_path)
    assert rows.get("Q2C") == 10 and rows.get("D2C", 0) >= 10, out


def test_blkrawverify_finds_every_record_valid(blkd, tmp_path):
    need("blkrawverify")
    tdir = str(tmp_path / "trace")
    s = blkd(tmp_path, ["memory:8M"], "--trace", tdir)
    nbdsh(s.uri(), "for i in range(50): h.pwrite(b'q' * 512, i * 8192)\nh.flush()")
    assert s.stop() == 0
    p = subprocess.run(["blkrawverify", "blkd"], cwd=tdir, capture_output=True, text=True)
    with open(os.path.join(tdir, "blkd.verify.out")) as f:
        report = f.read()
    assert p.returncode == 0, p.stderr
    assert "invalid" in report and not re.search(r"[1-9]\d* invalid", report), report


def test_trace_dir_that_cannot_be_made_is_an_error(tmp_path):
    from conftest import BLKD
    (tmp_path / "file").write_text("x")
    p = subprocess.run([BLKD, "serve", "-f", "-U", str(tmp_path / "s.sock"), "--trace",
                        str(tmp_path / "file" / "sub"), "memory:1M"], capture_output=True,
                       text=True, timeout=20)
    assert p.returncode == 1 and "--trace" in p.stderr, p.stderr
