"""The offline ecfs tool: round trips for every cipher, layout checks, key
input, and clear errors that leave nothing half-written."""
import os
import stat
import struct
import subprocess

import pytest

from conftest import ECFS, run_ecfs, sha256_file

CIPHERS = [("aes", 16), ("aes", 24), ("aes", 32), ("blowfish", 16), ("blowfish", 56),
           ("des3_ede", 24), ("cast5", 16), ("cast6", 16), ("cast6", 32),
           ("twofish", 16), ("twofish", 32)]
SIZES = [0, 1, 4095, 4096, 4097, 12345, 41 * 4096 + 5, 300000]


def pattern(n, seed=1):
    return bytes((i * 131 + seed * 7 + (i >> 12)) & 0xff for i in range(n))


def make_tree(root):
    os.makedirs(os.path.join(root, "sub", "deeper"))
    for n in SIZES:
        with open(os.path.join(root, "f%d.bin" % n), "wb") as f:
            f.write(pattern(n, n))
    with open(os.path.join(root, "sub", "deeper", "note.txt"), "w") as f:
        f.write("nested\n")
    os.symlink("sub/deeper/note.txt", os.path.join(root, "link"))
    os.symlink("/absolute/dangling", os.path.join(root, "dangling"))
    os.chmod(os.path.join(root, "f1.bin"), 0o600)


def compare_trees(a, b):
    la, lb = [], []
    for top, out in ((a, la), (b, lb)):
        for root, dirs, files in os.walk(top):
            for n in sorted(dirs + files):
                p = os.path.join(root, n)
                rel = os.path.relpath(p, top)
                st = os.lstat(p)
                if stat.S_ISLNK(st.st_mode):
                    out.append((rel, "l", os.readlink(p)))
                elif stat.S_ISDIR(st.st_mode):
                    out.append((rel, "d", None))
                else:
                    out.append((rel, "f", sha256_file(p), stat.S_IMODE(st.st_mode)))
    assert sorted(la) == sorted(lb)


@pytest.mark.parametrize("cipher,kb", CIPHERS)
def test_tree_roundtrip_every_cipher(cipher, kb, tmp_path, passfile, ecfs_bin):
    plain, lower, out = tmp_path / "plain", tmp_path / "lower", tmp_path / "out"
    make_tree(str(plain))
    run_ecfs("encrypt", "--passphrase-file", passfile, "--fnek", "--cipher", cipher,
             "--key-bytes", str(kb), str(plain), "-o", str(lower))
    names = os.listdir(lower)
    assert names and all(n.startswith("ECRYPTFS_FNEK_ENCRYPTED.") for n in names)
    run_ecfs("decrypt", "--passphrase-file", passfile, "--cipher", cipher,
             "--key-bytes", str(kb), str(lower), "-o", str(out))
    compare_trees(str(plain), str(out))


@pytest.mark.parametrize("size", SIZES)
def test_lower_layout_is_the_kernels(size, tmp_path, passfile, ecfs_bin):
    src, low = tmp_path / "p", tmp_path / "l"
    src.write_bytes(pattern(size))
    run_ecfs("encrypt", "--passphrase-file", passfile, str(src), "-o", str(low))
    data = low.read_bytes()
    extents = (size + 4095) // 4096
    assert len(data) == 8192 + 4096 * extents
    assert struct.unpack(">Q", data[:8])[0] == size
    a, b = struct.unpack(">II", data[8:16])
    assert a ^ 0x3C81B7F5 == b
    assert data[16:26] == bytes([3, 0, 0, 2, 0, 0, 0x10, 0, 0, 2])
    assert data[26] == 0x8C and data[27] == 0x1D and data[28:32] == bytes([4, 7, 3, 1])
    # Nothing after the packet set but zeros up to the first extent.
    assert data[26 + 31 + 24] == 0 and data[26 + 31 + 24:8192] == bytes(8192 - 81)
    # No plaintext leaks into the lower file.
    if size >= 64:
        assert pattern(size)[:64] not in data


def test_xattr_metadata_roundtrip(tmp_path, passfile, ecfs_bin):
    src, low = tmp_path / "p", tmp_path / "l"
    src.write_bytes(pattern(10000))
    run_ecfs("encrypt", "--xattr", "--passphrase-file", passfile, str(src), "-o", str(low))
    assert os.path.getsize(low) == 3 * 4096
    x = os.getxattr(str(low), "user.ecryptfs")
    assert len(x) == 81 and x[19] & 0x04
    assert struct.unpack(">Q", x[:8])[0] == 10000
    out = run_ecfs("decrypt", "--passphrase-file", passfile, str(low)).stdout
    assert out == pattern(10000)
    assert "METADATA_IN_XATTR" in run_ecfs("info", str(low)).stdout.decode()


def test_several_keys_any_one_opens(tmp_path, passfile, ecfs_bin):
    src, low = tmp_path / "p", tmp_path / "l"
    other = tmp_path / "other"
    other.write_text("second key")
    src.write_bytes(pattern(5000))
    run_ecfs("encrypt", "--passphrase-file", passfile, "--extra-passphrase-file", str(other),
             str(src), "-o", str(low))
    info = run_ecfs("info", str(low)).stdout.decode()
    assert info.count("Tag 3 (passphrase)") == 2
    for p in (passfile, str(other)):
        assert run_ecfs("decrypt", "--passphrase-file", p, str(low)).stdout == pattern(5000)


