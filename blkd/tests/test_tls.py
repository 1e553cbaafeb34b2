# SPDX-License-Identifier: MIT
"""TLS as the NBD ecosystem does it (issue 22 item 1): NBD_OPT_STARTTLS
with X.509 certificates or PSK, --tls on|require, checked with nbdinfo,
nbdcopy and qemu-io.  Certificates and keys are made here with certtool
and psktool (gnutls-bin)."""
import os
import ssl
import struct
import subprocess

import pytest

from conftest import BLKD, make_image, need, run
from nbd_raw import IHAVEOPT, raw_connect, recv_exact
from test_multipath import wait_for

MB = 1 << 20
CA = "cn = blkd test CA\nca\ncert_signing_key\nexpiration_days = 2\n"
SERVER = ("organization = blkd test\ncn = localhost\ndns_name = localhost\n"
          "ip_address = 127.0.0.1\ntls_www_server\nencryption_key\nsigning_key\n"
          "expiration_days = 2\n")
CLIENT = ("organization = blkd test\ncn = client\ntls_www_client\nencryption_key\n"
          "signing_key\nexpiration_days = 2\n")


def certtool(*args):
    run(["certtool"] + list(args))


def make_x509(tmp):
    """tmp/srv: ca-cert, server-cert, server-key; tmp/cli: ca-cert,
    client-cert, client-key (the layout nbdkit, qemu and libnbd read)."""
    need("certtool")
    srv, cli = tmp / "srv", tmp / "cli"
    srv.mkdir()
    cli.mkdir()
    for name, text in (("ca", CA), ("server", SERVER), ("client", CLIENT)):
        (tmp / f"{name}.info").write_text(text)
    certtool("--generate-privkey", "--outfile", str(tmp / "ca-key.pem"))
    certtool("--generate-self-signed", "--load-privkey", str(tmp / "ca-key.pem"),
             "--template", str(tmp / "ca.info"), "--outfile", str(srv / "ca-cert.pem"))
    (cli / "ca-cert.pem").write_bytes((srv / "ca-cert.pem").read_bytes())
    for who, d in (("server", srv), ("client", cli)):
        certtool("--generate-privkey", "--outfile", str(d / f"{who}-key.pem"))
        certtool("--generate-certificate", "--load-ca-certificate", str(srv / "ca-cert.pem"),
                 "--load-ca-privkey", str(tmp / "ca-key.pem"),
                 "--load-privkey", str(d / f"{who}-key.pem"),
                 "--template", str(tmp / f"{who}.info"), "--outfile", str(d / f"{who}-cert.pem"))
    return srv, cli


def make_psk(path, user="alice"):
    need("psktool")
    run(["psktool", "-u", user, "-p", str(path)])
    return str(path)


def x509_uri(s, cli):
    return f"nbds+unix:///?socket={s.sock}&tls-certificates={cli}"


def psk_uri(s, keys, user="alice"):
    return f"nbds+unix://{user}@/?socket={s.sock}&tls-psk-file={keys}"


def round_trip(tmp, uri):
    need("nbdcopy")
    src = tmp / "data.bin"
    src.write_bytes(os.urandom(2 * MB))
    run(["nbdcopy", str(src), uri])
    run(["nbdcopy", uri, str(tmp / "back.bin")])
    assert (tmp / "back.bin").read_bytes()[:2 * MB] == src.read_bytes()


def test_x509_with_nbdinfo_and_nbdcopy_and_plain_clients_refused(blkd, tmp_path):
    need("nbdinfo")
    srv, cli = make_x509(tmp_path)
    s = blkd(tmp_path, ["memory:4M"], "--tls", "require", "--tls-certificates", str(srv))
    assert int(run(["nbdinfo", "--size", x509_uri(s, cli)]).stdout) == 4 * MB
    round_trip(tmp_path, x509_uri(s, cli))
    p = run(["nbdinfo", "--size", s.uri()], check=False)
    assert p.returncode != 0 and "TLS" in p.stderr, p.stderr
    assert s.proc.poll() is None


def test_tls_on_serves_plain_and_tls_clients(blkd, tmp_path):
    need("nbdinfo")
    srv, cli = make_x509(tmp_path)
    s = blkd(tmp_path, ["memory:4M"], "--tls", "on", "--tls-certificates", str(srv))
    assert int(run(["nbdinfo", "--size", x509_uri(s, cli)]).stdout) == 4 * MB
    assert int(run(["nbdinfo", "--size", s.uri()]).stdout) == 4 * MB


