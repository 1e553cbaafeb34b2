"""ecfs fsck on a copy of the kernel-written corpus home, damaged in each
way it must name: no matching key, bad header, no header, truncated
extents, size past the end, undecodable or foreign names; counts by kind in
--json; repairs only after --yes (no terminal here) and only of sizes."""
import json
import os
import struct

from conftest import run_ecfs
from legacy_helpers import corpus_home, write_secret


def damaged_home(tmp_path):
    lower, conf, plain, m = corpus_home(tmp_path / "c")
    mp = write_secret(tmp_path / "mp", m["wrapped_passphrase"]["mount_passphrase"])
    return lower, mp, m


def lower_of(m, path):
    return next(e["lower_path"] for e in m["files"] if e["path"] == path)


def fsck_json(*args):
    p = run_ecfs("fsck", "--json", *args, check=False, stdin=open(os.devnull))
    return p.returncode, json.loads(p.stdout)


def test_clean_tree(tmp_path):
    lower, mp, _ = damaged_home(tmp_path)
    p = run_ecfs("fsck", "--passphrase-file", mp, lower)
    assert b"no problems" in p.stdout and b"3 files" in p.stdout


def test_every_kind_is_named_and_counted(tmp_path):
    lower, mp, m = damaged_home(tmp_path)
    big = os.path.join(lower, lower_of(m, "size-12345.bin"))
    hello = os.path.join(lower, lower_of(m, "hello.txt"))
    notes = os.path.join(lower, lower_of(m, "Documents/notes.txt"))
    with open(big, "r+b") as f:                       # cut inside the last extent
        f.truncate(os.path.getsize(big) - 100)
    with open(hello, "r+b") as f:                     # size past the extents
        f.write(struct.pack(">Q", 1 << 20))
    with open(notes, "r+b") as f:                     # break the packet set
        f.seek(26)
        f.write(b"\xff\xff\xff")
    open(os.path.join(lower, "plain-file"), "w").write("not encrypted")
    open(os.path.join(lower, "ECRYPTFS_FNEK_ENCRYPTED.!!!"), "w").close()
    other = write_secret(tmp_path / "other", "another passphrase")
    rc, j = fsck_json("--passphrase-file", mp, lower)
    assert rc == 1
    c = j["counts"]
    assert c["truncated"] == 1 and c["size_past_end"] == 2 and c["bad_header"] == 1, j
    assert c["no_header"] == 2 and c["bad_name"] == 1
    kinds = {(p["path"], p["kind"]) for p in j["problems"]}
    assert ("hello.txt", "size_past_end") in kinds and ("size-12345.bin", "truncated") in kinds
    # The wrong key: every file and every name is reported with the sig it needs.
    rc, j = fsck_json("--passphrase-file", other, lower)
    assert j["counts"]["no_key"] == 2 and j["counts"]["no_name_key"] == 4
    assert any("41969f3a42c59455" in p["reason"] for p in j["problems"])


def test_repair_size_needs_yes_and_keeps_data(tmp_path):
    lower, mp, m = damaged_home(tmp_path)
    hello = os.path.join(lower, lower_of(m, "hello.txt"))
    with open(hello, "r+b") as f:
        f.write(struct.pack(">Q", 1 << 20))
    before = open(hello, "rb").read()[8:]
    p = run_ecfs("fsck", "--passphrase-file", mp, "--repair", lower, check=False,
                 stdin=open(os.devnull))
    assert p.returncode == 1 and b"add --yes" in p.stderr
    p = run_ecfs("fsck", "--passphrase-file", mp, "--repair", "--yes", lower)
    assert b"repaired" in p.stdout
    data = open(hello, "rb").read()
    assert struct.unpack(">Q", data[:8])[0] == 4096 and data[8:] == before
    out = tmp_path / "out"
    run_ecfs("decrypt", "--passphrase-file", mp, hello, "-o", str(out))
    assert out.read_bytes()[:21] == b"Hello from ~/Private\n"


def test_structure_only_without_key(tmp_path):
    lower, _, _ = damaged_home(tmp_path)
    rc, j = fsck_json("--nokey", lower)
    assert rc == 0 and j["keys"] is False and j["checked"]["names"] == 4


def test_fsck_usage():
    assert b"--json" in run_ecfs("fsck", "--help").stdout
    assert run_ecfs("fsck", check=False).returncode == 2
    p = run_ecfs("fsck", "--nokey", "/nonexistent", check=False)
    assert p.returncode == 1 and b"/nonexistent" in p.stderr


def test_fsck_reaches_entries_deeper_than_64_levels_and_longer_than_path_max(tmp_path):
    """Issue 19 item 4: a lower tree 80 directories deep with 200-byte names
    (a path of ~16 KiB, four times PATH_MAX) and a file without eCryptfs
    metadata at the bottom: fsck walks down to it and names it."""
    lower = tmp_path / "lower"
    lower.mkdir()
    depth, name = 80, "d" * 200
    fd = os.open(lower, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir(name, 0o700, dir_fd=fd)
            sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = sub
        bad = os.open("damaged", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd)
        os.write(bad, b"no eCryptfs header here")
        os.close(bad)
    finally:
        os.close(fd)
    rc, j = fsck_json("--nokey", str(lower))
    assert rc != 0, j
    assert j["counts"]["no_header"] == 1, j
    (p,) = [p for p in j["problems"] if p["kind"] == "no_header"]
    assert p["path"].split("/") == [name] * depth + ["damaged"]
    assert len(p["path"]) > 4096
    assert j["checked"]["dirs"] == depth + 1
