"""The README's four rescues, command for command.  Each command below is
the README's text with its example paths (/mnt/old, /backup, /mnt/nas,
~/rescued) pointed into the test's tmp dir; stdin is never a terminal, so
the non-interactive forms the README gives are the ones that run."""
import os
import shlex
import shutil
import subprocess

from conftest import ECFS
from legacy_helpers import (SYNO_KEY_HEX, SYNO_PASS, corpus_home, kernel_write, make_plain,
                            mounted_at, mounts, need_kernel, tree, write_secret)  # noqa: F401

RESCUE_1 = [
    "ecfs recover --login-password-file login.txt /mnt/old",
    "cp -a $MNT/. ~/rescued/",
    "ecfs umount $MNT",
    "ecfs unwrap-passphrase --login-password-file login.txt "
    "/mnt/old/home/.ecryptfs/alice/.ecryptfs/wrapped-passphrase",
]
RESCUE_2 = [
    "ecfs recover --passphrase-file mount-passphrase.txt /backup/.Private",
    "ecfs umount $MNT",
]
RESCUE_3 = [
    "ecfs unwrap-passphrase /mnt/nas/Projects.key",
    "ecfs recover --key-file /mnt/nas/Projects.key /mnt/nas/volume1/@Projects@",
    "ecfs umount $MNT",
    "ecfs fsck --passphrase-file share-password.txt /mnt/nas/volume1/@Projects@",
]
RESCUE_4 = [
    "ecfs recover --key-file /backup/private.key /backup/.Private",
    "ecfs umount $MNT",
]


def run(cmd, tmp_path, state):
    words = []
    for w in shlex.split(cmd):
        w = w.replace("$MNT", state.get("mnt", "$MNT"))
        w = w.replace("/mnt/old", str(tmp_path / "old")).replace("/backup", str(tmp_path / "backup"))
        w = w.replace("/mnt/nas", str(tmp_path / "nas")).replace("~/rescued", str(tmp_path / "rescued"))
        words.append(w)
    if words[0] == "ecfs":
        words[0] = ECFS
    # recover's default mount point is made in $TMPDIR: keep it in the test
    env = dict(os.environ, TMPDIR=str(tmp_path))
    p = subprocess.run(words, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(tmp_path),
                       stdin=subprocess.DEVNULL, env=env, timeout=120)
    assert p.returncode == 0, (cmd, p.stderr.decode())
    if words[0] == ECFS and words[1] == "recover":
        state["mnt"] = mounted_at(p.stdout)
        state["mounts"].add(state["mnt"])
    return p


def test_rescue_1_moved_ubuntu_disk_with_login_password(tmp_path, mounts):  # noqa: F811
    lower, conf, plain, m = corpus_home(tmp_path / "src")
    base = tmp_path / "old" / "home" / ".ecryptfs" / "alice"
    os.makedirs(base)
    shutil.move(lower, base / ".Private")
    shutil.move(conf, base / ".ecryptfs")
    write_secret(tmp_path / "login.txt", m["wrapped_passphrase"]["login_password"])
    os.makedirs(tmp_path / "rescued")
    state = {"mounts": mounts}
    outs = [run(c, tmp_path, state) for c in RESCUE_1]
    assert tree(tmp_path / "rescued") == tree(plain)
    assert outs[-1].stdout.strip().decode() == m["wrapped_passphrase"]["mount_passphrase"]


def test_rescue_2_only_private_and_mount_passphrase(tmp_path, mounts):  # noqa: F811
    lower, _, plain, m = corpus_home(tmp_path / "src")
    os.makedirs(tmp_path / "backup")
    shutil.move(lower, tmp_path / "backup" / ".Private")
    write_secret(tmp_path / "mount-passphrase.txt", m["wrapped_passphrase"]["mount_passphrase"])
    state = {"mounts": mounts}
    run(RESCUE_2[0], tmp_path, state)
    assert tree(state["mnt"]) == tree(plain)
    run(RESCUE_2[1], tmp_path, state)


def test_rescue_3_synology_share_with_key_file(tmp_path, mounts):  # noqa: F811
    need_kernel()
    plain = tmp_path / "plain"
    make_plain(str(plain))
    pw = write_secret(tmp_path / "share-password.txt", SYNO_PASS)
    kernel_write(plain, tmp_path / "nas" / "volume1" / "@Projects@", "--passphrase-file", pw,
                 "--fnek-same-key", "--key-bytes", "32")
    (tmp_path / "nas" / "Projects.key").write_bytes(bytes.fromhex(SYNO_KEY_HEX))
    state = {"mounts": mounts}
    out = run(RESCUE_3[0], tmp_path, state)
    assert out.stdout == SYNO_PASS.encode() + b"\n"
    run(RESCUE_3[1], tmp_path, state)
    assert tree(state["mnt"]) == tree(plain)
    run(RESCUE_3[2], tmp_path, state)
    assert b"no problems" in run(RESCUE_3[3], tmp_path, state).stdout


def test_rescue_4_data_written_with_an_ecfs_key_file(tmp_path, mounts):  # noqa: F811
    plain, backup = tmp_path / "plain", tmp_path / "backup"
    make_plain(str(plain))
    os.makedirs(backup)
    key = str(backup / "private.key")
    subprocess.run([ECFS, "keyfile", "create", key], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([ECFS, "encrypt", "--no-keys-dir", "--key-file", key, "--fnek", str(plain),
                    "-o", str(backup / ".Private")], check=True, stdout=subprocess.DEVNULL)
    state = {"mounts": mounts}
    run(RESCUE_4[0], tmp_path, state)
    assert tree(state["mnt"]) == tree(plain)
    run(RESCUE_4[1], tmp_path, state)
