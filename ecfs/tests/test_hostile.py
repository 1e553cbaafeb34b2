"""Hostile or damaged lower files through the offline tool (issue 6).

Every case damages one thing in a lower file, a lower name or a
wrapped-passphrase file that ecfs itself wrote, and runs the offline tool on
it (ecfs info, decrypt, ls, unwrap).  Whatever the damage, the tool must
exit 1 with exactly one line on stderr naming the file and leave no output
file (or temporary) behind; it must never die by a signal or a sanitizer
report.  The one way out is damage the format cannot detect, and then the
output must be what that damage implies, checked here case by case:

  * the size field is not authenticated: a smaller one (or one still inside
    the last extent) gives the plaintext cut (or zero-padded) to that size;
  * the wrapped file key (EFEK) of an AES-128 packet has no check: a flipped
    byte gives a different file key, so the output is garbage of the right
    length, exactly as a flipped ciphertext byte would;
  * the Tag 3 salt and iteration byte, the Tag 11 file name and date and
    the bytes after the packet set are ignored by the kernel too;
  * a wrapped-passphrase file has no length or MAC: cut at a block boundary
    it unwraps to a prefix of the passphrase, extended it gives the
    passphrase followed by garbage (ecryptfs-unwrap-passphrase does the
    same).

Run under the sanitizer build with OB_BUILD=$PWD/build-san.  ASan's and
UBSan's exit statuses are moved off 1 so a report can never pass for a clean
failure.
"""
import os
import pathlib
import random
import shutil
import struct
import subprocess
import tempfile

import pytest

from conftest import ECFS

PASS = "hostile test passphrase"
MOUNT_PASS = "5f3a9c1e7b2d4860a1c3e5f7092b4d6e"
LOGIN = "hostile login password"
HELLO = b"Hello, hostile!\n"
BIG = bytes((i * 131 + (i >> 12)) & 0xff for i in range(12345))
FNEK_PREFIX = "ECRYPTFS_FNEK_ENCRYPTED."
B64 = "-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# Offsets in the header ecfs (and the kernel) write with one AES-128 key:
# 0 size, 8 markers, 16 version/flags, 20 extent fields, 26 Tag 3
# (0x8c, len, 4, cipher, 3, 1, salt[8], 0x60, EFEK[16]), 57 Tag 11
# (0xed, len, 0x62, 8, "_CONSOLE", date[4], sig[8]), 81 the 0x00 end.
SIZE_FIELD = range(0, 8)
EFEK = range(41, 57)


def env_for(home):
    env = dict(os.environ)
    env["HOME"] = str(home)
    env["ASAN_OPTIONS"] = "exitcode=86:abort_on_error=0"
    env["UBSAN_OPTIONS"] = "halt_on_error=1:exitcode=87:print_stacktrace=1"
    env["LSAN_OPTIONS"] = "exitcode=88"
    return env


