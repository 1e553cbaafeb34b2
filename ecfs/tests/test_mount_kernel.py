"""Round trips with the real kernel: trees created and modified through
`ecfs mount`, then read by the kernel's eCryptfs (../shared/tools/
kernel-ecryptfs read --expect PLAIN, exit 0 = every entry, size, sha256,
mode and link target as expected, no kernel errors).

One kernel boot (~11 s) per configuration, so configurations are batched:
content ciphers do not need a boot each (the kernel takes the cipher from
each file's header), names do (the kernel decrypts them with the mount's
name cipher).  19 boots, about 4 minutes:
  - names off: one tree with a subdirectory per cipher and key size;
  - names on (ecryptfs-setup-private FNEK), per cipher: content and names
    in that cipher;
  - xattr metadata, names with the content key (--fnek-same-key), mixed
    content ciphers;
  - every corpus case, modified through the mount.
Marked "kernel"; skipped when the oracle is absent (-m "not kernel" skips
them anyway).
"""
import os
import shutil
import subprocess

import pytest

from conftest import CORPUS, KERNEL_TOOL, corpus_cases, materialize_case, need_corpus
from fuse_helpers import build_tree, corpus_mount_args, modify_tree, mounter  # noqa: F401
from test_mount_corpus import modify_case

pytestmark = pytest.mark.kernel

CIPHERS = [("aes", 16), ("aes", 24), ("aes", 32), ("blowfish", 16), ("blowfish", 56),
           ("des3_ede", 24), ("cast5", 16), ("cast6", 16), ("cast6", 32),
           ("twofish", 16), ("twofish", 32)]


def need_kernel():
    if not os.access(KERNEL_TOOL, os.X_OK):
        pytest.skip("needs ../shared/tools/kernel-ecryptfs (the kernel oracle)")
    if os.geteuid() != 0:
        pytest.skip("kernel-ecryptfs runs as root")


def kernel_read(lower, pw, plain, *opts):
    r = subprocess.run([KERNEL_TOOL, "read", str(lower), "--passphrase-file", str(pw),
                        *opts, "--expect", str(plain)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=900)
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 0, "kernel-ecryptfs read %s: exit %d\n%s" % (
        " ".join(opts), r.returncode, out[-6000:])
    assert "expected=match" in out and "errors=0" in out, out[-3000:]


def make_both(mnt_root, plain_root, sub=""):
    for root in (mnt_root, plain_root):
        d = os.path.join(root, sub)
        os.makedirs(d, exist_ok=True)
        build_tree(d)
        modify_tree(d)


def test_kernel_reads_every_content_cipher_names_off(mounter, tmp_path):
    need_kernel()
    plain = tmp_path / "plain"
    os.makedirs(plain)
    for cipher, kb in CIPHERS:
        m = mounter(opts=["ecryptfs_cipher=%s" % cipher, "ecryptfs_key_bytes=%d" % kb])
        make_both(m.mnt, plain, "%s-%d" % (cipher, kb))
        assert not m.stop()
    kernel_read(m.lower, tmp_path / "pw", plain, "--cipher", "aes", "--key-bytes", "16")


@pytest.mark.parametrize("cipher,kb", CIPHERS, ids=["%s-%d" % c for c in CIPHERS])
def test_kernel_reads_names_and_content_of_each_cipher(mounter, tmp_path, cipher, kb):
    need_kernel()
    plain = tmp_path / "plain"
    m = mounter(args=["--fnek"], opts=["ecryptfs_cipher=%s" % cipher, "ecryptfs_key_bytes=%d" % kb])
    make_both(m.mnt, plain)
    assert not m.stop()
    assert all(n.startswith("ECRYPTFS_FNEK_ENCRYPTED.") for n in os.listdir(m.lower))
    kernel_read(m.lower, tmp_path / "pw", plain, "--fnek", "--cipher", cipher,
                "--key-bytes", str(kb))


def test_kernel_reads_xattr_metadata_tree(mounter, tmp_path):
    need_kernel()
    plain = tmp_path / "plain"
    os.makedirs(plain)
    for cipher, kb in [("aes", 16), ("aes", 32), ("blowfish", 56), ("twofish", 32)]:
        m = mounter(args=["--fnek-same-key"],
                    opts=["ecryptfs_xattr_metadata", "ecryptfs_cipher=%s" % cipher,
                          "ecryptfs_key_bytes=%d" % kb, "ecryptfs_fn_cipher=aes",
                          "ecryptfs_fn_key_bytes=16"])
        make_both(m.mnt, plain, "%s-%d" % (cipher, kb))
        assert not m.stop()
    kernel_read(m.lower, tmp_path / "pw", plain, "--fnek-same-key", "--xattr-metadata",
                "--cipher", "aes", "--key-bytes", "16")


@pytest.mark.parametrize("case", corpus_cases() or ["(no corpus)"])
def test_kernel_reads_corpus_case_modified_through_the_mount(mounter, tmp_path, case):
    need_kernel()
    need_corpus()
    lower, pw, manifest = materialize_case(os.path.join(CORPUS, case), tmp_path)
    args, opts, kargs = corpus_mount_args(manifest, tmp_path)
    m = mounter(lower=lower, passfile=pw, args=args, opts=opts)
    plain = modify_case(m, tmp_path)
    assert not m.stop()
    kernel_read(lower, pw, plain, *kargs)
    shutil.rmtree(plain)
