"""pam_ecfs.so through real PAM stacks (pamtester), for real users.

Each test makes throwaway users obtest-pam-N (useradd; removed after) and
drives a PAM service file that loads the built module after pam_unix, as
Debian's common-* files load pam_ecryptfs.  The encrypted home is the
kernel-written corpus case e-private-wrapped, placed where Ubuntu puts an
encrypted home (/home/.ecryptfs/USER/{.Private,.ecryptfs}); its files must
read byte-exact through the mount the login made.  A FUSE mount made by the
user is not visible to root (no allow_other), so the plaintext is read as
the user.
"""
import os
import random
import shutil
import subprocess
import time

import pytest

from conftest import run_ecfs
from fuse_helpers import is_mounted
from legacy_helpers import CASE, need_case
from pam_helpers import (ECFS, PAMTESTER, Service, Session, Syslog, User, mount_count,
                         need_pam, pam_env, pamtester, records, set_password)

UNWRAP = shutil.which("ecryptfs-unwrap-passphrase")


@pytest.fixture(scope="module")
def syslog():
    need_pam()
    had_state = os.path.isdir("/run/ecfs-pam")
    s = Syslog()
    yield s
    s.close()
    if not had_state:
        try:
            os.rmdir("/run/ecfs-pam")   # the module made it; each user's part is gone
        except OSError:
            pass


@pytest.fixture
def service(syslog):
    s = Service("obtest-pam-ecfs-%d" % os.getpid())
    yield s
    s.remove()


@pytest.fixture
def users():
    made = []

    def make(n, password):
        u = User("obtest-pam-%d" % n, password)
        made.append(u)
        return u
    yield make
    for u in made:
        u.cleanup()


