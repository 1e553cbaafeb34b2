# SPDX-License-Identifier: MIT
"""numamove on real two-node kernels, through ../shared/tools/numa-vm.

One guest boot runs every scenario of guest/scenarios.sh ("basic"), one
more moves 1 GiB both ways ("big"), and the 64 MiB round trip runs again
in a fake-NUMA and a memory-tier guest (6.12 kernel) ("quick").
Each test below checks one behaviour from the files the guest left in
out/: numamove's JSON, exit status and stderr, and the target's numa_maps
afterwards, which is the kernel's own view and so the independent check of
"every page verified".  Skips with the reason when numa-vm, root or qemu
is missing.  No test looks at timings.
"""
import json
import os
import pathlib
import re
import shutil
import subprocess

import pytest

# tests/run-all imports test files with --import-mode=importlib, so the
# paths are computed here rather than imported from conftest.py.
ROOT = pathlib.Path(os.environ.get("OB_ROOT", pathlib.Path(__file__).resolve().parents[2]))
BUILD = pathlib.Path(os.environ.get("OB_BUILD", ROOT / "build"))
NUMAMOVE = BUILD / "bin" / "numamove"
TARGET = BUILD / "tests" / "numamove" / "nm-target"

NUMA_VM = ROOT.parent / "shared" / "tools" / "numa-vm"
SCRIPT = pathlib.Path(__file__).parent / "guest" / "scenarios.sh"
MIB = 1 << 20


def boot(base, scenario, *vm_args):
    if os.environ.get("OB_NO_VM"):
        pytest.skip("guest tests off: OB_NO_VM is set (the sanitizer pass)")
    if not NUMA_VM.exists():
        pytest.skip(f"numa-vm not found at {NUMA_VM} (../shared is absent)")
    if os.geteuid() != 0:
        pytest.skip("numa-vm must run as root")
    for f in (NUMAMOVE, TARGET):
        if not f.exists():
            pytest.skip(f"{f} not built")
    stage = base
    stage.chmod(0o755)   # uid 1000 runs numamove from it in the guest
    for f in (NUMAMOVE, TARGET, SCRIPT):
        shutil.copy(f, stage)
    out = stage / "res"
    r = subprocess.run([str(NUMA_VM), "run", "-q", "--timeout", "400", *vm_args, "--add", ".",
                        "--out", str(out), "--", "sh", "scenarios.sh", scenario],
                       cwd=stage, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=600)
    if r.returncode == 125:
        pytest.fail(f"numa-vm failed: {r.stderr[-2000:]}")
    return Results(out)


class Results:
    def __init__(self, out):
        self.out = out

    def rc(self, name):
        return int((self.out / f"{name}.rc").read_text())

    def err(self, name):
        return (self.out / f"{name}.err").read_text()

    def json(self, name):
        return json.loads((self.out / f"{name}.json").read_text())

    def text(self, name):
        return (self.out / name).read_text()

    def maps(self, name):
        return self.text(f"{name}.maps")


def anon_region(maps, pages):
    """numa_maps line of the target's anon region of `pages` pages."""
    for line in maps.splitlines():
        if f"anon={pages} " in line or line.endswith(f"anon={pages}"):
            return {int(n): int(c) for n, c in re.findall(r"N(\d+)=(\d+)", line)}, line
    raise AssertionError(f"no region with anon={pages} in:\n{maps}")


def failures(d):
    return [r for r in d["residue"] if r["failure"]]


@pytest.fixture(scope="module")
def basic(tmp_path_factory):
    return boot(tmp_path_factory.mktemp("guest-basic"), "basic")


@pytest.fixture(scope="module", params=["fake", "tier"])
def other_mode(request, tmp_path_factory):
    return boot(tmp_path_factory.mktemp(f"guest-{request.param}"), "quick",
                "--mode", request.param)


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    return boot(tmp_path_factory.mktemp("guest-big"), "big", "--mem-per-node", "1400")


def test_64mib_moves_to_node1_and_every_page_is_there(basic):
    d = basic.json("plain-0to1")
    assert basic.rc("plain-0to1") == 0
    assert d["bytes_left"] == 0 and failures(d) == []
    assert d["bytes_moved"] >= 64 * MIB
    nodes, line = anon_region(basic.maps("plain-0to1"), 16384)
    assert nodes == {1: 16384}, line
    # The phases are disjoint parts of the run: they cannot add up to more.
    phases = d["scan_us"] + d["move_us"] + d["verify_us"]
    assert d["scan_us"] > 0 and d["move_us"] > 0 and d["verify_us"] > 0
    assert phases <= d["elapsed_s"] * 1e6 + 1


