"""Mount options, key checks at mount time, error isolation, and the ways
to start and stop a mount (foreground, background, mount(8) helpers)."""
import errno
import os
import shutil
import subprocess
import time

import pytest

from conftest import ECFS, ROOT, run_ecfs
from fuse_helpers import (Mount, MountFailed, decrypt_offline, fusermount_u,  # noqa: F401
                          is_mounted, lower_entries, mounter, remount)

PREFIX = "ECRYPTFS_FNEK_ENCRYPTED."
HELPER = os.path.join(ROOT, "ecfs", "fuse", "mount.fuse.ecfs")


def sig_of(pw):
    return run_ecfs("sig", "--passphrase-file", str(pw)).stdout.decode().split()[0]


def fill(m, names=("a.txt",), content=b"content"):
    for n in names:
        with open(os.path.join(m.mnt, n), "wb") as f:
            f.write(content)


def expect_fail(m, **kw):
    with pytest.raises(MountFailed) as e:
        m(**kw)
    return e.value


def test_wrong_passphrase_fails_at_mount_naming_both_sigs(mounter, tmp_path):
    m = mounter()
    fill(m, ["a", "b"])
    m.stop()
    bad = tmp_path / "bad"
    bad.write_text("another passphrase")
    e = expect_fail(mounter, passfile=bad)
    assert e.rc == 1
    assert "wrong passphrase? key sig %s does not open any of its 2 eCryptfs files; " \
           "files want sig %s" % (sig_of(bad), sig_of(tmp_path / "pw")) in e.err
    assert not is_mounted(mounter.made[-1].mnt)


def test_new_lower_directory_mounts_with_any_key(mounter, tmp_path):
    other = tmp_path / "other"
    other.write_text("whatever")
    m = mounter(passfile=other)
    assert os.listdir(m.mnt) == []


def test_encrypted_names_without_fnek_option_are_refused_with_a_hint(mounter):
    m = mounter(args=["--fnek"])
    fill(m)
    m.stop()
    e = expect_fail(mounter)
    assert "names are encrypted" in e.err and "--fnek (-o fnek)" in e.err
    e = expect_fail(mounter, args=["--fnek-same-key"])
    assert "does not match the names here" in e.err and "--fnek (-o fnek)" in e.err
    m2 = mounter(opts=["fnek"])
    assert os.listdir(m2.mnt) == ["a.txt"]


def test_name_cipher_mismatch_is_explained(mounter):
    m = mounter(args=["--fnek"], opts=["ecryptfs_key_bytes=32"])
    fill(m)
    m.stop()
    e = expect_fail(mounter, args=["--fnek"])
    assert "ecryptfs_fn_key_bytes" in e.err
    m2 = mounter(args=["--fnek"], opts=["ecryptfs_fn_key_bytes=32"])
    assert os.listdir(m2.mnt) == ["a.txt"]


@pytest.mark.parametrize("opt,word", [("ecryptfs_bogus", "unknown mount option 'ecryptfs_bogus'"),
                                      ("ecryptfs_sig", "'ecryptfs_sig' needs a value"),
                                      ("ro=1", "'ro' takes no value"),
                                      ("ecryptfs_sig=xyz", "16 hex digits"),
                                      ("ecryptfs_cipher=rot13", "ecryptfs_cipher=rot13"),
                                      ("ecryptfs_key_bytes=0", "not a key size"),
                                      ("new_files=maybe", "expected encrypt, plain or deny"),
                                      ("spin=-1", "expected microseconds, 0 to 10000"),
                                      ("spin=20000", "expected microseconds, 0 to 10000"),
                                      ("spin=fast", "expected microseconds, 0 to 10000"),
                                      ("io_uring=on", "expected auto or off"),
                                      ("io_uring=", "expected auto or off"),
                                      ("readahead=65537", "expected KiB, 0 to 65536"),
                                      ("readahead=1M", "expected KiB, 0 to 65536")])
