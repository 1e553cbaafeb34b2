"""ecfs unwrap-/wrap-/rewrap-passphrase and add-passphrase against the
Debian ecryptfs-utils tools, byte for byte, and mounting with a key that is
already in the kernel keyring (--key-sig).

Wrapped files: with the salt of a file the tool wrote, ecfs writes the same
bytes; each side unwraps the other's files; v1 files are read and rewrapped
to v2.  Keyring: `keyctl pipe` reads back the 740-byte payloads that
ecryptfs-add-passphrase and ecfs add-passphrase stored; they must be equal.
Each keyring test runs in its own session keyring (keyctl session)."""
import os
import shutil
import subprocess

import pytest

from conftest import ECFS, run_ecfs
from legacy_helpers import SYNO_KEY_HEX, SYNO_PASS, corpus_home, mounts, tree, write_secret  # noqa: F401
from fuse_helpers import fusermount_u

WRAP = shutil.which("ecryptfs-wrap-passphrase")
UNWRAP = shutil.which("ecryptfs-unwrap-passphrase")
REWRAP = shutil.which("ecryptfs-rewrap-passphrase")
ADD = shutil.which("ecryptfs-add-passphrase")
KEYCTL = shutil.which("keyctl")
utils = pytest.mark.skipif(not (WRAP and UNWRAP and REWRAP), reason="needs ecryptfs-utils")


