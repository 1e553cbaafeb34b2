"""Secrets: keys in locked, undumpable memory; the passphrase and the key
derived from it never in argv, the environment or the logs; lower files
keep the upper modes; the lower directory never receives plaintext.

The key derived from the passphrase (KEK64, spec §1: SHA-512 65536 times
over salt 0011223344556677 || passphrase) is computed here, so the tests
can look for its bytes and its hex."""
import hashlib
import mmap
import os
import re
import shutil
import stat
import subprocess
import tempfile
import time

import pytest

from conftest import ECFS
from fuse_helpers import Mount, is_mounted, mounter  # noqa: F401

PASSPHRASE = "Zq8-secret-passphrase-7Hk"


def kek64(passphrase, salt=bytes.fromhex("0011223344556677")):
    d = hashlib.sha512(salt + passphrase.encode()).digest()
    for _ in range(65535):
        d = hashlib.sha512(d).digest()
    return d


def fek_of(lower_file, kek):
    """The FEK of an AES-128 file with one Tag 3 packet: EFEK at offset 41
    (spec §3.3), AES-ECB with the first 16 bytes of the KEK (§12 item 4)."""
    with open(lower_file, "rb") as f:
        efek = f.read(57)[41:57]
    return subprocess.run(["openssl", "enc", "-d", "-aes-128-ecb", "-nopad", "-K",
                           kek[:16].hex()], input=efek, stdout=subprocess.PIPE,
                          check=True).stdout


def lower_name(m, name):
    """The lower name of name in the mount's root (names are encrypted)."""
    ino = os.stat(os.path.join(m.mnt, name)).st_ino
    return next(n for n in os.listdir(m.lower) if os.stat(os.path.join(m.lower, n)).st_ino == ino)


def status_field(pid, name):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    return None


def secret_mount(mounter, tmp_path, **kw):
    pw = tmp_path / "secret-pw"
    pw.write_text(PASSPHRASE + "\n")
    return mounter(passfile=pw, **kw)


def mappings(pid):
    """[(start, end, locked_kib, flags)] from smaps."""
    out, cur = [], None
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) (\S+)", line)
            if m:
                cur = [int(m.group(1), 16), int(m.group(2), 16), 0, "", m.group(3)]
                out.append(cur)
            elif line.startswith("Locked:"):
                cur[2] = int(line.split()[1])
            elif line.startswith("VmFlags:"):
                cur[3] = line.split(":", 1)[1]
    return out


def test_keys_live_only_in_locked_undumped_memory(mounter, tmp_path):
    """The passphrase and the KEK only in locked, never-dumped memory; the
    FEKs of closed files nowhere (wiped).  (OpenSSL's expanded key schedules
    of the open contexts live in its own heap allocations, wiped on free:
    see the key-material note in ecfs/lib/cipher.c.)"""
    if os.geteuid() != 0:
        pytest.skip("reads the daemon's memory: needs root")
    if not shutil.which("openssl"):
        pytest.skip("needs the openssl CLI to unwrap FEKs")
    m = secret_mount(mounter, tmp_path, args=["--fnek"])
    for i in range(20):                 # FEKs of open and closed files
        with open(os.path.join(m.mnt, "f%d" % i), "wb") as f:
            f.write(b"x" * 5000)
    keep = open(os.path.join(m.mnt, "f0"), "rb")
    keep.read()
    for i in range(1, 20):              # opened, read, closed: FEK released
        open(os.path.join(m.mnt, "f%d" % i), "rb").read()
    pid = m.proc.pid
    # ASan intercepts mlock() and makes it a no-op: there only the
    # never-dumped half can be checked.
    asan = "libasan" in open("/proc/%d/maps" % pid).read()
    assert asan or status_field(pid, "VmLck") > 0
    kek = kek64(PASSPHRASE)
    needles = {"passphrase": PASSPHRASE.encode(), "KEK": kek}
    closed = {"FEK of closed f%d" % i: fek_of(os.path.join(m.lower, name), kek)
              for i, name in ((i, lower_name(m, "f%d" % i)) for i in range(1, 20))}
    open_fek = fek_of(os.path.join(m.lower, lower_name(m, "f0")), kek)
    seen_open_fek = 0
    stray = []
    with open("/proc/%d/mem" % pid, "rb", buffering=0) as mem:
        for start, end, locked, flags, perms in mappings(pid):
            if "r" not in perms or end - start > (1 << 30):
                continue
            try:
                mem.seek(start)
                data = mem.read(end - start)
            except OSError:
                continue
            seen_open_fek += data.count(open_fek)
            for what, n in closed.items():
                if n in data:
                    stray.append("%s still in memory at %#x" % (what, start + data.find(n)))
            for what, n in needles.items():
                i = data.find(n)
                while i >= 0:
                    if not ((locked or asan) and " dd" in flags):
                        stray.append("%s at %#x in %s mapping (Locked %d kB, flags%s)" % (
                            what, start + i, perms, locked, flags.strip()))
                    i = data.find(n, i + 1)
    keep.close()
    assert seen_open_fek, "the scan did not find the FEK of the open file: scan broken?"
    assert not stray, "key material outside locked, undumped memory:\n" + "\n".join(stray)


