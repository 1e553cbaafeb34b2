"""ecfs recover on the Ubuntu/Mint layouts users bring, built from the
kernel-written corpus case e-private-wrapped (ecryptfs-setup-private style:
AES-128, ecryptfs-utils FNEK, wrapped-passphrase v2 and v1, Private.sig):

  9.10+ home   /home/.ecryptfs/USER/{.Private,.ecryptfs}, found from the disk root
  ~/Private    ~/.Private + ~/.ecryptfs
  9.04 home    /home/USER/.Private + /var/lib/ecryptfs/USER
  wrong FNEK line in Private.sig, wrong secrets, the mount passphrase itself

Each recovery runs non-interactively (stdin is not a terminal), mounts
read-only and must show exactly the corpus's plaintext tree."""
import os
import shutil

import pytest

from conftest import run_ecfs
from legacy_helpers import corpus_home, mounted_at, mounts, tree, write_secret  # noqa: F401


def ubuntu_disk(tmp_path, user="alice", layout="910"):
    """A moved disk: root/ with a home in the given layout."""
    lower, conf, plain, m = corpus_home(tmp_path / "src")
    root = tmp_path / "disk"
    if layout == "910":
        base = root / "home" / ".ecryptfs" / user
        os.makedirs(base)
        shutil.move(lower, base / ".Private")
        shutil.move(conf, base / ".ecryptfs")
        os.makedirs(root / "home" / user)
        os.symlink("/home/.ecryptfs/%s/.ecryptfs" % user, root / "home" / user / ".ecryptfs")
        os.symlink("/home/.ecryptfs/%s/.Private" % user, root / "home" / user / ".Private")
    elif layout == "904":
        os.makedirs(root / "home" / user)
        os.makedirs(root / "var" / "lib" / "ecryptfs")
        shutil.move(lower, root / "home" / user / ".Private")
        shutil.move(conf, root / "var" / "lib" / "ecryptfs" / user)
        os.symlink("/var/lib/ecryptfs/%s" % user, root / "home" / user / ".ecryptfs")
    elif layout == "private":
        home = root / "home" / user
        os.makedirs(home)
        shutil.move(lower, home / ".Private")
        shutil.move(conf, home / ".ecryptfs")
    login = write_secret(tmp_path / "login", m["wrapped_passphrase"]["login_password"])
    mp = write_secret(tmp_path / "mountpass", m["wrapped_passphrase"]["mount_passphrase"])
    return root, plain, login, mp


def recover(tmp_path, mounts, *args, check=True):  # noqa: F811
    mnt = mounts.add(tmp_path / "mnt")
    p = run_ecfs("recover", "--mountpoint", mnt, *args, check=check, stdin=open(os.devnull))
    return p, mnt


@pytest.mark.parametrize("layout", ["910", "private", "904"])
def test_recover_from_disk_root_with_login_password(layout, tmp_path, mounts):  # noqa: F811
    root, plain, login, _ = ubuntu_disk(tmp_path, layout=layout)
    p, mnt = recover(tmp_path, mounts, "--login-password-file", login, str(root))
    out = p.stdout.decode()
    assert "Key check passed" in out and "read-only" in out
    assert mounted_at(p.stdout) == mnt
    assert tree(mnt) == tree(plain)
    if layout == "904":
        assert "9.04" in out and "var/lib/ecryptfs/alice" in out
    with pytest.raises(OSError):
        open(os.path.join(mnt, "new.txt"), "w")


def test_recover_home_dir_given_directly(tmp_path, mounts):  # noqa: F811
    root, plain, login, _ = ubuntu_disk(tmp_path)
    p, mnt = recover(tmp_path, mounts, "--login-password-file", login,
                     str(root / "home" / ".ecryptfs" / "alice"))
    assert tree(mnt) == tree(plain)


def test_recover_with_mount_passphrase_and_no_config(tmp_path, mounts):  # noqa: F811
    # Only .Private was copied: the 32-hex mount passphrase is the way in.
    root, plain, _, mp = ubuntu_disk(tmp_path)
    lone = tmp_path / "lone" / ".Private"
    shutil.copytree(root / "home" / ".ecryptfs" / "alice" / ".Private", lone)
    p, mnt = recover(tmp_path, mounts, "--passphrase-file", mp, str(lone))
    assert tree(mnt) == tree(plain)


