"""`ecfs rekey` on a tree with encrypted names (issue 19 item 3): revoking
the key whose filename key made the names moves every name (and symlink
target) to the new key's filename key; an interrupted run leaves every file
and name open to the old key or the new one and the same command finishes
it; a swap half done by an earlier run finishes instead of failing."""
import os
import shutil
import subprocess

from conftest import ECFS, run_ecfs
from fuse_helpers import mounter  # noqa: F401
from keys_helpers import packets, pwfile, sig_of

PREFIX = "ECRYPTFS_FNEK_ENCRYPTED."


def make_tree(mnt):
    """Nested directories, files, a hard link and symlinks, made through a
    mount; returns what reading it back must give."""
    files = {"top.txt": b"top\n", "a/one.bin": os.urandom(5000),
             "a/b/two.txt": b"two\n" * 300, "a/b/c/three": os.urandom(9000),
             "a/b/c/d/e/deep.txt": b"deep\n", "x/empty": b"",
             "x/y/name with spaces and \xc3\xa9": b"unicode\n"}
    for rel, data in files.items():
        p = os.path.join(mnt, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
    os.makedirs(os.path.join(mnt, "emptydir/inner"))
    os.link(os.path.join(mnt, "top.txt"), os.path.join(mnt, "a/hardlink"))
    os.symlink("../top.txt", os.path.join(mnt, "a/up"))
    os.symlink("b/c/three", os.path.join(mnt, "a/down"))
    return snapshot(mnt)


def snapshot(mnt):
    """{relpath: bytes | ('link', target) | 'dir'} of a mounted tree."""
    got = {}
    for root, dirs, fnames in os.walk(mnt):
        for d in dirs:
            p = os.path.join(root, d)
            got[os.path.relpath(p, mnt)] = ("link", os.readlink(p)) if os.path.islink(p) else "dir"
        for fn in fnames:
            p = os.path.join(root, fn)
            rel = os.path.relpath(p, mnt)
            if os.path.islink(p):
                got[rel] = ("link", os.readlink(p))
            else:
                with open(p, "rb") as f:
                    got[rel] = f.read()
    return got


def ls_names(lower, *key_args):
    """Plaintext names `ecfs ls -R` shows, and the lines it could not read."""
    out = run_ecfs("ls", "-R", *key_args, str(lower), stdin=subprocess.DEVNULL,
                   check=False).stdout.decode()
    lines = [ln for ln in out.splitlines() if ln.strip()]
    bad = [ln for ln in lines if "?(" in ln]
    return lines, bad


def read_through_mount(mounter, lower, *args):
    m = mounter(lower=lower, passfile=False, args=list(args), opts=["ro"])
    try:
        return snapshot(m.mnt)
    finally:
        assert not m.stop()


def lower_names(lower):
    names = []
    for root, dirs, fnames in os.walk(lower):
        names += dirs + fnames
    return names


def fnek_tree(tmp_path, mounter):
    d = str(tmp_path)
    a, b = pwfile(d, "pa", "old passphrase A"), pwfile(d, "pb", "new passphrase B")
    m = mounter(passfile=a, args=["--fnek"])
    want = make_tree(m.mnt)
    assert not m.stop()
    names = lower_names(m.lower)
    assert names and all(n.startswith(PREFIX) for n in names)
    return a, b, m.lower, want


def swap_cmd(a, b, lower):
    return [ECFS, "rekey", "--passphrase-file", a, "--add-passphrase-file", b,
            "--remove", sig_of("--passphrase-file", a)[0], str(lower)]


def assert_b_alone_reads(mounter, lower, a, b, want):
    sa = sig_of("--passphrase-file", a)[0]
    assert read_through_mount(mounter, lower, "--passphrase-file", b, "--fnek") == want
    lines, bad = ls_names(lower, "--passphrase-file", b)
    assert not bad, bad
    assert len(lines) == len(want)
    # A no longer opens a name, nor a file
    lines_a, bad_a = ls_names(lower, "--passphrase-file", a)
    assert lines_a and bad_a == lines_a
    for root, _, fnames in os.walk(lower):
        for fn in fnames:
            p = os.path.join(root, fn)
            if not os.path.islink(p):
                assert sa not in [s for _, s in packets(p)], p


def test_rekey_moves_names_to_the_new_key(tmp_path, mounter):
    a, b, lower, want = fnek_tree(tmp_path, mounter)
    dry = run_ecfs(*swap_cmd(a, b, lower)[1:], "--dry-run").stdout.decode()
    assert "%d names would be re-encrypted" % len(want) in dry
    r = run_ecfs(*swap_cmd(a, b, lower)[1:])
    assert ("%d names re-encrypted" % len(want)).encode() in r.stdout, r.stdout
    assert_b_alone_reads(mounter, lower, a, b, want)
    # a mount with B writes its new names with the filename key the tree now
    # uses: the same name made afresh is the same lower name
    m = mounter(lower=lower, passfile=b, args=["--fnek"])
    with open(os.path.join(m.mnt, "after"), "wb") as f:
        f.write(b"written with B\n")
    os.unlink(os.path.join(m.mnt, "top.txt"))
    with open(os.path.join(m.mnt, "top.txt"), "wb") as f:
        f.write(b"top\n")
    assert not m.stop()
    want["after"] = b"written with B\n"
    assert read_through_mount(mounter, lower, "--passphrase-file", b, "--fnek") == want
    # running it again changes nothing and succeeds
    r = run_ecfs(*swap_cmd(a, b, lower)[1:])
    assert b"0 files changed" in r.stdout and b"re-encrypted" not in r.stdout


def test_rekey_refuses_when_no_staying_key_has_a_filename_key(tmp_path, mounter):
    a, b, lower, want = fnek_tree(tmp_path, mounter)
    # only an RSA key is added: nothing could take the names over
    priv = tmp_path / "r.pem"
    pub = tmp_path / "r.pub.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-out", str(priv)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(["openssl", "pkey", "-in", str(priv), "-pubout", "-out", str(pub)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    before = {n: os.lstat(os.path.join(r, n)).st_mtime_ns
              for r, ds, fs in os.walk(lower) for n in ds + fs}
    r = run_ecfs("rekey", "--passphrase-file", a, "--add-rsa", str(pub), "--remove",
                 sig_of("--passphrase-file", a)[0], str(lower), check=False)
    assert r.returncode == 1
    assert b"nothing changed" in r.stderr and b"--add-key-file" in r.stderr
    assert {n: os.lstat(os.path.join(rt, n)).st_mtime_ns
            for rt, ds, fs in os.walk(lower) for n in ds + fs} == before
    assert read_through_mount(mounter, lower, "--passphrase-file", a, "--fnek") == want


def test_interrupted_name_rekey_opens_and_finishes(tmp_path, mounter):
    """SIGKILL the run after the N-th rename (ECFS_REKEY_TEST_KILL_AFTER, a
    knob for tests only) at several N: every file and name then opens with
    A and B together, and the same command finishes with exit 0."""
    a, b, lower, want = fnek_tree(tmp_path, mounter)
    for n in (1, 4, 9, len(want) - 1):
        work = tmp_path / ("work%d" % n)
        shutil.copytree(lower, work, symlinks=True)
        env = dict(os.environ, ECFS_REKEY_TEST_KILL_AFTER=str(n))
        r = subprocess.run(swap_cmd(a, b, work), env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert r.returncode == -9, (n, r.returncode, r.stderr)
        # some names moved, some not: both keys together read everything
        lines, bad = ls_names(work, "--passphrase-file", a, "--extra-passphrase-file", b)
        assert not bad and len(lines) == len(want), (n, bad)
        lines_a, bad_a = ls_names(work, "--passphrase-file", a)
        assert 0 < len(bad_a) < len(lines_a), n
        got = read_through_mount(mounter, work, "--passphrase-file", a,
                                 "--extra-passphrase-file", b, "--fnek")
        assert got == want, n
        r = subprocess.run(swap_cmd(a, b, work), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert r.returncode == 0, (n, r.stderr)
        assert b" 0 failed" in r.stdout
        assert_b_alone_reads(mounter, work, a, b, want)


def test_half_done_swap_finishes(tmp_path, mounter):
    """Files an earlier run already moved to B (B's packet, not A's) count
    as done when the same command runs over the whole tree."""
    d = str(tmp_path)
    a, b = pwfile(d, "pa", "old passphrase A"), pwfile(d, "pb", "new passphrase B")
    m = mounter(passfile=a)
    want = {}
    for i in range(40):
        rel = "d%d/f%02d" % (i % 4, i)
        want[rel] = os.urandom(100 + i)
        p = os.path.join(m.mnt, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(want[rel])
    assert not m.stop()
    run_ecfs(*swap_cmd(a, b, os.path.join(m.lower, "d1"))[1:])
    r = run_ecfs(*swap_cmd(a, b, m.lower)[1:], check=False)
    assert r.returncode == 0, r.stderr
    assert b"30 files changed, 10 unchanged" in r.stdout and b" 0 failed" in r.stdout
    got = read_through_mount(mounter, m.lower, "--passphrase-file", b)
    assert {k: v for k, v in got.items() if v != "dir"} == want


def test_hard_link_revoked_for_an_rsa_key(tmp_path, mounter):
    """A file with two names is re-keyed at its first; at its second it
    already has the RSA key and not A (which the public half cannot open):
    done, not a failure."""
    d = str(tmp_path)
    a = pwfile(d, "pa", "old passphrase A")
    priv, pub = str(tmp_path / "r.pem"), str(tmp_path / "r.pub.pem")
    for argv in (["genpkey", "-algorithm", "RSA", "-out", priv],
                 ["pkey", "-in", priv, "-pubout", "-out", pub]):
        subprocess.run(["openssl", *argv], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    m = mounter(passfile=a)
    with open(os.path.join(m.mnt, "f"), "wb") as f:
        f.write(b"linked\n")
    os.makedirs(os.path.join(m.mnt, "sub"))
    os.link(os.path.join(m.mnt, "f"), os.path.join(m.mnt, "sub/g"))
    assert not m.stop()
    r = run_ecfs("rekey", "--passphrase-file", a, "--add-rsa", pub, "--remove",
                 sig_of("--passphrase-file", a)[0], m.lower, check=False)
    assert r.returncode == 0, r.stderr
    assert b"1 file changed, 1 unchanged" in r.stdout and b" 0 failed" in r.stdout
    got = read_through_mount(mounter, m.lower, "--rsa-key", priv)
    assert got["f"] == got["sub/g"] == b"linked\n"
