"""The real kernel reads what several keys and the cipher policy made
(issue 10): files with two passphrase packets and a Tag 1 (RSA + escrow)
packet, written through `ecfs mount` with a policy choosing AES-256,
Blowfish and AES-128 by name, read by the kernel's eCryptfs with EACH
passphrase alone (the kernel skips the Tag 1 packets: no daemon).  Also a
key file used as the kernel's passphrase, and a re-keyed tree.
One boot per read; KERNEL_ECRYPTFS_ACCEL=tcg (KVM hangs on this host)."""
import os
import subprocess

import pytest

from conftest import KERNEL_TOOL, run_ecfs
from fuse_helpers import mounter  # noqa: F401
from keys_helpers import packets, pwfile, rsa_pair, sig_of

pytestmark = pytest.mark.kernel


def need_kernel():
    if not os.access(KERNEL_TOOL, os.X_OK):
        pytest.skip("needs ../shared/tools/kernel-ecryptfs (the kernel oracle)")
    if os.geteuid() != 0:
        pytest.skip("kernel-ecryptfs runs as root")


def kernel_read(lower, pw, plain, *opts):
    env = dict(os.environ, KERNEL_ECRYPTFS_ACCEL="tcg")
    r = subprocess.run([KERNEL_TOOL, "read", str(lower), "--passphrase-file", str(pw),
                        *opts, "--expect", str(plain)], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=900)
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 0, "kernel-ecryptfs read: exit %d\n%s" % (r.returncode, out[-6000:])
    assert "expected=match" in out and "errors=0" in out, out[-3000:]


def test_kernel_reads_multikey_tag1_and_policy_files_with_each_passphrase(mounter, tmp_path):
    need_kernel()
    d = str(tmp_path)
    p1, p2 = pwfile(d, "p1", "kernel first"), pwfile(d, "p2", "kernel second")
    _, rsa_pub = rsa_pair(d, "rsa")
    lower = tmp_path / "lower"
    lower.mkdir()
    kd = tmp_path / ".ecfs-lower"
    kd.mkdir()
    (kd / "policy").write_text("*.kdbx aes 32\n*.tgz blowfish 56\n* aes 16\n")
    run_ecfs("keyfile", "create", os.path.join(d, "k1"))
    m = mounter(lower=lower, passfile=p1, args=["--extra-passphrase-file", p2,
                                                "--key-file", os.path.join(d, "k1"),
                                                "--rsa-key", rsa_pub])
    plain = tmp_path / "plain"
    files = {"db.kdbx": os.urandom(20000), "a.tgz": os.urandom(9000),
             "notes.txt": b"several keys\n" * 500, "sub/deep.kdbx": b"x" * 4097}
    for rel, data in files.items():
        for root in (m.mnt, str(plain)):
            p = os.path.join(root, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(data)
    assert not m.stop()
    tags = [t for t, _ in packets(lower / "db.kdbx")]
    assert tags == [3, 3, 3, 1], tags
    for pw in (p1, p2, os.path.join(d, "k1")):
        kernel_read(lower, pw, plain)
    # after revoking p1 the kernel reads the re-keyed tree with p2 only
    run_ecfs("rekey", "--passphrase-file", p2, "--remove",
             sig_of("--passphrase-file", p1)[0], str(lower))
    assert sig_of("--passphrase-file", p1)[0] not in [s for _, s in packets(lower / "a.tgz")]
    kernel_read(lower, p2, plain)