def test_recover_reads_v1_wrapped_passphrase(tmp_path, mounts):  # noqa: F811
    root, plain, login, _ = ubuntu_disk(tmp_path)
    conf = root / "home" / ".ecryptfs" / "alice" / ".ecryptfs"
    os.replace(conf / "wrapped-passphrase-v1", conf / "wrapped-passphrase")
    p, mnt = recover(tmp_path, mounts, "--login-password-file", login, str(root))
    assert tree(mnt) == tree(plain)


def test_wrong_fnek_line_in_private_sig_is_reported_and_the_names_decide(tmp_path, mounts):  # noqa: F811
    root, plain, login, _ = ubuntu_disk(tmp_path)
    sig = root / "home" / ".ecryptfs" / "alice" / ".ecryptfs" / "Private.sig"
    lines = sig.read_text().split()
    sig.write_text(lines[0] + "\n" + "0123456789abcdef\n")
    p, mnt = recover(tmp_path, mounts, "--login-password-file", login, str(root))
    err = p.stderr.decode()
    assert "line 2 (filename key sig 0123456789abcdef) does not match the names" in err
    assert lines[1] in err
    assert tree(mnt) == tree(plain)


def test_wrong_login_password_says_which_secret(tmp_path, mounts):  # noqa: F811
    root, _, _, _ = ubuntu_disk(tmp_path)
    bad = write_secret(tmp_path / "bad", "not my password")
    p, mnt = recover(tmp_path, mounts, "--login-password-file", bad, str(root), check=False)
    assert p.returncode == 1
    err = p.stderr.decode()
    assert "wrapped-passphrase" in err and "wrong login password" in err
    assert "mount passphrase" in err
    assert not os.path.ismount(mnt)


def test_login_password_given_as_mount_passphrase_names_the_key(tmp_path, mounts):  # noqa: F811
    root, _, login, _ = ubuntu_disk(tmp_path)
    p, mnt = recover(tmp_path, mounts, "--passphrase-file", login, str(root), check=False)
    assert p.returncode == 1
    err = p.stderr.decode()
    assert "wrong key" in err and "41969f3a42c59455" in err
    assert "--login-password-file" in err


def test_login_password_without_wrapped_file_explains(tmp_path, mounts):  # noqa: F811
    root, _, login, _ = ubuntu_disk(tmp_path)
    os.unlink(root / "home" / ".ecryptfs" / "alice" / ".ecryptfs" / "wrapped-passphrase")
    p, _ = recover(tmp_path, mounts, "--login-password-file", login, str(root), check=False)
    assert p.returncode == 1
    assert b"no wrapped-passphrase file" in p.stderr and b"--passphrase-file" in p.stderr


def test_several_homes_need_a_choice_without_terminal(tmp_path, mounts):  # noqa: F811
    root, plain, login, _ = ubuntu_disk(tmp_path)
    shutil.copytree(root / "home" / ".ecryptfs" / "alice", root / "home" / ".ecryptfs" / "bob",
                    symlinks=True)
    p, _ = recover(tmp_path, mounts, "--login-password-file", login, str(root), check=False)
    assert p.returncode == 1 and b"found 2 eCryptfs directories" in p.stderr
    p, mnt = recover(tmp_path, mounts, "--yes", "--login-password-file", login, str(root))
    assert tree(mnt) == tree(plain)


def test_check_only_and_rw(tmp_path, mounts):  # noqa: F811
    root, plain, login, _ = ubuntu_disk(tmp_path)
    p = run_ecfs("recover", "--check", "--login-password-file", login, str(root))
    assert b"Key check passed" in p.stdout and b"Success" not in p.stdout
    p, mnt = recover(tmp_path, mounts, "--rw", "--login-password-file", login, str(root))
    assert b"read-write" in p.stdout
    with open(os.path.join(mnt, "Documents", "new.txt"), "w") as f:
        f.write("written after recovery\n")
    assert open(os.path.join(mnt, "Documents", "new.txt")).read() == "written after recovery\n"


def test_nothing_found_says_what_to_give(tmp_path):
    p = run_ecfs("recover", "--yes", str(tmp_path), check=False)
    assert p.returncode == 1 and b"no eCryptfs directory found" in p.stderr


def test_recover_help():
    p = run_ecfs("recover", "--help")
    assert b"--login-password-file" in p.stdout and b"--passphrase-file" in p.stdout
    assert run_ecfs("recover", "--bogus", check=False).returncode == 2
