"""Every kernel-written corpus case decrypts to its manifest: names, types,
sizes, sha256s and symlink targets, with the offline tool."""
import os

import pytest

from conftest import (CORPUS, corpus_cases, materialize_case, need_corpus,
                      run_ecfs, sha256_file)


def check_tree(out, manifest):
    seen = set()
    for e in manifest["files"]:
        p = os.path.join(out, e["path"])
        seen.add(e["path"])
        if e["type"] == "dir":
            assert os.path.isdir(p) and not os.path.islink(p), e["path"]
        elif e["type"] == "symlink":
            assert os.path.islink(p), e["path"]
            assert os.readlink(p) == e["target"], e["path"]
        else:
            assert os.path.isfile(p), e["path"]
            assert os.path.getsize(p) == e["size"], e["path"]
            assert sha256_file(p) == e["sha256"], e["path"]
    for root, dirs, files in os.walk(out):
        for n in dirs + files:
            rel = os.path.relpath(os.path.join(root, n), out)
            assert rel in seen, "unexpected entry %s" % rel


@pytest.mark.parametrize("case", corpus_cases() or ["(no corpus)"])
def test_corpus_case_decrypts_to_manifest(case, tmp_path, ecfs_bin):
    need_corpus()
    lower, pw, manifest = materialize_case(os.path.join(CORPUS, case), tmp_path)
    out = tmp_path / "out"
    run_ecfs("decrypt", "--passphrase-file", pw, lower, "-o", str(out))
    check_tree(str(out), manifest)


@pytest.mark.parametrize("case", corpus_cases() or ["(no corpus)"])
def test_corpus_ls_shows_plaintext_names_and_sizes(case, tmp_path, ecfs_bin):
    need_corpus()
    lower, pw, manifest = materialize_case(os.path.join(CORPUS, case), tmp_path)
    out = run_ecfs("ls", "-R", "--passphrase-file", pw, lower).stdout.decode()
    rows = {}
    for line in out.splitlines():
        typ, size, plain, low = line.split("\t")
        rows[plain] = (typ, size, low)
    for e in manifest["files"]:
        typ, size, low = rows[e["path"]]
        lowers = e["lower_path"] if isinstance(e["lower_path"], list) else [e["lower_path"]]
        assert low.split("/")[-1] in [lp.split("/")[-1] for lp in lowers]
        if e["type"] == "file":
            assert typ == "f" and int(size) == e["size"], e["path"]


def test_corpus_info_reports_header(tmp_path, ecfs_bin):
    need_corpus()
    lower, pw, manifest = materialize_case(os.path.join(CORPUS, "h-aes128-two-keys"), tmp_path)
    f = next(e for e in manifest["files"] if e["type"] == "file" and e["size"] > 0)
    out = run_ecfs("info", os.path.join(lower, f["lower_path"])).stdout.decode()
    assert "version:     3" in out
    assert "size:        %d" % f["size"] in out
    # Two keys: one Tag 3 packet each, with the two signatures.
    assert manifest["auth_tok_sig"] in out and manifest["auth_tok_sig2"] in out
    assert out.count("Tag 3 (passphrase)") == 2


def test_corpus_two_keys_each_opens(tmp_path, ecfs_bin):
    need_corpus()
    lower, pw, manifest = materialize_case(os.path.join(CORPUS, "h-aes128-two-keys"), tmp_path)
    pw2 = tmp_path / "pw2"
    pw2.write_text(manifest["passphrase2"])
    f = next(e for e in manifest["files"] if e["type"] == "file" and e["size"] > 0)
    for p in (pw, str(pw2)):
        out = run_ecfs("decrypt", "--passphrase-file", p,
                       os.path.join(lower, f["lower_path"])).stdout
        assert len(out) == f["size"]


def test_corpus_wrong_passphrase_fails_cleanly(tmp_path, ecfs_bin):
    need_corpus()
    lower, pw, manifest = materialize_case(os.path.join(CORPUS, "a-aes128-plainnames"), tmp_path)
    bad = tmp_path / "bad"
    bad.write_text("not the passphrase")
    target = tmp_path / "hello.out"
    p = run_ecfs("decrypt", "--passphrase-file", str(bad),
                 os.path.join(lower, "hello.txt"), "-o", str(target), check=False)
    assert p.returncode == 1
    err = p.stderr.decode()
    assert "hello.txt" in err and "no key for this file" in err
    assert manifest["auth_tok_sig"] in err
    assert not target.exists()
    assert [n for n in os.listdir(tmp_path) if ".ecfs-" in n] == []


def test_corpus_sig_matches_manifest(tmp_path, ecfs_bin):
    need_corpus()
    for case in corpus_cases():
        _, pw, manifest = materialize_case(os.path.join(CORPUS, case), tmp_path / case)
        out = run_ecfs("sig", "--fnek", "--passphrase-file", pw).stdout.decode().split()
        assert out[0] == manifest["auth_tok_sig"]
        if manifest.get("fnek_salt_hex") == "3939383837373636":
            assert out[1] == manifest["fnek_sig"]
