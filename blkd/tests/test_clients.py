# SPDX-License-Identifier: MIT
"""blkd served to real NBD clients: nbdinfo, qemu-io, nbdcopy, nbdsh, fio.

Each test checks what the client observes (sizes, flags, data read back,
error codes) and, where it matters, what reached the backend file.
"""
import json
import os
import subprocess

import pytest

from conftest import make_image, need, nbdsh, run, free_port, BLKD

MB = 1 << 20


def test_nbdinfo_reports_true_size_and_capabilities(blkd, tmp_path):
    need("nbdinfo")
    img = make_image(tmp_path / "disk.img", 64 * MB)
    s = blkd(tmp_path, [img])
    info = json.loads(run(["nbdinfo", "--json", s.uri()]).stdout)
    assert info["protocol"] == "newstyle-fixed"
    exp = info["exports"][0]
    assert exp["export-size"] == 64 * MB
    for cap in ("can_flush", "can_fua", "can_multi_conn", "can_trim", "can_zero",
                "can_fast_zero", "can_cache", "can_df"):
        assert exp[cap] is True, cap
    assert exp["is_read_only"] is False
    assert "base:allocation" in exp["contexts"]
    assert exp["block_size_maximum"] == 32 * MB


def test_several_exports_are_listed_and_served(blkd, tmp_path):
    need("nbdinfo")
    a = make_image(tmp_path / "a.img", 4 * MB)
    s = blkd(tmp_path, [a, "memory:8M"], "-x", "disk", "-x", "ram", "-d", "test disk")
    out = json.loads(run(["nbdinfo", "--list", "--json", s.uri()]).stdout)
    sizes = {e["export-name"]: e["export-size"] for e in out["exports"]}
    assert sizes == {"disk": 4 * MB, "ram": 8 * MB}
    # a name that does not exist is refused (NBD_REP_ERR_UNKNOWN)
    p = run(["nbdinfo", s.uri("nosuch")], check=False)
    assert p.returncode != 0


def test_read_only_export_refuses_writes(blkd, tmp_path):
    img = make_image(tmp_path / "ro.img", 4 * MB, b"\x5a")
    s = blkd(tmp_path, [img], "-r")
    out = nbdsh(s.uri(), """
h.set_strict_mode(0)   # let the server, not libnbd, refuse
assert h.is_read_only()
assert h.pread(4096, 0) == b'\\x5a' * 4096
try:
    h.pwrite(b'x' * 512, 0)
    print('wrote')
except nbd.Error as e:
    print('errno', e.errno)
""").stdout
    assert "errno EPERM" in out
    with open(img, "rb") as f:
        assert f.read(512) == b"\x5a" * 512


def test_qemu_io_patterns_fua_flush_discard_zeroes(blkd, tmp_path):
    need("qemu-io")
    img = make_image(tmp_path / "disk.img", 32 * MB)
    s = blkd(tmp_path, [img], trace=True)
    cmds = ["write -P 0xab 0 64k", "write -f -P 0xcd 64k 64k", "flush",
            "read -P 0xab 0 64k", "read -P 0xcd 64k 64k",
            "write -P 0xee 2M 1M", "discard 2M 1M", "read -P 0 2M 1M",
            "write -P 0x11 4M 1M", "write -z 4M 1M", "read -P 0 4M 1M"]
    args = ["qemu-io", "-f", "raw", "-t", "writeback", s.uri()]
    for c in cmds:
        args += ["-c", c]
    p = run(args)
    assert "Pattern verification failed" not in p.stdout + p.stderr
    s.stop()
    with open(img, "rb") as f:
        data = f.read(5 * MB)
    assert data[:65536] == b"\xab" * 65536
    assert data[65536:131072] == b"\xcd" * 65536
    assert data[2 * MB:3 * MB] == bytes(MB)
    assert data[4 * MB:5 * MB] == bytes(MB)
    issued = [(l[2], l[5]) for l in s.trace_lines() if l[1] == "D"]
    assert ("WF", "bar") in issued          # the -f write went out with FUA
    assert ("FL", "pre") in issued          # flush reached the backend
    assert ("T", "-") in issued and ("Z", "-") in issued


def test_tcp_listener(blkd, tmp_path):
    need("qemu-io")
    port = free_port()
    s = blkd(tmp_path, ["memory:16M"], "-p", str(port))
    run(["qemu-io", "-f", "raw", f"nbd://127.0.0.1:{port}/",
         "-c", "write -P 0x42 1M 128k", "-c", "read -P 0x42 1M 128k"])
    st = s.stats()["exports"][0]["stats"]
    assert st["bytes"]["write"] >= 128 * 1024


def test_nbdcopy_round_trip_with_multi_conn(blkd, tmp_path):
    need("nbdcopy")
    src = tmp_path / "src.img"
    with open(src, "wb") as f:
        f.write(os.urandom(6 * MB))
        f.write(bytes(2 * MB))              # a zero run: becomes WRITE_ZEROES
        f.write(os.urandom(2 * MB))
    s = blkd(tmp_path, ["memory:10M"])
    run(["nbdcopy", "--flush", str(src), s.uri()])
    dst = tmp_path / "dst.img"
    run(["nbdcopy", s.uri(), str(dst)])
    assert open(src, "rb").read() == open(dst, "rb").read()
    st = s.stats()["exports"][0]["stats"]
    assert st["ops"]["flush"] >= 1
    assert st["errors"] == 0


