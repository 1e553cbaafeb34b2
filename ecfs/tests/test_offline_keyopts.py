"""Every key option the mount takes works in the offline commands (issue
20 item 5).  fsck used to load keys only for a passphrase source, so with
--key-file or --rsa-key alone it reported "no key: structure only" and a
clean tree even when the key opened nothing; and it unwrapped with
passphrase keys only, so a tree written for an RSA key looked damaged.
"""
import os
import subprocess

import pytest

from conftest import run_ecfs
from fuse_helpers import mounter  # noqa: F401 (fixture)


def rsa_key(path):
    subprocess.run(["openssl", "genrsa", "-out", str(path), "2048"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return str(path)


def key_file(path):
    run_ecfs("keyfile", "create", str(path))
    return str(path)


@pytest.fixture
def plain(tmp_path):
    d = tmp_path / "plain"
    (d / "sub").mkdir(parents=True)
    (d / "a.txt").write_text("alpha\n")
    (d / "sub" / "b.bin").write_bytes(bytes(range(256)) * 20)
    return d


@pytest.mark.parametrize("kind", ["key-file", "rsa-key"])
def test_fsck_decrypt_ls_with_key_option_alone(kind, plain, tmp_path):
    make = key_file if kind == "key-file" else rsa_key
    good, other = make(tmp_path / "good"), make(tmp_path / "other")
    lower = tmp_path / "lower"
    run_ecfs("encrypt", "--" + kind, good, str(plain), "-o", str(lower))
    p = run_ecfs("fsck", "--" + kind, good, str(lower), stdin=subprocess.DEVNULL, check=False)
    out = (p.stdout + p.stderr).decode()
    assert p.returncode == 0, out
    assert "structure only" not in out and "no problems" in out
    p = run_ecfs("fsck", "--" + kind, other, str(lower), stdin=subprocess.DEVNULL, check=False)
    out = (p.stdout + p.stderr).decode()
    assert p.returncode == 1 and "no_key 2" in out, out
    run_ecfs("decrypt", "--" + kind, good, str(lower), "-o", str(tmp_path / "out"))
    assert (tmp_path / "out" / "sub" / "b.bin").read_bytes() == bytes(range(256)) * 20
    p = run_ecfs("ls", "-R", "--" + kind, good, str(lower))
    assert sorted(line.split("\t")[2] for line in p.stdout.decode().splitlines()) == \
        ["a.txt", "sub", "sub/b.bin"]


def test_encrypt_applies_the_policy(plain, tmp_path, passfile):
    """encrypt --policy used to be accepted and ignored (issue 20 item 8)."""
    (plain / "Passwords.kdbx").write_text("secrets\n")
    pol = tmp_path / "policy"
    pol.write_text("# pattern cipher key bytes\n*.kdbx aes 32\n* blowfish 56\n")
    lower, back = tmp_path / "lower", tmp_path / "back"
    run_ecfs("encrypt", "--passphrase-file", passfile, "--policy", str(pol), str(plain),
             "-o", str(lower))
    info = run_ecfs("info", str(lower / "Passwords.kdbx")).stdout.decode()
    assert "cipher aes (code 0x09, 32-byte key)" in info
    info = run_ecfs("info", str(lower / "sub" / "b.bin")).stdout.decode()
    assert "cipher blowfish (code 0x04, 56-byte key)" in info
    run_ecfs("decrypt", "--passphrase-file", passfile, str(lower), "-o", str(back))
    assert (back / "Passwords.kdbx").read_text() == "secrets\n"


def test_public_key_only_mount_writes_and_refuses_old_files(tmp_path, mounter):  # noqa: F811
    """Issue 20 item 7: `mount --rsa-key PUB.pem` was refused once the
    directory held a file.  It mounts; new files get the RSA packet (the
    private key decrypts them); old files give EACCES; escrow recover with
    the public key says the private key is needed."""
    priv = rsa_key(tmp_path / "priv.pem")
    pub = str(tmp_path / "pub.pem")
    subprocess.run(["openssl", "rsa", "-in", priv, "-pubout", "-out", pub], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lower = tmp_path / "lower"
    lower.mkdir()
    m = mounter(lower=str(lower), passfile=False, args=["--rsa-key", pub])
    with open(os.path.join(m.mnt, "first"), "w") as f:
        f.write("one\n")
    problems = m.stop()
    assert not problems
    m = mounter(lower=str(lower), passfile=False, args=["--rsa-key", pub])
    with open(os.path.join(m.mnt, "second"), "w") as f:
        f.write("two\n")
    with pytest.raises(PermissionError):
        open(os.path.join(m.mnt, "first")).read()
    assert not m.stop()
    back = tmp_path / "back"
    run_ecfs("decrypt", "--rsa-key", priv, str(lower), "-o", str(back))
    assert (back / "first").read_text() == "one\n" and (back / "second").read_text() == "two\n"
    p = run_ecfs("escrow", "recover", "--rsa-key", pub, str(lower), str(tmp_path / "esc"),
                 check=False)
    assert p.returncode == 1 and b"PRIVATE key" in p.stderr


SECRET = "hunter2-SECRET-value"


@pytest.mark.parametrize("argv", [
    ["decrypt", "--passphrase", SECRET, "L"],
    ["encrypt", "--passphrase", SECRET, "P", "-o", "L"],
    ["ls", "--passphrase", SECRET, "L"],
    ["fsck", "--passphrase", SECRET, "L"],
    ["rekey", "--passphrase", SECRET, "--remove", "0011223344556677", "L"],
    ["mount", "--passphrase", SECRET, "L", "M"],
    ["recover", "--passphrase", SECRET, "L"],
    ["recover", "--login-password", SECRET, "L"],
    ["unwrap-passphrase", "--login-password", SECRET, "F"],
    ["decrypt", "--rsa-passphrase", SECRET, "L"],
    ["decrypt", "--key", SECRET, "L"],
])
def test_secret_options_are_never_abbreviated_nor_echoed(argv):
    """Issue 20 item 9: '--passphrase SECRET' was taken for
    --passphrase-file and the error echoed the secret."""
    p = run_ecfs(*argv, check=False, stdin=subprocess.DEVNULL)
    assert p.returncode == 2, (p.stdout + p.stderr).decode()
    assert SECRET.encode() not in p.stdout + p.stderr