def test_64mib_moves_back_to_node0(basic):
    d = basic.json("plain-1to0")
    assert basic.rc("plain-1to0") == 0
    assert d["bytes_moved"] >= 64 * MIB and d["bytes_left"] == 0
    nodes, line = anon_region(basic.maps("plain-1to0"), 16384)
    assert nodes == {0: 16384}, line


def test_vdso_is_reported_special_and_does_not_fail_the_move(basic):
    res = basic.json("plain-0to1")["residue"] + basic.json("plain-1to0")["residue"]
    vdso = [r for r in res if r["mapping"] == "[vdso]"]
    assert vdso, "the [vdso] page is on one of the two nodes"
    assert all(r["reason"] == "special" and not r["failure"] for r in vdso)


def test_dry_run_plans_without_moving(basic):
    d = basic.json("plain-dry")
    assert basic.rc("plain-dry") == 0
    assert d["dry_run"] is True
    assert d["bytes_candidate"] >= 64 * MIB and d["plan"] == {"1": d["bytes_candidate"]}
    assert {c["name"] for c in d["checks"]} >= {"access", "cpuset", "free-memory"}
    assert d["scan_us"] > 0 and d["move_us"] == 0 and d["verify_us"] == 0
    nodes, _ = anon_region(basic.maps("plain-dry"), 16384)
    assert nodes == {0: 16384}


def test_inspect_shows_the_region_on_its_node(basic):
    d = basic.json("inspect")
    assert basic.rc("inspect") == 0
    assert any(m["nodes"] == {"0": 16384} and m["policy"] == "default" for m in d["mappings"])
    assert set(d["nodes"]) == {"0", "1"}


def test_mlocked_pages_move_today(basic):
    d = basic.json("mlock")
    assert basic.rc("mlock") == 0 and failures(d) == []
    nodes, line = anon_region(basic.maps("mlock"), 16384)
    assert nodes == {1: 16384}, line


def test_shared_pages_move_with_move_all_as_root(basic):
    assert basic.rc("shared-root") == 0
    nodes, line = anon_region(basic.maps("shared-root"), 4096)
    assert nodes == {1: 4096}, line


@pytest.mark.parametrize("name", ["shared-own", "shared-user"])
def test_shared_pages_without_move_all_are_reported_shared(basic, name):
    d = basic.json(name)
    assert basic.rc(name) == 2
    big_res = [r for r in failures(d) if r["pages"] == 4096]
    assert big_res and big_res[0]["reason"] == "shared" and big_res[0]["node"] == 0
    assert {r["reason"] for r in failures(d)} == {"shared"}
    nodes, line = anon_region(basic.maps(name), 4096)
    assert nodes == {0: 4096}, line


def test_pinned_pages_are_reported_pinned_and_the_rest_moves(basic):
    d = basic.json("pinned")
    assert basic.rc("pinned") == 2
    f = failures(d)
    assert [(r["reason"], r["pages"], r["node"]) for r in f] == [("pinned", 16, 0)]
    assert d["bytes_left"] == 16 * 4096
    assert d["passes"] == 4   # first pass plus --retries 3
    nodes, line = anon_region(basic.maps("pinned"), 4096)
    assert nodes == {0: 16, 1: 4080}, line


def test_thp_bogus_ebusy_is_not_a_residue(basic):
    d = basic.json("thp")
    assert basic.rc("thp") == 0 and failures(d) == []
    assert d["bytes_moved"] >= 64 * MIB


def test_hugetlb_pages_are_moved_or_reported_hugetlb(basic):
    if int(basic.text("hugetlb.reserved")) < 4:
        pytest.skip("the guest could not reserve 4 huge pages on node 0")
    d = basic.json("hugetlb")
    maps = basic.maps("hugetlb")
    huge = [l for l in maps.splitlines() if "huge" in l and "kernelpagesize_kB=2048" in l]
    assert huge, maps
    left = {int(n): int(c) for n, c in re.findall(r"N(\d+)=(\d+)", huge[0])}.get(0, 0)
    res = [r for r in failures(d) if r["reason"] == "hugetlb"]
    assert sum(r["pages"] for r in res) == left * 512
    assert basic.rc("hugetlb") == (2 if left else 0)


def test_zero_page_is_reported_and_not_a_failure(basic):
    d = basic.json("zero")
    assert basic.rc("zero") == 0
    z = [r for r in d["residue"] if r["reason"] == "zero-page"]
    assert z and z[0]["pages"] == 64 and not z[0]["failure"]