def test_passphrase_from_stdin_and_extpass(tmp_path, passfile, ecfs_bin):
    src, low = tmp_path / "p", tmp_path / "l"
    src.write_bytes(b"hello")
    run_ecfs("encrypt", "--passphrase-file", "-", str(src), "-o", str(low),
             input=b"test passphrase\n")
    out = run_ecfs("decrypt", "--extpass", "cat %s" % passfile, str(low)).stdout
    assert out == b"hello"
    p = run_ecfs("decrypt", "--extpass", "exit 3", str(low), check=False)
    assert p.returncode == 1 and b"--extpass command failed" in p.stderr


def test_no_passphrase_without_terminal(tmp_path, ecfs_bin):
    src = tmp_path / "p"
    src.write_bytes(b"x")
    p = subprocess.run([ECFS, "encrypt", str(src), "-o", str(tmp_path / "l")],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, start_new_session=True)
    assert p.returncode == 1
    assert b"--passphrase-file" in p.stderr
    assert not (tmp_path / "l").exists()


def test_sig_known_vectors(tmp_path, ecfs_bin):
    pw = tmp_path / "pw"
    pw.write_text("Test")
    out = run_ecfs("sig", "--fnek", "--passphrase-file", str(pw)).stdout.decode().split()
    assert out == ["3515cca9baaea1f4", "37b7af1b2b2ef27a"]
    rc = tmp_path / "rc"
    rc.write_text("salt=0011223344556677\n")
    out = run_ecfs("sig", "--ecryptfsrc", str(rc), "--passphrase-file", str(pw)).stdout
    assert out == b"3515cca9baaea1f4\n"


def corrupt(path, offset, value):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(bytes([value]))


@pytest.mark.parametrize("damage,reason", [
    (lambda p: corrupt(p, 12, 0), "not an eCryptfs file"),
    (lambda p: corrupt(p, 16, 9), "file format version 9"),
    (lambda p: corrupt(p, 29, 0x42), "unknown cipher code 0x42"),
    (lambda p: corrupt(p, 26 + 31, 0x00), "Tag 11"),
    (lambda p: os.truncate(p, 20), "header is 20 bytes"),
    (lambda p: os.truncate(p, 8192 + 100), "lower file ends inside extent 0"),
    (lambda p: corrupt(p, 5, 0xff), "lower file ends inside extent 2"),
])
def test_damaged_file_gives_reason_and_no_output(damage, reason, tmp_path, passfile, ecfs_bin):
    src, low, out = tmp_path / "p", tmp_path / "l", tmp_path / "out"
    src.write_bytes(pattern(5000))
    run_ecfs("encrypt", "--passphrase-file", passfile, str(src), "-o", str(low))
    damage(str(low))
    p = run_ecfs("decrypt", "--passphrase-file", passfile, str(low), "-o", str(out), check=False)
    assert p.returncode == 1
    err = p.stderr.decode()
    assert str(low) in err and reason in err, err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()
    assert [n for n in os.listdir(tmp_path) if ".ecfs-" in n] == []


def test_garbage_names_are_reported(tmp_path, passfile, ecfs_bin):
    plain, lower, out = tmp_path / "plain", tmp_path / "lower", tmp_path / "out"
    make_tree(str(plain))
    run_ecfs("encrypt", "--passphrase-file", passfile, "--fnek", str(plain), "-o", str(lower))
    bad = os.path.join(str(lower), "ECRYPTFS_FNEK_ENCRYPTED.!!not*base64")
    open(bad, "wb").close()
    p = run_ecfs("decrypt", "--passphrase-file", passfile, str(lower), "-o", str(out), check=False)
    assert p.returncode == 1
    assert "ECRYPTFS_FNEK_ENCRYPTED.!!not*base64" in p.stderr.decode()
    # Everything else still came out.
    assert (out / "sub" / "deeper" / "note.txt").read_text() == "nested\n"


def test_unknown_cipher_and_usage(tmp_path, passfile, ecfs_bin):
    src = tmp_path / "p"
    src.write_bytes(b"x")
    p = run_ecfs("encrypt", "--passphrase-file", passfile, "--cipher", "rot13", str(src),
                 "-o", str(tmp_path / "l"), check=False)
    assert p.returncode == 2 and b"unknown cipher 'rot13'" in p.stderr
    p = run_ecfs("frobnicate", check=False)
    assert p.returncode == 2 and b"unknown command" in p.stderr
    assert run_ecfs("--help").stdout.startswith(b"usage: ecfs")
    for cmd in ("info", "decrypt", "encrypt", "ls", "sig", "unwrap", "wrap"):
        assert run_ecfs(cmd, "--help").stdout.startswith(b"usage: ecfs " + cmd.encode())


def test_offline_rsa_key_only(tmp_path, ecfs_bin):
    """encrypt/decrypt take public keys too: a Tag 1-only file, opened with
    the private key and refused without it."""
    priv, pub = tmp_path / "rsa.pem", tmp_path / "rsa.pub"
    subprocess.run(["openssl", "genrsa", "-out", str(priv), "2048"], check=True,
                   stderr=subprocess.DEVNULL)
    subprocess.run(["openssl", "rsa", "-in", str(priv), "-pubout", "-out", str(pub)],
                   check=True, stderr=subprocess.DEVNULL)
    src, low = tmp_path / "p", tmp_path / "l"
    src.write_bytes(pattern(9000))
    run_ecfs("encrypt", "--rsa-key", str(pub), str(src), "-o", str(low))
    info = run_ecfs("info", str(low)).stdout.decode()
    assert "Tag 1 (public key)" in info and "Tag 3" not in info
    assert run_ecfs("decrypt", "--rsa-key", str(priv), str(low)).stdout == pattern(9000)
    p = run_ecfs("decrypt", "--rsa-key", str(pub), str(low), check=False)
    assert p.returncode == 1 and str(low).encode() in p.stderr
