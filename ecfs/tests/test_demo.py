"""The README's first command ends in ecfs/examples/demo.sh: it must work."""
import os
import subprocess

from conftest import BUILD, ROOT


def test_demo_mounts_shows_and_round_trips(ecfs_bin):
    demo = os.path.join(ROOT, "ecfs", "examples", "demo.sh")
    p = subprocess.run([demo, os.path.relpath(BUILD, ROOT)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=120)
    out = p.stdout.decode(errors="replace")
    assert p.returncode == 0, out
    assert "Meet at the harbour at 6." in out          # read through the mount
    assert "ECRYPTFS_FNEK_ENCRYPTED." in out            # encrypted names below
    assert "0000016 03 00 00 0a 00 00 10 00 00 02 8c" in out   # the kernel's header
    assert "identical: ecfs round trip OK" in out
