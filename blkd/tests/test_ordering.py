# SPDX-License-Identifier: MIT
"""Ordering and durability as the backend sees it.

The --trace log records every request the queue issues to the backend
(D lines) and completes (C lines), so each ordered mode's sequence for an
NBD FUA write and an NBD FLUSH is checked end to end, through a real client.
The memory backend accepts every mode (its flush and FUA are no-ops), which
is what lets one backend show all six.
"""
import os
import signal

import pytest

from conftest import make_image, nbdsh, need, run

MB = 1 << 20

SEQUENCES = {
    # mode: (FUA write issue sequence, FLUSH issue sequence)
    "drain": ([("W", "bar")], []),
    "drain-flush": ([("FL", "pre"), ("W", "bar"), ("FL", "post")], [("FL", "pre")]),
    "drain-fua": ([("FL", "pre"), ("WF", "bar")], [("FL", "pre")]),
    "tag": ([("W", "bar")], []),
    "tag-flush": ([("FL", "pre"), ("W", "bar"), ("FL", "post")], [("FL", "pre")]),
    "tag-fua": ([("FL", "pre"), ("WF", "bar")], [("FL", "pre")]),
}


def issued_after(lines, marker_off):
    """Issue events after the Q of the request at marker_off."""
    for i, l in enumerate(lines):
        if l[1] == "Q" and int(l[3]) == marker_off:
            return [(x[2], x[5]) for x in lines[i:] if x[1] == "D"]
    raise AssertionError(f"no request at {marker_off} in trace")


@pytest.mark.parametrize("mode", list(SEQUENCES))
def test_ordered_mode_sequence_seen_by_backend(blkd, tmp_path, mode):
    s = blkd(tmp_path, ["memory:16M"], "--ordered", mode, trace=True)
    nbdsh(s.uri(), """
h.pwrite(b'a' * 4096, 0)                       # plain write, answered
h.pwrite(b'b' * 4096, 1048576, nbd.CMD_FLAG_FUA)
h.pwrite(b'c' * 4096, 2097152)
h.flush()
h.pwrite(b'd' * 4096, 3145728)
""")
    s.stop()
    lines = s.trace_lines()
    fua_seq, flush_seq = SEQUENCES[mode]
    after_fua = issued_after(lines, MB)
    assert after_fua[:len(fua_seq)] == fua_seq
    # the plain write answered before the FUA write was issued before it
    d = [(x[2], int(x[3])) for x in lines if x[1] == "D"]
    bar = [i for i, (k, off) in enumerate(d) if k in ("W", "WF") and off == MB]
    assert d.index(("W", 0)) < bar[0]
    # FLUSH: find the flush's Q, then what was issued for it
    q_flush = [i for i, l in enumerate(lines) if l[1] == "Q" and l[2] == "FL"]
    assert len(q_flush) == 1
    issued = [(x[2], x[5]) for x in lines[q_flush[0]:] if x[1] == "D"]
    assert issued[:len(flush_seq)] == flush_seq
    # the write answered before the flush (at 2 MiB) was issued before the flush
    all_d = [(x[2], int(x[3]), x[5]) for x in lines if x[1] == "D"]
    w2 = all_d.index(("W", 2 * MB, "-"))
    if flush_seq:
        pre = [i for i, x in enumerate(all_d) if x[0] == "FL" and x[2] == "pre"][-1]
        assert w2 < pre


def test_drain_holds_later_requests_until_barrier_completes(blkd, tmp_path):
    """In drain modes nothing behind a FUA write is issued before its last
    step completed: every D after the barrier's Q, up to its final C, is a
    step of the sequence."""
    s = blkd(tmp_path, ["memory:64M"], "--ordered", "drain-flush", trace=True)
    nbdsh(s.uri(), """
cookies = []
for i in range(32):
    flags = nbd.CMD_FLAG_FUA if i == 16 else 0
    cookies.append(h.aio_pwrite(bytes([i]) * 4096, i * 1048576, flags=flags))
while h.aio_in_flight() > 0:
    h.poll(-1)
for c in cookies:
    assert h.aio_command_completed(c)
""")
    s.stop()
    lines = s.trace_lines()
    # from the first step issued for the barrier to the post-flush completion,
    # only steps are issued (and at most one is in flight at a time)
    steps = [i for i, l in enumerate(lines) if l[1] == "D" and l[5] != "-"]
    assert steps, "no ordered sequence was issued"
    first = steps[0]
    last_c = max(i for i, l in enumerate(lines) if l[1] == "C" and l[5] == "post")
    inflight = 0
    for l in lines[first:last_c + 1]:
        if l[1] == "D":
            assert l[5] != "-", f"plain request issued during the sequence: {l}"
            inflight += 1
            assert inflight == 1
        elif l[1] == "C":
            inflight -= 1


def test_flushed_data_survives_sigkill(blkd, tmp_path):
    """Writes answered before a FLUSH reply are in the file even when blkd is
    SIGKILLed right after that reply (nothing is held in server buffers)."""
    img = make_image(tmp_path / "disk.img", 16 * MB)
    s = blkd(tmp_path, [img])
    script = """
import os, signal, sys
for i in range(16):
    h.pwrite(bytes([0x40 + i]) * 65536, i * 1048576)
h.flush()
os.kill(%d, signal.SIGKILL)
print('killed')
""" % s.proc.pid
    out = nbdsh(s.uri(), script).stdout
    assert "killed" in out
    s.proc.wait(timeout=10)
    assert s.proc.returncode == -signal.SIGKILL
    with open(img, "rb") as f:
        for i in range(16):
            f.seek(i * MB)
            assert f.read(65536) == bytes([0x40 + i]) * 65536


def test_fua_write_emulated_with_post_flush_on_files(blkd, tmp_path):
    """--fua emulate: the file backend declares drain-flush, and a FUA write
    becomes pre-flush, write, post-flush (fdatasync) on the real file."""
    need("qemu-io")
    img = make_image(tmp_path / "disk.img", 8 * MB)
    s = blkd(tmp_path, [img], "--fua", "emulate", trace=True)
    assert s.stats()["exports"][0]["ordered"] == "drain-flush"
    run(["qemu-io", "-f", "raw", "-t", "writeback", s.uri(), "-c", "write -f -P 0x99 0 4k"])
    s.stop()
    after = issued_after(s.trace_lines(), 0)
    assert after[:3] == [("FL", "pre"), ("W", "bar"), ("FL", "post")]
    with open(img, "rb") as f:
        assert f.read(4096) == b"\x99" * 4096
