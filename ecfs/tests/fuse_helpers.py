"""Real FUSE mounts for the ecfs mount tests.

Each test gets its own lower directory and mount point under tmp_path and
its own daemon, started in the foreground (`ecfs mount -f`) so its stderr
and exit status are ours to check: at teardown every mount is unmounted
with `fusermount3 -u`, the daemon must exit 0, and its stderr must hold no
sanitizer report (the same tests drive build-san/ via OB_BUILD).
"""
import ctypes
import hashlib
import os
import stat
import subprocess
import time

import pytest

from conftest import ECFS, run_ecfs

SAN_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
               "WARNING: ThreadSanitizer")

LIBC = ctypes.CDLL(None, use_errno=True)
AT_FDCWD = -100
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2


def renameat2(old, new, flags):
    """rename(2) with flags; raises OSError with the errno."""
    if LIBC.renameat2(AT_FDCWD, os.fsencode(old), AT_FDCWD, os.fsencode(new),
                      ctypes.c_uint(flags)) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), old)


def mount_devno(path):
    """"MAJ:MIN" of the topmost mount at path (from mountinfo, so it works
    where stat would not: another user's FUSE mount), or None."""
    path = os.path.realpath(path)
    found = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == path:
                found = fields[2]
    return found


def is_mounted(path):
    return mount_devno(path) is not None


TICK = os.sysconf("SC_CLK_TCK")


def task_cpu(pid, tid=None):
    """utime + stime of a process (or one of its threads), in seconds."""
    path = "/proc/%d/stat" % pid if tid is None else "/proc/%d/task/%d/stat" % (pid, tid)
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def daemon_threads(pid, prefix):
    """Thread ids of pid whose name starts with prefix."""
    found = []
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                if f.read().startswith(prefix):
                    found.append(int(tid))
        except FileNotFoundError:
            pass
    return found


