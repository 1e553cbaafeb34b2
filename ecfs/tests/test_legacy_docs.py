"""Every subcommand has --help (exit 0), a section in the man page
ecfs(1), and an entry in the bash completion; the man page formats
without warnings."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT, run_ecfs

MAN = os.path.join(ROOT, "ecfs", "man", "ecfs.1")
COMPLETION = os.path.join(ROOT, "ecfs", "completion", "ecfs.bash")


def subcommands():
    out = run_ecfs("--help").stdout.decode()
    return re.findall(r"^  ([a-z][a-z-]*) ", out, re.M)


def test_every_subcommand_has_help():
    cmds = subcommands()
    assert {"recover", "fsck", "unwrap-passphrase", "add-passphrase", "setup-private"} <= set(cmds)
    for c in cmds:
        p = run_ecfs(c, "--help", check=False)
        # "Usage:" is how ob/opt.h (the shared parser) spells it.
        assert p.returncode == 0 and p.stdout.lower().startswith(b"usage: ecfs " + c.encode()), c


def test_man_page_covers_every_subcommand():
    text = open(MAN).read().replace("\\-", "-")
    for c in subcommands():
        assert re.search(r"^\.(TP\n\.)?BR? %s\b" % re.escape(c), text, re.M) or \
            (".BR %s" % c) in text or (".BR %s " % c) in text, c


@pytest.mark.skipif(not shutil.which("man"), reason="needs man")
def test_man_page_formats_cleanly():
    p = subprocess.run(["man", "--warnings", "-l", MAN], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=dict(os.environ, MANWIDTH="80"))
    assert p.returncode == 0 and p.stderr == b"", p.stderr


def test_completion_knows_every_subcommand():
    text = open(COMPLETION).read()
    for c in subcommands():
        assert re.search(r"\b%s\b" % re.escape(c), text), c
    p = subprocess.run(["bash", "-c", "source %s; COMP_WORDS=(ecfs rec); COMP_CWORD=1; _ecfs; "
                        "echo ${COMPREPLY[@]}" % COMPLETION], stdout=subprocess.PIPE, check=True)
    assert p.stdout.split() == [b"recover"]
    p = subprocess.run(["bash", "-c", "source %s; COMP_WORDS=(ecfs fsck --js); COMP_CWORD=2; "
                        "_ecfs; echo ${COMPREPLY[@]}" % COMPLETION], stdout=subprocess.PIPE,
                       check=True)
    assert p.stdout.split() == [b"--json"]
