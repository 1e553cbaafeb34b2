"""Helpers for the keys tests (issue 10): RSA PEM files made with the
openssl CLI, passphrase and key files, header inspection via `ecfs info`,
a throwaway GnuPG home with two keys (fixture gnupg), a software TPM 2.0
listening on 127.0.0.1 only (fixture swtpm, its tss2 TCTI string)."""
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import run_ecfs


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def rsa_pair(d, name, bits=2048, passphrase=None):
    """(private PEM, public PEM[, passphrase file]) under d."""
    priv, pub = os.path.join(d, name + ".pem"), os.path.join(d, name + ".pub.pem")
    if passphrase:
        pw = os.path.join(d, name + ".pw")
        with open(pw, "w") as f:
            f.write(passphrase + "\n")
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:%d" % bits,
                "-aes-256-cbc", "-pass", "file:" + pw, "-out", priv)
        openssl("pkey", "-in", priv, "-passin", "file:" + pw, "-pubout", "-out", pub)
        return priv, pub, pw
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:%d" % bits, "-out", priv)
    openssl("pkey", "-in", priv, "-pubout", "-out", pub)
    return priv, pub


def pwfile(d, name, text):
    p = os.path.join(d, name)
    with open(p, "w") as f:
        f.write(text + "\n")
    return p


def packets(lower_file):
    """[(tag, sig)] from `ecfs info`."""
    out = run_ecfs("info", str(lower_file)).stdout.decode()
    res = []
    for m in re.finditer(r"packet \d+:\s+Tag (\d) \(\w+( key)?\), key (?:signature|id) ([0-9a-f]{16})", out):
        res.append((int(m.group(1)), m.group(3)))
    return res


def info(lower_file):
    return run_ecfs("info", str(lower_file)).stdout.decode()


def sig_of(*key_args):
    """Key signatures / RSA ids printed by `ecfs keyfile id`."""
    out = run_ecfs("keyfile", "id", "--no-keys-dir", *key_args).stdout.decode()
    return re.findall(r"(?:passphrase key|rsa key) ([0-9a-f]{16})", out)


def opens(lower, *key_args, out=None):
    """Recover-style check: decrypt every file of lower with exactly these
    keys (no passphrase prompt: stdin closed); returns {relpath: bytes} or
    raises with ecfs's message."""
    tmp = tempfile.mkdtemp()
    try:
        dest = os.path.join(tmp, "out")
        r = run_ecfs("escrow", "recover", "--no-keys-dir", *key_args, str(lower), dest,
                     check=False, stdin=subprocess.DEVNULL)
        got = {}
        for root, _, files in os.walk(dest):
            for fn in files:
                p = os.path.join(root, fn)
                with open(p, "rb") as f:
                    got[os.path.relpath(p, dest)] = f.read()
        return r.returncode, got, r.stderr.decode()
    finally:
        shutil.rmtree(tmp)


@pytest.fixture
def gnupg():
    if not shutil.which("gpg"):
        pytest.skip("needs gpg (Debian package gnupg)")
    home = tempfile.mkdtemp(prefix="g", dir="/tmp")   # agent sockets need short paths
    os.chmod(home, 0o700)
    env = dict(os.environ, GNUPGHOME=home)
    for uid in ("ecfs one <one@ecfs.test>", "ecfs two <two@ecfs.test>"):
        subprocess.run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key", uid,
                        "default", "default", "never"], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    old = os.environ.get("GNUPGHOME")
    os.environ["GNUPGHOME"] = home
    yield home
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=env)
    if old is None:
        del os.environ["GNUPGHOME"]
    else:
        os.environ["GNUPGHOME"] = old
    shutil.rmtree(home, ignore_errors=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


@pytest.fixture
def swtpm(tmp_path):
    if not shutil.which("swtpm"):
        pytest.skip("needs swtpm (Debian packages swtpm, swtpm-tools)")
    state = tmp_path / "tpmstate"
    state.mkdir()
    for _ in range(5):
        port = free_port()
        ctrl = port + 1   # the tss2 swtpm TCTI expects the control port next
        proc = subprocess.Popen(["swtpm", "socket", "--tpm2", "--tpmstate", "dir=%s" % state,
                                 "--server", "type=tcp,port=%d,bindaddr=127.0.0.1" % port,
                                 "--ctrl", "type=tcp,port=%d,bindaddr=127.0.0.1" % ctrl,
                                 "--flags", "not-need-init,startup-clear"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None:
                    break
                time.sleep(0.05)
        if proc.poll() is None:
            break
    else:
        pytest.fail("swtpm did not start")
    yield "swtpm:host=127.0.0.1,port=%d" % port
    proc.terminate()
    proc.wait(timeout=10)
