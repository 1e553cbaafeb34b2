"""Crash safety: SIGKILL the mount daemon in the middle of heavy mixed
workloads, many times, and check every lower file each time.

One lower tree lives through ECFS_CRASH_CYCLES cycles (default 30).  Each
cycle mounts it, starts WORKERS processes that create, append, overwrite,
truncate (down and up), rename (within and across directories), fsync and
unlink, waits a random moment, SIGKILLs the daemon, kills the workers and
unmounts lazily (fusermount3 -uz).  Then, offline:
  - `ecfs decrypt LOWER -o OUT` succeeds for the whole tree (every regular
    file decrypts; a create cut short before its header is an empty file);
  - every lower file is the header plus whole extents holding its size
    (the size field never points past the extents);
  - every file a worker sealed (written, fsync completed, renamed into
    place, then journaled outside the mount) has exactly the sealed bytes,
    unless the journal says it was being deleted.
The next cycle's mount must serve the same tree (sealed files re-read
through it).  After the last cycle the kernel's eCryptfs reads the tree
(../shared/tools/kernel-ecryptfs read --rw --strict --expect OUT) when the
oracle is there.  --rw because a kill between a create and its header
leaves a 0-byte lower file (write order W1 in ecfs/lib/file.c), which the
kernel, like ecfs, gives a header on open: on a read-only lower it cannot.
"""
import errno
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import KERNEL_TOOL, run_ecfs

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

CYCLES = int(os.environ.get("ECFS_CRASH_CYCLES", "30"))
WORKERS = 4
HDR = 8192
EXT = 4096
PASSPHRASE = "crash passphrase"


# ------------------------------------------------------------- the worker

