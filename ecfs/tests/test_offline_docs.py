"""Bash completion and man page for what issue 20 item 9 found missing:
the escrow and keyfile subcommands, fsck --add-escrow, and the cipher
policy syntax."""
import os
import shutil
import subprocess

import pytest

from conftest import ROOT

COMPLETION = os.path.join(ROOT, "ecfs", "completion", "ecfs.bash")
MAN = os.path.join(ROOT, "ecfs", "man", "ecfs.1")


def complete(*words):
    """COMPREPLY for `ecfs WORDS...` with the cursor on the last word."""
    script = ('source "$1"; shift; COMP_WORDS=(ecfs "$@"); COMP_CWORD=$#; _ecfs; '
              'printf "%s\\n" "${COMPREPLY[@]}"')
    p = subprocess.run(["bash", "-c", script, "x", COMPLETION, *words],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert p.returncode == 0, p.stderr.decode()
    return set(p.stdout.decode().split())


@pytest.mark.parametrize("words,want", [
    (("escrow", ""), {"setup", "recover"}),
    (("keyfile", ""), {"create", "wrap", "unwrap", "id"}),
    (("escrow", "setup", "--"), {"--escrow-key", "--keys-dir"}),
    (("escrow", "recover", "--rsa"), {"--rsa-key", "--rsa-passphrase-file"}),
    (("keyfile", "unwrap", "--"), {"--gpg-key", "--tpm-key", "--key-file"}),
    (("fsck", "--add"), {"--add-escrow"}),
])
def test_completion_offers(words, want):
    assert want <= complete(*words)


def test_man_page_has_add_escrow_and_policy_syntax():
    with open(MAN) as f:
        man = f.read()
    fsck = man[man.index(".BR fsck "):man.index(".BR unwrap\\-passphrase")]
    assert "add\\-escrow" in fsck
    policy = man[man.index(".SH CIPHER POLICY"):]
    assert "PATTERN   CIPHER    [KEY_BYTES]" in policy and "fnmatch(3)" in policy
    if not shutil.which("man"):
        return          # formatting is test_legacy_docs' (skipped there too)
    p = subprocess.run(["man", "--warnings", "-l", MAN], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=dict(os.environ, MANWIDTH="80"), timeout=60)
    assert p.returncode == 0 and not p.stderr.strip(), p.stderr.decode()


@pytest.mark.parametrize("cmd", ["decrypt", "encrypt", "ls", "fsck"])
def test_completion_offers_cipher_options(cmd):
    assert {"--cipher", "--key-bytes", "--fn-cipher", "--fn-key-bytes"} <= complete(cmd, "--")
    assert "blowfish" in complete(cmd, "--fn-cipher", "")
