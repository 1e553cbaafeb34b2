"""Several keys per file on real mounts (issue 10): passphrases, key files
and RSA keys each open a file alone; revocation by `ecfs rekey --remove`;
escrow recovery with only the escrow private key; per-file cipher policy;
`ecfs fsck`-style escrow reporting; an interrupted rekey, killed at random
points many times, leaves every file openable by the old or the new key."""
import os
import random
import signal
import subprocess
import time

import pytest

from conftest import ECFS, run_ecfs
from fuse_helpers import mounter  # noqa: F401
from keys_helpers import info, opens, packets, pwfile, rsa_pair, sig_of


@pytest.fixture
def keys(tmp_path):
    d = str(tmp_path)
    k = {"p1": pwfile(d, "p1", "first passphrase"), "p2": pwfile(d, "p2", "second passphrase")}
    k["rsa"], k["rsa_pub"] = rsa_pair(d, "rsa")
    k["esc"], k["esc_pub"], k["esc_pw"] = rsa_pair(d, "escrow", passphrase="escrow pw")
    run_ecfs("keyfile", "create", os.path.join(d, "k1"))
    k["k1"] = os.path.join(d, "k1")
    return k


FILES = {"a.txt": b"alpha\n", "sub/b.bin": os.urandom(10000), "big": os.urandom(70000)}


def fill(mnt):
    for rel, data in FILES.items():
        p = os.path.join(mnt, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)


def test_every_key_alone_opens_files_made_with_all(mounter, tmp_path, keys):
    m = mounter(passfile=keys["p1"], args=["--extra-passphrase-file", keys["p2"],
                                           "--key-file", keys["k1"], "--rsa-key", keys["rsa_pub"]])
    fill(m.mnt)
    assert not m.stop()
    pk = packets(os.path.join(m.lower, "a.txt"))
    assert [t for t, _ in pk] == [3, 3, 3, 1]
    assert pk[3][1] == sig_of("--rsa-key", keys["rsa_pub"])[0]
    for alone in (["--passphrase-file", keys["p1"]], ["--passphrase-file", keys["p2"]],
                  ["--key-file", keys["k1"]], ["--rsa-key", keys["rsa"]]):
        rc, got, err = opens(m.lower, *alone)
        assert rc == 0, (alone, err)
        assert got == FILES, alone
    # ... and through a mount with only the private RSA key (no passphrase)
    m2 = mounter(lower=m.lower, passfile=False, args=["--rsa-key", keys["rsa"]], opts=["ro"])
    with open(os.path.join(m2.mnt, "big"), "rb") as f:
        assert f.read() == FILES["big"]
    # a public key alone wraps but cannot open
    rc, got, err = opens(m.lower, "--rsa-key", keys["rsa_pub"])
    assert rc != 0 and not got


def test_rsa_private_key_needs_its_passphrase(tmp_path, keys):
    lower = tmp_path / "lower"
    lower.mkdir()
    r = run_ecfs("keyfile", "id", "--rsa-key", keys["esc"], check=False, stdin=subprocess.DEVNULL)
    assert r.returncode == 1 and b"passphrase" in r.stderr
    bad = pwfile(str(tmp_path), "bad", "wrong")
    r = run_ecfs("keyfile", "id", "--rsa-key", keys["esc"], "--rsa-passphrase-file", bad, check=False)
    assert r.returncode == 1 and b"wrong passphrase" in r.stderr
    r = run_ecfs("keyfile", "id", "--rsa-key", keys["esc"], "--rsa-passphrase-extpass",
                 "cat " + keys["esc_pw"])
    assert b"private" in r.stdout