def thread_counters(pid):
    """{tid: (CPU ticks, context switches)} of every thread of pid."""
    found = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        base = "/proc/%d/task/%s/" % (pid, tid)
        try:
            with open(base + "stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(base + "status") as f:
                switches = sum(int(line.split()[1]) for line in f
                               if "ctxt_switches:" in line)
        except (FileNotFoundError, ProcessLookupError):
            continue
        found[int(tid)] = (int(fields[11]) + int(fields[12]), switches)
    return found


def burst_of_changes(mnt, files=100, size=64 * 1024):
    """What a program changing files sends: creates, writes, chmods,
    renames and removes, one after another."""
    blob = os.urandom(size)
    for i in range(files):
        path = os.path.join(mnt, "burst%d" % i)
        with open(path, "wb") as f:
            for off in range(0, size, 4096):
                f.write(blob[off:off + 4096])
        os.chmod(path, 0o640)
        os.rename(path, path + ".done")
    for i in range(files):
        os.unlink(os.path.join(mnt, "burst%d.done" % i))


def idle_growth(pid, seconds):
    """How much the daemon's threads did while nobody used the mount:
    (CPU ticks, context switches, {tid: (ticks, switches)} of those that
    ran at all)."""
    before = thread_counters(pid)
    time.sleep(seconds)
    after = thread_counters(pid)
    ran = {t: (a[0] - before[t][0], a[1] - before[t][1])
           for t, a in after.items() if t in before and a != before[t]}
    new = [t for t in after if t not in before]
    return (sum(r[0] for r in ran.values()), sum(r[1] for r in ran.values()) + len(new),
            ran)


def requests_then_pause(m, n, pause, cpu, change=True):
    """n chmods (a SETATTR each: changes the tree) or stats (a LOOKUP each,
    with timeout=0) of one file, each followed by a pause; returns how much
    cpu(m) grew meanwhile."""
    path = os.path.join(m.mnt, "f")
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(b"x")
    before = cpu(m)
    for i in range(n):
        if change:
            os.chmod(path, 0o600 | (i & 1) << 5)
        else:
            os.stat(path)
        time.sleep(pause)
    return cpu(m) - before


def fusermount_u(mnt):
    return subprocess.run(["fusermount3", "-u", mnt], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=60)


class Mount:
    """One `ecfs mount -f` daemon.  start() returns once the mount is up
    (or raises with the daemon's stderr); stop() unmounts and checks the
    exit."""

    def __init__(self, lower, mnt, args=(), opts=(), log=None):
        self.lower, self.mnt = str(lower), str(mnt)
        self.args, self.opts = list(args), list(opts)
        self.log = str(log or (str(mnt) + ".log"))
        self.proc = None
        self.rc = None

    def argv(self):
        a = [ECFS, "mount", "-f", *self.args]
        if self.opts:
            a += ["-o", ",".join(self.opts)]
        return a + [self.lower, self.mnt]

    def start(self, timeout=30):
        os.makedirs(self.mnt, exist_ok=True)
        self.errf = open(self.log, "wb")
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self.errf)
        end = time.time() + timeout
        while time.time() < end:
            if is_mounted(self.mnt):
                return self
            if self.proc.poll() is not None:
                self.rc = self.proc.returncode
                raise MountFailed(self.rc, self.stderr())
            time.sleep(0.02)
        self.proc.kill()
        raise AssertionError("mount did not come up: " + self.stderr())

    def stderr(self):
        try:
            with open(self.log, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def stop(self):
        """Unmount, wait; returns a list of problems (empty when clean)."""
        problems = []
        if self.proc is None:
            return problems
        if self.proc.poll() is None:
            for _ in range(50):
                if fusermount_u(self.mnt).returncode == 0 or not is_mounted(self.mnt):
                    break
                time.sleep(0.1)  # busy: a test process may still hold a file
            try:
                self.rc = self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.rc = self.proc.wait()
                problems.append("daemon did not exit after unmount")
        else:
            self.rc = self.proc.returncode
        self.errf.close()
        err = self.stderr()
        if self.rc != 0:
            problems.append("daemon exited %d: %s" % (self.rc, err))
        for m in SAN_MARKERS:
            if m in err:
                problems.append("sanitizer report: " + err)
        self.proc = None
        return problems


class MountFailed(Exception):
    def __init__(self, rc, err):
        super().__init__("ecfs mount failed (%d): %s" % (rc, err))
        self.rc, self.err = rc, err


@pytest.fixture
def mounter(tmp_path):
    """make(lower=None, passfile=..., args=(), opts=()) -> a started Mount.
    Default lower is a fresh tmp_path/lower, default key the test passphrase."""
    made = []
    pw = tmp_path / "pw"
    if not pw.exists():
        pw.write_text("test passphrase\n")
    counter = [0]

    def make(lower=None, args=None, opts=(), passfile=None, mnt=None):
        counter[0] += 1
        if lower is None:
            lower = tmp_path / "lower"
            os.makedirs(lower, exist_ok=True)
        mnt = mnt or tmp_path / ("mnt%d" % counter[0])
        if args is None:
            args = []
        if passfile is not False:
            args = ["--passphrase-file", str(passfile or pw)] + list(args)
        m = Mount(lower, mnt, args=args, opts=opts)
        made.append(m)
        try:
            return m.start()
        except MountFailed:
            made.remove(m)  # an expected failure; the test checks it
            raise

    make.made = made
    yield make
    problems = []
    for m in made:
        problems += m.stop()
    assert not problems, "\n".join(problems)


def remount(m):
    """Stop m and start the same mount again (fresh daemon, cold caches)."""
    problems = m.stop()
    assert not problems, "\n".join(problems)
    return m.start()


def decrypt_offline(lower_file, passfile):
    return run_ecfs("decrypt", "--passphrase-file", str(passfile), str(lower_file)).stdout


def lower_entries(lower):
    return sorted(n for n in os.listdir(lower))


def header_size_field(lower_file):
    with open(lower_file, "rb") as f:
        return int.from_bytes(f.read(8), "big")


def kernel_lower_size(plain_size, header=8192):
    return header + -(-plain_size // 4096) * 4096


# ------------------------------------------------- trees for round trips

def _blob(n, seed):
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(b"%s:%d" % (seed.encode(), i)).digest()
        i += 1
    return bytes(out[:n])


def build_tree(root, seed="t"):
    """A small tree that touches every layout case: sizes around extent
    boundaries, empty file and dir, nested dirs, odd names (spaces, UTF-8,
    143 bytes), symlinks (relative, absolute dangling), a hard link."""
    os.makedirs(os.path.join(root, "docs", "deep", "er"))
    os.makedirs(os.path.join(root, "empty dir"))
    for n in (0, 1, 4095, 4096, 4097, 12345, 70000):
        with open(os.path.join(root, "docs", "size-%d.bin" % n), "wb") as f:
            f.write(_blob(n, "%s/%d" % (seed, n)))
    with open(os.path.join(root, "unicodé 日本.txt"), "wb") as f:
        f.write("héllo\n".encode())
    with open(os.path.join(root, "docs", "deep", "er", "n" * 143), "wb") as f:
        f.write(b"long name\n")
    os.symlink("docs/size-4096.bin", os.path.join(root, "link-rel"))
    os.symlink("/nonexistent/target", os.path.join(root, "link-abs"))
    os.link(os.path.join(root, "docs", "size-1.bin"), os.path.join(root, "hardlink"))


def modify_tree(root, seed="m"):
    """Changes of every kind, applied the same way to a mount and to a
    plain reference directory."""
    d = os.path.join(root, "docs")
    with open(os.path.join(d, "size-12345.bin"), "ab") as f:
        f.write(_blob(5000, seed + "/append"))
    with open(os.path.join(d, "size-70000.bin"), "r+b") as f:
        f.seek(4090)
        f.write(_blob(10, seed + "/patch"))
    os.truncate(os.path.join(d, "size-4097.bin"), 100)
    os.truncate(os.path.join(d, "size-0.bin"), 9000)
    with open(os.path.join(d, "sparse.bin"), "wb") as f:
        f.seek(200000)
        f.write(_blob(10, seed + "/sparse"))
    os.rename(os.path.join(d, "size-4096.bin"), os.path.join(d, "deep", "er", "moved.bin"))
    os.unlink(os.path.join(d, "size-4095.bin"))
    os.rmdir(os.path.join(root, "empty dir"))
    os.mkdir(os.path.join(root, "new dir"))
    os.chmod(os.path.join(d, "size-1.bin"), 0o600)
    os.unlink(os.path.join(root, "link-rel"))
    os.symlink("docs/deep/er/moved.bin", os.path.join(root, "link-rel"))


def listing(root):
    """{relative path: (type, mode, size or target or sha256)}."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(dirpath, n)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("l", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("d", stat.S_IMODE(st.st_mode))
            else:
                with open(p, "rb") as f:
                    out[rel] = ("f", stat.S_IMODE(st.st_mode), st.st_size,
                                hashlib.sha256(f.read()).hexdigest())
    return out


def corpus_mount_args(manifest, pwdir):
    """ecfs mount arguments and -o options matching a corpus case's kernel
    mount, plus the kernel-ecryptfs read options for the same keys."""
    args, kargs = [], ["--cipher", manifest["cipher"], "--key-bytes", str(manifest["key_bytes"])]
    opts = ["ecryptfs_cipher=%s" % manifest["cipher"],
            "ecryptfs_key_bytes=%d" % manifest["key_bytes"]]
    if manifest.get("fnek_sig"):
        same = manifest["fnek_sig"] == manifest["auth_tok_sig"]
        args.append("--fnek-same-key" if same else "--fnek")
        kargs.append("--fnek-same-key" if same else "--fnek")
    if manifest.get("metadata_in_xattr"):
        opts.append("ecryptfs_xattr_metadata")
        kargs.append("--xattr-metadata")
    if manifest.get("passphrase2"):
        pw2 = os.path.join(str(pwdir), "passphrase2")
        with open(pw2, "w") as f:
            f.write(manifest["passphrase2"])
        args += ["--extra-passphrase-file", pw2]
        kargs += ["--extra-passphrase-file", pw2]
    return args, opts, kargs
