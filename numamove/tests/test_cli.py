# SPDX-License-Identifier: MIT
"""numamove on the machine the tests run on (one NUMA node in CI).

Everything here works without a second node: argument errors, a missing
process, the single-node refusal, inspect in text and JSON.  Moves between
real nodes are in test_guest.py.
"""
import json
import os
import subprocess
import sys
import time

import pytest


def nm(numamove, *args):
    return subprocess.run([numamove, *map(str, args)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=60)


def node_count():
    try:
        with open("/sys/devices/system/node/has_memory") as f:
            text = f.read().strip()
    except OSError:
        return 1
    n = 0
    for part in text.split(","):
        a, _, b = part.partition("-")
        n += int(b or a) - int(a) + 1
    return n


@pytest.fixture
def sleeper():
    p = subprocess.Popen([sys.executable, "-c", "import time; b = bytearray(8 << 20); time.sleep(60)"])
    time.sleep(0.3)
    yield p.pid
    p.kill()
    p.wait()


def test_help_lists_every_option_and_exit_status(numamove):
    r = nm(numamove, "--help")
    assert r.returncode == 0
    for word in ("--from", "--to", "--dry-run", "--policy", "--json", "inspect", "vacate",
                 "follow", "exit status"):
        assert word in r.stdout


@pytest.mark.parametrize("args,words", [
    (["--bogus"], "unrecognized option '--bogus'"),
    ([], "missing PID"),
    (["abc", "--from", "0", "--to", "1"], "bad PID 'abc'"),
    (["123"], "needs --from NODES and --to NODES"),
    (["123", "--from", "x", "--to", "1"], "--from: bad node list 'x'"),
    (["123", "--from", "1", "--to", "1"], "same nodes"),
    (["123", "--from", "0", "--to", "1", "extra"], "unexpected argument 'extra'"),
    (["vacate", "zz"], "vacate: bad node 'zz'"),
    (["inspect"], "inspect: missing argument"),
    (["123", "--from", "0", "--to", "1", "--retries", "x"], "--retries: bad number"),
])
def test_bad_command_line_is_exit_64_naming_the_problem(numamove, args, words):
    r = nm(numamove, *args)
    assert r.returncode == 64
    assert words in r.stderr
    assert r.stdout == ""


def test_missing_process_is_exit_3(numamove):
    r = nm(numamove, 0x3ffffff0, "--from", "0", "--to", "1")
    assert r.returncode == 3
    assert "no such process" in r.stderr


@pytest.mark.parametrize("args", [
    [0x3ffffff0, "--from", "0", "--to", "1", "--json"],
    ["inspect", 0x3ffffff0, "--json"],
])
def test_json_failure_is_one_object_on_stdout(numamove, args):
    r = nm(numamove, *args)
    assert r.returncode == 3
    d = json.loads(r.stdout)
    assert d["exit"] == 3 and "no such process" in d["error"]
    assert r.stdout.count("\n") == 1 and d["error"] in r.stderr


def test_missing_process_inspect_is_exit_3(numamove):
    r = nm(numamove, "inspect", 0x3ffffff0)
    assert r.returncode == 3


@pytest.mark.skipif(node_count() > 1, reason="needs a single-node machine")
def test_single_node_machine_is_exit_6(numamove, sleeper):
    r = nm(numamove, sleeper, "--from", "0", "--to", "1")
    assert r.returncode == 6
    assert "single NUMA node" in r.stderr
    r = nm(numamove, sleeper, "--from", "0", "--to", "1", "--dry-run")
    assert r.returncode == 6
    r = nm(numamove, "vacate", "0")
    assert r.returncode == 6
    r = nm(numamove, "follow", sleeper, "--once")
    assert r.returncode == 6


def test_inspect_counts_present_pages_per_node(numamove, sleeper):
    r = nm(numamove, "inspect", sleeper, "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["pid"] == sleeper
    total = sum(sum(m["nodes"].values()) for m in d["mappings"])
    # The 8 MiB bytearray is present (written by zeroing).
    assert total * 4096 >= 8 << 20
    assert any(m["name"] == "[vdso]" and "special" in m["flags"] for m in d["mappings"])
    assert all(int(k) in range(4096) for m in d["mappings"] for k in m["nodes"])
    assert "0" in d["nodes"] and d["nodes"]["0"]["free_kb"] > 0


def test_inspect_text_has_a_line_per_mapping(numamove, sleeper):
    r = nm(numamove, "inspect", sleeper)
    assert r.returncode == 0
    with open(f"/proc/{sleeper}/maps") as f:
        nmaps = len(f.readlines())
    lines = [l for l in r.stdout.splitlines() if len(l) > 33 and l[16] == "-"]
    assert len(lines) == nmaps
    assert "free" in r.stdout


@pytest.mark.skipif(os.geteuid() == 0, reason="root may read every process")
def test_other_users_process_is_exit_4(numamove):
    r = nm(numamove, "inspect", 1)
    assert r.returncode == 4
