# SPDX-License-Identifier: MIT
"""Raw NBD over a socket, for tests that must send what no real client
would (bad magics, zero-length trims, floods of unread replies)."""
import socket
import struct

NBDMAGIC = 0x4e42444d41474943
IHAVEOPT = 0x49484156454F5054
REQUEST_MAGIC = 0x25609513
SIMPLE_REPLY_MAGIC = 0x67446698
CMD_READ, CMD_WRITE, CMD_DISC, CMD_FLUSH, CMD_TRIM = 0, 1, 2, 3, 4
CMD_WRITE_ZEROES = 6


def raw_connect(sock):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(sock)
    return s


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError
        b += c
    return b


def handshake_go(s, name=b""):
    """Fixed newstyle, NBD_OPT_GO, simple replies.  Returns (size, flags)
    from NBD_INFO_EXPORT."""
    magic, opt, flags = struct.unpack(">QQH", recv_exact(s, 18))
    assert magic == NBDMAGIC and opt == IHAVEOPT and flags & 1
    s.sendall(struct.pack(">I", 3))                 # fixed newstyle, no zeroes
    data = struct.pack(">I", len(name)) + name + struct.pack(">H", 0)
    s.sendall(struct.pack(">QII", IHAVEOPT, 7, len(data)) + data)
    info = (0, 0)
    while True:
        _, opt, rtype, ln = struct.unpack(">QIII", recv_exact(s, 20))
        body = recv_exact(s, ln)
        if rtype == 1:
            return info
        assert rtype == 3, hex(rtype)
        if struct.unpack(">H", body[:2])[0] == 0:
            info = struct.unpack(">QH", body[2:12])


def send_request(s, cmd, offset=0, length=0, cookie=1, flags=0, payload=b""):
    s.sendall(struct.pack(">IHHQQI", REQUEST_MAGIC, flags, cmd, cookie, offset, length) + payload)


def simple_reply(s):
    """(error, cookie) of the next simple reply; read data is not taken."""
    magic, err, cookie = struct.unpack(">IIQ", recv_exact(s, 16))
    assert magic == SIMPLE_REPLY_MAGIC, hex(magic)
    return err, cookie


def closed(s):
    try:
        while True:
            if not s.recv(4096):
                return True
    except (ConnectionResetError, socket.timeout):
        return False
