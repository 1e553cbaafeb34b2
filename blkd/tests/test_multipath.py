# SPDX-License-Identifier: MIT
"""blkd as a multipath device over real nbdkit servers (issue 8, spec C).

Every path is its own nbdkit on a private Unix socket serving the same
file: some behind the error filter (errors switched on by creating a file),
some behind the delay filter (a slow path), some killed and restarted.
Clients are fio (nbd engine, data verification) and nbdsh.  Assertions are
about data, errors and per-path request counts from the control socket,
never about how long something took.
"""
import json
import os
import signal
import subprocess
import threading
import time

import pytest

from conftest import TOOL_ENV, make_image, need, nbdsh, run

MB = 1 << 20


class Nbdkit:
    """One nbdkit path: nbdkit -f -U SOCK [--filter=F]... file IMG [k=v]..."""

    def __init__(self, tmp, name, img, filters=(), params=()):
        need("nbdkit")
        self.sock = os.path.join(str(tmp), name + ".sock")
        self.cmd = ["nbdkit", "-f", "-U", self.sock]
        self.cmd += [f"--filter={f}" for f in filters] + ["file", img] + list(params)
        self.log = open(os.path.join(str(tmp), name + ".log"), "a")
        self.proc = None
        self.start()

    @property
    def uri(self):
        return f"nbd+unix:///?socket={self.sock}"

    def start(self):
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        self.proc = subprocess.Popen(self.cmd, env=TOOL_ENV, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        wait_for(lambda: os.path.exists(self.sock) or self.proc.poll() is not None)
        assert self.proc.poll() is None, f"nbdkit exited: {self.cmd}"

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self):
        self.kill()
        self.log.close()


