"""Every cipher and key size through the offline commands and the mount.

The matrix of issue 20 item 1: each cipher/key size the kernel takes x
filename-key mode {none, separate FNEK, FNEK = content key} x {decrypt,
ls, fsck, mount}, on trees the kernel wrote (kernel_matrix.py, cached so
the guest boots once per tree and machine) and on trees `ecfs encrypt`
wrote, which the kernel reads back for the cases the older oracle test
(test_kernel_oracle.py) leaves out.  The offline commands get only the
passphrase and the filename-key mode, as a user with an old disk would:
the cipher and key size must be worked out from the tree.  A name that
does not decrypt must fail the command, never come out as garbage.
"""
import os
import subprocess

import pytest

from conftest import run_ecfs
from fuse_helpers import MountFailed, mounter  # noqa: F401 (fixture)
import kernel_matrix as km
from test_cli import compare_trees

needs_kernel = pytest.mark.skipif(not km.have_tool(),
                                  reason="needs ../shared/tools/kernel-ecryptfs")

MODE_ARGS = {"none": [], "fnek": ["--fnek"], "same": ["--fnek-same-key"]}
DEFAULT_KEY_BYTES = {"aes": 16, "blowfish": 16, "des3_ede": 24, "cast5": 16, "cast6": 16,
                     "twofish": 16}


def case_id(c):
    return "%s-%d-%s" % c


def plain_paths(root):
    out = set()
    for top, dirs, files in os.walk(root):
        for n in dirs + files:
            out.add(os.path.relpath(os.path.join(top, n), root))
    return out


def check_offline(plain, lower, pf, mode, tmp_path):
    """decrypt, ls -R and fsck of lower with only the passphrase and mode."""
    keys = ["--passphrase-file", pf] + MODE_ARGS[mode]
    out = tmp_path / "out"
    p = run_ecfs("decrypt", *keys, lower, "-o", str(out), check=False)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    compare_trees(plain, str(out))

    p = run_ecfs("ls", "-R", *keys, lower, check=False)
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    names = {line.split("\t")[2] for line in p.stdout.decode().splitlines()}
    assert names == plain_paths(plain)

    p = run_ecfs("fsck", *keys, lower, check=False)
    assert p.returncode == 0, (p.stdout + p.stderr).decode(errors="replace")
    assert b"does not decrypt" not in p.stdout + p.stderr


def check_mount(mounter, plain, lower, pf, cipher, kb, mode):
    m = mounter(lower=lower, passfile=pf, args=MODE_ARGS[mode],
                opts=["ro", "ecryptfs_cipher=" + cipher, "ecryptfs_key_bytes=%d" % kb])
    compare_trees(plain, m.mnt)


@needs_kernel
@pytest.mark.kernel
@pytest.mark.parametrize("cipher,kb,mode", km.MATRIX, ids=[case_id(c) for c in km.MATRIX])
def test_kernel_tree_offline_and_mount(cipher, kb, mode, tmp_path, mounter):  # noqa: F811
    plain, lower, pf = km.kernel_tree(cipher, kb, mode)
    check_offline(plain, lower, pf, mode, tmp_path)
    check_mount(mounter, plain, lower, pf, cipher, kb, mode)
    if mode != "none" and kb != DEFAULT_KEY_BYTES[cipher]:
        # Without ecryptfs_key_bytes the kernel would list garbage names;
        # the mount refuses and names the option.
        with pytest.raises(MountFailed) as e:
            mounter(lower=lower, passfile=pf, args=MODE_ARGS[mode],
                    opts=["ro", "ecryptfs_cipher=" + cipher])
        assert "ecryptfs_key_bytes=%d" % kb in e.value.err


@pytest.mark.parametrize("cipher,kb", km.CIPHER_SIZES, ids=["%s-%d" % c for c in km.CIPHER_SIZES])
@pytest.mark.parametrize("mode", km.MODES)
def test_ecfs_tree_offline_and_mount(cipher, kb, mode, tmp_path, passfile, mounter):  # noqa: F811
    plain, lower = tmp_path / "plain", tmp_path / "lower"
    km.make_plain(str(plain))
    run_ecfs("encrypt", *km.key_args(passfile, cipher, kb, mode), str(plain), "-o", str(lower))
    check_offline(str(plain), str(lower), passfile, mode, tmp_path)
    check_mount(mounter, str(plain), str(lower), passfile, cipher, kb, mode)


# The kernel reads what ecfs wrote: test_kernel_oracle.py covers every
# cipher with a separate FNEK; these add FNEK = content key and no FNEK at
# the key sizes that used to fail.  Three boots.
ECFS_TO_KERNEL = [("blowfish", 56, "same"), ("des3_ede", 24, "same"), ("cast6", 32, "none")]


@needs_kernel
@pytest.mark.kernel
@pytest.mark.parametrize("cipher,kb,mode", ECFS_TO_KERNEL, ids=[case_id(c) for c in ECFS_TO_KERNEL])
def test_kernel_reads_ecfs_tree(cipher, kb, mode, tmp_path, passfile):
    plain, lower = tmp_path / "plain", tmp_path / "lower"
    km.make_plain(str(plain))
    run_ecfs("encrypt", *km.key_args(passfile, cipher, kb, mode), str(plain), "-o", str(lower))
    p = km.kernel("read", str(lower), *km.key_args(passfile, cipher, kb, mode),
                  "--expect", str(plain), "--strict")
    assert p.returncode == 0, p.stdout.decode(errors="replace")[-3000:]


