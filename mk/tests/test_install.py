"""make install / make uninstall into a DESTDIR, checked file by file, and
the installed programs, libraries, pages and the ecfs demo run from there.

The build directory is $OB_BUILD (default build/); make is run with the
same O= so nothing is rebuilt that the test run did not build already.
"""
import ctypes
import os
import shutil
import stat
import subprocess

import pytest

ROOT = os.environ.get("OB_ROOT") or os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("OB_BUILD") or os.path.join(ROOT, "build")
SAN = "build-san" in os.path.abspath(BUILD)
PREFIX = "/usr/local"
PROGRAMS = {"ecfs": "1", "blkd": "8", "numamove": "8", "mmpager": "1"}
HELPERS = {"mount.fuse.ecfs": "8", "pam_ecfs": "8"}


def make(*args):
    argv = ["make", "-s", "-C", ROOT, "O=" + os.path.relpath(BUILD, ROOT)]
    if SAN:
        argv.append("SAN=1")
    p = subprocess.run(argv + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=1800)
    assert p.returncode == 0, p.stderr
    return p.stdout


def multiarch():
    return subprocess.run(["cc", "-print-multiarch"], stdout=subprocess.PIPE,
                          text=True).stdout.strip()


@pytest.fixture(scope="module")
def dest(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("destdir"))
    make("install", "DESTDIR=" + d)
    yield d
    make("uninstall", "DESTDIR=" + d)


def installed(dest):
    out = []
    for d, _, files in os.walk(dest):
        out += ["/" + os.path.relpath(os.path.join(d, f), dest) for f in files]
    return sorted(out)


def env_for(dest):
    env = dict(os.environ)
    env["PATH"] = "%s%s/bin:%s" % (dest, PREFIX, env["PATH"])
    env["LD_LIBRARY_PATH"] = "%s%s/lib/%s" % (dest, PREFIX, multiarch())
    return env


def test_every_listed_file_is_installed_and_nothing_else(dest):
    listed = sorted(make("install-list").split())
    assert listed == installed(dest)
    la = multiarch()
    must = ["%s/bin/%s" % (PREFIX, p) for p in PROGRAMS] + [
        "/sbin/mount.fuse.ecfs", "/lib/%s/security/pam_ecfs.so" % la,
        "%s/include/ecfs.h" % PREFIX, "%s/include/ob/err.h" % PREFIX,
        "%s/lib/%s/libecfs.so.0" % (PREFIX, la), "%s/lib/%s/libecfs.so" % (PREFIX, la),
        "%s/lib/%s/pkgconfig/ecfs.pc" % (PREFIX, la),
        "%s/include/mmpager.h" % PREFIX, "%s/include/umap/umap.h" % PREFIX,
        "%s/include/umap.h" % PREFIX, "%s/share/man/man1/mmpager.1" % PREFIX,
        "%s/share/bash-completion/completions/mmpager" % PREFIX]
    for name in ("mmpager", "umap"):
        must += ["%s/lib/%s/lib%s.so.0" % (PREFIX, la, name),
                 "%s/lib/%s/lib%s.so" % (PREFIX, la, name),
                 "%s/lib/%s/pkgconfig/%s.pc" % (PREFIX, la, name)]
    for p in must:
        assert p in listed, p
    for p in listed:
        full = dest + p
        st = os.lstat(full)
        if stat.S_ISLNK(st.st_mode):
            assert os.path.exists(full), "dangling link " + p
            continue
        executable = "/bin/" in p or "/sbin/" in p or p.endswith("demo.sh")
        assert stat.S_IMODE(st.st_mode) == (0o755 if executable else 0o644), p


