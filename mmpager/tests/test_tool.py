"""The mmpager tool: bench runs every workload through libmmpager and
through plain mmap and leaves a sorted file behind; bad options are usage
errors; stat shows a running pager's published statistics."""
import os
import random
import struct
import subprocess

from conftest import run, UM_PROG


def test_bench_all_workloads(mmpager_bin, tmp_path):
    path = tmp_path / "data"
    path.write_bytes(random.Random(1).randbytes(4 << 20))
    for engine in ("mmpager", "mmap"):
        r = run([mmpager_bin, "bench", str(path), "--buffer", "1M", "--threads", "2",
                 "--ops", "2000", "--engine", engine, "--ptl", "global"])
        assert r.returncode == 0, r.stderr
        lines = [dict(kv.split("=", 1) for kv in l.split()) for l in r.stdout.splitlines()]
        assert [l.get("workload") for l in lines[:4]] == \
            ["randread", "seqscan", "randwrite", "sort"]
        assert all(l["engine"] == engine for l in lines[:4])
        if engine == "mmpager":
            tail = lines[4]
            assert tail["ptl"] == "global"
            assert int(tail["evictions"]) > 0
            assert int(tail["peak_resident_bytes"]) <= 1 << 20
        words = struct.unpack("<%dQ" % ((4 << 20) // 8), path.read_bytes())
        assert list(words) == sorted(words)     # sort wrote back through the pager
        path.write_bytes(random.Random(2).randbytes(4 << 20))


def test_bench_usage_errors(mmpager_bin, tmp_path):
    for bad in (["--ptl", "local"], ["--page-size", "5000"], ["--workload", "nope"],
                ["--threads", "0"]):
        r = run([mmpager_bin, "bench", str(tmp_path / "x")] + bad)
        assert r.returncode == 2, bad
        assert "mmpager bench:" in r.stderr and bad[1] in r.stderr
    r = run([mmpager_bin, "bench", str(tmp_path / "missing")])
    assert r.returncode == 1 and "missing" in r.stderr


def test_stat_of_running_pager(mmpager_bin, um_prog, tmp_path):
    path = tmp_path / "held"
    path.write_bytes(bytes(range(256)) * 4096)
    env = dict(os.environ, MMPAGER_PUBLISH="1", UMAP_BUFSIZE="64")
    p = subprocess.Popen([um_prog, "hold", str(path)], env=env, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().startswith("ready")
        for _ in range(100):    # the publisher writes every 250 ms
            r = run([mmpager_bin, "stat", str(p.pid)])
            stats = dict(l.split() for l in r.stdout.splitlines())
            if r.returncode == 0 and int(stats.get("faults", 0)) >= 256:
                break
            subprocess.run(["sleep", "0.1"])
        assert r.returncode == 0, r.stderr
        assert int(stats["faults"]) >= 256
        assert int(stats["regions"]) == 1
        assert int(stats["peak_resident_bytes"]) <= 64 * 4096
    finally:
        p.stdin.close()
        assert p.wait(timeout=60) == 0
    r = run([mmpager_bin, "stat", str(p.pid)])
    assert r.returncode == 1
    assert not os.path.exists(f"/dev/shm/mmpager.{p.pid}.stat")


def test_stat_without_publishing(mmpager_bin):
    r = run([mmpager_bin, "stat", str(os.getpid())])
    assert r.returncode == 1 and "MMPAGER_PUBLISH=1" in r.stderr
    r = run([mmpager_bin, "stat", "nope"])
    assert r.returncode == 2
