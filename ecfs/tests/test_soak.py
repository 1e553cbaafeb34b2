"""Concurrency and load: many processes and threads creating, writing,
renaming and deleting in the same directories of one mount for a bounded
time (ECFS_SOAK_SECONDS, default 60), then checking everything against a
model.

PROCS processes x THREADS threads share four directories.  Each thread owns
the names that carry its id, so it can keep an exact model of them (path ->
bytes) while every thread's operations interleave in the same directories
and on the same daemon: create, overwrite, append, truncate, rename between
the shared directories, replace by rename, unlink, readdir, stat.  All of
them also append fixed-size records to one shared log file with O_APPEND.
At the end:
  - every worker process exits by itself within the time plus a margin (no
    deadlock) and found its model matching the mount (no lost update);
  - the shared log holds every record, whole (appends are not lost or torn);
  - after a remount the same, offline `ecfs fsck` is clean;
  - the daemon's VmRSS grew by less than RSS_LIMIT_MIB from a third of the
    run to the end (no leak per operation; the per-thread 1 MiB buffers are
    in place by then), and it exits 0 with no sanitizer report (the
    fixture checks that; the sanitizer build runs this too).
"""
import hashlib
import json
import os
import random
import subprocess
import sys
import threading
import time

from conftest import run_ecfs
from fuse_helpers import mounter, remount  # noqa: F401

SECONDS = float(os.environ.get("ECFS_SOAK_SECONDS", "60"))
PROCS, THREADS = 4, 4
DIRS = ["d0", "d1", "d2", "d3"]
RECORD = 64
RSS_LIMIT_MIB = 48
LOCK = threading.Lock()


def thread_work(mnt, tag, until, out):
    rnd = random.Random(tag)
    model = {}                      # relative path -> bytes
    ops = records = 0
    logfd = os.open(os.path.join(mnt, "shared.log"), os.O_WRONLY | os.O_APPEND)
    try:
        while time.time() < until:
            op = rnd.random()
            d = rnd.choice(DIRS)
            name = "%s/%s-%d" % (d, tag, rnd.randrange(8))
            p = os.path.join(mnt, name)
            if op < 0.25:
                data = rnd.randbytes(rnd.choice([0, 10, 4096, 5000, 70000]))
                with open(p, "wb") as f:
                    f.write(data)
                model[name] = data
            elif op < 0.40 and name in model:
                add = rnd.randbytes(rnd.randrange(1, 9000))
                with open(p, "ab") as f:
                    f.write(add)
                model[name] += add
            elif op < 0.50 and name in model:
                off = rnd.randrange(len(model[name]) + 1)
                patch = rnd.randbytes(rnd.randrange(1, 6000))
                with open(p, "r+b") as f:
                    f.seek(off)
                    f.write(patch)
                old = model[name]
                model[name] = old[:off] + patch + old[off + len(patch):]
            elif op < 0.57 and name in model:
                n = rnd.randrange(20000)
                os.truncate(p, n)
                old = model[name]
                model[name] = old[:n] + bytes(max(0, n - len(old)))
            elif op < 0.70 and name in model:
                to = "%s/%s-%d" % (rnd.choice(DIRS), tag, rnd.randrange(8))
                os.rename(p, os.path.join(mnt, to))
                model[to] = model.pop(name)
            elif op < 0.78:
                tmp = p + ".tmp"
                data = rnd.randbytes(rnd.randrange(0, 20000))
                with open(tmp, "wb") as f:
                    f.write(data)
                os.rename(tmp, p)
                model[name] = data
            elif op < 0.86 and name in model:
                os.unlink(p)
                del model[name]
            elif op < 0.93:
                os.listdir(os.path.join(mnt, d))
                for n2 in [k for k in model if k.startswith(d + "/")]:
                    assert os.stat(os.path.join(mnt, n2)).st_size == len(model[n2]), n2
            else:
                rec = ("%s %08d" % (tag, ops)).encode().ljust(RECORD - 1) + b"\n"
                assert os.write(logfd, rec) == RECORD
                records += 1
            ops += 1
        bad = [n for n, data in model.items()
               if open(os.path.join(mnt, n), "rb").read() != data]
        with LOCK:
            out["ops"] += ops
            out["records"] += records
            out["bad"] += bad
            out["model"].update({n: hashlib.sha256(v).hexdigest() for n, v in model.items()})
    except Exception as e:              # reported, not swallowed
        with LOCK:
            out["errors"].append("%s: %r" % (tag, e))
    finally:
        os.close(logfd)


def proc_main(mnt, pid, seconds):
    until = time.time() + float(seconds)
    out = {"ops": 0, "records": 0, "bad": [], "errors": [], "model": {}}
    ts = [threading.Thread(target=thread_work, args=(mnt, "p%st%d" % (pid, t), until, out))
          for t in range(THREADS)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    json.dump(out, sys.stdout)


def vm_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_many_workers_same_directories(mounter, monkeypatch, tmp_path):
    # Keep ASan's quarantine small so RSS measures leaks, not the quarantine.
    monkeypatch.setenv("ASAN_OPTIONS", "quarantine_size_mb=16")
    m = mounter()
    for d in DIRS:
        os.mkdir(os.path.join(m.mnt, d))
    open(os.path.join(m.mnt, "shared.log"), "wb").close()
    procs = [subprocess.Popen([sys.executable, __file__, m.mnt, str(i), str(SECONDS)],
                              stdout=subprocess.PIPE, text=True) for i in range(PROCS)]
    time.sleep(SECONDS / 3)
    rss_mid = vm_rss_kib(m.proc.pid)
    results = []
    for p in procs:
        out, _ = p.communicate(timeout=SECONDS + 120)     # a hang fails here
        assert p.returncode == 0, "worker exited %d" % p.returncode
        results.append(json.loads(out))
    rss_end = vm_rss_kib(m.proc.pid)
    errors = sum((r["errors"] for r in results), [])
    bad = sum((r["bad"] for r in results), [])
    assert not errors, errors[:5]
    assert not bad, "lost updates: %s" % bad[:5]
    ops = sum(r["ops"] for r in results)
    records = sum(r["records"] for r in results)
    model = {}
    for r in results:
        model.update(r["model"])

    def check_log():
        data = open(os.path.join(m.mnt, "shared.log"), "rb").read()
        assert len(data) == records * RECORD
        recs = [data[i:i + RECORD] for i in range(0, len(data), RECORD)]
        assert all(r.endswith(b"\n") and r[:1] == b"p" for r in recs)
        assert len(set(recs)) == records

    check_log()
    m = remount(m)
    check_log()
    for n, sha in model.items():
        with open(os.path.join(m.mnt, n), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == sha, n
    growth = (rss_end - rss_mid) / 1024
    print("soak: %.0f s, %d workers, %d ops, %d appends, %d files, daemon RSS %d -> %d KiB" % (
        SECONDS, PROCS * THREADS, ops, records, len(model), rss_mid, rss_end))
    assert growth < RSS_LIMIT_MIB, "daemon RSS grew %.1f MiB" % growth
    assert not m.stop()
    p = run_ecfs("fsck", "--passphrase-file", str(tmp_path / "pw"), m.lower, check=False)
    assert p.returncode == 0, p.stdout.decode()


if __name__ == "__main__":
    proc_main(*sys.argv[1:4])