def test_without_policy_new_faults_go_back_and_we_warn(basic):
    assert basic.rc("nopolicy") == 0
    assert "policy" in basic.err("nopolicy") and "use --policy" in basic.err("nopolicy")
    assert basic.json("nopolicy")["policy"]["points_back"] == 1
    assert "new node0=1024 node1=0" in basic.text("nopolicy.target")


def test_policy_option_makes_new_faults_land_on_the_new_node(basic):
    d = basic.json("policy")
    assert basic.rc("policy") == 0
    assert d["policy"]["moved"] is True and d["policy"]["points_back"] == 0
    assert "bind:1" in basic.maps("policy")
    assert "new node0=0 node1=1024" in basic.text("policy.target")


@pytest.mark.parametrize("name,status,words", [
    ("err-noproc", 3, "no such process"),
    ("err-node", 5, "target node 7: no such node"),
    ("err-usage", 64, "needs --from"),
    ("err-same", 64, "same nodes"),
    ("err-perm", 4, "ptrace"),
    ("err-cpuset-move", 4, "outside the process's cpuset"),
])
def test_errors_have_distinct_exit_statuses_and_messages(basic, name, status, words):
    assert basic.rc(name) == status
    assert words in basic.err(name)


def test_dry_run_reports_the_cpuset_problem(basic):
    d = basic.json("err-cpuset")
    assert basic.rc("err-cpuset") == 4
    assert [c["level"] for c in d["checks"] if c["name"] == "cpuset"] == ["problem"]
    assert "outside the process's cpuset" in d["error"] and d["exit"] == 4
    nodes, _ = anon_region(basic.maps("err-cpuset-move"), 1024)
    assert nodes == {0: 1024}   # nothing half done


def test_vacate_cgroup_moves_only_that_cgroup(basic):
    d = basic.json("vacate-cgroup")
    assert basic.rc("vacate-cgroup") == 0
    assert len(d["processes"]) == 1 and d["processes"][0]["bytes_left"] == 0
    nodes, _ = anon_region(basic.text("vacate-cgroup.other.maps"), 4096)
    assert nodes == {0: 4096}


def test_vacate_empties_the_node(basic):
    d = basic.json("vacate")
    assert basic.rc("vacate") == 0 and d["bytes_left"] == 0
    for f in ("vacate.a.maps", "vacate.b.maps"):
        nodes, line = anon_region(basic.text(f), 4096)
        assert nodes == {1: 4096}, line


def test_follow_moves_memory_to_the_node_of_the_allowed_cpus(basic):
    before, _ = anon_region(basic.text("follow.before.maps"), 4096)
    assert before == {0: 4096}
    d = basic.json("follow")
    assert basic.rc("follow") == 0
    assert d["rounds"] and d["rounds"][0]["to"] == "1"
    nodes, line = anon_region(basic.maps("follow"), 4096)
    assert nodes == {1: 4096}, line


def test_1gib_moves_both_ways_every_page_verified(big):
    for name, node in (("big-0to1", 1), ("big-1to0", 0)):
        d = big.json(name)
        assert big.rc(name) == 0, big.err(name)
        assert d["bytes_moved"] >= 1024 * MIB and d["bytes_left"] == 0
        nodes, line = anon_region(big.maps(name), 262144)
        assert nodes == {node: 262144}, line


def test_64mib_round_trip_in_fake_numa_and_memory_tier_guests(other_mode):
    for name, node in (("plain-0to1", 1), ("plain-1to0", 0)):
        d = other_mode.json(name)
        assert other_mode.rc(name) == 0, other_mode.err(name)
        assert d["bytes_moved"] >= 64 * MIB and d["bytes_left"] == 0
        nodes, line = anon_region(other_mode.maps(name), 16384)
        assert nodes == {node: 16384}, line


# ---- issue 21: one more boot ("edge") for the behaviours below ----

@pytest.fixture(scope="module")
def edge(tmp_path_factory):
    return boot(tmp_path_factory.mktemp("guest-edge"), "edge")


def one_json_object(res, name):
    """stdout holds exactly one JSON object, whatever the exit status."""
    text = res.text(f"{name}.json")
    d = json.loads(text)
    assert text.strip().count("\n") == 0, text
    return d


