# SPDX-License-Identifier: MIT
"""The file backend's shared mapping: pages blkd has read or written before
are copied through a MAP_SHARED mapping, and a SIGBUS from that mapping
(file cut short under the server, filesystem full) must end as the same
answer pread/pwrite would give, never as a dead server.

Each case runs with the mapping (default) and with --no-mmap, and both
must give the same bytes and errors.  The server must exit 0 with nothing
from the sanitizers in its log.
"""
import errno
import hashlib
import os
import subprocess

import pytest

from conftest import make_image, nbdsh, need

MODES = [pytest.param([], id="mmap"), pytest.param(["--no-mmap"], id="no-mmap")]
MiB = 1 << 20


def assert_clean_exit(s):
    rc = s.stop()
    with open(s.errlog) as f:
        log = f.read()
    assert rc == 0, log
    assert "runtime error" not in log and "Sanitizer" not in log, log


@pytest.mark.parametrize("args", MODES)
def test_rewrites_and_rereads_see_the_latest_bytes(blkd, tmp_path, args):
    img = make_image(tmp_path / "disk.img", 8 * MiB, b"\x11" * 4096)
    s = blkd(tmp_path, [img], *args)
    # Pages are written several times (the later ones hit the mapping),
    # across page boundaries, with reads and flushes between the writes.
    out = nbdsh(s.uri(), """
import random
rng = random.Random(7)
model = bytearray(b'\\x11' * (8 << 20))
for i in range(600):
    off = rng.randrange(0, (8 << 20) - 20000)
    n = rng.choice([512, 4096, 5000, 16384])
    data = bytes([rng.randrange(256)]) * n
    h.pwrite(data, off)
    model[off:off + n] = data
    if i % 50 == 0:
        h.flush()       # a new epoch: the next writes go through pwrite first
    if i % 7 == 0:
        roff = rng.randrange(0, (8 << 20) - 8192)
        assert h.pread(8192, roff) == bytes(model[roff:roff + 8192]), roff
h.flush()
assert h.pread(8 << 20, 0) == bytes(model)
import hashlib
print(hashlib.sha256(model).hexdigest())
""")
    assert_clean_exit(s)
    with open(img, "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == out.stdout.strip()


@pytest.mark.parametrize("args", MODES)
def test_file_cut_short_under_the_server(blkd, tmp_path, args):
    img = make_image(tmp_path / "disk.img", 4 * MiB, b"\x22" * 4096)
    s = blkd(tmp_path, [img], *args)
    # Make the pages at 2 and 3 MiB known to the server (read and written).
    nbdsh(s.uri(), """
h.pwrite(b'\\xaa' * 4096, 2 << 20)
h.pwrite(b'\\xab' * 4096, 2 << 20)
assert h.pread(4096, 3 << 20) == b'\\x22' * 4096
assert h.pread(4096, 3 << 20) == b'\\x22' * 4096
assert h.pread(4096, 2 << 20) == b'\\xab' * 4096
""")
    os.truncate(img, 1 * MiB)
    # Past the new end of file: reads are zeroes, writes extend the file.
    nbdsh(s.uri(), """
assert h.pread(4096, 3 << 20) == bytes(4096)
assert h.pread(4096, 2 << 20) == bytes(4096)
h.pwrite(b'\\xbb' * 4096, 2 << 20)
h.pwrite(b'\\xbc' * 4096, 2 << 20)
assert h.pread(4096, 2 << 20) == b'\\xbc' * 4096
assert h.pread(4096, 0) == b'\\x22' * 4096
""")
    assert_clean_exit(s)
    assert os.path.getsize(img) == 2 * MiB + 4096
    with open(img, "rb") as f:
        f.seek(2 * MiB)
        assert f.read(4096) == b"\xbc" * 4096
        f.seek(1 * MiB)
        assert f.read(4096) == bytes(4096)


@pytest.mark.parametrize("args", MODES)
def test_full_filesystem_is_an_enospc_reply(blkd, tmp_path, args):
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs")
    need("nbdsh")
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "outboard-blkd", str(mnt)],
                   check=True)
    try:
        img = make_image(mnt / "disk.img", 16 * MiB)	# sparse: no pages yet
        s = blkd(tmp_path, [img], *args)
        # Read the hole first, so the mapping knows the page, then fill
        # the filesystem: the write must come back as ENOSPC.
        nbdsh(s.uri(), """
assert h.pread(4096, 8 << 20) == bytes(4096)
""")
        with open(mnt / "filler", "wb") as f:
            try:
                while True:
                    f.write(b"\xff" * 65536)
                    f.flush()
            except OSError as e:
                assert e.errno == errno.ENOSPC
        out = nbdsh(s.uri(), """
import nbd
try:
    h.pwrite(b'\\xcc' * 4096, 8 << 20)
    print('written')
except nbd.Error as e:
    print("errno", e.errno)
assert h.pread(4096, 0) == bytes(4096)
""")
        assert out.stdout.strip() == "errno ENOSPC", out.stdout
        os.unlink(mnt / "filler")
        nbdsh(s.uri(), """
h.pwrite(b'\\xcd' * 4096, 8 << 20)
h.pwrite(b'\\xce' * 4096, 8 << 20)
assert h.pread(4096, 8 << 20) == b'\\xce' * 4096
""")
        assert_clean_exit(s)
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)

