"""The kernel-written corpus through `ecfs mount`: every case reads back as
its manifest says, and takes modifications of every kind that read back
the same after a remount and with the offline decrypter.  (The kernel
reading the modified trees is in test_mount_kernel.py.)"""
import os
import shutil

import pytest

from conftest import CORPUS, corpus_cases, materialize_case, need_corpus, run_ecfs
from fuse_helpers import (build_tree, corpus_mount_args, listing, modify_tree,  # noqa: F401
                          mounter, remount)
from test_corpus import check_tree

CASES = corpus_cases() or ["(no corpus)"]


def mount_case(mounter, case, tmp_path):
    need_corpus()
    lower, pw, manifest = materialize_case(os.path.join(CORPUS, case), tmp_path)
    args, opts, _ = corpus_mount_args(manifest, tmp_path)
    return mounter(lower=lower, passfile=pw, args=args, opts=opts), manifest


@pytest.mark.parametrize("case", CASES)
def test_corpus_case_reads_through_the_mount(mounter, tmp_path, case):
    m, manifest = mount_case(mounter, case, tmp_path)
    check_tree(m.mnt, manifest)
    for e in manifest["files"]:
        if e["type"] == "file":
            assert os.stat(os.path.join(m.mnt, e["path"])).st_size == e["size"]


def modify_case(m, tmp_path):
    """Copy the mounted tree to plain/, apply the same changes to both."""
    plain = str(tmp_path / "plain")
    shutil.copytree(m.mnt, plain, symlinks=True)
    for root in (m.mnt, plain):
        kernel_files = [os.path.join(dp, f) for dp, _, fs in sorted(os.walk(root))
                        for f in sorted(fs) if not os.path.islink(os.path.join(dp, f))]
        big = max(kernel_files, key=os.path.getsize)
        with open(big, "r+b") as f:   # rewrite a kernel-written file in place
            f.seek(os.path.getsize(big) // 2)
            f.write(b"modified through ecfs" * 300)
        with open(kernel_files[0], "ab") as f:
            f.write(b"appended\n" * 1000)
        os.makedirs(os.path.join(root, "ecfs-added"))
        # The changes every tree gets (new files, renames, truncates, ...).
        build_tree(os.path.join(root, "ecfs-added"), seed="corpus")
        modify_tree(os.path.join(root, "ecfs-added"))
    return plain


@pytest.mark.parametrize("case", CASES)
def test_corpus_case_modified_through_the_mount(mounter, tmp_path, case):
    m, manifest = mount_case(mounter, case, tmp_path)
    plain = modify_case(m, tmp_path)
    assert listing(m.mnt) == listing(plain)
    remount(m)
    assert listing(m.mnt) == listing(plain)
    m.stop()
    out = tmp_path / "offline"
    args, _, _ = corpus_mount_args(manifest, tmp_path)
    run_ecfs("decrypt", "--passphrase-file", str(tmp_path / "passphrase"),
             "--cipher", manifest["cipher"], "--key-bytes", str(manifest["key_bytes"]),
             *[a for a in args if a.startswith("--fnek")], m.lower, "-o", str(out))
    assert without_modes(listing(str(out))) == without_modes(listing(plain))


def without_modes(lst):
    """The offline decrypter does not copy modes: compare content only."""
    return {k: (v[0],) + tuple(v[2:]) if v[0] == "f" else v[:1] if v[0] == "d" else v
            for k, v in lst.items()}


def test_rewritten_kernel_file_keeps_every_key_packet(mounter, tmp_path):
    """A file the kernel wrote with two keys, changed through a mount that
    has only the first key, still opens with the second."""
    need_corpus()
    lower, pw, manifest = materialize_case(os.path.join(CORPUS, "h-aes128-two-keys"), tmp_path)
    m = mounter(lower=lower, passfile=pw)
    name = next(e["path"] for e in manifest["files"] if e["type"] == "file" and e["size"] > 0)
    with open(os.path.join(m.mnt, name), "ab") as f:
        f.write(b"appended with key 1 only")
    os.truncate(os.path.join(m.mnt, name), 20000)
    want = open(os.path.join(m.mnt, name), "rb").read()
    m.stop()
    low = os.path.join(lower, name)
    assert run_ecfs("info", low).stdout.decode().count("Tag 3 (passphrase)") == 2
    pw2 = tmp_path / "pw2"
    pw2.write_text(manifest["passphrase2"])
    assert run_ecfs("decrypt", "--passphrase-file", str(pw2), low).stdout == want
