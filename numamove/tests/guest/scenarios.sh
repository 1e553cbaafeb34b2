#!/bin/sh
# SPDX-License-Identifier: MIT
# scenarios.sh - numamove integration scenarios, run inside a numa-vm guest.
#
# Usage (in the guest, from the directory holding numamove and nm-target):
#   sh scenarios.sh basic|quick|big
# Each scenario leaves out/NAME.json (numamove --json), out/NAME.rc (its exit
# status), out/NAME.err (its stderr) and out/NAME.maps (the target's
# numa_maps afterwards); test_guest.py reads them on the host.  The script
# itself never decides pass or fail.
set -u
NM=./numamove
T=./nm-target
mkdir -p out

# start NAME ARGS...: start nm-target, wait until it is set up, set $P.
start() {
	name=$1; shift
	rm -f /tmp/$name.ready
	# CPU 0 is on node 0, so first-touch allocations land there.
	taskset -c 0 $T --ready /tmp/$name.ready --out out/$name.target "$@" &
	wait_ready $name
}

# start_as_user NAME ARGS...: the same as uid 1000.
start_as_user() {
	name=$1; shift
	rm -f /tmp/$name.ready
	su user -s /bin/sh -c "taskset -c 0 $T --ready /tmp/$name.ready --out /tmp/$name.target $*" &
	wait_ready $name
}

wait_ready() {
	i=0
	while [ ! -f /tmp/$1.ready ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
	P=$(cut -d' ' -f2 /tmp/$1.ready)
}

# run NAME CMD...: numamove with --json; keep stdout, stderr, status, maps.
run() {
	name=$1; shift
	"$@" > out/$name.json 2> out/$name.err
	echo $? > out/$name.rc
	cat /proc/$P/numa_maps > out/$name.maps 2>/dev/null
}

basic() {
	# Reserve huge pages first, while node 0 is not yet fragmented.
	echo 4 > /sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages
	cat /sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages \
		> out/hugetlb.reserved

	# 64 MiB both ways, every page verified (also by numa_maps).
	start plain --mib 64
	run plain-0to1 $NM $P --from 0 --to 1 --json
	run plain-1to0 $NM $P --from 1 --to 0 --json
	$NM inspect $P --json > out/inspect.json 2> out/inspect.err; echo $? > out/inspect.rc
	run plain-dry $NM $P --from 0 --to 1 --dry-run --json
	kill $P

	# mlocked 64 MiB
	start mlock --mib 64 --mlock
	run mlock $NM $P --from 0 --to 1 --json
	kill $P

	# shared with another process: root has MOVE_ALL ...
	start shared-root --mib 16 --fork-shared
	run shared-root $NM $P --from 0 --to 1 --json
	kill $P
	# ... --own-only does not use it ...
	start shared-own --mib 16 --fork-shared
	run shared-own $NM $P --from 0 --to 1 --json --own-only
	kill $P
	# ... and uid 1000 (no CAP_SYS_NICE) cannot.
	start_as_user shared-user --mib 16 --fork-shared
	run shared-user su user -s /bin/sh -c "$NM $P --from 0 --to 1 --json"
	kill $P

	# pinned: 16 pages held by a pipe (vmsplice)
	start pinned --mib 16 --vmsplice 16
	run pinned $NM $P --from 0 --to 1 --json --retries 3
	kill $P

	# transparent huge pages: bogus EBUSY must not count
	start thp --mib 64 --thp
	run thp $NM $P --from 0 --to 1 --json
	kill $P

	# hugetlb: 4 huge pages on node 0 (reserved above), none reserved on node 1
	start hugetlb --mib 4 --hugetlb 4
	run hugetlb $NM $P --from 0 --to 1 --json
	kill $P

	# zero page
	start zero --mib 4 --zero 64
	run zero $NM $P --from 0 --to 1 --json
	kill $P

	# policy: without --policy new faults go back to node 0 ...
	start nopolicy --mib 16 --bind 0
	run nopolicy $NM $P --from 0 --to 1 --json
	kill -USR1 $P; sleep 1
	kill $P
	# ... with --policy they land on node 1.
	start policy --mib 16 --bind 0
	run policy $NM $P --from 0 --to 1 --json --policy
	kill -USR1 $P; sleep 1
	kill $P

	# errors, each with its own exit status
	start err --mib 4
	run err-noproc $NM 999999 --from 0 --to 1
	run err-node $NM $P --from 0 --to 7
	run err-usage $NM $P --from 0
	run err-same $NM $P --from 1 --to 1
	run err-perm su user -s /bin/sh -c "$NM $P --from 0 --to 1"
	mkdir -p /sys/fs/cgroup/only0
	echo +cpuset > /sys/fs/cgroup/cgroup.subtree_control
	echo 0 > /sys/fs/cgroup/only0/cpuset.mems
	echo $P > /sys/fs/cgroup/only0/cgroup.procs
	run err-cpuset $NM $P --from 0 --to 1 --dry-run --json
	run err-cpuset-move $NM $P --from 0 --to 1
	kill $P

	# vacate: two processes on node 0 (their CPU is there), one cgroup'd
	start va --mib 16; VA=$P
	start vb --mib 16; VB=$P
	mkdir -p /sys/fs/cgroup/vcg
	echo $VB > /sys/fs/cgroup/vcg/cgroup.procs
	P=$VB
	run vacate-cgroup $NM vacate 0 --cgroup /sys/fs/cgroup/vcg --json
	cat /proc/$VA/numa_maps > out/vacate-cgroup.other.maps
	run vacate $NM vacate 0 --json
	cat /proc/$VA/numa_maps > out/vacate.a.maps
	cat /proc/$VB/numa_maps > out/vacate.b.maps
	kill $VA $VB

	# follow: the process is moved to node 1's CPU; its memory follows
	taskset -c 0 $T --mib 16 --ready /tmp/follow.ready --out out/follow.target &
	wait_ready follow
	cat /proc/$P/numa_maps > out/follow.before.maps
	taskset -p -c 1 $P > /dev/null
	run follow $NM follow $P --once --json
	kill $P
	wait
}

# The 64 MiB round trip alone, for the fake-NUMA and memory-tier guests.
quick() {
	start plain --mib 64
	run plain-0to1 $NM $P --from 0 --to 1 --json
	run plain-1to0 $NM $P --from 1 --to 0 --json
	kill $P
	wait
}

big() {
	start big --mib 1024
	run big-0to1 $NM $P --from 0 --to 1 --json --no-progress
	run big-1to0 $NM $P --from 1 --to 0 --json --no-progress
	kill $P
	wait
}

"$@"
