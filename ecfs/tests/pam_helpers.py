"""Helpers for test_pam.py: real throwaway users (obtest-pam-N, made with
useradd and removed after), a PAM service file that loads the built
pam_ecfs.so, pamtester sessions held open while a test looks, and the
syslog lines the module writes.

Everything made here is removed at teardown: users and homes, the
/home/.ecryptfs/USER directory of an encrypted home, the service file,
/run/ecfs-pam/UID, mounts left behind, and /dev/log when we made it."""
import os
import pwd
import shutil
import socket
import subprocess
import threading
import time

import pytest

from conftest import BUILD, ECFS as ECFS_REL
from fuse_helpers import is_mounted

# Absolute: the module and setpriv do not run in our directory.
ECFS = os.path.abspath(ECFS_REL)
PAM_SO = os.path.abspath(os.path.join(BUILD, "lib", "security", "pam_ecfs.so"))
PAMTESTER = shutil.which("pamtester")
STATE = "/run/ecfs-pam"
SAN = "build-san" in os.path.abspath(BUILD)


def need_pam():
    if os.geteuid() != 0:
        pytest.skip("needs root (useradd, /etc/pam.d, pam_unix)")
    if not PAMTESTER:
        pytest.skip("needs pamtester (ecfs/deps.debian)")
    if not os.path.exists(PAM_SO):
        pytest.fail("pam_ecfs.so missing at %s: run make first" % PAM_SO)


def pam_env():
    """pamtester's environment; an ASan module needs its runtime preloaded."""
    env = dict(os.environ)
    if SAN:
        libs = []
        for name in ("libasan.so", "libubsan.so"):
            p = subprocess.run(["cc", "-print-file-name=" + name], stdout=subprocess.PIPE,
                               text=True).stdout.strip()
            libs.append(os.path.realpath(p))
        # pam_unix loads libcrypt after ASan set up its crypt() interceptor,
        # which then calls through NULL: load libcrypt from the start.
        libs.insert(1, "libcrypt.so.1")
        env["LD_PRELOAD"] = ":".join(libs)
        # libpam and pamtester are not ours to keep leak-free.
        env["ASAN_OPTIONS"] = "detect_leaks=0:verify_asan_link_order=0"
    return env


class Service:
    """/etc/pam.d/NAME: pam_unix decides, pam_ecfs rides along.  pam_ecfs is
    "required" (Debian's lines say optional, ecryptfs-utils' auth line says
    required): whatever goes wrong, it must not make a login fail."""

    def __init__(self, name, args=""):
        self.name = name
        self.path = "/etc/pam.d/" + name
        mod = "%s ecfs=%s %s" % (PAM_SO, ECFS, args)
        with open(self.path, "w") as f:
            f.write("# made by ecfs/tests/test_pam.py; removed when it ends\n"
                    "auth     required  pam_unix.so\n"
                    "auth     required  %s\n"
                    "account  required  pam_permit.so\n"
                    "session  required  pam_permit.so\n"
                    "session  required  %s\n"
                    "password required  pam_unix.so yescrypt\n"
                    "password required  %s\n" % (mod, mod, mod))

    def remove(self):
        if os.path.exists(self.path):
            os.unlink(self.path)


def set_password(user, password):
    """Set the login password without PAM (usermod -p takes a hash)."""
    h = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=password,
                       stdout=subprocess.PIPE, text=True, check=True).stdout.strip()
    subprocess.run(["usermod", "-p", h, user], check=True)


