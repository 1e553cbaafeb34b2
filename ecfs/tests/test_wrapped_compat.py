"""Wrapped-passphrase files are byte-compatible with ecryptfs-utils' own
tools: ecfs unwraps what ecryptfs-wrap-passphrase writes, ecryptfs-unwrap-
passphrase unwraps what ecfs writes, and ecfs reads the kernel corpus's v1
and v2 files."""
import os
import shutil
import subprocess

import pytest

from conftest import CORPUS, run_ecfs

WRAP = shutil.which("ecryptfs-wrap-passphrase")
UNWRAP = shutil.which("ecryptfs-unwrap-passphrase")
utils = pytest.mark.skipif(not (WRAP and UNWRAP), reason="needs ecryptfs-utils")

MOUNT_PASSES = ["5f3a9c1e7b2d4860a1c3e5f7092b4d6e", "x", "sixteen-bytes-ab",
                "a" * 64, "with spaces and ünïcode"]


@utils
@pytest.mark.parametrize("mount_pass", MOUNT_PASSES)
def test_ecfs_unwraps_ecryptfs_utils_file(mount_pass, tmp_path, ecfs_bin):
    wp = tmp_path / "wrapped-passphrase"
    subprocess.run([WRAP, str(wp), "-"], input=("%s\nlogin pw" % mount_pass).encode(),
                   check=True, stdout=subprocess.DEVNULL)
    assert wp.read_bytes()[:2] == b":\x02"
    login = tmp_path / "login"
    login.write_text("login pw")
    out = run_ecfs("unwrap", "--passphrase-file", str(login), str(wp)).stdout
    assert out == mount_pass.encode() + b"\n"


@utils
@pytest.mark.parametrize("mount_pass", MOUNT_PASSES)
def test_ecryptfs_utils_unwraps_ecfs_file(mount_pass, tmp_path, ecfs_bin):
    wp, mp, login = tmp_path / "wp", tmp_path / "mp", tmp_path / "login"
    mp.write_text(mount_pass)
    login.write_text("login pw")
    run_ecfs("wrap", "--mount-passphrase-file", str(mp), "--passphrase-file", str(login), str(wp))
    assert oct(os.stat(wp).st_mode & 0o777) == "0o600"
    data = wp.read_bytes()
    assert data[:2] == b":\x02" and len(data) == 26 + 16 * ((len(mount_pass.encode()) + 15) // 16)
    out = subprocess.run([UNWRAP, str(wp), "-"], input=b"login pw", stdout=subprocess.PIPE,
                         check=True).stdout
    assert out.strip(b"\n") == mount_pass.encode()


def test_wrong_login_password_is_refused(tmp_path, ecfs_bin):
    wp, mp, login, bad = (tmp_path / n for n in ("wp", "mp", "login", "bad"))
    mp.write_text("secret mount passphrase")
    login.write_text("right")
    bad.write_text("wrong")
    run_ecfs("wrap", "--mount-passphrase-file", str(mp), "--passphrase-file", str(login), str(wp))
    p = run_ecfs("unwrap", "--passphrase-file", str(bad), str(wp), check=False)
    assert p.returncode == 1 and p.stdout == b""
    assert str(wp).encode() in p.stderr


def test_corpus_wrapped_files_v1_and_v2(tmp_path, ecfs_bin):
    d = os.path.join(CORPUS, "e-private-wrapped", "dot-ecryptfs")
    if not os.path.isdir(d):
        pytest.skip("needs ../shared/corpus")
    import json
    m = json.load(open(os.path.join(CORPUS, "e-private-wrapped", "manifest.json")))
    login = tmp_path / "login"
    login.write_text(m["wrapped_passphrase"]["login_password"])
    for name in ("wrapped-passphrase", "wrapped-passphrase-v1"):
        out = run_ecfs("unwrap", "--passphrase-file", str(login), os.path.join(d, name)).stdout
        assert out == m["wrapped_passphrase"]["mount_passphrase"].encode() + b"\n", name
