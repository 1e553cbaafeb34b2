"""Kernel-written lower trees for the cipher x filename-key matrix, cached.

Each tree costs one boot of the kernel oracle (~15 s under TCG), so the
trees are written once and kept under $OB_TEST_CACHE (default
/var/tmp/ecfs-test-cache), one directory per (cipher, key bytes, filename
key mode) and version of the plaintext below.  A file lock keeps two test
processes from booting guests for the same tree, and only one guest runs at
a time from here.  `python3 kernel_matrix.py` fills the cache ahead of a
test run.

Modes: "none" (names in clear), "fnek" (ecryptfs-add-passphrase --fnek: a
second key, ASCII salt), "same" (ecryptfs_fnek_sig = the content key).
"""
import fcntl
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import KERNEL_TOOL  # noqa: E402

VERSION = "v1"
CACHE = os.path.join(os.environ.get("OB_TEST_CACHE", "/var/tmp/ecfs-test-cache"),
                     "kernel-matrix-" + VERSION)
PASSPHRASE = "matrix passphrase 1"
MODES = ("none", "fnek", "same")

# Every cipher the kernel takes, at each key size it can write files with
# (blowfish takes 4..56; 16, 32 and 56 cover the default, a middle and the
# largest, which was the one that failed).  A 24-byte key of a 16-byte
# block cipher is only wrapped by the kernel for aes (padded to 32 bytes),
# so twofish and cast6 files exist with 16 and 32 only.
CIPHER_SIZES = [("aes", 16), ("aes", 24), ("aes", 32),
                ("blowfish", 16), ("blowfish", 32), ("blowfish", 56),
                ("des3_ede", 24), ("cast5", 16),
                ("cast6", 16), ("cast6", 32),
                ("twofish", 16), ("twofish", 32)]

# The full cross product would be 36 guest boots (9 minutes and more).  Every
# cipher/size is written with a separate FNEK; FNEK = content key (the same
# code path with another token) for each cipher once, at its largest or
# non-default size; names in clear for the ciphers whose key size is not
# the default, where only the content key size matters.
MATRIX = [(c, k, "fnek") for c, k in CIPHER_SIZES] + \
    [(c, k, "same") for c, k in (("aes", 24), ("blowfish", 32), ("blowfish", 56),
                                  ("des3_ede", 24), ("cast5", 16), ("cast6", 32),
                                  ("twofish", 32))] + \
    [(c, k, "none") for c, k in (("blowfish", 56), ("des3_ede", 24), ("cast6", 32))]

# Plaintext names: short, one with spaces and UTF-8, and the longest the
# kernel takes with filename encryption (143 bytes).
LONG = "L" * 143
FILES = {
    "hello.txt": b"hello from the kernel\n",
    "empty": b"",
    "sub/nested file \u00e9t\u00e9.txt": b"x" * 5000,
    "sub/" + LONG: b"long name\n",
}


def make_plain(root):
    """The plaintext tree every matrix case holds."""
    for rel, data in FILES.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    os.symlink("sub/" + LONG, os.path.join(root, "link"))


def key_args(passfile, cipher, kb, mode):
    """Options for both kernel-ecryptfs and ecfs (same spelling)."""
    args = ["--passphrase-file", passfile, "--cipher", cipher, "--key-bytes", str(kb)]
    if mode == "fnek":
        args.append("--fnek")
    elif mode == "same":
        args.append("--fnek-same-key")
    return args


def have_tool():
    return os.access(KERNEL_TOOL, os.X_OK)


def kernel(*args, timeout=1800):
    """Run the oracle, one guest at a time across test processes."""
    env = dict(os.environ)
    env.setdefault("KERNEL_ECRYPTFS_ACCEL", "tcg")
    os.makedirs(CACHE, exist_ok=True)
    with open(os.path.join(CACHE, "guest.lock"), "w") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        return subprocess.run([KERNEL_TOOL, *args], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=timeout, env=env)


def passphrase_file():
    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, "passphrase")
    if not os.path.exists(path):
        with open(path + ".tmp", "w") as f:
            f.write(PASSPHRASE)
        os.rename(path + ".tmp", path)
    return path


def kernel_tree(cipher, kb, mode):
    """(plain dir, kernel-written lower dir, passphrase file), writing the
    tree with the kernel on first use."""
    pf = passphrase_file()
    case = os.path.join(CACHE, "%s-%d-%s" % (cipher, kb, mode))
    plain, lower = os.path.join(case, "plain"), os.path.join(case, "lower")
    if os.path.exists(os.path.join(case, "done")):
        return plain, lower, pf
    with open(os.path.join(CACHE, "lock"), "w") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)		# one writer per cache
        if not os.path.exists(os.path.join(case, "done")):
            shutil.rmtree(case, ignore_errors=True)
            os.makedirs(case)
            make_plain(plain)
            p = kernel("write", plain, lower, *key_args(pf, cipher, kb, mode))
            if p.returncode != 0:
                shutil.rmtree(case, ignore_errors=True)
                raise RuntimeError("kernel-ecryptfs write %s-%d-%s: %s" % (
                    cipher, kb, mode, p.stdout.decode(errors="replace")[-2000:]))
            open(os.path.join(case, "done"), "w").close()
    return plain, lower, pf


if __name__ == "__main__":
    for c, k, m in MATRIX:
        print("%s-%d-%s" % (c, k, m), flush=True)
        kernel_tree(c, k, m)