def test_nbdsh_fua_block_status_and_protocol_errors(blkd, tmp_path):
    img = make_image(tmp_path / "disk.img", 8 * MB)
    s = blkd(tmp_path, [img])
    out = nbdsh(s.uri(), """
h.set_strict_mode(0)   # out-of-range requests reach the server
buf = b'\\x77' * 65536
h.pwrite(buf, 1048576, nbd.CMD_FLAG_FUA)
assert h.pread(65536, 1048576) == buf
h.flush()
# block status: data where written, hole elsewhere
ents = []
h.block_status(8 * 1048576, 0, lambda meta, off, e, err: ents.extend(e) or 0)
print('extents', ents[:6])
def code(f):
    try:
        f()
        return 0
    except nbd.Error as e:
        return e.errno
print('read past end', code(lambda: h.pread(4096, 8 * 1048576)))
print('write past end', code(lambda: h.pwrite(b'x' * 4096, 8 * 1048576 - 1024)))
h.zero(65536, 2 * 1048576, nbd.CMD_FLAG_FAST_ZERO)
assert h.pread(65536, 2 * 1048576) == bytes(65536)
h.zero(65536, 3 * 1048576, nbd.CMD_FLAG_NO_HOLE)
h.cache(65536, 0)
h.trim(65536, 1048576)
print('ok')
""", meta=True).stdout
    assert "read past end EINVAL" in out
    assert "write past end ENOSPC" in out
    assert "ok" in out
    ext = eval(out.split("extents", 1)[1].splitlines()[0])
    # (length, flags) pairs: the 64 KiB written at 1 MiB is data (flags 0)
    off, data_at_1m = 0, False
    for i in range(0, len(ext), 2):
        if off <= MB < off + ext[i] and ext[i + 1] == 0:
            data_at_1m = True
        off += ext[i]
    assert data_at_1m


@pytest.mark.parametrize("sched", ["noop", "deadline", "fair"])
def test_fio_random_writes_verify(blkd, tmp_path, sched):
    need("fio")
    img = make_image(tmp_path / "disk.img", 64 * MB)
    s = blkd(tmp_path, [img], "-s", sched)
    out = tmp_path / "fio.json"
    run(["fio", "--name=v", "--ioengine=nbd", f"--uri={s.uri()}", "--rw=randwrite",
         "--bs=4k", "--bssplit=4k/50:16k/30:64k/20", "--iodepth=16", "--size=16M",
         "--verify=crc32c", "--verify_fatal=1", "--do_verify=1",
         "--output-format=json", f"--output={out}"], timeout=240)
    job = json.load(open(out))["jobs"][0]
    assert job["error"] == 0
    assert job["write"]["io_bytes"] >= 16 * MB
    st = s.stats()["exports"][0]
    assert st["scheduler"] == sched
    assert st["stats"]["errors"] == 0


def test_replies_from_two_threads_never_crash_the_server(blkd, tmp_path):
    """The reader and a helping worker both add replies to the cork; a race
    there once let it grow past its iovec array (a segfault about one fio
    run in 10-30 on a fresh server).  Many short runs, each server must
    survive, answer every write and exit cleanly."""
    need("fio")
    for i in range(25):
        d = tmp_path / str(i)
        d.mkdir()
        s = blkd(d, [make_image(d / "disk.img", 32 * MB)])
        run(["fio", "--name=v", "--ioengine=nbd", f"--uri={s.uri()}", "--rw=randwrite",
             "--bs=4k", "--bssplit=4k/50:16k/30:64k/20", "--iodepth=16", "--size=8M",
             "--verify=crc32c", "--verify_fatal=1", "--do_verify=1"], timeout=120)
        rc = s.stop()
        log = open(s.errlog).read()
        assert rc == 0, log
        assert "runtime error" not in log and "ERROR" not in log


def test_sequential_writes_are_merged(blkd, tmp_path):
    need("fio")
    s = blkd(tmp_path, ["memory:64M"])
    out = tmp_path / "fio.json"
    run(["fio", "--name=s", "--ioengine=nbd", f"--uri={s.uri()}", "--rw=write", "--bs=4k",
         "--iodepth=32", "--size=32M", "--output-format=json", f"--output={out}"])
    st = s.stats()["exports"][0]["stats"]
    assert st["ops"]["write"] == 8192
    # merging turned 8192 client writes into fewer backend I/Os
    assert st["merges"] > 0
    assert st["backend_ios"] < st["ops"]["write"]


def test_many_clients_at_once(blkd, tmp_path):
    need("qemu-io")
    img = make_image(tmp_path / "disk.img", 16 * MB)
    s = blkd(tmp_path, [img])
    procs = [subprocess.Popen(["qemu-io", "-f", "raw", "-t", "writeback", s.uri(),
                               "-c", f"write -P {0x10 + i} {i}M 1M", "-c",
                               f"read -P {0x10 + i} {i}M 1M"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for i in range(10)]
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0 and "verification failed" not in out, out
    s.stop()
    with open(img, "rb") as f:
        for i in range(10):
            assert f.read(MB) == bytes([0x10 + i]) * MB