def worker(mnt, wid, journal, seed):
    """Runs until the mount dies under it.  Journal lines (JSON, one per
    line, written with O_APPEND outside the mount):
      {"seal": rel, "sha": hex, "size": n}   rel holds exactly these bytes
      {"unlink": rel}                        rel may be gone from here on
      {"error": "..."}                       an unexpected error (a bug)"""
    rnd = random.Random(seed)
    jfd = os.open(journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def log(**kw):
        os.write(jfd, (json.dumps(kw) + "\n").encode())

    mine = os.path.join(mnt, "w%d" % wid)
    shared = os.path.join(mnt, "shared")
    for d in (mine, shared):
        os.makedirs(d, exist_ok=True)
    scratch = ["s%d" % i for i in range(6)]
    seq = int(time.time() * 1000) % 10**9 * 10
    sealed = []
    with open(journal) as f:            # what earlier cycles left sealed
        for line in f:
            j = json.loads(line) if line.endswith("\n") else {}
            if "seal" in j:
                sealed.append(j["seal"])
            elif j.get("unlink") in sealed:
                sealed.remove(j["unlink"])

    def blob(n):
        return rnd.randbytes(n)

    while True:
        op = rnd.random()
        name = os.path.join(mine, rnd.choice(scratch))
        if op < 0.20:                              # seal a new file
            seq += 1
            rel = "w%d/sealed-%d" % (wid, seq)
            data = blob(rnd.choice([0, 1, 100, 4095, 4096, 4097, 9000, 70000, 200000]))
            tmp = os.path.join(mnt, rel + ".tmp")
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.rename(tmp, os.path.join(mnt, rel))
            log(seal=rel, sha=hashlib.sha256(data).hexdigest(), size=len(data))
            sealed.append(rel)
        elif op < 0.25 and sealed:                 # retire a sealed file
            rel = sealed.pop(0)
            log(unlink=rel)
            os.unlink(os.path.join(mnt, rel))
        elif op < 0.40:                            # append
            with open(name, "ab") as f:
                f.write(blob(rnd.randint(1, 20000)))
                if rnd.random() < 0.3:
                    os.fsync(f.fileno())
        elif op < 0.55 and os.path.exists(name):   # overwrite in the middle
            with open(name, "r+b") as f:
                size = os.fstat(f.fileno()).st_size
                f.seek(rnd.randint(0, size))
                f.write(blob(rnd.randint(1, 12000)))
        elif op < 0.65 and os.path.exists(name):   # truncate down or up
            os.truncate(name, rnd.randint(0, 200000))
        elif op < 0.72:                            # write past EOF
            with open(name, "ab") as f:
                f.seek(rnd.randint(0, 50000), os.SEEK_END)
                f.write(blob(rnd.randint(1, 5000)))
        elif op < 0.80:                            # rename across dirs and back
            if os.path.exists(name):
                away = os.path.join(shared, "w%d-%s" % (wid, os.path.basename(name)))
                os.rename(name, away)
                os.rename(away, name)
        elif op < 0.87:                            # replace by rename
            tmp = name + ".new"
            with open(tmp, "wb") as f:
                f.write(blob(rnd.randint(0, 40000)))
            os.rename(tmp, name)
        elif op < 0.93:                            # O_TRUNC rewrite
            with open(name, "wb") as f:
                f.write(blob(rnd.randint(0, 30000)))
        elif os.path.exists(name):                 # unlink
            os.unlink(name)
        if len(sealed) > 20:
            rel = sealed.pop(0)
            log(unlink=rel)
            os.unlink(os.path.join(mnt, rel))


# How a request fails when the daemon dies: ENOTCONN/ECONNABORTED through
# /dev/fuse; through FUSE over io_uring also ECANCELED (a request the kernel
# was handing to the dead daemon's ring); ENOENT once the lazy unmount took
# the mount point away.
KILL_ERRNOS = (errno.ENOTCONN, errno.ECONNABORTED, errno.ECANCELED, errno.ENOENT)


def worker_main(mnt, wid, journal, seed, kill_marker):
    """kill_marker exists from just before the daemon is sent SIGKILL: an
    error seen while it does not exist came from a healthy daemon, and is a
    bug whatever its errno."""
    try:
        worker(mnt, int(wid), journal, int(seed))
    except OSError as e:
        import traceback
        after_kill = os.path.exists(kill_marker)
        if not after_kill or e.errno not in KILL_ERRNOS or \
                (e.errno == errno.ENOENT and os.path.ismount(mnt)):
            where = traceback.extract_tb(e.__traceback__)[-1]
            with open(journal, "a") as f:
                f.write(json.dumps({"error": "%r at line %d (%s), %s" % (
                    e, where.lineno, where.line,
                    "after the kill" if after_kill else "daemon alive")}) + "\n")


# ------------------------------------------------------------- checking

def read_journals(jdir):
    sealed, errors = {}, []
    for fn in sorted(os.listdir(jdir)):
        with open(os.path.join(jdir, fn)) as f:
            for line in f:
                if not line.endswith("\n"):
                    continue            # cut by the kill
                j = json.loads(line)
                if "seal" in j:
                    sealed[j["seal"]] = (j["sha"], j["size"])
                elif "unlink" in j:
                    sealed.pop(j["unlink"], None)
                elif "error" in j:
                    errors.append(j["error"])
    return sealed, errors


def check_lower_sizes(lower):
    """Every regular lower file: 0 bytes, or header + whole extents that hold
    the size field.  Returns (files checked, problems)."""
    n, bad = 0, []
    check_lower_sizes.empty = getattr(check_lower_sizes, "empty", 0)
    for dirpath, _, files in os.walk(lower):
        for fn in files:
            p = os.path.join(dirpath, fn)
            st = os.lstat(p)
            n += 1
            if st.st_size == 0:
                check_lower_sizes.empty += 1     # a create cut short (W1)
                continue
            with open(p, "rb") as f:
                size = int.from_bytes(f.read(8), "big")
            data = st.st_size - HDR
            if data < 0 or data % EXT:
                bad.append("%s: lower size %d is not header + whole extents" % (p, st.st_size))
            elif size > data:
                bad.append("%s: size field %d past the extents (%d bytes)" % (p, size, data))
    return n, bad


def sha_of(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def check_sealed(root, sealed):
    bad = []
    for rel, (sha, size) in sealed.items():
        p = os.path.join(root, rel)
        if not os.path.isfile(p):
            bad.append("%s: sealed (fsynced) file missing" % rel)
        elif os.path.getsize(p) != size or sha_of(p) != sha:
            bad.append("%s: sealed file has %d bytes, not the %d fsynced" % (
                rel, os.path.getsize(p), size))
    return bad


# ------------------------------------------------------------- the mount

def is_mounted(path):
    path = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


def start_daemon(lower, mnt, pw, log):
    from conftest import ECFS
    errf = open(log, "ab")
    p = subprocess.Popen([ECFS, "mount", "-f", "--passphrase-file", pw, lower, mnt],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errf)
    errf.close()
    for _ in range(1500):
        if is_mounted(mnt):
            return p
        if p.poll() is not None:
            raise AssertionError("mount failed: " + open(log).read())
        time.sleep(0.02)
    p.kill()
    raise AssertionError("mount did not come up")


def lazy_unmount(mnt):
    subprocess.run(["fusermount3", "-uz", mnt], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def daemon_problems(log):
    """Lines the daemons logged: each names a lower file and the reason a
    request of a healthy daemon failed (a SIGKILL logs nothing)."""
    with open(log, errors="replace") as f:
        return [line.rstrip() for line in f if line.startswith("ecfs: ")]


def kernel_ok():
    return os.access(KERNEL_TOOL, os.X_OK) and os.geteuid() == 0


def journal_sizes(jdir):
    return {w: os.path.getsize(os.path.join(jdir, "w%d" % w))
            if os.path.exists(os.path.join(jdir, "w%d" % w)) else 0 for w in range(WORKERS)}


def wait_for_progress(jdir, before, limit=60.0):
    """Kill only once every worker has journaled something this cycle: on a
    loaded machine starting four interpreters can take longer than the
    random delay, and a cycle killed before any work checks nothing."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        now = journal_sizes(jdir)
        if all(now[w] > before[w] for w in now):
            return
        time.sleep(0.05)


def test_sigkill_during_mixed_workload(tmp_path):
    lower, mnt, out = (str(tmp_path / n) for n in ("lower", "mnt", "out"))
    jdir, pw, log = str(tmp_path / "journal"), str(tmp_path / "pw"), str(tmp_path / "daemon.log")
    marker = str(tmp_path / "killed")
    for d in (lower, mnt, jdir):
        os.makedirs(d)
    with open(pw, "w") as f:
        f.write(PASSPHRASE + "\n")
    rnd = random.Random(int(os.environ.get("ECFS_CRASH_SEED", "6")))
    files_checked = 0
    for cycle in range(CYCLES):
        daemon = start_daemon(lower, mnt, pw, log)
        # The tree the last kill left must be served: sealed files re-read.
        sealed, _ = read_journals(jdir)
        assert not check_sealed(mnt, sealed), "cycle %d (through the mount)" % cycle
        before = journal_sizes(jdir)
        workers = [subprocess.Popen([sys.executable, __file__, mnt, str(w),
                                     os.path.join(jdir, "w%d" % w), str(rnd.getrandbits(32)),
                                     marker])
                   for w in range(WORKERS)]
        wait_for_progress(jdir, before)
        time.sleep(rnd.uniform(0.3, 2.0))
        open(marker, "w").close()
        daemon.send_signal(signal.SIGKILL)
        daemon.wait()
        for w in workers:
            w.kill()
            w.wait()
        lazy_unmount(mnt)
        os.unlink(marker)

        n, bad = check_lower_sizes(lower)
        files_checked += n
        assert not bad, "cycle %d: %s" % (cycle, bad[:5])
        shutil.rmtree(out, ignore_errors=True)
        p = run_ecfs("decrypt", "--passphrase-file", pw, lower, "-o", out, check=False)
        assert p.returncode == 0, "cycle %d: decrypt: %s" % (cycle, p.stderr.decode()[-2000:])
        sealed, errors = read_journals(jdir)
        assert not errors, "cycle %d: workers hit errors: %s; the daemon said: %s" % (
            cycle, errors[:5], daemon_problems(log)[-5:])
        bad = check_sealed(out, sealed)
        assert not bad, "cycle %d: %s" % (cycle, bad[:5])
    assert files_checked > CYCLES * WORKERS
    print("crash: %d kill cycles, %d lower files checked (%d of them 0-byte), "
          "%d sealed files intact" % (CYCLES, files_checked, check_lower_sizes.empty,
                                      len(sealed)))
    # The daemon's own messages: nothing but what a kill explains.  Every
    # error a healthy daemon gives is logged with its reason, so a line here
    # says which failures were the daemon's and why.
    assert "AddressSanitizer" not in open(log, errors="replace").read()
    assert daemon_problems(log) == [], daemon_problems(log)

    if kernel_ok():
        r = subprocess.run([KERNEL_TOOL, "read", lower, "--passphrase-file", pw, "--rw",
                            "--strict", "--expect", out],
                           env=dict(os.environ, KERNEL_ECRYPTFS_ACCEL="tcg"),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=900)
        o = r.stdout.decode(errors="replace")
        assert r.returncode == 0 and "expected=match" in o, o[-4000:]
        print("kernel: " + " ".join(line for line in o.splitlines() if "summary" in line))


if __name__ == "__main__":
    worker_main(*sys.argv[1:6])