def test_bad_options_are_refused_by_name(mounter, opt, word):
    e = expect_fail(mounter, opts=["ecryptfs_passthrough", opt])
    assert e.rc == 2 and word in e.err


def test_sig_option_without_its_passphrase_is_refused(mounter):
    e = expect_fail(mounter, opts=["ecryptfs_sig=0123456789abcdef"])
    assert "ecryptfs_sig=0123456789abcdef: no passphrase" in e.err


def test_several_keys_each_new_file_gets_one_packet_per_key(mounter, tmp_path):
    pw2 = tmp_path / "pw2"
    pw2.write_text("second key")
    m = mounter(args=["--extra-passphrase-file", str(pw2)])
    fill(m, ["two"], b"two keys")
    low = os.path.join(m.lower, "two")
    info = run_ecfs("info", low).stdout.decode()
    assert info.count("Tag 3 (passphrase)") == 2
    assert sig_of(tmp_path / "pw") in info and sig_of(pw2) in info
    for p in (tmp_path / "pw", pw2):
        assert decrypt_offline(low, p) == b"two keys"
    assert not m.stop()         # one mount of a lower directory at a time
    # ecryptfs_sig= chooses which keys wrap new files.
    m2 = mounter(args=["--extra-passphrase-file", str(pw2)],
                 opts=["ecryptfs_sig=" + sig_of(pw2)])
    fill(m2, ["one"], b"one key")
    info = run_ecfs("info", os.path.join(m2.lower, "one")).stdout.decode()
    assert info.count("Tag 3 (passphrase)") == 1 and sig_of(pw2) in info
    # Either key alone opens the tree.
    m2.stop()
    m3 = mounter(passfile=pw2)
    assert open(os.path.join(m3.mnt, "two"), "rb").read() == b"two keys"


CIPHERS = [("aes", 16), ("aes", 24), ("aes", 32), ("blowfish", 16), ("blowfish", 56),
           ("des3_ede", 24), ("cast5", 16), ("cast6", 16), ("cast6", 32),
           ("twofish", 16), ("twofish", 32)]


@pytest.mark.parametrize("cipher,kb", CIPHERS)
def test_cipher_options_for_new_files_and_names(mounter, tmp_path, cipher, kb):
    m = mounter(args=["--fnek"], opts=["ecryptfs_cipher=%s" % cipher, "ecryptfs_key_bytes=%d" % kb])
    os.mkdir(os.path.join(m.mnt, "dir"))
    blob = os.urandom(10000)
    with open(os.path.join(m.mnt, "dir", "file name"), "wb") as f:
        f.write(blob)
    top = lower_entries(m.lower)
    assert len(top) == 1 and top[0].startswith(PREFIX)
    sub = os.path.join(m.lower, top[0])
    low = os.path.join(sub, os.listdir(sub)[0])
    info = run_ecfs("info", low).stdout.decode()
    assert "cipher %s" % cipher in info and "%d-byte key" % kb in info
    out = tmp_path / "out"
    run_ecfs("decrypt", "--passphrase-file", str(tmp_path / "pw"), "--cipher", cipher,
             "--key-bytes", str(kb), m.lower, "-o", str(out))
    assert open(out / "dir" / "file name", "rb").read() == blob
    remount(m)
    assert open(os.path.join(m.mnt, "dir", "file name"), "rb").read() == blob


def test_ro_mount_refuses_every_change(mounter):
    m = mounter()
    fill(m)
    m.stop()
    m = mounter(opts=["ro"])
    p = os.path.join(m.mnt, "a.txt")
    assert open(p, "rb").read() == b"content"
    for op in (lambda: open(p, "ab"), lambda: open(os.path.join(m.mnt, "n"), "w"),
               lambda: os.mkdir(os.path.join(m.mnt, "d")), lambda: os.unlink(p),
               lambda: os.truncate(p, 0), lambda: os.chmod(p, 0o600)):
        with pytest.raises(OSError) as e:
            op()
        assert e.value.errno == errno.EROFS