def setup_private(u):
    """ecfs setup-private run by the user, wrapping with the login password."""
    p = u.run(ECFS, "setup-private", "--login-password-file", "-",
              input=u.password.encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.returncode == 0, p.stderr
    return u.home + "/Private"


def as_user_read(u, path):
    p = u.run("cat", path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.returncode == 0, p.stderr
    return p.stdout


def encrypted_home(u):
    """The corpus case as u's encrypted home, without an auto-mount file:
    an encrypted home is mounted at login all the same."""
    need_case()
    if not os.path.isdir("/home/.ecryptfs"):
        os.mkdir("/home/.ecryptfs", 0o755)
        u.made_enc_top = True
    os.makedirs(u.enc_dir)
    shutil.copytree(os.path.join(CASE, "lower"), u.enc_dir + "/.Private")
    conf = u.enc_dir + "/.ecryptfs"
    shutil.copytree(os.path.join(CASE, "dot-ecryptfs"), conf)
    os.unlink(conf + "/wrapped-passphrase-v1")
    with open(conf + "/Private.mnt", "w") as f:
        f.write(u.home + "\n")
    open(conf + "/auto-umount", "w").close()
    for d, dirs, files in os.walk(u.enc_dir):
        os.chmod(d, 0o700)
        for n in files:
            os.chmod(os.path.join(d, n), 0o600)
    for n in os.listdir(u.home):        # what useradd -m copied from /etc/skel
        os.unlink(os.path.join(u.home, n))
    os.symlink(conf, u.home + "/.ecryptfs")
    os.symlink(u.enc_dir + "/.Private", u.home + "/.Private")
    u.chown_tree(u.enc_dir)
    u.chown_tree(u.home)


def unwraps(u, password, ecryptfs_utils=False):
    """The mount passphrase if password opens u's wrapped-passphrase, else None."""
    path = u.home + "/.ecryptfs/wrapped-passphrase"
    if ecryptfs_utils:
        p = subprocess.run([UNWRAP, path, "-"], input=password.encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    else:
        p = run_ecfs("unwrap-passphrase", "--login-password-file", "-", path,
                     input=password.encode(), check=False)
    return p.stdout.decode().strip() if p.returncode == 0 else None


def test_private_dir_mounted_counted_and_unmounted(service, users, syslog):
    u = users(1, "pw-one-1")
    mnt = setup_private(u)
    assert not is_mounted(mnt)
    s1 = Session(service, u.name, u.password)
    assert is_mounted(mnt)
    p = u.run("sh", "-c", "printf 'written at login\\n' > %s/note.txt" % mnt,
              stderr=subprocess.PIPE)
    assert p.returncode == 0, p.stderr
    # The lower file is eCryptfs: encrypted name, no plaintext inside.
    lower = os.listdir(u.home + "/.Private")
    assert len(lower) == 1 and lower[0].startswith("ECRYPTFS_FNEK_ENCRYPTED.")
    with open(os.path.join(u.home, ".Private", lower[0]), "rb") as f:
        assert b"written at login" not in f.read()
    assert len(records(u.uid)) == 1

    s2 = Session(service, u.name, u.password)
    assert mount_count(mnt) == 1, "a second session must reuse the mount"
    assert len(records(u.uid)) == 2
    s1.close()
    assert is_mounted(mnt), "unmounted while a session was still open"
    s2.close()
    assert not is_mounted(mnt), "the last session's close must unmount"
    assert records(u.uid) == []

    s3 = Session(service, u.name, u.password)
    assert as_user_read(u, mnt + "/note.txt") == b"written at login\n"
    s3.close()
    assert not is_mounted(mnt)


def test_encrypted_home_reads_kernel_files(service, users, syslog):
    need_case()
    import json
    with open(os.path.join(CASE, "manifest.json")) as f:
        m = json.load(f)
    u = users(2, m["wrapped_passphrase"]["login_password"])
    encrypted_home(u)
    s = Session(service, u.name, u.password)
    assert is_mounted(u.home)
    plain = os.path.join(CASE, "plain")
    for rel in ("hello.txt", "size-12345.bin", "Documents/notes.txt"):
        with open(os.path.join(plain, rel), "rb") as f:
            assert as_user_read(u, os.path.join(u.home, rel)) == f.read(), rel
    s.close()
    assert not is_mounted(u.home)


def test_crashed_session_stops_counting(service, users, syslog):
    u = users(3, "pw-three-3")
    mnt = setup_private(u)
    s1 = Session(service, u.name, u.password)
    s1.kill()                     # the session's process dies without closing
    assert is_mounted(mnt)
    s2 = Session(service, u.name, u.password)
    assert mount_count(mnt) == 1
    s2.close()
    assert not is_mounted(mnt), "a crashed session must not keep the mount forever"


def login_without_mount(service, u, mnt, syslog):
    """Log in (pam_unix accepts u.password) and return pam_ecfs's lines;
    the session must open and nothing may be mounted."""
    syslog.clear()
    p = pamtester(service, u.name, "authenticate", "open_session", "close_session",
                  input=u.password + "\n")
    assert "successfully opened a session" in p.stdout
    assert not is_mounted(mnt)
    assert u.password not in "".join(syslog.lines)
    return syslog.ours()


def test_wrong_or_damaged_wrapped_file_never_blocks_login(service, users, syslog):
    if not syslog.usable:
        pytest.skip("/dev/log belongs to a running syslog daemon; cannot read its lines")
    u = users(4, "pw-four-4")
    mnt = setup_private(u)
    u.password = "changed-outside-pam"      # the wrapped file keeps the old one
    set_password(u.name, u.password)
    lines = login_without_mount(service, u, mnt, syslog)
    assert len(lines) == 1, lines
    assert "wrapped-passphrase" in lines[0] and "does not open" in lines[0]

    with open(u.home + "/.ecryptfs/wrapped-passphrase", "wb") as f:
        f.write(b"not a wrapped passphrase at all\n")
    lines = login_without_mount(service, u, mnt, syslog)
    assert len(lines) == 1 and "wrapped-passphrase" in lines[0], lines


def test_chauthtok_rewraps(service, users, syslog):
    u = users(5, "old-pass-5")
    mnt = setup_private(u)
    mount_pass = unwraps(u, "old-pass-5")
    assert mount_pass
    # As root: pam_unix asks for no old password, so pam_ecfs asks for it.
    p = pamtester(service, u.name, "chauthtok", input="old-pass-5\nnew-pass-5\nnew-pass-5\n")
    assert "password" in p.stdout
    assert unwraps(u, "new-pass-5") == mount_pass
    assert unwraps(u, "old-pass-5") is None
    if UNWRAP:
        assert unwraps(u, "new-pass-5", ecryptfs_utils=True) == mount_pass
    st = os.stat(u.home + "/.ecryptfs/wrapped-passphrase")
    assert (st.st_uid, st.st_mode & 0o777) == (u.uid, 0o600)

    s = Session(service, u.name, "new-pass-5")
    assert is_mounted(mnt)
    s.close()
    # The old password no longer logs in (pam_unix) nor opens the file.
    p = pamtester(service, u.name, "authenticate", input="old-pass-5\n", check=False)
    assert p.returncode != 0
    assert not is_mounted(mnt)


def test_chauthtok_killed_at_random_moments(service, users, syslog):
    u = users(6, "kill-pass-0")
    setup_private(u)
    mount_pass = unwraps(u, u.password)
    rng = random.Random(26)
    current = u.password
    for i in range(1, 13):
        new = "kill-pass-%d" % i
        proc = subprocess.Popen(
            [PAMTESTER, "-v", service.name, u.name, "chauthtok"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, env=pam_env())
        proc.stdin.write(("%s\n%s\n%s\n" % (current, new, new)).encode())
        proc.stdin.flush()
        time.sleep(rng.uniform(0.0, 0.4))
        os.killpg(proc.pid, 9)
        proc.wait()
        time.sleep(0.05)    # a child killed with the group has let go of the file
        got_new, got_old = unwraps(u, new), unwraps(u, current)
        assert mount_pass in (got_new, got_old), \
            "round %d: neither password opens the wrapped file" % i
        if got_new:
            current = new
        set_password(u.name, current)
    if UNWRAP:
        assert unwraps(u, current, ecryptfs_utils=True) == mount_pass


def test_accounts_without_ecryptfs_are_left_alone(service, users, syslog):
    u = users(7, "plain-pass-7")
    syslog.clear()
    p = pamtester(service, u.name, "authenticate", "open_session", "close_session",
                  "chauthtok", input="plain-pass-7\nplain-pass-8\nplain-pass-8\n")
    assert "session has successfully been closed" in p.stdout
    assert "Current login password" not in p.stdout
    assert records(u.uid) == [] and not os.path.exists("/run/ecfs-pam/%d" % u.uid)
    if syslog.usable:
        assert syslog.ours(u.name) == []


def test_session_without_password_does_not_mount(service, users, syslog):
    """Like su from root or an ssh key login: no password reached pam_ecfs."""
    u = users(8, "pw-eight-8")
    mnt = setup_private(u)
    syslog.clear()
    p = pamtester(service, u.name, "open_session", "close_session")
    assert "successfully opened a session" in p.stdout
    assert not is_mounted(mnt)
    if syslog.usable:
        lines = syslog.ours()
        assert len(lines) == 1 and "no login password" in lines[0], lines


def test_migrate_home(service, users, syslog):
    u = users(9, "migrate-pass-9")
    had_enc_top = os.path.isdir("/home/.ecryptfs")
    data = os.urandom(50000)
    os.makedirs(u.home + "/d")
    with open(u.home + "/a.txt", "w") as f:
        f.write("plain before migration\n")
    with open(u.home + "/d/b.bin", "wb") as f:
        f.write(data)
    os.symlink("a.txt", u.home + "/link")
    u.chown_tree(u.home)
    before = sorted(os.listdir(u.home))

    # Refused while a process of the user runs; nothing changes.
    sleeper = subprocess.Popen(["setpriv", "--reuid", str(u.uid), "--regid", str(u.gid),
                                "--init-groups", "sleep", "600"])
    try:
        p = run_ecfs("migrate-home", "--login-password-file", "-", u.name,
                     input=u.password.encode(), check=False)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert p.returncode == 1 and b"logged in" in p.stderr, p.stderr
    assert sorted(os.listdir(u.home)) == before and not os.path.exists(u.enc_dir)

    for _ in range(100):                    # the sleeper is gone from /proc
        if not u.processes():
            break
        time.sleep(0.05)
    p = run_ecfs("migrate-home", "--login-password-file", "-", u.name,
                 input=u.password.encode(), check=False)
    u.made_enc_top = not had_enc_top
    backups = [n for n in os.listdir("/home") if n.startswith(u.name + ".")]
    try:
        assert p.returncode == 0, p.stderr
        assert len(backups) == 1
        backup = "/home/" + backups[0]
        assert sorted(os.listdir(backup)) == before        # kept until removed
        assert sorted(os.listdir(u.home)) == [".Private", ".ecryptfs"]
        lower = os.listdir(u.enc_dir + "/.Private")
        assert lower and all(n.startswith("ECRYPTFS_FNEK_ENCRYPTED.") for n in lower)

        s = Session(service, u.name, u.password)
        assert is_mounted(u.home)
        assert as_user_read(u, u.home + "/a.txt") == b"plain before migration\n"
        assert as_user_read(u, u.home + "/d/b.bin") == data
        assert as_user_read(u, u.home + "/link") == b"plain before migration\n"
        s.close()
        assert not is_mounted(u.home)

        p = run_ecfs("migrate-home", "--login-password-file", "-", u.name,
                     input=u.password.encode(), check=False)
        assert p.returncode == 1 and b"already encrypted" in p.stderr
    finally:
        for b in backups:
            shutil.rmtree("/home/" + b, ignore_errors=True)


def test_dead_daemon_is_replaced_at_next_login(service, users, syslog):
    """A mount whose daemon died (ENOTCONN) is not "already mounted"."""
    u = users(10, "pw-ten-10")
    mnt = setup_private(u)
    s1 = Session(service, u.name, u.password)
    p = u.run("sh", "-c", "echo kept > %s/kept.txt" % mnt, stderr=subprocess.PIPE)
    assert p.returncode == 0, p.stderr
    daemons = [pid for pid in u.processes()
               if mnt.encode() in open("/proc/%d/cmdline" % pid, "rb").read()]
    assert len(daemons) == 1, daemons
    os.kill(daemons[0], 9)                 # the daemon this test's login started
    p = u.run("stat", mnt, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # ENOTCONN, ECONNABORTED right after the kill, ECANCELED over io_uring
    assert p.returncode != 0 and (b"not connected" in p.stderr or
                                  b"connection abort" in p.stderr or
                                  b"Operation canceled" in p.stderr), p.stderr
    s1.kill()
    s2 = Session(service, u.name, u.password)
    assert mount_count(mnt) == 1
    assert as_user_read(u, mnt + "/kept.txt") == b"kept\n"
    s2.close()
    assert not is_mounted(mnt)


def test_encrypted_home_with_v1_wrapped_file(service, users, syslog):
    """A version-1 wrapped-passphrase (pre-106 ecryptfs-utils) opens at login;
    a password change writes version 2, which ecryptfs-utils opens too."""
    need_case()
    import json
    with open(os.path.join(CASE, "manifest.json")) as f:
        m = json.load(f)
    u = users(11, m["wrapped_passphrase"]["login_password"])
    encrypted_home(u)
    wrapped = u.enc_dir + "/.ecryptfs/wrapped-passphrase"
    shutil.copyfile(os.path.join(CASE, "dot-ecryptfs", "wrapped-passphrase-v1"), wrapped)
    os.chown(wrapped, u.uid, u.gid)
    s = Session(service, u.name, u.password)
    with open(os.path.join(CASE, "plain", "hello.txt"), "rb") as f:
        assert as_user_read(u, u.home + "/hello.txt") == f.read()
    s.close()
    assert not is_mounted(u.home)
    pamtester(service, u.name, "chauthtok", input="%s\nv2-now-11\nv2-now-11\n" % u.password)
    with open(wrapped, "rb") as f:
        assert f.read(2) == b":\x02"
    assert unwraps(u, "v2-now-11") == m["passphrase"]
    if UNWRAP:
        assert unwraps(u, "v2-now-11", ecryptfs_utils=True) == m["passphrase"]