def test_revoked_key_no_longer_opens_rekeyed_or_new_files(mounter, tmp_path, keys):
    m = mounter(passfile=keys["p1"], args=["--extra-passphrase-file", keys["p2"],
                                           "--rsa-key", keys["rsa_pub"]])
    fill(m.mnt)
    assert not m.stop()
    p2sig = sig_of("--passphrase-file", keys["p2"])[0]
    rsasig = sig_of("--rsa-key", keys["rsa_pub"])[0]
    dry = run_ecfs("rekey", "--passphrase-file", keys["p1"], "--remove", p2sig, "--remove",
                   rsasig, "--dry-run", m.lower).stdout.decode()
    assert "3 files would change" in dry
    assert opens(m.lower, "--passphrase-file", keys["p2"])[0] == 0  # dry run wrote nothing
    run_ecfs("rekey", "--passphrase-file", keys["p1"], "--remove", p2sig, "--remove", rsasig,
             "--progress", m.lower)
    for rel in FILES:
        assert packets(os.path.join(m.lower, rel)) == [(3, sig_of("--passphrase-file", keys["p1"])[0])]
    rc, got, _ = opens(m.lower, "--passphrase-file", keys["p2"])
    assert rc != 0 and not got
    rc, got, _ = opens(m.lower, "--rsa-key", keys["rsa"])
    assert rc != 0 and not got
    assert opens(m.lower, "--passphrase-file", keys["p1"])[1] == FILES
    # new files of a mount without the revoked keys do not carry them
    m2 = mounter(lower=m.lower, passfile=keys["p1"])
    with open(os.path.join(m2.mnt, "new"), "wb") as f:
        f.write(b"after revocation")
    assert not m2.stop()
    assert [s for _, s in packets(os.path.join(m.lower, "new"))] == sig_of("--passphrase-file", keys["p1"])
    # removing the last key is refused
    r = run_ecfs("rekey", "--passphrase-file", keys["p1"], "--remove",
                 sig_of("--passphrase-file", keys["p1"])[0], m.lower, check=False)
    assert r.returncode == 1 and b"unreadable" in r.stderr
    # add back a key file and an RSA key: each opens alone again
    run_ecfs("rekey", "--passphrase-file", keys["p1"], "--add-key-file", keys["k1"],
             "--add-rsa", keys["rsa_pub"], m.lower)
    assert opens(m.lower, "--key-file", keys["k1"])[1]["a.txt"] == FILES["a.txt"]
    assert opens(m.lower, "--rsa-key", keys["rsa"])[1]["new"] == b"after revocation"


def test_escrow_recovery_with_only_the_escrow_key(mounter, tmp_path, keys):
    lower = tmp_path / "lower"
    lower.mkdir()
    out = run_ecfs("escrow", "setup", "--escrow-key", keys["esc_pub"], str(lower)).stdout.decode()
    kd = tmp_path / ".ecfs-lower"
    assert (kd / "escrow.pem").exists() and not os.listdir(lower)
    esc_id = sig_of("--rsa-key", keys["esc_pub"])[0]
    assert esc_id in out
    r = run_ecfs("escrow", "setup", "--escrow-key", keys["rsa"], str(lower), check=False)
    assert r.returncode == 1 and b"PUBLIC" in r.stderr
    m = mounter(lower=lower, passfile=keys["p1"])
    fill(m.mnt)
    assert not m.stop()
    assert not [n for n in os.listdir(lower) if n.startswith(".ecfs")]
    for rel in FILES:
        assert (1, esc_id) in packets(lower / rel)
    dest = tmp_path / "recovered"
    r = run_ecfs("escrow", "recover", "--rsa-key", keys["esc"], "--rsa-passphrase-file",
                 keys["esc_pw"], str(lower), str(dest), stdin=subprocess.DEVNULL)
    assert b"3 files recovered" in r.stdout
    for rel, data in FILES.items():
        assert (dest / rel).read_bytes() == data


