"""Every name length the kernel accepts, through encrypt, decrypt, ls and
fsck (issue 20 item 2): 1..255 bytes with names in clear, 1..143 with
filename encryption (the kernel's limit: the encrypted name must fit 255
bytes).  The output used to be written under a temporary name longer than
the final one, which failed at 243+ bytes (clear) and 128+ (--fnek).  The
kernel reads the ecfs-written trees back (two boots, skipped without
../shared).
"""
import os

import pytest

from conftest import run_ecfs
import kernel_matrix as km
from test_cli import compare_trees

LIMIT = {"none": 255, "fnek": 143}


def long_names_tree(root, limit):
    """Files of every name length 1..limit, spread over directories so no
    directory is huge; the longest also as a directory and a symlink."""
    for n in range(1, limit + 1):
        d = os.path.join(root, "d%d" % (n // 32))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, ("%d-" % n + "n" * n)[:n]), "w") as f:
            f.write("%d\n" % n)
    os.makedirs(os.path.join(root, "D" * limit))
    os.symlink("d0/1", os.path.join(root, "S" * limit))


@pytest.mark.parametrize("mode", ["none", "fnek"])
def test_every_name_length_both_directions(mode, tmp_path, passfile):
    plain, lower, back = tmp_path / "plain", tmp_path / "lower", tmp_path / "back"
    long_names_tree(str(plain), LIMIT[mode])
    keys = ["--passphrase-file", passfile] + (["--fnek"] if mode == "fnek" else [])
    p = run_ecfs("encrypt", *keys, str(plain), "-o", str(lower), check=False)
    assert p.returncode == 0, p.stderr.decode()[-2000:]
    p = run_ecfs("decrypt", *keys, str(lower), "-o", str(back), check=False)
    assert p.returncode == 0, p.stderr.decode()[-2000:]
    compare_trees(str(plain), str(back))
    p = run_ecfs("ls", "-R", *keys, str(lower), check=False)
    assert p.returncode == 0, p.stderr.decode()[-2000:]
    assert len(p.stdout.splitlines()) == sum(len(d) + len(f) for _, d, f in os.walk(plain))
    p = run_ecfs("fsck", *keys, str(lower), check=False)
    assert p.returncode == 0, (p.stdout + p.stderr).decode()[-2000:]
    if mode == "fnek":
        # One byte more does not fit a lower name: refused, by name.
        (plain / ("x" * 144)).write_text("too long\n")
        p = run_ecfs("encrypt", *keys, str(plain), "-o", str(tmp_path / "l2"), check=False)
        assert p.returncode == 1 and b"144 bytes" in p.stderr


@pytest.mark.kernel
@pytest.mark.skipif(not km.have_tool(), reason="needs ../shared/tools/kernel-ecryptfs")
@pytest.mark.parametrize("mode", ["none", "fnek"])
def test_kernel_reads_every_name_length(mode, tmp_path, passfile):
    plain, lower = tmp_path / "plain", tmp_path / "lower"
    long_names_tree(str(plain), LIMIT[mode])
    keys = ["--passphrase-file", passfile] + (["--fnek"] if mode == "fnek" else [])
    run_ecfs("encrypt", *keys, str(plain), "-o", str(lower))
    p = km.kernel("read", str(lower), *keys, "--expect", str(plain), "--strict")
    assert p.returncode == 0, p.stdout.decode(errors="replace")[-3000:]