def test_target_too_full_by_its_watermark_is_exit_7_before_moving(edge):
    d = one_json_object(edge, "full-over")
    assert edge.rc("full-over") == 7, edge.err("full-over")
    assert d["exit"] == 7 and "can take" in d["error"]
    assert [c["level"] for c in d["checks"] if c["name"] == "free-memory"] == ["problem"]
    assert d["bytes_moved"] == 0
    size = int(edge.text("full.usable_mib")) + 8
    nodes, line = anon_region(edge.maps("full-over"), size * 256)
    assert nodes == {0: size * 256}, line   # nothing half done


def test_a_move_that_fits_above_the_watermark_goes_through(edge):
    d = edge.json("full-fits")
    assert edge.rc("full-fits") == 0, edge.err("full-fits")
    assert d["bytes_left"] == 0


def test_a_mapping_of_only_zero_pages_is_listed_and_counted(edge):
    d = edge.json("zero-alone")
    assert edge.rc("zero-alone") == 0, edge.err("zero-alone")
    z = [r for r in d["residue"] if r["reason"] == "zero-page"]
    assert [(r["pages"], r["failure"], r["perms"]) for r in z] == [(32, False, "r--p")]
    assert d["bytes_ignored"] >= 32 * 4096
    insp = json.loads(edge.text("zero-alone-inspect.json"))
    ro = [m for m in insp["mappings"] if m["perms"] == "r--p" and m["name"] == ""]
    assert [m["nonode"] for m in ro] == [32]


def test_many_mappings_move_without_reading_policies_and_say_so(edge):
    dry = edge.json("many-dry")
    assert edge.rc("many-dry") == 0, edge.err("many-dry")
    assert [c["level"] for c in dry["checks"] if c["name"] == "policy"] == ["warning"]
    d = edge.json("many")
    assert edge.rc("many") == 0, edge.err("many")
    assert d["bytes_left"] == 0 and failures(d) == []
    assert d["bytes_moved"] >= (1024 + 9000) * 4096
    assert d["policy"]["points_back"] is None
    assert [c["level"] for c in d["checks"] if c["name"] == "policy"] == ["skipped"]
    assert "policies not read at" in edge.err("many")
    left = sum(int(c) for line in edge.maps("many").splitlines() if "anon=" in line
               for c in re.findall(r"N0=(\d+)", line))
    assert left == 0, edge.maps("many")


def test_policy_moves_there_and_back(edge):
    for name, node, bind in (("pol-0to1", 1, "bind:1"), ("pol-1to0", 0, "bind:0")):
        d = edge.json(name)
        assert edge.rc(name) == 0, edge.err(name)
        assert d["policy"]["moved"] is True and d["policy"]["points_back"] == 0
        assert d["bytes_left"] == 0
        nodes, line = anon_region(edge.maps(name), 4096)
        assert nodes == {node: 4096}, line
        assert bind in line


def test_policy_sets_the_cpuset_of_a_process_alone_in_its_cgroup_first(edge):
    d = edge.json("alone-policy")
    assert edge.rc("alone-policy") == 0, edge.err("alone-policy")
    assert d["policy"]["cgroup"] == "/sys/fs/cgroup/nm-only0"
    assert edge.text("alone.mems").strip() == "1"
    nodes, line = anon_region(edge.maps("alone-policy"), 4096)
    assert nodes == {1: 4096}, line


def test_policy_cgroup_is_removed_once_its_process_has_exited(edge):
    assert "numamove-" in edge.text("pol.cgroup")          # made by --policy
    assert "No such file" in edge.text("pol.cgroup-after")  # swept by the next run


@pytest.mark.parametrize("name,status", [
    ("js-noproc", 3), ("js-perm", 4), ("js-node", 5), ("js-cpuset", 4), ("full-over", 7),
])
def test_json_failure_is_one_object_with_error_and_status(edge, name, status):
    assert edge.rc(name) == status
    d = one_json_object(edge, name)
    assert d["exit"] == status
    assert d["error"] and d["error"] in edge.err(name)


@pytest.mark.parametrize("name", ["zombie", "zombie-inspect"])
def test_zombie_target_is_exit_3(edge, name):
    assert edge.text("zombie.state").strip() == "Z"
    assert edge.rc(name) == 3, edge.err(name)
    assert one_json_object(edge, name)["exit"] == 3


def test_target_killed_during_the_scan_is_exit_3(edge):
    if not (edge.out / "killed.fds").exists():
        pytest.skip("numamove finished before it could be stopped mid-scan")
    assert edge.rc("killed") == 3, edge.err("killed")
    assert one_json_object(edge, "killed")["exit"] == 3
