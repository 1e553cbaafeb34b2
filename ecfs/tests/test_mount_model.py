"""Random operations against a plaintext model, through a real mount.

Several processes at once, each with a seeded random stream of writes (any
offset and size, across extent boundaries, past EOF), truncates, shared
mmap writes, O_APPEND writes, reopens and reads at random offsets and
sizes; every read is compared with an in-memory model.  Afterwards the
mount is restarted (cold caches) and every file is compared again, through
the mount and with the offline decrypter, and its lower layout checked.

A second test has several processes write interleaved, unaligned blocks
of one shared file (so their read-modify-writes hit the same extents)
and checks that no write is lost.
"""
import hashlib
import os
import subprocess
import sys

import pytest

from conftest import run_ecfs
from fuse_helpers import decrypt_offline, kernel_lower_size, mounter, remount  # noqa: F401

WORKER = r'''
import hashlib, mmap, os, random, sys
path, seed, nops = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)
model = bytearray()
fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)

def rand_len():
    r = rng.random()
    if r < 0.3: return rng.randint(1, 64)
    if r < 0.6: return rng.choice([4095, 4096, 4097, 8191, 8192, 8193]) + rng.randint(-3, 3)
    if r < 0.95: return rng.randint(1, 40000)
    return rng.randint(100000, 1 << 20)

def rand_off():
    n = len(model)
    r = rng.random()
    if r < 0.1: return n
    if r < 0.2: return n + rng.randint(1, 50000)
    if r < 0.4: return rng.randrange(0, 64) * 4096 + rng.choice([0, 1, 4095])
    return rng.randint(0, max(n, 1))

def check(off, ln):
    got = os.pread(fd, ln, off)
    want = bytes(model[off:off + ln])
    if got != want:
        i = next((k for k in range(min(len(got), len(want))) if got[k] != want[k]), min(len(got), len(want)))
        sys.exit("seed %d op %d: read(%d, %d) differs at +%d (got %d bytes, want %d)"
                 % (seed, op, off, ln, i, len(got), len(want)))

for op in range(nops):
    r = rng.random()
    if r < 0.35:
        off, ln = rand_off(), rand_len()
        data = rng.randbytes(ln)
        os.pwrite(fd, data, off)
        if off > len(model): model.extend(bytes(off - len(model)))
        model[off:off + ln] = data
    elif r < 0.42:
        ln = rand_len()
        data = rng.randbytes(ln)
        afd = os.open(path, os.O_WRONLY | os.O_APPEND)
        os.write(afd, data)
        os.close(afd)
        model.extend(data)
    elif r < 0.52:
        size = rng.choice([0, rng.randint(0, len(model) + 1), rng.randint(0, 200000),
                           rng.randrange(0, 50) * 4096])
        os.ftruncate(fd, size)
        del model[size:]
        model.extend(bytes(size - len(model)))
    elif r < 0.62 and len(model) > 0:
        m = mmap.mmap(fd, len(model))
        for _ in range(rng.randint(1, 5)):
            off = rng.randrange(len(model))
            ln = min(rng.randint(1, 9000), len(model) - off)
            data = rng.randbytes(ln)
            m[off:off + ln] = data
            model[off:off + ln] = data
        m.flush()
        m.close()
    elif r < 0.65:
        os.close(fd)
        fd = os.open(path, os.O_RDWR)
    else:
        check(rand_off(), rand_len())
    if os.fstat(fd).st_size != len(model):
        sys.exit("seed %d op %d: size %d, model %d" % (seed, op, os.fstat(fd).st_size, len(model)))
    if op % 200 == 199:
        check(0, len(model) + 1)
check(0, len(model) + 1)
os.close(fd)
print(len(model), hashlib.sha256(model).hexdigest())
'''


@pytest.mark.parametrize("opts", [[], ["ecryptfs_xattr_metadata"]], ids=["header", "xattr"])
def test_random_operations_match_the_model(mounter, tmp_path, opts):
    m = mounter(args=["--fnek"], opts=opts)
    nproc, nops = 4, int(os.environ.get("ECFS_MODEL_OPS", "2500"))
    procs = []
    for i in range(nproc):
        p = os.path.join(m.mnt, "model-%d.bin" % i)
        procs.append(subprocess.Popen([sys.executable, "-c", WORKER, p, str(1000 + i), str(nops)],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    results = {}
    for i, pr in enumerate(procs):
        out, err = pr.communicate(timeout=900)
        assert pr.returncode == 0, err.decode()
        size, digest = out.split()
        results["model-%d.bin" % i] = (int(size), digest.decode())
    remount(m)
    out = tmp_path / "plain"
    run_ecfs("decrypt", "--passphrase-file", str(tmp_path / "pw"), m.lower, "-o", str(out))
    for name, (size, digest) in results.items():
        with open(os.path.join(m.mnt, name), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == digest, name
        assert os.path.getsize(os.path.join(m.mnt, name)) == size
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest
    header = 0 if opts else 8192
    for low in os.listdir(m.lower):
        st = os.stat(os.path.join(m.lower, low))
        assert (st.st_size - header) % 4096 == 0
    sizes = sorted(kernel_lower_size(s, header) for s, _ in results.values())
    assert sorted(os.path.getsize(os.path.join(m.lower, n)) for n in os.listdir(m.lower)) == sizes


SHARED = r'''
import os, random, sys
path, me, nproc, nblocks, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
BS = 1000   # not a divisor of 4096: neighbours share extents
rng = random.Random(me)
fd = os.open(path, os.O_RDWR)
mine = [b for b in range(nblocks) if b % nproc == me]
last = {}
for r in range(rounds):
    b = rng.choice(mine)
    data = bytes([(me * 31 + r) % 251 + 1]) * BS
    os.pwrite(fd, data, b * BS)
    last[b] = data
    c = rng.choice(mine)
    if c in last and os.pread(fd, BS, c * BS) != last[c]:
        sys.exit("process %d: block %d lost a write" % (me, c))
os.close(fd)
for b in sorted(last):
    print(b, last[b][0])
'''


def test_one_file_written_by_several_processes_stays_coherent(mounter, tmp_path):
    m = mounter()
    nproc, nblocks, rounds = 6, 600, 800
    p = os.path.join(m.mnt, "shared.bin")
    with open(p, "wb") as f:
        f.write(bytes(nblocks * 1000))
    procs = [subprocess.Popen([sys.executable, "-c", SHARED, p, str(i), str(nproc), str(nblocks),
                               str(rounds)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for i in range(nproc)]
    want = bytearray(nblocks * 1000)
    for pr in procs:
        out, err = pr.communicate(timeout=600)
        assert pr.returncode == 0, err.decode()
        for line in out.decode().splitlines():
            b, v = map(int, line.split())
            want[b * 1000:(b + 1) * 1000] = bytes([v]) * 1000
    with open(p, "rb") as f:
        assert f.read() == bytes(want)
    remount(m)
    assert decrypt_offline(os.path.join(m.lower, "shared.bin"), tmp_path / "pw") == bytes(want)
