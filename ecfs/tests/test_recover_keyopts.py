"""ecfs recover takes the mount's key options with the mount's meaning
(issue 20 item 5) and makes its keys once, for the check and the mount
alike (issue 18 item 1):

  --key-file with an ecfs key file (64 hex digits), --gpg-key, --tpm-key,
  --rsa-key
  a Synology .key given to --key-file is still unwrapped (by its content)
  a key file on a pipe and a --key-extpass command are read exactly once:
  the keys recover checked are the keys the mount serves with

Each recovery runs non-interactively and must show exactly the plaintext."""
import os
import subprocess

import pytest

from conftest import run_ecfs
from keys_helpers import gnupg, rsa_pair, swtpm  # noqa: F401
from legacy_helpers import (make_plain, mounted_at, mounts, syno_share, syno_v2_key,  # noqa: F401
                            tree, write_secret)


def keyfile(tmp_path, *args):
    k = str(tmp_path / "k.key")
    run_ecfs("keyfile", "create", *args, k)
    return k


def encrypted(tmp_path, *key_args, name="lower"):
    """(plain, lower): a small tree encrypted with key_args."""
    plain, lower = str(tmp_path / "plain"), str(tmp_path / name)
    make_plain(plain)
    os.makedirs(os.path.dirname(lower), exist_ok=True)
    run_ecfs("encrypt", "--no-keys-dir", *key_args, plain, "-o", lower)
    return plain, lower


def recover(tmp_path, mounts, *args, **kw):  # noqa: F811
    mnt = mounts.add(tmp_path / "mnt")
    p = run_ecfs("recover", "--mountpoint", mnt, *args, check=False,
                 stdin=subprocess.DEVNULL, **kw)
    assert p.returncode == 0, (p.stdout + p.stderr).decode()
    assert b"Key check passed" in p.stdout
    assert mounted_at(p.stdout) == mnt
    return p, mnt


def test_recover_with_an_ecfs_key_file(tmp_path, mounts):  # noqa: F811
    k = keyfile(tmp_path)
    with open(k) as f:
        assert len(f.read()) == 65      # 64 hex digits and a newline
    plain, lower = encrypted(tmp_path, "--key-file", k, "--fnek")
    _, mnt = recover(tmp_path, mounts, "--key-file", k, lower)
    assert tree(mnt) == tree(plain)


def test_recover_with_a_gpg_wrapped_key_file(tmp_path, mounts, gnupg):  # noqa: F811
    k = keyfile(tmp_path, "--gpg-recipient", "one@ecfs.test")
    plain, lower = encrypted(tmp_path, "--gpg-key", k, "--fnek")
    _, mnt = recover(tmp_path, mounts, "--gpg-key", k, lower)
    assert tree(mnt) == tree(plain)


def test_recover_with_a_tpm_sealed_key_file(tmp_path, mounts, swtpm):  # noqa: F811
    k = str(tmp_path / "k.tpm")
    run_ecfs("keyfile", "create", "--tpm", "--tpm-tcti", swtpm, k)
    plain, lower = encrypted(tmp_path, "--tpm-key", k, "--tpm-tcti", swtpm, "--fnek")
    _, mnt = recover(tmp_path, mounts, "--tpm-key", k, "--tpm-tcti", swtpm, lower)
    assert tree(mnt) == tree(plain)


def test_recover_with_an_rsa_key_alone(tmp_path, mounts):  # noqa: F811
    """Files wrapped to a passphrase and an RSA key (plain names) open with
    the RSA private key alone: the files' Tag 1 key id is checked."""
    priv, _ = rsa_pair(str(tmp_path), "rsa")
    pw = write_secret(tmp_path / "pw", "a passphrase nobody remembers")
    plain, lower = encrypted(tmp_path, "--passphrase-file", pw, "--rsa-key", priv,
                             name="disk/.Private")
    p, mnt = recover(tmp_path, mounts, "--rsa-key", priv, lower)
    assert b"RSA key" in p.stdout
    assert tree(mnt) == tree(plain)


def test_recover_takes_a_synology_key_given_to_key_file(tmp_path, mounts):  # noqa: F811
    plain, share = syno_share(tmp_path, "@Projects@")
    k = syno_v2_key(tmp_path)
    p, mnt = recover(tmp_path, mounts, "--key-file", str(k), str(share))
    assert b"Using the share password from" in p.stdout
    assert tree(mnt) == tree(str(plain))


def test_recover_reads_a_key_file_on_a_pipe_once(tmp_path, mounts):  # noqa: F811
    """--key-file /dev/fd/N on a pipe holding the key once: a second read
    finds the pipe empty.  recover's check and the mount must share the
    keys made from that one read (issue 18: one derivation, one reading of
    each secret)."""
    k = keyfile(tmp_path)
    plain, lower = encrypted(tmp_path, "--key-file", k, "--fnek")
    with open(k, "rb") as f:
        key = f.read()
    r, w = os.pipe()
    os.write(w, key)
    os.close(w)
    try:
        _, mnt = recover(tmp_path, mounts, "--key-file", "/dev/fd/%d" % r, lower,
                         pass_fds=(r,))
    finally:
        os.close(r)
    assert tree(mnt) == tree(plain)


def test_recover_runs_a_key_extpass_command_once(tmp_path, mounts):  # noqa: F811
    k = keyfile(tmp_path)
    plain, lower = encrypted(tmp_path, "--key-file", k, "--fnek")
    runs = tmp_path / "runs"
    cmd = "echo run >> '%s'; cat '%s'" % (runs, k)
    _, mnt = recover(tmp_path, mounts, "--key-extpass", cmd, lower)
    assert tree(mnt) == tree(plain)
    assert runs.read_text() == "run\n"


def test_recover_with_a_wrong_key_file_names_the_keys(tmp_path, mounts):  # noqa: F811
    plain, lower = encrypted(tmp_path, "--key-file", keyfile(tmp_path), "--fnek")
    other = tmp_path / "other"
    other.mkdir()
    wrong = keyfile(other)
    mnt = mounts.add(tmp_path / "mnt")
    p = run_ecfs("recover", "--key-file", wrong, "--mountpoint", mnt, lower, check=False,
                 stdin=subprocess.DEVNULL)
    assert p.returncode == 1
    assert b"wrong key" in p.stderr and not os.path.ismount(mnt)


@pytest.mark.parametrize("opt", ["--key-file", "--key-extpass", "--gpg-key", "--tpm-key",
                                 "--rsa-key", "--key-sig", "--extra-passphrase-file",
                                 "--fnek-passphrase-file", "--passphrase-file", "--salt"])
def test_recover_help_lists_the_mount_key_options(opt):
    assert opt.encode() in run_ecfs("recover", "--help").stdout