def test_programs_run_and_have_pages_and_completion(dest):
    env = env_for(dest)
    for prog, section in list(PROGRAMS.items()) + list(HELPERS.items()):
        page = "%s%s/share/man/man%s/%s.%s" % (dest, PREFIX, section, prog, section)
        p = subprocess.run(["man", "-l", page], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, env=dict(env, MANWIDTH="80"))
        assert p.returncode == 0 and not p.stderr and prog.upper() in p.stdout, (page, p.stderr)
    for prog in PROGRAMS:
        p = subprocess.run([prog, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, env=env)
        assert p.returncode == 0 and "usage" in p.stdout.lower(), (prog, p.stdout)
        comp = "%s%s/share/bash-completion/completions/%s" % (dest, PREFIX, prog)
        p = subprocess.run(["bash", "-c", 'source "$1" && complete -p "$2"', "-", comp, prog],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert p.returncode == 0 and prog in p.stdout, (comp, p.stderr)
    for prog in ("blkd", "numamove", "mmpager"):
        p = subprocess.run([prog, "--version"], stdout=subprocess.PIPE, text=True, env=env)
        assert p.returncode == 0 and p.stdout.startswith(prog + " "), (prog, p.stdout)


def test_libraries_have_sonames_and_link_from_outside(dest, tmp_path):
    la = multiarch()
    libdir = "%s%s/lib/%s" % (dest, PREFIX, la)
    for name in ("ob-common", "ecfs", "blkd", "numamove", "mmpager", "umap"):
        real = os.path.join(libdir, "lib%s.so.0.1.0" % name)
        dyn = subprocess.run(["readelf", "-d", real], stdout=subprocess.PIPE, text=True).stdout
        assert "Library soname: [lib%s.so.0]" % name in dyn, name
        assert os.readlink(os.path.join(libdir, "lib%s.so.0" % name)) == "lib%s.so.0.1.0" % name
    # An outside program, built from the installed header and .pc file only.
    src = tmp_path / "sig.c"
    src.write_text('#include <stdio.h>\n#include <string.h>\n#include <ecfs.h>\n'
                   'int main(void) {\n'
                   '  struct ecfs_key k; struct ob_err e = {0}; char hex[ECFS_SIG_HEX];\n'
                   '  const char *p = "correct horse battery staple";\n'
                   '  if (ecfs_key_derive(&k, p, strlen(p), ecfs_default_salt, &e)) return 1;\n'
                   '  ecfs_sig_to_hex(k.sig, hex); puts(hex); return 0; }\n')
    pc_env = dict(os.environ, PKG_CONFIG_SYSROOT_DIR=dest,
                  PKG_CONFIG_LIBDIR=os.path.join(libdir, "pkgconfig"))
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "ecfs"], env=pc_env,
                           stdout=subprocess.PIPE, text=True, check=True).stdout.split()
    exe = str(tmp_path / "sig")
    # -rpath-link: installed for real, libob-common.so.0 is where ld looks.
    # A sanitizer build's libraries need the program built the same way.
    san = ["-fsanitize=address,undefined"] if SAN else []
    subprocess.run(["cc", "-o", exe, str(src)] + san + flags + ["-Wl,-rpath-link," + libdir],
                   check=True)
    got = subprocess.run([exe], stdout=subprocess.PIPE, text=True, env=env_for(dest))
    pw = tmp_path / "pw"
    pw.write_text("correct horse battery staple")
    want = subprocess.run([os.path.join(BUILD, "bin", "ecfs"), "sig", "--passphrase-file",
                           str(pw)], stdout=subprocess.PIPE, text=True).stdout
    assert got.returncode == 0 and got.stdout.strip() and got.stdout.strip() in want
    # The PAM module loads on its own and exports only the PAM entry points.
    pam = "%s/lib/%s/security/pam_ecfs.so" % (dest, la)
    if not SAN:
        ctypes.CDLL(pam)
    syms = subprocess.run(["nm", "-D", "--defined-only", pam], stdout=subprocess.PIPE,
                          text=True).stdout.split("\n")
    names = sorted(ln.split()[-1] for ln in syms if ln.strip())
    assert names == ["pam_sm_authenticate", "pam_sm_chauthtok", "pam_sm_close_session",
                     "pam_sm_open_session", "pam_sm_setcred"]


UMAP_PROG = r"""
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <umap/umap.h>
/* An unchanged UMap user: map FILE, add one to every byte, flush, unmap. */
int main(int argc, char **argv)
{
    int fd = open(argv[1], O_RDWR);
    size_t len = (size_t)atol(argv[2]), sum = 0;
    unsigned char *p;
    if (fd < 0) return 2;
    p = umap(NULL, len, PROT_READ | PROT_WRITE, UMAP_PRIVATE, fd, 0);
    if (p == UMAP_FAILED) return 3;
    for (size_t i = 0; i < len; i++) { sum += p[i]; p[i]++; }
    if (umap_flush() || uunmap(p, len)) return 4;
    printf("%zu\n", sum);
    return 0;
}
"""