def test_client_certificate_verification(blkd, tmp_path):
    need("nbdinfo")
    srv, cli = make_x509(tmp_path)
    s = blkd(tmp_path, ["memory:4M"], "--tls", "require", "--tls-certificates", str(srv),
             "--tls-verify-peer")
    assert int(run(["nbdinfo", "--size", x509_uri(s, cli)]).stdout) == 4 * MB
    anon = tmp_path / "anon"            # trusts the server, has no certificate
    anon.mkdir()
    (anon / "ca-cert.pem").write_bytes((cli / "ca-cert.pem").read_bytes())
    p = run(["nbdinfo", "--size", x509_uri(s, anon)], check=False)
    assert p.returncode != 0


def test_psk_with_nbdcopy_and_qemu_io_and_a_wrong_key_refused(blkd, tmp_path):
    need("nbdinfo", "qemu-io")
    keys = make_psk(tmp_path / "keys.psk")
    s = blkd(tmp_path, ["memory:4M"], "--tls", "require", "--tls-psk", keys)
    round_trip(tmp_path, psk_uri(s, keys))
    qdir = tmp_path / "qemu"            # qemu reads DIR/keys.psk
    qdir.mkdir()
    (qdir / "keys.psk").write_bytes(open(keys, "rb").read())
    byte = (tmp_path / "data.bin").read_bytes()[:1]
    p = run(["qemu-io", "--object",
             f"tls-creds-psk,id=tls0,endpoint=client,dir={qdir},username=alice",
             "--image-opts", f"driver=nbd,path={s.sock},tls-creds=tls0",
             "-c", f"read -P {byte[0]} 0 1"])
    assert "read 1/1 bytes" in p.stdout, p.stdout
    bad = make_psk(tmp_path / "bad.psk")
    p = run(["nbdinfo", "--size", psk_uri(s, bad)], check=False)
    assert p.returncode != 0
    assert "TLS handshake failed" in s.log()
    # the key never reaches the log
    assert open(keys).read().split(":")[1].strip() not in s.log()


def test_qemu_io_with_x509(blkd, tmp_path):
    need("qemu-io")
    srv, cli = make_x509(tmp_path)
    img = make_image(tmp_path / "disk.img", MB, pattern=b"\x5a")
    s = blkd(tmp_path, [img], "--tls", "require", "--tls-certificates", str(srv))
    p = run(["qemu-io", "--object", f"tls-creds-x509,id=tls0,endpoint=client,dir={cli}",
             "--image-opts", f"driver=nbd,path={s.sock},tls-creds=tls0,tls-hostname=localhost",
             "-c", "read -P 0x5a 0 64k"])
    assert "read 65536/65536 bytes" in p.stdout, p.stdout


def test_a_client_silent_after_starttls_is_dropped(blkd, tmp_path):
    keys = make_psk(tmp_path / "keys.psk")
    s = blkd(tmp_path, ["memory:1M"], "--tls", "require", "--tls-psk", keys,
             "--handshake-timeout", "300ms")
    c = raw_connect(s.sock)
    c.settimeout(30)
    recv_exact(c, 18)
    c.sendall(struct.pack(">I", 3) + struct.pack(">QII", IHAVEOPT, 5, 0))    # STARTTLS
    _, opt, rtype, ln = struct.unpack(">QIII", recv_exact(c, 20))
    assert (opt, rtype, ln) == (5, 1, 0)                                       # ACK
    assert c.recv(4096) == b""          # no ClientHello: the server hangs up


def cpu_has_fast_aes():
    with open("/proc/cpuinfo") as f:
        flags = next((line.split() for line in f if line.startswith("flags")), [])
    return "aes" in flags and "pclmulqdq" in flags


def test_the_server_picks_aes_gcm_where_the_cpu_has_aes_ni(blkd, tmp_path):
    """OpenSSL (Python's ssl) as the client, after STARTTLS on a raw NBD
    socket: its TLS 1.3 order starts with AES-256-GCM and ChaCha20, and
    before the server's own order AES-256-GCM (or libnbd's ChaCha20, at a
    tenth of AES-GCM's speed here) was what a connection got.  With AES-NI
    the server's order decides: AES-128-GCM."""
    if not cpu_has_fast_aes():
        pytest.skip("no AES-NI/PCLMUL: the client's cipher stands")
    srv, cli = make_x509(tmp_path)
    s = blkd(tmp_path, ["memory:1M"], "--tls", "require", "--tls-certificates", str(srv))
    c = raw_connect(s.sock)
    recv_exact(c, 18)
    c.sendall(struct.pack(">I", 3) + struct.pack(">QII", IHAVEOPT, 5, 0))    # STARTTLS
    _, opt, rtype, ln = struct.unpack(">QIII", recv_exact(c, 20))
    assert (opt, rtype, ln) == (5, 1, 0)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(str(cli / "ca-cert.pem"))
    ctx.check_hostname = False
    with ctx.wrap_socket(c) as t:
        assert t.cipher()[0] == "TLS_AES_128_GCM_SHA256", t.cipher()


