"""Key files wrapped to GnuPG keys (GPGME, gpg-agent) and sealed by a TPM
2.0 (tss2-esys against swtpm), on real mounts (issue 10).  Each makes a
key file that is a passphrase-equivalent: the mount opens files with the
GPG/TPM key alone, and the unwrapped key is the kernel's passphrase.
GPG runs in a throwaway GNUPGHOME; swtpm listens on 127.0.0.1 only."""
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import run_ecfs
from fuse_helpers import mounter  # noqa: F401
from keys_helpers import gnupg, opens, packets, pwfile, sig_of, swtpm  # noqa: F401


def write_files(mnt, files):
    for rel, data in files.items():
        with open(os.path.join(mnt, rel), "wb") as f:
            f.write(data)


def test_gpg_wrapped_key_file_opens_alone_and_feeds_the_kernel(mounter, tmp_path, gnupg):
    d = str(tmp_path)
    kg = os.path.join(d, "k.gpg")
    run_ecfs("keyfile", "create", "--gpg-recipient", "one@ecfs.test",
             "--gpg-recipient", "two@ecfs.test", kg)
    with open(kg, "rb") as f:
        assert f.read().startswith(b"-----BEGIN PGP MESSAGE-----")
    p1 = pwfile(d, "p1", "gpg test passphrase")
    m = mounter(passfile=p1, args=["--gpg-key", kg])
    files = {"a": b"gpg" * 3000, "b": b""}
    write_files(m.mnt, files)
    assert not m.stop()
    gsig = sig_of("--gpg-key", kg)[0]
    assert (3, gsig) in packets(os.path.join(m.lower, "a"))
    assert opens(m.lower, "--gpg-key", kg)[1] == files
    # the unwrapped key is a passphrase: 64 hex digits, the kernel's maximum
    key = run_ecfs("keyfile", "unwrap", "--gpg-key", kg).stdout.strip()
    assert len(key) == 64 and all(c in b"0123456789abcdef" for c in key)
    kf = os.path.join(d, "plain.key")
    with open(kf, "wb") as f:
        f.write(key + b"\n")
    assert opens(m.lower, "--passphrase-file", kf)[1] == files
    # a mount with only the GPG key (no passphrase)
    m2 = mounter(lower=m.lower, passfile=False, args=["--gpg-key", kg], opts=["ro"])
    with open(os.path.join(m2.mnt, "a"), "rb") as f:
        assert f.read() == files["a"]
    # without the secret key gpg-agent cannot unwrap it
    subprocess.run(["gpgconf", "--kill", "gpg-agent"])
    empty = tempfile.mkdtemp(prefix="e", dir="/tmp")
    try:
        r = run_ecfs("keyfile", "unwrap", "--gpg-key", kg, check=False,
                     env=dict(os.environ, GNUPGHOME=empty))
        assert r.returncode == 1
    finally:
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=dict(os.environ, GNUPGHOME=empty))
        shutil.rmtree(empty, ignore_errors=True)


def test_tpm_sealed_key_file_opens_alone(mounter, tmp_path, swtpm):
    d = str(tmp_path)
    kt = os.path.join(d, "k.tpm")
    run_ecfs("keyfile", "create", "--tpm", "--tpm-tcti", swtpm, kt)
    with open(kt, "rb") as f:
        assert f.read(8) == b"ECFSTPM1"
    m = mounter(passfile=False, args=["--tpm-key", kt, "--tpm-tcti", swtpm])
    files = {"t": os.urandom(12345)}
    write_files(m.mnt, files)
    assert not m.stop()
    assert [t for t, _ in packets(os.path.join(m.lower, "t"))] == [3]
    assert opens(m.lower, "--tpm-key", kt, "--tpm-tcti", swtpm)[1] == files
    # wrap an existing key file into the TPM too: same key, same signature
    run_ecfs("keyfile", "create", os.path.join(d, "k1"))
    run_ecfs("keyfile", "wrap", "--tpm", "--tpm-tcti", swtpm, os.path.join(d, "k1"),
             os.path.join(d, "k1.tpm"))
    assert sig_of("--key-file", os.path.join(d, "k1")) == \
        sig_of("--tpm-key", os.path.join(d, "k1.tpm"), "--tpm-tcti", swtpm)


def test_tpm_pcr_policy_refuses_after_pcr_change(tmp_path, swtpm):
    if not shutil.which("tpm2_pcrextend"):
        pytest.skip("needs tpm2-tools")
    kt = str(tmp_path / "k.tpm")
    run_ecfs("keyfile", "create", "--tpm", "--pcrs", "16", "--tpm-tcti", swtpm, kt)
    before = run_ecfs("keyfile", "unwrap", "--tpm-key", kt, "--tpm-tcti", swtpm).stdout
    assert len(before.strip()) == 64
    tcti = swtpm.replace("host=127.0.0.1,", "host=127.0.0.1,")
    subprocess.run(["tpm2_pcrextend", "-T", tcti, "16:sha256=" + "11" * 32], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    r = run_ecfs("keyfile", "unwrap", "--tpm-key", kt, "--tpm-tcti", swtpm, check=False)
    assert r.returncode == 1 and b"PCR" in r.stderr


def test_tpm_blob_from_another_tpm_is_refused(tmp_path, swtpm):
    kt = tmp_path / "k.tpm"
    run_ecfs("keyfile", "create", "--tpm", "--tpm-tcti", swtpm, str(kt))
    blob = bytearray(kt.read_bytes())
    blob[-5] ^= 0xff   # a damaged private part: the TPM refuses to load it
    kt.write_bytes(bytes(blob))
    r = run_ecfs("keyfile", "unwrap", "--tpm-key", str(kt), "--tpm-tcti", swtpm, check=False)
    assert r.returncode == 1