def test_umap_program_builds_against_installed_libumap(dest, tmp_path):
    """A UMap-API program built from the installed umap.pc and umap/umap.h
    with "-lumap" alone, run on a small file through the installed library:
    it reads what is in the file and its writes land there."""
    la = multiarch()
    libdir = "%s%s/lib/%s" % (dest, PREFIX, la)
    src = tmp_path / "um.c"
    src.write_text(UMAP_PROG)
    pc_env = dict(os.environ, PKG_CONFIG_SYSROOT_DIR=dest,
                  PKG_CONFIG_LIBDIR=os.path.join(libdir, "pkgconfig"))
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "umap"], env=pc_env,
                           stdout=subprocess.PIPE, text=True, check=True).stdout.split()
    assert "-lumap" in flags
    exe = str(tmp_path / "um")
    san = ["-fsanitize=address,undefined"] if SAN else []
    subprocess.run(["cc", "-std=c11", "-Wall", "-Werror", "-o", exe, str(src)] + san + flags,
                   check=True)
    needed = subprocess.run(["readelf", "-d", exe], stdout=subprocess.PIPE, text=True).stdout
    assert "[libumap.so.0]" in needed
    data = bytes((i * 7) % 251 for i in range(3 * 4096 + 100))
    f = tmp_path / "data"
    f.write_bytes(data)
    p = subprocess.run([exe, str(f), str(len(data))], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, env=env_for(dest), timeout=120)
    assert p.returncode == 0, (p.returncode, p.stderr)
    assert int(p.stdout) == sum(data)
    assert f.read_bytes() == bytes((b + 1) % 256 for b in data)


def test_public_headers_stand_alone(dest, tmp_path):
    inc = "%s%s/include" % (dest, PREFIX)
    for h in ("ecfs.h", "blkd.h", "numamove.h", "ob/err.h", "ob/secmem.h", "mmpager.h",
              "umap/umap.h", "umap.h"):
        src = tmp_path / "one.c"
        src.write_text("#include <%s>\nint main(void) { return 0; }\n" % h)
        p = subprocess.run(["cc", "-std=c11", "-Wall", "-Werror", "-I", inc, "-c", "-o",
                            str(tmp_path / "one.o"), str(src)], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        assert p.returncode == 0, (h, p.stdout)


def test_demo_runs_from_installed_paths(dest):
    if os.geteuid() != 0 and not shutil.which("fusermount3"):
        pytest.skip("needs FUSE")
    demo = "%s%s/share/doc/ecfs/examples/demo.sh" % (dest, PREFIX)
    env = env_for(dest)
    env.pop("ECFS", None)
    p = subprocess.run(["sh", demo], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stdout
    assert "Meet at the harbour at 6." in p.stdout


def test_mount_helper_from_installed_paths(dest, tmp_path):
    lower, mnt = tmp_path / "lower", tmp_path / "mnt"
    lower.mkdir()
    mnt.mkdir()
    pw = tmp_path / "pw"
    pw.write_text("helper passphrase")
    env = env_for(dest)
    env["ECFS"] = "%s%s/bin/ecfs" % (dest, PREFIX)
    p = subprocess.run([dest + "/sbin/mount.fuse.ecfs", str(lower), str(mnt), "-o",
                        "passphrase_file=%s,fnek" % pw], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stdout
    try:
        (mnt / "f.txt").write_text("through the helper\n")
        assert [n.startswith("ECRYPTFS_FNEK_ENCRYPTED.") for n in os.listdir(lower)] == [True]
    finally:
        subprocess.run(["fusermount3", "-u", str(mnt)], check=True)


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="needs systemd-analyze")
def test_systemd_units_verify(dest, tmp_path):
    """The units as installed, with the programs pointed into DESTDIR
    (verify checks that ExecStart= names an executable)."""
    units = ["/lib/systemd/system/blkd.service", "/lib/systemd/system/blkd.socket",
             "%s/share/doc/ecfs/examples/home-Private.mount" % PREFIX]
    for u in units:
        with open(dest + u) as f:
            text = f.read().replace("ExecStart=%s/bin/" % PREFIX,
                                    "ExecStart=%s%s/bin/" % (dest, PREFIX))
        out = tmp_path / os.path.basename(u)
        out.write_text(text)
    for u in units:
        out = tmp_path / os.path.basename(u)
        p = subprocess.run(["systemd-analyze", "verify", "--man=no", str(out)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert p.returncode == 0 and not p.stdout.strip(), (u, p.stdout)


def test_uninstall_removes_every_file(tmp_path):
    d = str(tmp_path / "root")
    make("install", "DESTDIR=" + d)
    assert installed(d)
    make("uninstall", "DESTDIR=" + d)
    assert installed(d) == []