def wait_for(cond, timeout=20, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def paths():
    made = []

    def start(*a, **kw):
        p = Nbdkit(*a, **kw)
        made.append(p)
        return p
    yield start
    for p in made:
        p.stop()


def mpath_args(*uris, checker="100ms", extra=()):
    args = ["--checker-interval", checker]
    for u in uris:
        args += ["--path", u]
    return args + list(extra)


def mp_state(s):
    return json.loads(s.ctl_cmd("paths -"))


def path_ios(s):
    return [p["ios"] for p in mp_state(s)["paths"]]


def fio_nbd(s, tmp, *args, timeout=180):
    need("fio")
    out = os.path.join(str(tmp), "fio.json")
    cmd = ["fio", "--name=mp", "--ioengine=nbd", f"--uri={s.uri()}", "--output-format=json",
           f"--output={out}"] + list(args)
    p = run(cmd, timeout=timeout, check=False)
    with open(out) as f:
        text = f.read()
    job = json.loads(text[text.index("{"):])["jobs"][0]
    return p, job


def test_fio_verifies_across_path_errors_kills_and_reinstatements(blkd, paths, tmp_path):
    img = make_image(tmp_path / "disk.img", 64 * MB)
    errfile = str(tmp_path / "b.errors-on")
    a = paths(tmp_path, "a", img)
    b = paths(tmp_path, "b", img, filters=["error"],
              params=["error=EIO", "error-rate=100%", f"error-file={errfile}"])
    c = paths(tmp_path, "c", img)
    s = blkd(tmp_path, ["mpath"], *mpath_args(a.uri, b.uri, c.uri, extra=[
        "--selector", "round-robin", "--queue-if-no-path", "forever"]))
    steps = []

    def inject():
        wait_for(lambda: sum(path_ios(s)) > 200, what="I/O on the paths")
        open(errfile, "w").close()              # b answers EIO from now on
        steps.append("b errors")
        wait_for(lambda: mp_state(s)["paths"][1]["state"] == "failed", what="b failed")
        c.kill()                                # c's server dies
        steps.append("c killed")
        wait_for(lambda: mp_state(s)["paths"][2]["state"] == "failed", what="c failed")
        time.sleep(0.5)
        c.start()
        os.unlink(errfile)
        wait_for(lambda: all(p["state"] == "active" for p in mp_state(s)["paths"]),
                 what="b and c reinstated")
        steps.append("b, c reinstated")
        assert s.ctl_cmd("fail_path - 0") == "ok\n"
        time.sleep(0.5)
        assert s.ctl_cmd("reinstate_path - 0") == "ok\n"
        steps.append("a failed and reinstated by hand")

    t = threading.Thread(target=inject)
    t.start()
    p, job = fio_nbd(s, tmp_path, "--rw=randwrite", "--bs=4k", "--iodepth=8", "--size=16M",
                     "--time_based", "--runtime=8", "--verify=crc32c", "--verify_backlog=128",
                     "--verify_fatal=1", "--do_verify=1")
    t.join()
    assert p.returncode == 0, p.stderr
    assert job["error"] == 0
    assert job["write"]["io_bytes"] > 0 and job["read"]["io_bytes"] > 0  # verify reads ran
    assert steps == ["b errors", "c killed", "b, c reinstated", "a failed and reinstated by hand"]
    st = mp_state(s)
    assert [p["fail_count"] >= 1 for p in st["paths"]] == [True, True, True]
    assert st["paths"][1]["requeues"] >= 1 and st["paths"][2]["requeues"] >= 1
    # a final pass reads everything back through blkd with verification
    p, job = fio_nbd(s, tmp_path, "--rw=randwrite", "--bs=64k", "--iodepth=4", "--size=16M",
                     "--verify=crc32c", "--do_verify=1", "--verify_fatal=1")
    assert p.returncode == 0 and job["error"] == 0, p.stderr


def test_service_time_moves_load_away_from_slow_path(blkd, paths, tmp_path):
    img = make_image(tmp_path / "disk.img", 32 * MB, b"\x42")
    fast = paths(tmp_path, "fast", img)
    slow = paths(tmp_path, "slow", img, filters=["delay"], params=["delay-read=20ms"])
    s = blkd(tmp_path, ["mpath"], *mpath_args(fast.uri, slow.uri, extra=[
        "--selector", "service-time"]))
    p, job = fio_nbd(s, tmp_path, "--rw=randread", "--bs=4k", "--iodepth=8", "--size=32M",
                     "--number_ios=1500", "--norandommap")
    assert p.returncode == 0 and job["error"] == 0, p.stderr
    nfast, nslow = path_ios(s)
    assert nfast + nslow >= 1000            # (a few reads may merge)
    assert nfast > 3 * nslow, (nfast, nslow)


def test_round_robin_spreads_over_healthy_paths(blkd, paths, tmp_path):
    img = make_image(tmp_path / "disk.img", 16 * MB)
    ps = [paths(tmp_path, n, img) for n in ("a", "b")]
    s = blkd(tmp_path, ["mpath"], *mpath_args(*[p.uri for p in ps], extra=[
        "--selector", "round-robin"]))
    nbdsh(s.uri(), "for i in range(40): h.pread(4096, i * 65536)")
    n = path_ios(s)
    assert min(n) >= 15 and sum(n) == 40, n


def test_with_all_paths_down_io_waits_and_resumes_when_a_path_returns(blkd, paths, tmp_path):
    img = make_image(tmp_path / "disk.img", 16 * MB)
    a = paths(tmp_path, "a", img)
    b = paths(tmp_path, "b", img)
    s = blkd(tmp_path, ["mpath"], *mpath_args(a.uri, b.uri, extra=[
        "--queue-if-no-path", "60s"]))
    nbdsh(s.uri(), "h.pwrite(b'\\x11' * 65536, 0); h.flush()")
    a.kill()
    b.kill()
    need("nbdsh")
    client = subprocess.Popen(
        ["nbdsh", "-u", s.uri(), "-c",
         "h.pwrite(b'\\x22' * 65536, 1048576); h.flush()\n"
         "assert h.pread(65536, 1048576) == b'\\x22' * 65536\n"
         "assert h.pread(65536, 0) == b'\\x11' * 65536\nprint('done')"],
        env=TOOL_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: mp_state(s)["held"] >= 1, what="a held request")
        assert client.poll() is None            # still waiting, not failed
        b.start()
        out, err = client.communicate(timeout=60)
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
    assert client.returncode == 0 and "done" in out, err
    with open(img, "rb") as f:
        f.seek(MB)
        assert f.read(65536) == b"\x22" * 65536


def test_queue_if_no_path_is_bounded(blkd, paths, tmp_path):
    img = make_image(tmp_path / "disk.img", 16 * MB)
    a = paths(tmp_path, "a", img)
    s = blkd(tmp_path, ["mpath"], *mpath_args(a.uri, extra=["--queue-if-no-path", "300ms"]))
    a.kill()
    out = nbdsh(s.uri(), """
try:
    h.pread(4096, 0)
    print('read')
except nbd.Error as e:
    print('errno', e.errno)
""").stdout
    assert "errno EIO" in out
    # and fail_if_no_path releases at once: nothing is held afterwards
    assert s.ctl_cmd("fail_if_no_path -") == "ok\n"
    assert mp_state(s)["held"] == 0


@pytest.mark.parametrize("errname", ["ENOSPC", "EPERM"])
def test_data_errors_go_back_to_the_client_and_fail_no_path(blkd, paths, tmp_path, errname):
    img = make_image(tmp_path / "disk.img", 16 * MB)
    errfile = str(tmp_path / "errors-on")
    ps = [paths(tmp_path, n, img, filters=["error"],
                params=[f"error={errname}", "error-pwrite-rate=100%", f"error-file={errfile}"])
          for n in ("a", "b")]
    s = blkd(tmp_path, ["mpath"], *mpath_args(*[p.uri for p in ps]))
    open(errfile, "w").close()
    out = nbdsh(s.uri(), """
try:
    h.pwrite(b'x' * 4096, 0)
    print('wrote')
except nbd.Error as e:
    print('errno', e.errno)
print('read', len(h.pread(4096, 0)))
""").stdout
    assert f"errno {errname}" in out
    assert "read 4096" in out
    assert [p["state"] for p in mp_state(s)["paths"]] == ["active", "active"]


def test_eio_on_every_path_is_the_data_and_fails_no_path(blkd, paths, tmp_path):
    img = make_image(tmp_path / "disk.img", 16 * MB)
    errfile = str(tmp_path / "errors-on")
    ps = [paths(tmp_path, n, img, filters=["error"],
                params=["error=EIO", "error-pread-rate=100%", f"error-file={errfile}"])
          for n in ("a", "b")]
    s = blkd(tmp_path, ["mpath"], *mpath_args(*[p.uri for p in ps]))
    open(errfile, "w").close()
    out = nbdsh(s.uri(), """
try:
    h.pread(4096, 0)
    print('read')
except nbd.Error as e:
    print('errno', e.errno)
""").stdout
    assert "errno EIO" in out
    st = mp_state(s)
    assert [p["state"] for p in st["paths"]] == ["active", "active"]
    assert sum(p["errors"] for p in st["paths"]) == 2      # tried on both


def test_groups_failover_manual_failback_and_switch_group(blkd, paths, tmp_path):
    img = make_image(tmp_path / "disk.img", 16 * MB)
    a = paths(tmp_path, "a", img)
    b = paths(tmp_path, "b", img)
    s = blkd(tmp_path, ["mpath"], "--checker-interval", "100ms", "--path", "1:" + a.uri,
             "--path", "2:" + b.uri, "--failback", "manual")
    read10 = "for i in range(10): h.pread(4096, i * 4096)"
    nbdsh(s.uri(), read10)
    assert path_ios(s) == [10, 0]
    assert s.ctl_cmd("fail_path - 0") == "ok\n"
    nbdsh(s.uri(), read10)
    assert path_ios(s) == [10, 10]
    assert mp_state(s)["active_group"] == 2
    assert s.ctl_cmd("reinstate_path - 0") == "ok\n"
    nbdsh(s.uri(), read10)                      # manual failback: still group 2
    assert path_ios(s) == [10, 20]
    assert s.ctl_cmd("switch_group - 1") == "ok\n"
    nbdsh(s.uri(), read10)
    assert path_ios(s) == [20, 20]
    assert s.ctl_cmd("switch_group - 7").startswith("error:")
    assert s.ctl_cmd("fail_path - 9").startswith("error:")


def test_immediate_failback_after_a_killed_preferred_path_returns(blkd, paths, tmp_path):
    img = make_image(tmp_path / "disk.img", 16 * MB)
    a = paths(tmp_path, "a", img)
    b = paths(tmp_path, "b", img)
    s = blkd(tmp_path, ["mpath"], "--checker-interval", "100ms", "--path", "1:" + a.uri,
             "--path", "2:" + b.uri)
    a.kill()
    nbdsh(s.uri(), "h.pwrite(b'y' * 4096, 0); h.flush()")
    assert mp_state(s)["active_group"] == 2
    a.start()
    wait_for(lambda: mp_state(s)["paths"][0]["state"] == "active", what="a reinstated")
    assert mp_state(s)["active_group"] == 1
    before = path_ios(s)
    nbdsh(s.uri(), "assert h.pread(4096, 0) == b'y' * 4096")
    after = path_ios(s)
    assert after[0] == before[0] + 1 and after[1] == before[1]


def test_flush_reaches_every_path_that_took_writes(blkd, paths, tmp_path):
    img = make_image(tmp_path / "disk.img", 16 * MB)
    logs = [str(tmp_path / f"{n}.nbdlog") for n in ("a", "b")]
    ps = [paths(tmp_path, n, img, filters=["log"], params=[f"logfile={l}"])
          for n, l in zip(("a", "b"), logs)]
    s = blkd(tmp_path, ["mpath"], *mpath_args(*[p.uri for p in ps], extra=[
        "--selector", "round-robin"]))
    nbdsh(s.uri(), "for i in range(4): h.pwrite(b'z' * 4096, i * 65536)\nh.flush()")

    def ops(log):
        with open(log) as f:
            return [l.split()[3] for l in f if "..." in l and "connection=" in l]
    for log in logs:
        o = ops(log)
        assert "Write" in o and "Flush" in o, o
        assert o.index("Flush") > max(i for i, x in enumerate(o) if x == "Write")
