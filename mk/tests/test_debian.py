"""The Debian packages: dpkg-buildpackage -us -uc -b from a copy of the
tree, lintian without errors, every program and page run from the unpacked
packages, then dpkg -i, the demo from the installed paths, the systemd
units verified, and dpkg --purge, leaving the machine as it was.

Slow (a full build); skipped without root, dpkg-buildpackage, debhelper or
lintian, and when an Outboard package is installed already (we would purge
someone else's)."""
import glob
import os
import shutil
import subprocess

import pytest

ROOT = os.environ.get("OB_ROOT") or os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))
PACKAGES = ["ecfs", "libpam-ecfs", "blkd", "numamove", "libob-common0", "libob-common-dev",
            "libecfs0", "libecfs-dev", "libblkd0", "libblkd-dev", "libnumamove0",
            "libnumamove-dev", "mmpager", "libmmpager0", "libmmpager-dev", "libumap0",
            "libumap-dev"]
PAGES = {"ecfs": "man1/ecfs.1", "mount.fuse.ecfs": "man8/mount.fuse.ecfs.8",
         "pam_ecfs": "man8/pam_ecfs.8", "blkd": "man8/blkd.8", "numamove": "man8/numamove.8",
         "mmpager": "man1/mmpager.1"}


def installed(pkg):
    p = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    return p.returncode == 0 and "installed" in p.stdout.split()


def run(argv, **kw):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=3600, **kw)
    assert p.returncode == 0, "%s:\n%s" % (" ".join(argv), p.stdout[-4000:])
    return p.stdout


@pytest.fixture(scope="module")
def debs(tmp_path_factory):
    build = os.environ.get("OB_BUILD") or "build"
    if "build-san" in os.path.abspath(build):
        pytest.skip("packages are built without sanitizers: the normal pass covers them")
    if os.geteuid() != 0:
        pytest.skip("needs root (dpkg -i)")
    for tool in ("dpkg-buildpackage", "dh", "lintian", "fakeroot"):
        if not shutil.which(tool):
            pytest.skip("needs %s (debhelper, lintian, fakeroot in mk/deps.debian)" % tool)
    if any(installed(p) for p in PACKAGES):
        pytest.skip("an Outboard package is installed already; not touching it")
    top = tmp_path_factory.mktemp("deb")
    src = top / "outboard-0.1"
    src.mkdir()
    tar = subprocess.Popen(["tar", "-C", ROOT, "--exclude=./build", "--exclude=./build-san",
                            "--exclude=./.git", "-cf", "-", "."], stdout=subprocess.PIPE)
    run(["tar", "-C", str(src), "-xf", "-"], stdin=tar.stdout)
    assert tar.wait() == 0
    run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=str(src))
    found = {os.path.basename(d).split("_")[0]: d for d in glob.glob(str(top / "*.deb"))
             if "-dbgsym_" not in d}
    return top, found


def test_packages_are_split_and_lintian_clean(debs):
    top, found = debs
    assert sorted(found) == sorted(PACKAGES)
    out = subprocess.run(["lintian", "--fail-on", "error", str(glob.glob(str(
        top / "*.changes"))[0])], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    errors = [ln for ln in out.stdout.splitlines() if ln.startswith("E:")]
    assert out.returncode == 0 and not errors, out.stdout


def test_unpacked_programs_and_pages(debs, tmp_path):
    _, found = debs
    root = tmp_path / "root"
    for deb in found.values():
        run(["dpkg-deb", "-x", deb, str(root)])
    la = subprocess.run(["dpkg-architecture", "-qDEB_HOST_MULTIARCH"], stdout=subprocess.PIPE,
                        text=True).stdout.strip()
    env = dict(os.environ, LD_LIBRARY_PATH="%s/usr/lib/%s" % (root, la), MANWIDTH="80")
    for prog in ("ecfs", "blkd", "numamove", "mmpager"):
        out = run([str(root / "usr/bin" / prog), "--help"], env=env)
        assert "usage" in out.lower()
    for prog in ("blkd", "numamove", "mmpager"):
        assert run([str(root / "usr/bin" / prog), "--version"], env=env).startswith(prog)
    for name, page in PAGES.items():
        p = subprocess.run(["man", "-l", str(root / "usr/share/man" / (page + ".gz"))],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        assert p.returncode == 0 and not p.stderr and name.upper() in p.stdout, page
    assert (root / ("lib/%s/security/pam_ecfs.so" % la)).exists()
    assert (root / "sbin/mount.fuse.ecfs").exists()
    # UMap users link -lumap: the link resolves to the soname's package.
    assert os.path.realpath(root / ("usr/lib/%s/libumap.so" % la)) == \
        str(root / ("usr/lib/%s/libumap.so.0.1.0" % la))
    assert (root / "usr/include/umap/umap.h").exists()


def test_install_demo_purge(debs):
    _, found = debs
    before = set(os.listdir("/usr/bin"))
    try:
        run(["dpkg", "-i"] + sorted(found.values()))
        for p in PACKAGES:
            assert installed(p), p
        assert shutil.which("ecfs") in ("/usr/bin/ecfs", "/bin/ecfs")
        out = run(["sh", "/usr/share/doc/ecfs/examples/demo.sh"],
                  env={k: v for k, v in os.environ.items() if k != "ECFS"})
        assert "Meet at the harbour at 6." in out
        run(["systemd-analyze", "verify", "--man=no", "/lib/systemd/system/blkd.service",
             "/lib/systemd/system/blkd.socket"])
        run(["systemd-analyze", "verify", "--man=no",
             "/usr/share/doc/ecfs/examples/home-Private.mount"])
    finally:
        subprocess.run(["dpkg", "--purge"] + PACKAGES, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    for p in PACKAGES:
        assert not installed(p), p
    assert set(os.listdir("/usr/bin")) == before
    assert not os.path.exists("/sbin/mount.fuse.ecfs")