def ecfs(env, *args):
    proc = subprocess.run([ECFS, *map(str, args)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=env, timeout=120)
    assert proc.returncode >= 0, "ecfs %s: killed by signal %d" % (
        " ".join(map(str, args)), -proc.returncode)
    return proc


def err_lines(proc):
    return proc.stderr.decode(errors="replace").splitlines()


def assert_clean_failure(proc, path, what):
    lines = err_lines(proc)
    assert proc.returncode == 1, "%s: exit %d, stderr %r" % (what, proc.returncode, lines)
    assert len(lines) == 1, "%s: expected one error line, got %r" % (what, lines)
    assert str(path) in lines[0], "%s: error line does not name %s: %r" % (
        what, path, lines[0])


@pytest.fixture(scope="module")
def private_tmp():
    """A temporary root of our own: pytest's shared one (/tmp/pytest-of-USER)
    is pruned by every other pytest run on the machine, which removed
    directories under running cases here."""
    d = tempfile.mkdtemp(prefix="ecfs-hostile-")
    yield pathlib.Path(d)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def tmp_path(private_tmp):
    return pathlib.Path(tempfile.mkdtemp(dir=private_tmp))


@pytest.fixture(scope="module")
def base(private_tmp):
    """Lower files, names and a wrapped file written by ecfs itself."""
    d = private_tmp / "base"
    d.mkdir()
    env = env_for(d)
    if not os.access(ECFS, os.X_OK):
        pytest.fail("ecfs binary missing at %s: run make first" % ECFS)
    (d / "pw").write_text(PASS)
    (d / "login").write_text(LOGIN)
    (d / "mount").write_text(MOUNT_PASS)
    (d / "hello").write_bytes(HELLO)
    (d / "big").write_bytes(BIG)
    for src in ("hello", "big"):
        p = ecfs(env, "encrypt", "--passphrase-file", d / "pw", d / src, "-o", d / (src + ".lower"))
        assert p.returncode == 0, p.stderr
    p = ecfs(env, "encrypt", "--passphrase-file", d / "pw", "--xattr", d / "hello",
             "-o", d / "hello.xlower")
    assert p.returncode == 0, p.stderr
    # Names: a plain tree with one file and symlinks whose targets, once
    # encrypted, are names that decrypt to ".." and "x/y".
    plain = d / "plain"
    plain.mkdir()
    (plain / "a.txt").write_bytes(HELLO)
    os.symlink("..", plain / "up")
    os.symlink("x/y", plain / "slash")
    p = ecfs(env, "encrypt", "--passphrase-file", d / "pw", "--fnek", plain, "-o", d / "names")
    assert p.returncode == 0, p.stderr
    p = ecfs(env, "wrap", "--mount-passphrase-file", d / "mount", "--passphrase-file",
             d / "login", d / "wrapped")
    assert p.returncode == 0, p.stderr
    names = {}
    for n in os.listdir(d / "names"):
        p = d / "names" / n
        if os.path.islink(p):
            names[os.readlink(p)] = None
        else:
            names["file"] = n
    xattr = None
    try:
        xattr = os.getxattr(d / "hello.xlower", "user.ecryptfs")
    except OSError:
        pass
    return {
        "dir": d, "env": env,
        "hello": (d / "hello.lower").read_bytes(),
        "big": (d / "big.lower").read_bytes(),
        "xlower": (d / "hello.xlower").read_bytes(), "xattr": xattr,
        "file_name": names["file"],
        "enc_targets": [t for t in names if t != "file"],
        "wrapped": (d / "wrapped").read_bytes(),
    }


def write_lower(tmp_path, data, xattr=None):
    lower = tmp_path / "in.lower"
    lower.write_bytes(data)
    if xattr is not None:
        os.setxattr(lower, "user.ecryptfs", xattr)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    return lower, out_dir


def decrypt_case(base, tmp_path, data, plain, undetectable=None, xattr=None):
    """Run info and decrypt on a damaged lower file and judge the outcome.

    undetectable: None (damage must be caught or harmless: output == the
    plaintext implied by the size field), or "efek" (output may be garbage
    of the size the header gives)."""
    env = base["env"]
    lower, out_dir = write_lower(tmp_path, data, xattr)
    out = out_dir / "plain"
    info = ecfs(env, "info", lower)
    dec = ecfs(env, "decrypt", "--passphrase-file", base["dir"] / "pw", lower, "-o", out)
    if info.returncode != 0:
        assert_clean_failure(info, lower, "info")
        assert_clean_failure(dec, lower, "decrypt after info failed")
    else:
        assert info.stderr == b"" and b"file:" in info.stdout
    if dec.returncode != 0:
        assert_clean_failure(dec, lower, "decrypt")
        assert os.listdir(out_dir) == [], "decrypt left %r" % os.listdir(out_dir)
        return "failed"
    assert dec.stderr == b""
    meta = xattr if xattr is not None else data
    size = struct.unpack(">Q", meta[:8])[0]
    got = out.read_bytes()
    assert len(got) == size, "decrypt exited 0 with %d bytes, size field %d" % (len(got), size)
    if undetectable != "efek":
        padded = plain + bytes(-len(plain) % 4096)
        assert got == padded[:size], "decrypt exited 0 with wrong plaintext"
    return "ok"


# ------------------------------------------------------------ header bytes

FLIPS = [(off, mask) for off in range(100) for mask in (0xff, 0x01)]


@pytest.mark.parametrize("off,mask", FLIPS, ids=["byte%d^%02x" % f for f in FLIPS])
def test_header_byte_flip(base, tmp_path, off, mask):
    data = bytearray(base["hello"])
    data[off] ^= mask
    decrypt_case(base, tmp_path, bytes(data), HELLO,
                 "efek" if off in EFEK else None)


@pytest.mark.parametrize("off,mask", [(o, m) for o in range(0, 81) for m in (0xff,)],
                         ids=["xattr-byte%d" % o for o in range(0, 81)])
def test_xattr_byte_flip(base, tmp_path, off, mask):
    if base["xattr"] is None:
        pytest.skip("the temporary filesystem has no user xattrs")
    x = bytearray(base["xattr"])
    x[off] ^= mask
    decrypt_case(base, tmp_path, base["xlower"], HELLO,
                 "efek" if off in EFEK else None, xattr=bytes(x))


def test_header_flips_that_must_be_caught(base, tmp_path):
    """Markers, version, packet tags, lengths, cipher code and the key
    signature are checked: every flip there fails."""
    must = list(range(8, 17)) + [26, 27, 28, 29, 30, 31, 57, 58, 59, 60] + list(range(73, 81))
    for off in must:
        data = bytearray(base["hello"])
        data[off] ^= 0xff
        case = tmp_path / ("b%d" % off)
        case.mkdir()
        assert decrypt_case(base, case, bytes(data), HELLO) == "failed", "byte %d" % off


# ------------------------------------------------------------ truncations

TRUNCS = list(range(512, 24576, 512)) + [1, 15, 16, 19, 20, 25, 26, 27, 40, 56, 57, 58, 80, 81]


@pytest.mark.parametrize("cut", TRUNCS)
def test_truncated_lower_file(base, tmp_path, cut):
    assert len(base["big"]) == 8192 + 4 * 4096
    assert decrypt_case(base, tmp_path, base["big"][:cut], BIG) == "failed"


def test_empty_lower_file_is_an_empty_file(base, tmp_path):
    """Cut to 0 bytes: what the kernel leaves when it dies before writing
    the header.  decrypt reads it as an empty file; info has no header to
    show and says so."""
    env = base["env"]
    lower, out_dir = write_lower(tmp_path, b"")
    assert_clean_failure(ecfs(env, "info", lower), lower, "info")
    dec = ecfs(env, "decrypt", "--passphrase-file", base["dir"] / "pw", lower,
               "-o", out_dir / "plain")
    assert dec.returncode == 0 and dec.stderr == b"", err_lines(dec)
    assert (out_dir / "plain").read_bytes() == b""


@pytest.mark.parametrize("cut", range(0, 81))
def test_truncated_xattr(base, tmp_path, cut):
    if base["xattr"] is None:
        pytest.skip("the temporary filesystem has no user xattrs")
    assert decrypt_case(base, tmp_path, base["xlower"], HELLO,
                        xattr=base["xattr"][:cut]) == "failed"


# ------------------------------------------------------------ size and lengths

HUGE = [12345 + 4096, 16385, 1 << 32, 1 << 40, (1 << 63) - 1, 1 << 63, (1 << 64) - 1]


@pytest.mark.parametrize("size", HUGE)
def test_size_field_past_the_extents(base, tmp_path, size):
    data = bytearray(base["big"])
    data[0:8] = struct.pack(">Q", size)
    assert decrypt_case(base, tmp_path, bytes(data), BIG) == "failed"


@pytest.mark.parametrize("size", [0, 1, 12344, 12346, 16384])
def test_size_field_inside_the_extents(base, tmp_path, size):
    """Undetectable: the output follows the size field, zero padded."""
    data = bytearray(base["big"])
    data[0:8] = struct.pack(">Q", size)
    assert decrypt_case(base, tmp_path, bytes(data), BIG) == "ok"


REGIONS = [(0, 0), (4096, 0), (0, 2), (1, 1), (4095, 1), (0xffffffff, 0xffff),
           (0x80000000, 2), (4096, 4096), (4096, 0xffff), (1 << 24, 1), (4097, 2)]


@pytest.mark.parametrize("ext,num", REGIONS, ids=["%dx%d" % r for r in REGIONS])
def test_header_region_fields(base, tmp_path, ext, num):
    data = bytearray(base["hello"])
    data[20:26] = struct.pack(">IH", ext, num)
    assert decrypt_case(base, tmp_path, bytes(data), HELLO) == "failed"


# (offset, bytes) patches that make a packet length point past the header
# (4096 bytes in-file) or past the end of the xattr value (81 bytes).
LENGTHS = {
    "tag3-2byte-8132": (27, b"\xdf"),
    "tag3-invalid-ff": (27, b"\xff"),
    "tag3-5byte-e0": (27, b"\xe0"),
    "tag3-body-191": (27, b"\xbf"),
    "tag3-body-12": (27, b"\x0c"),
    "tag11-2byte": (58, b"\xdf\xff"),
    "tag11-invalid": (58, b"\xf0"),
    "tag11-body-60": (58, b"\x3c"),
    "tag11-body-21": (58, b"\x15"),
    "extra-tag3-at-end": (81, b"\x8c\xbf"),
    "extra-tag1-at-end": (81, b"\x01\xdf\xff"),
    "tag11-alone": (26, b"\xed"),
}


@pytest.mark.parametrize("name", sorted(LENGTHS))
def test_packet_length_past_the_end(base, tmp_path, name):
    off, patch = LENGTHS[name]
    data = bytearray(base["hello"])
    data[off:off + len(patch)] = patch
    assert decrypt_case(base, tmp_path, bytes(data), HELLO) == "failed"


@pytest.mark.parametrize("name", sorted(LENGTHS))
def test_xattr_packet_length_past_the_end(base, tmp_path, name):
    if base["xattr"] is None:
        pytest.skip("the temporary filesystem has no user xattrs")
    off, patch = LENGTHS[name]
    x = bytearray(base["xattr"])
    x[off:off + len(patch)] = patch
    assert decrypt_case(base, tmp_path, base["xlower"], HELLO, xattr=bytes(x)) == "failed"


# ------------------------------------------------------------ names

def b64_decode(s):
    acc = bits = 0
    out = bytearray()
    for c in s:
        acc = (acc << 6 | B64.index(c)) & 0xfff
        bits += 6
        if bits >= 8:
            bits -= 8
            out.append(acc >> bits & 0xff)
    return bytes(out)


def b64_encode(b):
    out = []
    b = b + bytes(-len(b) % 3)
    for i in range(0, len(b), 3):
        v = b[i] << 16 | b[i + 1] << 8 | b[i + 2]
        out += [B64[v >> 18], B64[v >> 12 & 63], B64[v >> 6 & 63], B64[v & 63]]
    return "".join(out)


def garbage_names(base):
    good = base["file_name"]
    pkt = b64_decode(good[len(FNEK_PREFIX):])

    def patched(off, val):
        p = bytearray(pkt)
        p[off] = val
        return FNEK_PREFIX + b64_encode(bytes(p))

    names = {
        "prefix-only-plus-dash": FNEK_PREFIX + "-",
        "bad-char": FNEK_PREFIX + "AB!D" + good[len(FNEK_PREFIX) + 4:],
        "space": FNEK_PREFIX + "AB D",
        "not-tag70": FNEK_PREFIX + "AAAAAAAA",
        "len-past-end": patched(1, 0xbe),
        "len-invalid": patched(1, 0xff),
        "len-2byte": patched(1, 0xdf),
        "len-short": patched(1, 9),
        "unknown-cipher": patched(10, 0x77),
        "foreign-sig": patched(2, pkt[2] ^ 0xff),
        "huge": FNEK_PREFIX + "z" * 200,
    }
    for cut in (4, 8, 12, 16, 20, 40):
        names["cut-%d" % cut] = good[:-cut]
    return names


def names_dir(base, tmp_path, bad):
    d = tmp_path / "lower"
    d.mkdir()
    data = (base["dir"] / "names" / base["file_name"]).read_bytes()
    (d / base["file_name"]).write_bytes(data)
    (d / bad).write_bytes(data)
    return d


# target-names: encrypted symlink targets ".." and "x/y" used as names; they
# decrypt, but to something no directory entry may be called.
NAME_CASES = ["prefix-only-plus-dash", "bad-char", "space", "not-tag70", "len-past-end",
              "len-invalid", "len-2byte", "len-short", "unknown-cipher",
              "foreign-sig", "huge", "cut-4", "cut-8", "cut-12", "cut-16", "cut-20",
              "cut-40", "target-names"]


@pytest.mark.parametrize("case", NAME_CASES)
def test_garbage_names(base, tmp_path, case):
    names = garbage_names(base)
    bads = base["enc_targets"] if case == "target-names" else [names[case]]
    env = base["env"]
    for i, bad in enumerate(bads):
        work = tmp_path / str(i)
        work.mkdir()
        lower = names_dir(base, work, bad)
        ls = ecfs(env, "ls", "--passphrase-file", base["dir"] / "pw", lower)
        lines = ls.stdout.decode(errors="replace").splitlines()
        assert ls.returncode == 1 and ls.stderr == b"", (ls.returncode, err_lines(ls))
        # ls reports a bad name in its listing line, by design: "?(reason)".
        flagged = [l for l in lines if "?(" in l]
        assert len(flagged) == 1 and flagged[0].endswith("\t" + bad), lines
        assert len(lines) == 2, lines
        out = work / "out"
        dec = ecfs(env, "decrypt", "--passphrase-file", base["dir"] / "pw", lower, "-o", out)
        # A tree names each bad entry on one line, then sums up ("ecfs: 1
        # entry failed").
        lines = err_lines(dec)
        assert dec.returncode == 1, (dec.returncode, lines)
        assert len(lines) == 2 and lines[0].startswith(
            "ecfs: %s: " % os.path.join(str(lower), bad)), lines
        assert "1 entry failed" in lines[1], lines
        assert sorted(os.listdir(out)) == ["a.txt"], os.listdir(out)
        assert (out / "a.txt").read_bytes() == HELLO
        assert sorted(os.listdir(work)) == ["lower", "out"]


# ------------------------------------------------------------ wrapped files

def wrapped_cases(base):
    rnd = random.Random(6)
    real = base["wrapped"]
    assert len(real) == 26 + 32
    tail = bytes(rnd.randrange(256) for _ in range(100))
    cases = []
    for n in range(0, 101):
        cases.append(("v2-%d" % n, (real + tail)[:n], True))
        cases.append(("random-%d" % n, bytes(rnd.randrange(256) for _ in range(n)), False))
        cases.append(("v2magic-%d" % n, (b":\x02" + tail)[:n], False))
        cases.append(("hex-%d" % n, (b"0123456789abcdef" + tail)[:n], False))
    return cases


def test_wrapped_every_length(base, tmp_path):
    env = base["env"]
    bad = []
    for name, data, real in wrapped_cases(base):
        f = tmp_path / name
        f.write_bytes(data)
        p = ecfs(env, "unwrap", "--passphrase-file", base["dir"] / "login", f)
        if p.returncode == 0:
            # Undetectable: a cut or extended real file (see the top).
            ct = min(len(data) - 26, 64)
            got = p.stdout.rstrip(b"\n")
            ok = real and ct > 0 and ct % 16 == 0 and (
                got == MOUNT_PASS.encode()[:ct] if ct <= len(MOUNT_PASS)
                else got.startswith(MOUNT_PASS.encode()))
            if not ok or p.stderr:
                bad.append((name, "exit 0", got, err_lines(p)))
            continue
        lines = err_lines(p)
        if p.returncode != 1 or len(lines) != 1 or str(f) not in lines[0]:
            bad.append((name, p.returncode, lines))
    assert not bad, bad