def test_tls_options_are_checked(tmp_path):
    from test_cli_refusals import serve
    p = serve(["--tls", "on", "-U", str(tmp_path / "s"), "memory:1M"])
    assert p.returncode == 2 and "--tls-certificates" in p.stderr
    p = serve(["--tls", "maybe", "-U", str(tmp_path / "s"), "memory:1M"])
    assert p.returncode == 2 and "--tls" in p.stderr
    p = serve(["--tls", "on", "--tls-psk", str(tmp_path / "none.psk"), "-U",
               str(tmp_path / "s"), "memory:1M"])
    assert p.returncode == 1 and "none.psk" in p.stderr


def test_nbdsh_over_psk_and_x509(blkd, tmp_path):
    """nbdsh (libnbd's Python shell) through TLS: the handle reports TLS
    negotiated, and data round-trips."""
    need("nbdsh")
    keys = make_psk(tmp_path / "keys.psk")
    s = blkd(tmp_path, ["memory:4M"], "--tls", "require", "--tls-psk", keys)
    script = ("h.set_uri_allow_local_file(True)\n"
              "h.connect_uri({uri!r})\n"
              "assert h.get_tls_negotiated()\n"
              "h.pwrite(b'\\xa5' * 4096, 8192)\n"
              "assert h.pread(4096, 8192) == b'\\xa5' * 4096\n"
              "print('ok')")
    p = run(["nbdsh", "-c", script.format(uri=psk_uri(s, keys))])
    assert "ok" in p.stdout
    s.stop()
    (tmp_path / "x").mkdir()
    (tmp_path / "x2").mkdir()
    srv, cli = make_x509(tmp_path / "x")
    s = blkd(tmp_path / "x2", ["memory:4M"], "--tls", "require", "--tls-certificates", str(srv))
    p = run(["nbdsh", "-c", script.format(uri=x509_uri(s, cli))])
    assert "ok" in p.stdout


def start_tls_nbdkit(tmp, name, img, *tls):
    sock = str(tmp / f"{name}.sock")
    proc = subprocess.Popen(["nbdkit", "-f", "-U", sock, "--tls=require", *tls, "file", img],
                            stderr=subprocess.DEVNULL)
    wait_for(lambda: os.path.exists(sock), what=name)
    return proc, sock


def test_multipath_over_two_tls_upstreams(blkd, tmp_path):
    """Two nbdkit --tls=require upstreams of one image, reached as
    nbds+unix:// paths with blkd's own --tls-psk (downstream plain): I/O
    goes through both, and without the credentials the paths cannot
    connect."""
    need("nbdkit", "nbdcopy", "nbdinfo")
    keys = make_psk(tmp_path / "keys.psk")
    img = make_image(tmp_path / "disk.img", 8 * MB)
    procs = []
    try:
        for name in ("a", "b"):
            proc, sock = start_tls_nbdkit(tmp_path, name, img, f"--tls-psk={keys}")
            procs.append((proc, sock))
        paths = []
        for _, sock in procs:
            paths += ["--path", f"nbds+unix://alice@/?socket={sock}"]
        (tmp_path / "m").mkdir()
        s = blkd(tmp_path / "m", ["mpath"], *paths, "--tls-psk", keys,
                 "--selector", "round-robin")
        round_trip(tmp_path, s.uri())
        st = s.stats()["exports"][0]["multipath"]["paths"]
        assert [p["state"] for p in st] == ["active", "active"], st
        assert all(p["ios"] > 0 for p in st), st
        # without credentials: no path answers, so the export cannot open
        p = subprocess.run([BLKD, "serve", "-f", "-U", str(tmp_path / "no.sock")] + paths
                           + ["mpath"], stderr=subprocess.PIPE, text=True, timeout=60)
        assert p.returncode == 1 and "mpath" in p.stderr, p.stderr
    finally:
        for proc, _ in procs:
            proc.kill()
            proc.wait(timeout=30)