def test_encrypted_view_shows_lower_bytes_and_synthesises_xattr_headers(mounter, tmp_path):
    m = mounter(args=["--fnek"])
    fill(m, ["inheader"], b"in the header")
    m.stop()
    mx = mounter(args=["--fnek"], opts=["ecryptfs_xattr_metadata"])
    fill(mx, ["inxattr"], b"in the xattr" * 500)
    mx.stop()
    v = mounter(passfile=False, opts=["ecryptfs_encrypted_view"])
    names = sorted(os.listdir(v.mnt))
    assert names == lower_entries(v.lower) and all(n.startswith(PREFIX) for n in names)
    out = tmp_path / "view"
    os.mkdir(out)
    for n in names:
        with open(os.path.join(v.mnt, n), "rb") as f:
            view = f.read()
        with open(os.path.join(v.lower, n), "rb") as f:
            low = f.read()
        assert os.path.getsize(os.path.join(v.mnt, n)) == len(view)
        if len(low) % 4096 == 0 and len(low) < 8192 + 4096 and len(view) == len(low) + 8192:
            assert view[8192:] == low          # xattr file: header put in front
            assert view[19] & 0x04 == 0        # flag cleared, as the kernel does
        else:
            assert view == low
        with open(out / n, "wb") as f:
            f.write(view)
    # The view of each file is a self-contained in-header eCryptfs file.
    plain = sorted(decrypt_offline(out / n, tmp_path / "pw") for n in names)
    assert plain == sorted([b"in the header", b"in the xattr" * 500])
    with pytest.raises(OSError) as e:
        open(os.path.join(v.mnt, "new"), "w")
    assert e.value.errno == errno.EROFS


def test_plain_lower_files_need_passthrough(mounter, tmp_path):
    lower = tmp_path / "lower"
    os.makedirs(lower)
    (lower / "plain.txt").write_bytes(b"not encrypted")
    m = mounter()
    with pytest.raises(OSError) as e:
        open(os.path.join(m.mnt, "plain.txt"), "rb").read()
    assert e.value.errno == errno.EIO
    for _ in range(3):
        with pytest.raises(OSError):
            open(os.path.join(m.mnt, "plain.txt"), "rb")
    m.stop()
    lines = [ln for ln in m.stderr().splitlines() if "plain.txt" in ln]
    assert len(lines) == 1 and "no eCryptfs metadata" in lines[0] and str(lower) in lines[0]
    m = mounter(opts=["ecryptfs_passthrough"])
    p = os.path.join(m.mnt, "plain.txt")
    assert os.path.getsize(p) == 13 and open(p, "rb").read() == b"not encrypted"
    with open(p, "ab") as f:
        f.write(b"!")
    assert (lower / "plain.txt").read_bytes() == b"not encrypted!"
    fill(m, ["new"], b"encrypted")
    assert os.path.getsize(lower / "new") == 12288


def test_nokey_and_new_files_policies(mounter, tmp_path):
    m = mounter()
    fill(m, ["enc"])
    m.stop()
    (tmp_path / "lower" / "plain").write_bytes(b"p")
    m = mounter(passfile=False, opts=["nokey", "ecryptfs_passthrough"])
    assert sorted(os.listdir(m.mnt)) == ["enc", "plain"]
    with pytest.raises(OSError) as e:
        open(os.path.join(m.mnt, "enc"), "rb")
    assert e.value.errno == errno.ENOKEY
    assert open(os.path.join(m.mnt, "plain"), "rb").read() == b"p"
    with pytest.raises(PermissionError):
        open(os.path.join(m.mnt, "new"), "w")
    m.stop()
    m = mounter(passfile=False, opts=["nokey", "ecryptfs_passthrough", "new_files=plain"])
    fill(m, ["new"], b"plain new")
    assert (tmp_path / "lower" / "new").read_bytes() == b"plain new"
    m.stop()
    e = expect_fail(mounter, passfile=False, opts=["nokey", "new_files=encrypt"])
    assert e.rc == 2 and "new files cannot be encrypted" in e.err
    m = mounter(opts=["new_files=deny"])
    with pytest.raises(PermissionError):
        open(os.path.join(m.mnt, "other"), "w")
    e = expect_fail(mounter, opts=["new_files=plain"])
    assert "needs ecryptfs_passthrough" in e.err


