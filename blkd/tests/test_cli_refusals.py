# SPDX-License-Identifier: MIT
"""The command line refuses what it cannot do (issue 22 item 5): a socket a
live server listens on, ports out of range, tag modes on multipath, FLUSH
advertised where it would sync nothing; -p 0 says which port it got; the
multipath checker's probe sector is configurable."""
import json
import os
import select
import socket
import subprocess

import pytest

from conftest import BLKD, TOOL_ENV, make_image, need, run
from test_multipath import paths, wait_for  # noqa: F401 (fixture)

MB = 1 << 20


def serve(args, timeout=20):
    """blkd serve ARGS in the foreground: it must exit (refuse) in time."""
    try:
        return subprocess.run([BLKD, "serve", "-f"] + args, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"blkd serve {args} started instead of refusing")


def test_second_server_on_a_live_socket_refuses_and_leaves_it(blkd, tmp_path):
    need("nbdinfo")
    first = blkd(tmp_path, ["memory:1M"])
    p = serve(["-U", first.sock, "memory:2M"])
    assert p.returncode == 1 and "Address already in use" in p.stderr, p.stderr
    assert first.sock in p.stderr
    assert os.path.exists(first.sock)
    out = run(["nbdinfo", "--size", first.uri()]).stdout
    assert int(out) == MB               # still the first server


def test_a_stale_socket_file_is_taken_over(blkd, tmp_path):
    need("nbdinfo")
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(tmp_path / "nbd.sock"))
    stale.close()                       # the file stays, nobody listens
    s = blkd(tmp_path, ["memory:1M"])
    assert int(run(["nbdinfo", "--size", s.uri()]).stdout) == MB


def test_ports_out_of_range_are_refused(tmp_path):
    for port in ("99999", "65536", "-1", "http"):
        p = serve(["-p", port, "memory:1M"])
        assert p.returncode == 2 and "--port" in p.stderr, (port, p.stderr)


def test_port_zero_prints_the_port_it_got(tmp_path):
    need("nbdinfo")
    proc = subprocess.Popen([BLKD, "serve", "-f", "-p", "0", "memory:1M"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 20)
        assert ready, "blkd -p 0 printed no port"
        port = int(proc.stdout.readline())
        assert 1 <= port <= 65535
        out = run(["nbdinfo", "--size", f"nbd://127.0.0.1:{port}"]).stdout
        assert int(out) == MB
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def nbdinfo_json(uri):
    return json.loads(run(["nbdinfo", "--json", uri]).stdout)["exports"][0]


def test_forced_no_sync_mode_on_a_file_does_not_advertise_flush(blkd, tmp_path):
    need("nbdinfo")
    img = make_image(tmp_path / "disk.img", MB)
    for mode in ("drain", "tag", "none"):
        d = tmp_path / mode
        d.mkdir()
        s = blkd(d, [img], "--ordered", mode)
        e = nbdinfo_json(s.uri())
        assert not e["can_flush"] and not e["can_fua"], (mode, e)
    d = tmp_path / "default"
    d.mkdir()
    e = nbdinfo_json(blkd(d, [img]).uri())
    assert e["can_flush"] and e["can_fua"], e
    d = tmp_path / "memory"             # no cache: a drain FLUSH is the truth
    d.mkdir()
    e = nbdinfo_json(blkd(d, ["memory:1M"]).uri())
    assert e["can_flush"], e


def test_tag_modes_are_refused_for_multipath(blkd, tmp_path):
    up = blkd(tmp_path, ["memory:1M"])
    for mode in ("tag-fua", "tag-flush", "tag"):
        p = serve(["-U", str(tmp_path / "mp.sock"), "--ordered", mode,
                   "--path", up.uri(), "mpath"])
        assert p.returncode == 1 and mode in p.stderr and "drain" in p.stderr, p.stderr


def path_state(ctl):
    out = subprocess.run([BLKD, "ctl", ctl, "paths", "-"], capture_output=True, text=True)
    return json.loads(out.stdout)["paths"][0]


@pytest.mark.parametrize("sector,reinstated", [(None, False), ("8", True)])
def test_checker_probes_the_configured_sector(blkd, paths, tmp_path,  # noqa: F811
                                              sector, reinstated):
    need("nbdkit")
    img = make_image(tmp_path / "disk.img", MB)
    mapfile = tmp_path / "map"           # ddrescue map: sector 0 unreadable
    mapfile.write_text("# Rescue Logfile\n0x00000000 +\n"
                       "0x00000000 0x00000200 -\n0x00000200 0x000FFE00 +\n")
    up = paths(tmp_path, "a", img, filters=["ddrescue"],
               params=[f"ddrescue-mapfile={mapfile}"])
    args = ["-r", "--path", up.uri, "--checker-interval", "100ms"]
    if sector:
        args += ["--checker-sector", sector]
    s = blkd(tmp_path, ["mpath"], *args)
    assert path_state(s.ctl)["state"] == "active"
    up.kill()
    wait_for(lambda: path_state(s.ctl)["state"] == "failed", what="path failed")
    up.start()
    if reinstated:
        wait_for(lambda: path_state(s.ctl)["state"] == "active", what="path reinstated")
    else:
        # the checker keeps probing sector 0 and keeps failing
        wait_for(lambda: "probe" in path_state(s.ctl).get("last_error", ""),
                 what="a failed probe")
        assert path_state(s.ctl)["state"] == "failed"
