"""Socket activation: blkd serves the listening socket systemd hands over
(LISTEN_PID/LISTEN_FDS), as blkd.socket does; systemd-socket-activate plays
systemd here, and a real NBD client (nbdinfo) reads through it."""
import os
import subprocess
import time

from conftest import BLKD, TOOL_ENV, need


def test_serves_the_socket_systemd_passed(tmp_path):
    need("systemd-socket-activate", "nbdinfo")
    sock = str(tmp_path / "act.sock")
    proc = subprocess.Popen(["systemd-socket-activate", "-l", sock, BLKD, "serve", "-f",
                             "memory:1M"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        end = time.time() + 20
        while not os.path.exists(sock) and time.time() < end and proc.poll() is None:
            time.sleep(0.05)
        # Neither -U nor -p: the only socket is the one systemd passed.
        out = subprocess.run(["nbdinfo", "--size", "nbd+unix:///?socket=" + sock],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=TOOL_ENV, timeout=60)
        assert out.returncode == 0 and out.stdout.strip() == "1048576", out.stderr
    finally:
        proc.terminate()        # systemd-socket-activate has exec'd blkd: same pid
        proc.wait(timeout=60)
    assert "not a listening socket" not in proc.stderr.read()


def test_sockets_meant_for_another_process_are_not_taken(tmp_path):
    """LISTEN_PID names another pid: nothing to listen on, a usage error."""
    env = dict(os.environ, LISTEN_PID="1", LISTEN_FDS="1")
    p = subprocess.run([BLKD, "serve", "-f", "memory:1M"], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=60)
    assert p.returncode == 2 and "nothing to listen on" in p.stderr


def test_a_passed_fd_that_is_not_listening_is_refused(tmp_path):
    """LISTEN_FDS names fd 3, which is a plain file here: refused by name."""
    with open(tmp_path / "f", "w") as f:
        os.dup2(f.fileno(), 3) if f.fileno() != 3 else None
        p = subprocess.run(["sh", "-c", 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" serve -f '
                            'memory:1M', BLKD], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=60, pass_fds=(3,))
    assert p.returncode == 1 and "fd 3: not a listening socket" in p.stderr, p.stderr
