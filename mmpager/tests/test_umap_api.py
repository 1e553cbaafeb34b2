"""UMap-API programs of this project's own (tests/helpers/um-prog.c),
written only against <umap/umap.h>, run against libumap: configuration
from UMap's variables, random writes checked against a model and against
the file, a sort of a file larger than the buffer, 10,000 regions, a store
that cannot be read (SIGBUS and a log line, not a hang), fork(), pinning.
"""
import os
import random
import signal
import struct

import pytest

from conftest import run


def make_file(path, size, seed):
    rnd = random.Random(seed)
    with open(path, "wb") as f:
        f.write(rnd.randbytes(size))
    return path


def test_cfg_defaults(um_prog):
    r = run([um_prog, "cfg"])
    assert r.returncode == 0, r.stderr
    cfg = dict(line.split() for line in r.stdout.splitlines())
    assert cfg["page_size"] == str(os.sysconf("SC_PAGESIZE"))
    assert cfg["high_water"] == "90" and cfg["low_water"] == "70"
    assert cfg["max_fault_events"] == "256" and cfg["read_ahead"] == "0"
    assert cfg["fillers"] == str(os.cpu_count()) == cfg["evictors"]
    assert cfg["write_support"] == "1"
    # the default buffer: 90 % of MemFree, in pages (UMap's rule)
    with open("/proc/meminfo") as f:
        free_kb = next(int(l.split()[1]) for l in f if l.startswith("MemFree:"))
    expect = free_kb * 1024 // os.sysconf("SC_PAGESIZE") * 90 // 100
    assert abs(int(cfg["max_pages_in_buffer"]) - expect) < expect // 5


def test_cfg_from_env(um_prog):
    env = {"UMAP_PAGESIZE": "16384", "UMAP_BUFSIZE": "100", "UMAP_PAGE_FILLERS": "3",
           "UMAP_PAGE_EVICTORS": "5", "UMAP_EVICT_HIGH_WATER_THRESHOLD": "60",
           "UMAP_EVICT_LOW_WATER_THRESHOLD": "20", "UMAP_MAX_FAULT_EVENTS": "8",
           "UMAP_READ_AHEAD": "4"}
    r = run([um_prog, "cfg"], env)
    assert r.returncode == 0, r.stderr
    cfg = dict(line.split() for line in r.stdout.splitlines())
    assert (cfg["page_size"], cfg["max_pages_in_buffer"], cfg["fillers"], cfg["evictors"],
            cfg["high_water"], cfg["low_water"], cfg["max_fault_events"],
            cfg["read_ahead"]) == ("16384", "100", "3", "5", "60", "20", "8", "4")


def test_bad_pagesize_is_refused(um_prog, tmp_path):
    path = make_file(tmp_path / "f", 1 << 20, 1)
    r = run([um_prog, "sort", str(path)], {"UMAP_PAGESIZE": "6000"})
    assert r.returncode != 0
    assert "umap:" in r.stderr and "6000" in r.stderr


@pytest.mark.parametrize("ptl", ["split", "global"])
@pytest.mark.parametrize("pagesize", ["4096", "65536"])
def test_random_rw_against_model(um_prog, tmp_path, ptl, pagesize):
    path = make_file(tmp_path / "data", 8 << 20, 2)
    # buffer = 1/4 of the file: evictions and write-backs all along
    bufpages = str((2 << 20) // int(pagesize))
    r = run([um_prog, "rw", str(path), "200000", "5", "4"],
            {"UMAP_PAGESIZE": pagesize, "UMAP_BUFSIZE": bufpages, "MMPAGER_PTL": ptl,
             "UMAP_PAGE_FILLERS": "2", "UMAP_PAGE_EVICTORS": "2", "MMPAGER_STATS": "1"})
    assert r.returncode == 0, r.stderr
    assert "rw ok" in r.stdout
    stats = dict(l.split() for l in r.stderr.splitlines() if len(l.split()) == 2)
    assert stats["ptl_mode"] == ptl
    assert int(stats["evictions"]) > 0 and int(stats["writebacks"]) > 0
    assert int(stats["peak_resident_bytes"]) <= int(stats["buffer_bytes"]) == 2 << 20


def test_sort_larger_than_buffer(um_prog, tmp_path):
    path = make_file(tmp_path / "sortme", 8 << 20, 3)
    before = sorted(struct.unpack("<%dQ" % (1 << 20), path.read_bytes()))
    r = run([um_prog, "sort", str(path)],
            {"UMAP_PAGESIZE": "16384", "UMAP_BUFSIZE": "128"})   # 2 MiB buffer
    assert r.returncode == 0, r.stderr
    after = list(struct.unpack("<%dQ" % (1 << 20), path.read_bytes()))
    assert after == before


def test_ten_thousand_regions(um_prog, tmp_path):
    n = 10000
    path = tmp_path / "regions"
    with open(path, "wb") as f:
        for i in range(n):
            f.write(struct.pack("<I", i) + bytes(4092))
    r = run([um_prog, "regions", str(path), str(n)])
    assert r.returncode == 0, r.stderr
    assert f"regions ok {n}" in r.stdout
    data = path.read_bytes()
    for i in range(0, n, 997):
        assert struct.unpack_from("<I", data, i * 4096)[0] == i * 3


def test_unreadable_store_sigbus_not_hang(um_prog, tmp_path):
    # the store is a directory: every read fails with EISDIR
    r = run([um_prog, "sigbus", str(tmp_path)], {"ASAN_OPTIONS": "handle_sigbus=0"},
            timeout=60)
    assert r.returncode == -signal.SIGBUS, (r.returncode, r.stderr)
    assert "Is a directory" in r.stderr and "SIGBUS" in r.stderr


def test_fork_refused_clearly(um_prog, tmp_path):
    path = make_file(tmp_path / "f", 1 << 20, 4)
    r = run([um_prog, "fork", str(path)], timeout=60)
    assert r.returncode == 0, r.stderr
    assert "fork ok" in r.stdout
    assert "not inherited across fork()" in r.stderr


def test_fetch_and_pin_and_prefetch(um_prog, tmp_path):
    path = make_file(tmp_path / "f", 1 << 20, 5)
    r = run([um_prog, "pin", str(path)], {"UMAP_BUFSIZE": "64"})
    assert r.returncode == 0, r.stderr
    assert "pin ok" in r.stdout