def test_mount_names_wrong_key_size(tmp_path, passfile, mounter):  # noqa: F811
    """blowfish-56 names, mounted without ecryptfs_key_bytes=56: the kernel
    would list garbage; the mount refuses and names the option."""
    plain, lower = tmp_path / "plain", tmp_path / "lower"
    km.make_plain(str(plain))
    run_ecfs("encrypt", *km.key_args(passfile, "blowfish", 56, "fnek"), str(plain),
             "-o", str(lower))
    with pytest.raises(MountFailed) as e:
        mounter(lower=str(lower), passfile=passfile, args=["--fnek"],
                opts=["ro", "ecryptfs_cipher=blowfish"])
    assert "ecryptfs_key_bytes=56" in e.value.err


def test_wrong_name_key_is_an_error(tmp_path, passfile):
    """A name that carries our filename key's signature but does not
    decrypt to a valid packet (its first cipher block damaged) fails
    decrypt and ls instead of coming out as garbage."""
    plain, lower = tmp_path / "plain", tmp_path / "lower"
    km.make_plain(str(plain))
    run_ecfs("encrypt", *km.key_args(passfile, "blowfish", 56, "fnek"), str(plain),
             "-o", str(lower))
    # Change the first cipher block of every name (base64 char 16 holds
    # packet bytes 12..14; the ciphertext starts at byte 11): same
    # signature, no valid decryption at any key size.
    for top, dirs, files in os.walk(str(lower), topdown=False):
        for n in dirs + files:
            if n.startswith("ECRYPTFS_FNEK_ENCRYPTED."):
                i = len("ECRYPTFS_FNEK_ENCRYPTED.") + 16
                c = "A" if n[i] != "A" else "B"
                os.rename(os.path.join(top, n), os.path.join(top, n[:i] + c + n[i + 1:]))
    p = run_ecfs("decrypt", "--passphrase-file", passfile, "--fnek", str(lower),
                 "-o", str(tmp_path / "out"), check=False)
    assert p.returncode != 0
    assert b"does not decrypt" in p.stderr
    p = run_ecfs("ls", "--passphrase-file", passfile, "--fnek", str(lower), check=False)
    assert p.returncode != 0


if __name__ == "__main__":
    subprocess.run(["python3", "-m", "pytest", "-q", __file__])


B64 = "-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def tag70_cipher_code(lower_name):
    """The cipher code byte of an encrypted name's Tag 70 packet (spec
    §7.2: tag, 1-byte length, 8-byte signature, code)."""
    bits = "".join(format(B64.index(c), "06b")
                   for c in lower_name[len("ECRYPTFS_FNEK_ENCRYPTED."):])
    return int(bits[80:88], 2)


def test_fn_cipher_options_in_every_offline_command(tmp_path, passfile):
    """--fn-cipher/--fn-key-bytes: names in blowfish-56, content in aes-256
    (the kernel's ecryptfs_fn_cipher/ecryptfs_fn_key_bytes).  encrypt
    writes them; decrypt, ls and fsck read them with the options and, the
    packet naming the cipher, without."""
    plain, lower = tmp_path / "plain", tmp_path / "lower"
    km.make_plain(str(plain))
    opts = ["--cipher", "aes", "--key-bytes", "32", "--fn-cipher", "blowfish",
            "--fn-key-bytes", "56"]
    run_ecfs("encrypt", "--passphrase-file", passfile, "--fnek", *opts, str(plain),
             "-o", str(lower))
    for n in os.listdir(lower):
        assert tag70_cipher_code(n) == 0x04         # blowfish
        if os.path.isfile(lower / n):
            info = run_ecfs("info", str(lower / n)).stdout.decode()
            assert "cipher aes (code 0x09, 32-byte key)" in info
    for extra in (opts, []):
        out = tmp_path / ("out%d" % len(extra))
        p = run_ecfs("decrypt", "--passphrase-file", passfile, "--fnek", *extra, str(lower),
                     "-o", str(out), check=False)
        assert p.returncode == 0, p.stderr.decode()
        compare_trees(str(plain), str(out))
        p = run_ecfs("fsck", "--passphrase-file", passfile, "--fnek", *extra, str(lower),
                     check=False)
        assert p.returncode == 0, (p.stdout + p.stderr).decode()
    p = run_ecfs("ls", "--cipher", "rot13", str(lower), check=False)
    assert p.returncode == 2 and b"unknown cipher 'rot13'" in p.stderr
    if km.have_tool():
        p = km.kernel("read", str(lower), "--passphrase-file", passfile, "--fnek",
                      "--cipher", "aes", "--key-bytes", "32", "--mount-options",
                      "ecryptfs_fn_cipher=blowfish,ecryptfs_fn_key_bytes=56",
                      "--expect", str(plain), "--strict")
        assert p.returncode == 0, p.stdout.decode(errors="replace")[-3000:]