@pytest.mark.parametrize("keep", [512 * 1024 + 4096, 4096])
def test_large_read_missing_either_half_is_eio_not_short(mounter, tmp_path, keep):
    """The kernel asks for up to 1 MiB at a time, and such a read is
    decrypted as two halves on two threads (lib/fek.c).  With the extents
    under either half gone, what is left reads back and then the read
    fails with EIO; it never ends early as if the file were shorter."""
    m = mounter()
    data = bytes(range(256)) * (2 * 4096)            # 2 MiB
    with open(os.path.join(m.mnt, "big"), "wb") as f:
        f.write(data)
    m.stop()
    with open(tmp_path / "lower" / "big", "r+b") as f:
        f.truncate(8192 + keep)         # header + what is left of the extents
    m = mounter()
    got, err = b"", None
    fd = os.open(os.path.join(m.mnt, "big"), os.O_RDONLY)
    try:
        while True:             # the good extents may come first, then EIO
            try:
                chunk = os.pread(fd, 1024 * 1024, len(got))
            except OSError as e:
                err = e.errno
                break
            if not chunk:
                break
            got += chunk
    finally:
        os.close(fd)
    assert err == errno.EIO, "read %d of %d bytes, then end of file" % (len(got), len(data))
    assert got == data[:keep]
    assert os.path.getsize(os.path.join(m.mnt, "big")) == len(data)


def test_corrupt_file_gives_eio_for_that_file_only_with_one_log_line(mounter, tmp_path):
    m = mounter()
    fill(m, ["good", "badpacket", "short"], b"x" * 10000)
    m.stop()
    lower = tmp_path / "lower"
    with open(lower / "badpacket", "r+b") as f:
        f.seek(26)
        f.write(b"\x00")        # no key packet any more
    with open(lower / "short", "r+b") as f:
        f.truncate(8192 + 4096)  # size field says 10000: extents missing
    m = mounter()
    assert open(os.path.join(m.mnt, "good"), "rb").read() == b"x" * 10000
    for _ in range(3):
        with pytest.raises(OSError) as e:
            open(os.path.join(m.mnt, "badpacket"), "rb").read()
        assert e.value.errno == errno.EIO
        with pytest.raises(OSError) as e:
            with open(os.path.join(m.mnt, "short"), "rb") as f:
                f.read()
        assert e.value.errno == errno.EIO
    assert open(os.path.join(m.mnt, "good"), "rb").read() == b"x" * 10000
    m.stop()
    err = m.stderr().splitlines()
    bad = [ln for ln in err if "badpacket" in ln]
    short = [ln for ln in err if "/short" in ln]
    assert len(bad) == 1 and str(lower / "badpacket") in bad[0]
    assert len(short) == 1 and "extent" in short[0]
    # Nothing in the lower directory was written as plaintext.
    for n in os.listdir(lower):
        assert b"x" * 64 not in (lower / n).read_bytes()