def test_daemon_is_not_dumpable(tmp_path):
    """A non-dumpable process's /proc files belong to root, so another
    process of the same user cannot read its memory."""
    if os.geteuid() != 0 or not os.path.exists("/usr/bin/setpriv"):
        pytest.skip("needs root and setpriv (runs the daemon as nobody)")
    base = tempfile.mkdtemp(prefix="ecfs-dump-")
    os.chmod(base, 0o755)
    lower, mnt, pw = (os.path.join(base, n) for n in ("lower", "mnt", "pw"))
    os.mkdir(lower)
    os.mkdir(mnt)
    with open(pw, "w") as f:
        f.write(PASSPHRASE + "\n")
    for p in (base, lower, mnt, pw):
        os.chown(p, 65534, 65534)
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    d = subprocess.Popen(nobody + [ECFS, "mount", "-f", "--passphrase-file", pw, lower, mnt],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, env=dict(os.environ, HOME=base))
    try:
        for _ in range(1500):
            if is_mounted(mnt) or d.poll() is not None:
                break
            time.sleep(0.02)
        assert is_mounted(mnt)
        st = os.stat("/proc/%d/mem" % d.pid)
        assert st.st_uid == 0, "daemon is dumpable: /proc/PID/mem owned by %d" % st.st_uid
        r = subprocess.run(nobody + ["cat", "/proc/%d/environ" % d.pid],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert r.returncode != 0 and b"Permission denied" in r.stderr
    finally:
        subprocess.run(["fusermount3", "-u", mnt])
        assert d.wait(timeout=60) == 0
        subprocess.run(["rm", "-rf", base])


def test_passphrase_not_in_argv_env_or_debug_log(tmp_path):
    lower, mnt, pw, log = (tmp_path / n for n in ("lower", "mnt", "pw", "debug.log"))
    lower.mkdir()
    pw.write_text(PASSPHRASE + "\n")
    m = Mount(lower, mnt, args=["-d", "--passphrase-file", str(pw), "--fnek"], log=log)
    m.start()
    try:
        with open(os.path.join(m.mnt, "a"), "wb") as f:
            f.write(b"hello\n")
        os.listdir(m.mnt)
        open(os.path.join(m.mnt, "a"), "rb").read()
        pid = m.proc.pid
        cmdline = open("/proc/%d/cmdline" % pid, "rb").read()
        environ = open("/proc/%d/environ" % pid, "rb").read()
    finally:
        assert not m.stop()
    text = open(log, "rb").read()
    assert b"LOOKUP" in text or b"opcode" in text or b"unique" in text, "no debug log?"
    kek = kek64(PASSPHRASE)
    for what, blob in (("cmdline", cmdline), ("environ", environ), ("debug log", text)):
        for needle in (PASSPHRASE.encode(), kek.hex().encode(), kek.hex().upper().encode(),
                       kek[:16]):
            assert needle not in blob, "%s holds key material" % what


def test_lower_files_keep_upper_modes(mounter, tmp_path):
    m = mounter()
    for mode in (0o600, 0o640, 0o644, 0o700, 0o755, 0o444):
        p = os.path.join(m.mnt, "f%o" % mode)
        fd = os.open(p, os.O_CREAT | os.O_WRONLY, mode)
        os.write(fd, b"x")
        os.close(fd)
        assert stat.S_IMODE(os.stat(os.path.join(m.lower, "f%o" % mode)).st_mode) == mode
    os.chmod(os.path.join(m.mnt, "f600"), 0o604)
    assert stat.S_IMODE(os.stat(os.path.join(m.lower, "f600")).st_mode) == 0o604
    os.mkdir(os.path.join(m.mnt, "d"), 0o710)
    assert stat.S_IMODE(os.stat(os.path.join(m.lower, "d")).st_mode) == 0o710


MARKERS = [b"PLAINTEXT-MARKER-%02d-qX7" % i for i in range(8)]


def test_lower_directory_never_receives_plaintext(mounter, tmp_path):
    m = secret_mount(mounter, tmp_path, args=["--fnek"])
    mk = m.mnt
    w = os.path.join(mk, "written-" + MARKERS[0].decode())
    with open(w, "wb") as f:                       # write(2), across extents
        f.write((MARKERS[1] + b" ") * 5000)
        f.seek(4090)
        f.write(MARKERS[2])                        # straddles an extent boundary
    mp = os.path.join(mk, "mapped")
    with open(mp, "wb") as f:
        f.truncate(3 * 4096)
    with open(mp, "r+b") as f:                     # shared writable mmap
        mm = mmap.mmap(f.fileno(), 3 * 4096)
        mm[100:100 + len(MARKERS[3])] = MARKERS[3]
        mm[8000:8000 + len(MARKERS[3])] = MARKERS[3]
        mm.flush()
        mm.close()
    t = os.path.join(mk, "truncated")
    with open(t, "wb") as f:
        f.write(MARKERS[4] * 300)
    os.truncate(t, 4096 + 10)                      # tail extent re-encrypted
    os.truncate(t, 100000)                         # then extended with zeros
    a = os.path.join(mk, "appended")
    for _ in range(50):
        with open(a, "ab") as f:
            f.write(MARKERS[5])
    os.makedirs(os.path.join(mk, "dir-" + MARKERS[6].decode(), "sub"))
    os.symlink("target-" + MARKERS[7].decode(), os.path.join(mk, "link"))
    os.rename(w, os.path.join(mk, "dir-" + MARKERS[6].decode(), "renamed-" + MARKERS[0].decode()))
    os.setxattr(a, "user.note", b"xattr values are not scanned")
    # Reads back through the mount, so the writes did happen.
    assert open(mp, "rb").read()[100:100 + len(MARKERS[3])] == MARKERS[3]
    assert open(t, "rb").read(10) == MARKERS[4][:10]
    assert not m.stop()

    found = []
    for dirpath, dirs, files in os.walk(m.lower):
        for n in dirs + files:
            p = os.path.join(dirpath, n)
            blobs = [("name", n.encode())]
            if os.path.islink(p):
                blobs.append(("symlink target", os.readlink(p).encode()))
            elif os.path.isfile(p):
                blobs.append(("content", open(p, "rb").read()))
            for what, b in blobs:
                for mark in MARKERS:
                    for part in (mark, mark[:12], mark[-12:]):
                        if part in b:
                            found.append("%s of %s holds %r" % (what, p, part))
    assert not found, found