class User:
    def __init__(self, name, password):
        self.name = name
        self.password = password
        self.home = "/home/" + name
        subprocess.run(["userdel", "-r", name], stderr=subprocess.DEVNULL)
        subprocess.run(["useradd", "-m", "-d", self.home, "-s", "/bin/sh", name], check=True)
        set_password(name, password)
        pw = pwd.getpwnam(name)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        self.enc_dir = "/home/.ecryptfs/" + name
        self.made_enc_top = False

    def run(self, *argv, **kw):
        """Run argv as this user (setpriv); root may not enter the user's mounts."""
        return subprocess.run(["setpriv", "--reuid", str(self.uid), "--regid", str(self.gid),
                               "--init-groups", "--reset-env", *argv],
                              cwd="/", **kw)

    def chown_tree(self, top):
        for d, dirs, files in os.walk(top):
            os.lchown(d, self.uid, self.gid)
            for n in dirs + files:
                os.lchown(os.path.join(d, n), self.uid, self.gid)

    def processes(self):
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if os.stat("/proc/" + pid).st_uid == self.uid:
                    found.append(int(pid))
            except FileNotFoundError:
                pass
        return found

    def cleanup(self):
        for mnt in (self.home + "/Private", self.home):
            if is_mounted(mnt):
                subprocess.run(["fusermount3", "-u", "-z", mnt])
        # The daemon exits after its lazy unmount; userdel refuses while a
        # process of the user runs, so wait for it (-f only as a last resort).
        for _ in range(100):
            if not self.processes():
                break
            time.sleep(0.1)
        if subprocess.run(["userdel", "-r", self.name], stderr=subprocess.DEVNULL).returncode:
            subprocess.run(["userdel", "-f", "-r", self.name], stderr=subprocess.DEVNULL)
        if os.path.isdir(self.home):
            shutil.rmtree(self.home, ignore_errors=True)
        shutil.rmtree(self.enc_dir, ignore_errors=True)
        if self.made_enc_top:
            try:
                os.rmdir("/home/.ecryptfs")
            except OSError:
                pass
        shutil.rmtree("%s/%d" % (STATE, self.uid), ignore_errors=True)


class Syslog:
    """Collects what reaches /dev/log while we own it."""

    def __init__(self):
        self.lines = []
        self.sock = None
        if os.path.exists("/dev/log"):
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            try:
                probe.connect("/dev/log")
                return                  # a syslog daemon has it
            except ConnectionRefusedError:
                os.unlink("/dev/log")   # left by a run that was killed
            finally:
                probe.close()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("/dev/log")
        os.chmod("/dev/log", 0o666)
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while True:
            try:
                data = self.sock.recv(8192)
            except OSError:
                return
            self.lines.append(data.decode(errors="replace"))

    @property
    def usable(self):
        return self.sock is not None

    def ours(self, user=None):
        """Lines from pam_ecfs (about user, if given), oldest first."""
        time.sleep(0.2)     # datagrams already sent are in the socket queue
        return [ln for ln in self.lines
                if "pam_ecfs" in ln and (user is None or user in ln)]

    def clear(self):
        self.lines.clear()

    def close(self):
        if self.sock:
            os.unlink("/dev/log")
            self.sock.close()


class Session:
    """pamtester SERVICE USER authenticate open_session, then held open
    (a second authenticate waits for its password on our pipe) until
    close() lets it go on to close_session."""

    def __init__(self, service, user, password):
        # stdbuf: pamtester prints its results on a buffered stdout.
        self.proc = subprocess.Popen(
            ["stdbuf", "-oL", PAMTESTER, "-v", service.name, user, "authenticate", "open_session",
             "authenticate", "close_session"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, env=pam_env(), start_new_session=True)
        self.out = []
        self.password = password
        self.proc.stdin.write(password + "\n")
        self.proc.stdin.flush()
        self._until("successfully opened a session")

    def _until(self, text):
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError("pamtester ended early:\n" + "".join(self.out))
            self.out.append(line)
            if text in line:
                return

    def close(self):
        self.proc.stdin.write(self.password + "\n")
        self.proc.stdin.flush()
        self.proc.stdin.close()
        rest = self.proc.stdout.read()
        self.out.append(rest)
        assert self.proc.wait(timeout=120) == 0, "".join(self.out)
        assert "session has successfully been closed" in rest, "".join(self.out)

    def kill(self):
        os.killpg(self.proc.pid, 9)
        self.proc.wait()


def pamtester(service, user, *ops, input="", check=True):
    p = subprocess.run([PAMTESTER, "-v", service.name, user, *ops], input=input,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       env=pam_env(), timeout=300)
    if check:
        assert p.returncode == 0, p.stdout
    return p


def records(uid):
    d = "%s/%d" % (STATE, uid)
    return sorted(n for n in os.listdir(d) if n != "lock") if os.path.isdir(d) else []


def mount_count(path):
    with open("/proc/self/mountinfo") as f:
        return sum(1 for ln in f if ln.split()[4] == path)