def test_background_mount_returns_when_ready_and_umount_ends_it(tmp_path):
    lower, mnt, pw = tmp_path / "lower", tmp_path / "mnt", tmp_path / "pw"
    os.makedirs(lower)
    os.makedirs(mnt)
    pw.write_text("bg passphrase")
    r = subprocess.run([ECFS, "mount", "--passphrase-file", str(pw), str(lower), str(mnt)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    try:
        assert r.returncode == 0, r.stderr
        assert is_mounted(str(mnt))
        (mnt / "f").write_bytes(b"bg")
        assert os.path.getsize(lower / "f") == 12288
    finally:
        u = subprocess.run([ECFS, "umount", str(mnt)], stderr=subprocess.PIPE)
    assert u.returncode == 0 and not is_mounted(str(mnt))
    bad = tmp_path / "bad"
    bad.write_text("wrong")
    r = subprocess.run([ECFS, "mount", "--passphrase-file", str(bad), str(lower), str(mnt)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert r.returncode == 1 and b"wrong passphrase?" in r.stderr
    assert not is_mounted(str(mnt))


def test_umount_usage_errors():
    r = subprocess.run([ECFS, "umount"], stderr=subprocess.PIPE)
    assert r.returncode == 2
    r = subprocess.run([ECFS, "mount", "only-one-arg"], stderr=subprocess.PIPE)
    assert r.returncode == 2 and b"expected LOWER and MOUNTPOINT" in r.stderr


def test_mount_helper_script_fstab_form(tmp_path):
    """What mount(8) runs for 'mount -t fuse.ecfs LOWER MNT -o ...' and fstab."""
    lower, mnt, pw = tmp_path / "lower", tmp_path / "mnt", tmp_path / "pw"
    os.makedirs(lower)
    os.makedirs(mnt)
    pw.write_text("fstab passphrase")
    env = dict(os.environ, ECFS=ECFS)
    r = subprocess.run([HELPER, str(lower), str(mnt), "-n", "-o",
                        "rw,nofail,_netdev,passphrase_file=%s,fnek" % pw, "-t", "fuse.ecfs"],
                       env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    try:
        assert r.returncode == 0, r.stderr
        (mnt / "named").write_bytes(b"via helper")
        assert os.listdir(lower)[0].startswith(PREFIX)
    finally:
        fusermount_u(str(mnt))
    assert not is_mounted(str(mnt))


def test_mount_fuse3_form_runs_ecfs_lower_mnt(tmp_path):
    """mount.fuse3 (mount -t fuse.ecfs without our helper) runs
    'ecfs LOWER MNT -o OPTS'."""
    if not shutil.which("mount.fuse3"):
        pytest.skip("needs mount.fuse3")
    lower, mnt, pw = tmp_path / "lower", tmp_path / "mnt", tmp_path / "pw"
    os.makedirs(lower)
    os.makedirs(mnt)
    pw.write_text("fuse3 passphrase")
    env = dict(os.environ, PATH=os.path.dirname(ECFS) + ":" + os.environ.get("PATH", ""))
    r = subprocess.run(["mount.fuse3", str(lower), str(mnt), "-t", "fuse.ecfs", "-o",
                        "passphrase_file=%s" % pw], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    try:
        assert r.returncode == 0, r.stderr
        (mnt / "x").write_bytes(b"x")
        assert os.path.getsize(lower / "x") == 12288
    finally:
        fusermount_u(str(mnt))


def test_passphrase_from_extpass_option(mounter, tmp_path):
    m = mounter(passfile=False, opts=["extpass=echo test passphrase"])
    fill(m)
    assert decrypt_offline(os.path.join(m.lower, "a.txt"), tmp_path / "pw") == b"content"


def test_missing_lower_directory_is_reported(mounter, tmp_path):
    e = expect_fail(mounter, lower=tmp_path / "nope")
    assert e.rc == 1 and "nope" in e.err
    time.sleep(0)


def test_zero_length_lower_file_gets_a_header_on_open(mounter, tmp_path):
    lower = tmp_path / "lower"
    os.makedirs(lower)
    (lower / "zero").write_bytes(b"")
    m = mounter()
    assert os.path.getsize(os.path.join(m.mnt, "zero")) == 0
    with open(os.path.join(m.mnt, "zero"), "ab") as f:
        f.write(b"now encrypted")
    assert os.path.getsize(lower / "zero") == 12288
    assert decrypt_offline(lower / "zero", tmp_path / "pw") == b"now encrypted"


def test_sigterm_unmounts_and_exits_cleanly(mounter):
    m = mounter()
    fill(m)
    m.proc.terminate()
    assert m.proc.wait(timeout=30) == 0
    assert not is_mounted(m.mnt)
    assert not m.stop()