def test_fsck_reports_and_adds_missing_escrow(mounter, tmp_path, keys):
    m = mounter(passfile=keys["p1"])
    fill(m.mnt)
    assert not m.stop()
    run_ecfs("escrow", "setup", "--escrow-key", keys["esc_pub"], m.lower)
    r = run_ecfs("fsck", "--passphrase-file", keys["p1"], m.lower, check=False)
    assert b"no escrow" in r.stdout + r.stderr
    run_ecfs("fsck", "--passphrase-file", keys["p1"], "--add-escrow", m.lower, check=False)
    r = run_ecfs("fsck", "--passphrase-file", keys["p1"], m.lower, check=False)
    assert b"no escrow" not in r.stdout + r.stderr
    rc, got, _ = opens(m.lower, "--rsa-key", keys["esc"], "--rsa-passphrase-file", keys["esc_pw"])
    assert rc == 0 and got == FILES


def test_policy_picks_cipher_per_pattern(mounter, tmp_path, keys):
    lower = tmp_path / "lower"
    lower.mkdir()
    kd = tmp_path / ".ecfs-lower"
    kd.mkdir()
    (kd / "policy").write_text("# keepass gets AES-256\n*.kdbx aes 32\n*.tar.* blowfish 56\n"
                               "notes-* twofish 32\n* aes 16\n")
    m = mounter(lower=lower, passfile=keys["p1"])
    want = {"db.kdbx": "aes (code 0x09, 32-byte key)", "x.tar.gz": "blowfish (code 0x04, 56-byte key)",
            "notes-1": "twofish (code 0x0a, 32-byte key)", "plain.txt": "aes (code 0x07, 16-byte key)"}
    for n in want:
        with open(os.path.join(m.mnt, n), "wb") as f:
            f.write(n.encode() * 1000)
    assert not m.stop()
    for n, c in want.items():
        assert "cipher " + c in info(lower / n), n
    got = opens(lower, "--passphrase-file", keys["p1"])[1]
    assert got == {n: n.encode() * 1000 for n in want}
    # a policy the kernel could not read is refused at mount time
    (kd / "policy").write_text("* twofish 24\n")
    with pytest.raises(Exception):
        mounter(lower=lower, passfile=keys["p1"])


def test_interrupted_rekey_leaves_every_file_openable(tmp_path, mounter, keys):
    """Replace key p1 by key p2 (one header write per file) and SIGKILL the
    run at random points, 25 times; after each kill every file opens with p1
    or with p2 and decrypts to its data; a last full run finishes the job."""
    m = mounter(passfile=keys["p1"])
    data = {}
    for i in range(150):
        rel = "d%d/f%03d" % (i % 5, i)
        data[rel] = os.urandom(random.randint(0, 9000))
        p = os.path.join(m.mnt, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data[rel])
    assert not m.stop()
    s1 = sig_of("--passphrase-file", keys["p1"])[0]
    s2 = sig_of("--passphrase-file", keys["p2"])[0]
    rng = random.Random(10)
    for it in range(25):
        fwd = it % 2 == 0   # p1 -> p2, then back
        have, new, rm = (keys["p1"], keys["p2"], s1) if fwd else (keys["p2"], keys["p1"], s2)
        # files already moved open with the new key: give both to open
        proc = subprocess.Popen([ECFS, "rekey", "--passphrase-file", have,
                                 "--extra-passphrase-file", new, "--add-passphrase-file", new,
                                 "--remove", rm, m.lower],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.01, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        a = opens(m.lower, "--passphrase-file", keys["p1"])[1]
        b = opens(m.lower, "--passphrase-file", keys["p2"])[1]
        assert set(a) | set(b) == set(data), "iteration %d: a file opens with neither key" % it
        for rel in data:
            assert a.get(rel, b.get(rel)) == data[rel]
            assert b.get(rel, a.get(rel)) == data[rel]
    run_ecfs("rekey", "--passphrase-file", keys["p1"], "--extra-passphrase-file", keys["p2"],
             "--add-passphrase-file", keys["p2"], "--remove", s1, m.lower)
    assert opens(m.lower, "--passphrase-file", keys["p2"])[1] == data
    assert opens(m.lower, "--passphrase-file", keys["p1"])[1] == {}
