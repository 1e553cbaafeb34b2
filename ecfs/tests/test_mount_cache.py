"""The probe cache: sizes and kinds of forgotten files come back right after
the kernel drops its caches (the inodes are forgotten and looked up again),
including files changed through the mount in between."""
import os

import pytest

from fuse_helpers import Mount


def drop_caches():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("2\n")


@pytest.mark.skipif(os.geteuid() != 0, reason="drop_caches needs root")
def test_sizes_survive_forget_and_follow_changes(tmp_path, passfile, ecfs_bin):
    lower, mnt = tmp_path / "lower", tmp_path / "mnt"
    lower.mkdir()
    mnt.mkdir()
    m = Mount(lower, mnt, args=["--passphrase-file", passfile])
    m.start()
    try:
        model = {}
        for i in range(60):
            model["f%02d" % i] = bytes([i]) * (i * 1237 % 20000)
            (mnt / ("f%02d" % i)).write_bytes(model["f%02d" % i])
        for round_ in range(3):
            drop_caches()
            for name, data in model.items():
                assert os.stat(mnt / name).st_size == len(data), (round_, name)
                if int(name[1:]) % 7 == round_:
                    assert (mnt / name).read_bytes() == data, (round_, name)
            # Change a third of them through the mount before the next round.
            for name in list(model)[round_::3]:
                with open(mnt / name, "ab") as f:
                    f.write(b"z" * 5000)
                model[name] += b"z" * 5000
            os.truncate(mnt / "f01", 3)
            model["f01"] = model["f01"][:3]
    finally:
        m.stop()