def keyring_ok():
    if not (KEYCTL and ADD):
        return False
    return subprocess.run([KEYCTL, "show", "@u"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


keyring = pytest.mark.skipif(not keyring_ok(), reason="needs keyutils, ecryptfs-utils and a "
                             "kernel keyring ('keyctl show @u' fails here)")


@utils
@pytest.mark.parametrize("mp", ["5f3a9c1e7b2d4860a1c3e5f7092b4d6e", "x", "a" * 64])
def test_wrap_is_byte_identical_to_ecryptfs_wrap_passphrase(mp, tmp_path):
    ref = tmp_path / "ref"
    subprocess.run([WRAP, str(ref), "-"], input=("%s\nlogin pw" % mp).encode(), check=True,
                   stdout=subprocess.DEVNULL)
    data = ref.read_bytes()
    salt = data[2:10].hex()
    mpf, login = write_secret(tmp_path / "mp", mp), write_secret(tmp_path / "l", "login pw")
    ours = tmp_path / "ours"
    run_ecfs("wrap-passphrase", "--passphrase-file", mpf, "--login-password-file", login,
             "--wrapping-salt", salt, str(ours))
    assert ours.read_bytes() == data
    assert oct(os.stat(ours).st_mode & 0o777) == "0o600"
    out = run_ecfs("unwrap-passphrase", "--login-password-file", login, str(ref)).stdout
    assert out == mp.encode() + b"\n"


@utils
def test_rewrap_matches_ecryptfs_rewrap_passphrase(tmp_path):
    mp = "0011223344556677aabbccddeeff0011"
    f = tmp_path / "wp"
    subprocess.run([WRAP, str(f), "-"], input=("%s\nold pw" % mp).encode(), check=True,
                   stdout=subprocess.DEVNULL)
    old, new = write_secret(tmp_path / "old", "old pw"), write_secret(tmp_path / "new", "new pw")
    run_ecfs("rewrap-passphrase", "--login-password-file", old, "--new-login-password-file",
             new, str(f))
    assert f.read_bytes()[:2] == b":\x02"
    got = subprocess.run([UNWRAP, str(f), "-"], input=b"new pw", stdout=subprocess.PIPE,
                         check=True).stdout
    assert got.strip() == mp.encode()
    # ... and the other way: the tool rewraps what ecfs wrote, ecfs reads it.
    subprocess.run([REWRAP, str(f), "-"], input=b"new pw\nnewer pw", check=True,
                   stdout=subprocess.DEVNULL)
    newer = write_secret(tmp_path / "newer", "newer pw")
    out = run_ecfs("unwrap-passphrase", "--login-password-file", newer, str(f)).stdout
    assert out == mp.encode() + b"\n"
    p = run_ecfs("unwrap-passphrase", "--login-password-file", old, str(f), check=False)
    assert p.returncode == 1 and b"wrong login password" in p.stderr


def test_rewrap_upgrades_v1_to_v2(tmp_path):
    _, conf, _, m = corpus_home(tmp_path / "c")
    f = os.path.join(conf, "wrapped-passphrase-v1")
    login = write_secret(tmp_path / "l", m["wrapped_passphrase"]["login_password"])
    new = write_secret(tmp_path / "n", "new pw")
    run_ecfs("rewrap-passphrase", "--login-password-file", login, "--new-login-password-file",
             new, f)
    assert open(f, "rb").read()[:2] == b":\x02"
    out = run_ecfs("unwrap-passphrase", "--login-password-file", new, f).stdout
    assert out.strip().decode() == m["wrapped_passphrase"]["mount_passphrase"]


def test_synology_key_file_unwraps_without_a_password(tmp_path):
    k = tmp_path / "Share.key"
    k.write_bytes(bytes.fromhex(SYNO_KEY_HEX))
    out = run_ecfs("unwrap-passphrase", str(k), stdin=subprocess.DEVNULL).stdout
    assert out == SYNO_PASS.encode() + b"\n"
    k.write_bytes(b"Salted__" + b"\0" * 24)
    p = run_ecfs("unwrap-passphrase", str(k), check=False, stdin=subprocess.DEVNULL)
    assert p.returncode == 1


def test_unwrap_missing_file_says_where_it_lives(tmp_path):
    p = run_ecfs("unwrap-passphrase", "--login-password-file", "/dev/null",
                 str(tmp_path / "nope"), check=False)
    assert p.returncode == 1 and b"/home/.ecryptfs/USER/.ecryptfs" in p.stderr


def in_session(script, tmp_path):
    """Run a shell script in a fresh session keyring that links @u."""
    s = tmp_path / "s.sh"
    s.write_text("set -e\nkeyctl link @u @s\n" + script)
    return subprocess.run([KEYCTL, "session", "-", "sh", str(s)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, cwd=str(tmp_path), timeout=120)


@keyring
def test_add_passphrase_payload_equals_ecryptfs_add_passphrase(tmp_path):
    write_secret(tmp_path / "pw", "keyring test passphrase")
    p = in_session("""
printf '%s' 'keyring test passphrase' | ecryptfs-add-passphrase - > ref.out
sig=$(sed -n 's/.*sig \\[\\(.*\\)\\].*/\\1/p' ref.out)
keyctl pipe $(keyctl search @u user $sig) > ref.bin
keyctl unlink $(keyctl search @u user $sig) @u
{ecfs} add-passphrase --passphrase-file pw > ours.out
keyctl pipe $(keyctl search @u user $sig) > ours.bin
keyctl unlink $(keyctl search @u user $sig) @u
""".format(ecfs=ECFS), tmp_path)
    assert p.returncode == 0, p.stderr
    ref, ours = (tmp_path / "ref.bin").read_bytes(), (tmp_path / "ours.bin").read_bytes()
    assert len(ref) == 740 and ours == ref
    assert (tmp_path / "ours.out").read_text() == (tmp_path / "ref.out").read_text()


@keyring
def test_mount_with_keys_from_the_keyring(tmp_path):
    lower, conf, plain, m = corpus_home(tmp_path / "c")
    write_secret(tmp_path / "mp", m["wrapped_passphrase"]["mount_passphrase"])
    mnt = tmp_path / "mnt"
    os.makedirs(mnt)
    p = in_session("""
{ecfs} add-passphrase --fnek --passphrase-file mp
{ecfs} mount --key-sig {s1} --key-sig {s2} -o ro,ecryptfs_sig={s1},ecryptfs_fnek_sig={s2} {lower} {mnt}
cat {mnt}/hello.txt > got.txt
fusermount3 -u {mnt}
keyctl unlink $(keyctl search @u user {s1}) @u
keyctl unlink $(keyctl search @u user {s2}) @u
{ecfs} mount --key-sig {s1} -o ro {lower} {mnt} 2> missing.err || true
""".format(ecfs=ECFS, s1=m["auth_tok_sig"], s2=m["fnek_sig"], lower=lower, mnt=mnt), tmp_path)
    if mnt.is_mount():
        fusermount_u(str(mnt))
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "got.txt").read_text() == "Hello from ~/Private\n"
    err = (tmp_path / "missing.err").read_text()
    assert "not in your keyrings" in err and "ecfs add-passphrase" in err
