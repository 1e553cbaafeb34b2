# SPDX-License-Identifier: MIT
"""One client's bad request stays its own (issue 22 item 3).

Invalid requests are refused before they reach the queue and are never
counted as lost writes; a write error is reported to the next FLUSH of the
connection that wrote, not to another client's."""
import errno

from conftest import make_image, nbdsh
from nbd_raw import (CMD_FLUSH, CMD_READ, CMD_TRIM, CMD_WRITE_ZEROES, handshake_go,
                     raw_connect, send_request, simple_reply)

MB = 1 << 20


def test_flush_after_another_clients_zero_length_trim_succeeds(blkd, tmp_path):
    img = make_image(tmp_path / "disk.img", 8 * MB)
    s = blkd(tmp_path, [img])
    bad = raw_connect(s.sock)
    size, flags = handshake_go(bad)
    assert flags & (1 << 5) and flags & (1 << 2)    # SEND_TRIM, SEND_FLUSH
    send_request(bad, CMD_TRIM, 0, 0, cookie=1)
    assert simple_reply(bad) == (errno.EINVAL, 1)
    send_request(bad, CMD_WRITE_ZEROES, 4096, 0, cookie=2)
    assert simple_reply(bad) == (errno.EINVAL, 2)
    # the other client, a real one: its write and flush succeed
    p = nbdsh(s.uri(), "h.pwrite(b'x' * 4096, 0)\nh.flush()\nprint('ok')", check=False)
    assert p.returncode == 0 and "ok" in p.stdout, p.stderr
    # and the bad client's own flush too: nothing it sent was a lost write
    send_request(bad, CMD_FLUSH, cookie=3)
    assert simple_reply(bad) == (0, 3)
    stats = s.stats()
    assert stats["exports"][0]["stats"]["errors"] == 0, stats


def test_requests_beyond_the_end_are_refused_before_the_queue(blkd, tmp_path):
    img = make_image(tmp_path / "disk.img", 1 * MB)
    s = blkd(tmp_path, [img])
    c = raw_connect(s.sock)
    handshake_go(c)
    send_request(c, CMD_TRIM, MB - 4096, 8192, cookie=1)
    assert simple_reply(c) == (errno.EINVAL, 1)
    send_request(c, CMD_READ, MB, 4096, cookie=2)
    assert simple_reply(c) == (errno.EINVAL, 2)
    send_request(c, CMD_FLUSH, cookie=3)
    assert simple_reply(c) == (0, 3)
    assert s.stats()["exports"][0]["stats"]["errors"] == 0
