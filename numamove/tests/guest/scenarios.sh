#!/bin/sh
# SPDX-License-Identifier: MIT
# scenarios.sh - numamove integration scenarios, run inside a numa-vm guest.
#
# Usage (in the guest, from the directory holding numamove and nm-target):
#   sh scenarios.sh basic|quick|big|edge
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

# start_orphan NAME ARGS...: nm-target under a parent that never reaps it
# (the shell execs sleep), so once it dies it stays a zombie.
start_orphan() {
	name=$1; shift
	rm -f /tmp/$name.ready
	sh -c "taskset -c 0 $T --ready /tmp/$name.ready --out /tmp/$name.target $* & exec sleep 1000" &
	ORPHAN_PARENT=$!
	wait_ready $name
}

node1_kb() {	# node1_kb FIELD: free or min pages of node 1's zones, in KiB
	awk -v f="$1" '/^Node/ { on = ($2 == "1,") }
		on && f == "free" && $1 == "pages" && $2 == "free" { s += $3 }
		on && f == "min" && $1 == "min" { s += $2 }
		END { print s * 4 }' /proc/zoneinfo
}

# Issue 21: a near-full target node, the --policy round trip, zero-page
# mappings, dying targets and --json on every failure.
edge() {
	# Target nearly full: about 80 MiB free on node 1, of which the min
	# watermark keeps a part from any migration.
	F=$(awk '/MemFree/ {print $4}' /sys/devices/system/node/node1/meminfo)
	start hog --mib $(( (F - 80 * 1024) / 1024 )) --bind 1; HOG=$P
	USABLE=$(( ($(node1_kb free) - $(node1_kb min)) / 1024 ))
	echo "$USABLE" > out/full.usable_mib
	start full-over --mib $((USABLE + 8))
	run full-over $NM $P --from 0 --to 1 --json
	kill $P; wait $P 2>/dev/null
	start full-fits --mib $((USABLE - 16))
	run full-fits $NM $P --from 0 --to 1 --json
	kill $P $HOG; wait $P $HOG 2>/dev/null

	# A mapping of nothing but zero pages (no Rss, no numa_maps count).
	start zero-alone --mib 4 --zero-alone 32
	run zero-alone $NM $P --from 0 --to 1 --json
	$NM inspect $P --json > out/zero-alone-inspect.json 2> out/zero-alone-inspect.err
	kill $P

	# More mappings than a move reads policies for (NM_CLI_NUMA_MAPS_MAX,
	# 8192): the move leaves numa_maps out, the dry run still warns.
	start many --mib 4 --bind 0 --maps 9000
	run many-dry $NM $P --from 0 --to 1 --dry-run --json
	run many $NM $P --from 0 --to 1 --json
	kill $P; wait $P 2>/dev/null

	# --policy there and back, then a process alone in a cgroup whose
	# cpuset.mems excludes the target.
	start pol --mib 16 --bind 0; POL=$P
	run pol-0to1 $NM $P --from 0 --to 1 --json --policy
	run pol-1to0 $NM $P --from 1 --to 0 --json --policy
	ls -d /sys/fs/cgroup/numamove-$POL > out/pol.cgroup 2>&1
	kill $POL; wait $POL 2>/dev/null
	mkdir -p /sys/fs/cgroup/nm-only0
	echo +cpuset > /sys/fs/cgroup/cgroup.subtree_control
	echo 0 > /sys/fs/cgroup/nm-only0/cpuset.mems
	start alone --mib 16
	echo $P > /sys/fs/cgroup/nm-only0/cgroup.procs
	run alone-policy $NM $P --from 0 --to 1 --json --policy
	cat /sys/fs/cgroup/nm-only0/cpuset.mems > out/alone.mems
	# The cgroup numamove made for the first process, whose process has
	# exited, is gone after this --policy run.
	ls -d /sys/fs/cgroup/numamove-$POL > out/pol.cgroup-after 2>&1
	kill $P; wait $P 2>/dev/null
	rmdir /sys/fs/cgroup/nm-only0

	# JSON on failure: one object with the error and the status.
	start js --mib 4
	run js-noproc $NM 999999 --from 0 --to 1 --json
	run js-node $NM $P --from 0 --to 7 --json
	run js-perm su user -s /bin/sh -c "$NM $P --from 0 --to 1 --json"
	mkdir -p /sys/fs/cgroup/nm-js0
	echo 0 > /sys/fs/cgroup/nm-js0/cpuset.mems
	echo $P > /sys/fs/cgroup/nm-js0/cgroup.procs
	run js-cpuset $NM $P --from 0 --to 1 --json
	kill $P; wait $P 2>/dev/null
	rmdir /sys/fs/cgroup/nm-js0

	# A zombie is no process to move.
	sh -c 'sleep 0 & echo $! > /tmp/zombie; exec sleep 1000' &
	ZOMBIE_PARENT=$!
	sleep 1
	P=$(cat /tmp/zombie)
	cut -d' ' -f3 /proc/$P/stat > out/zombie.state
	run zombie $NM $P --from 0 --to 1 --json
	run zombie-inspect $NM inspect $P --json

	# Killed during the scan: stop numamove while it reads the target's
	# /proc files, kill the target (it stays a zombie), let numamove go on.
	start_orphan killed --mib 1 --maps 20000
	$NM $P --from 0 --to 1 --json > out/killed.json 2> out/killed.err &
	N=$!
	i=0
	while [ $i -lt 2000 ] && ! ls -l /proc/$N/fd 2>/dev/null | grep -q "/proc/$P/"; do
		i=$((i + 1))
	done
	if kill -STOP $N 2>/dev/null; then
		ls -l /proc/$N/fd > out/killed.fds 2>&1
		kill -9 $P
		while [ "$(cut -d' ' -f3 /proc/$P/stat)" != Z ]; do sleep 0.1; done
		kill -CONT $N
	fi
	wait $N
	echo $? > out/killed.rc
	kill -9 $P $ORPHAN_PARENT $ZOMBIE_PARENT 2>/dev/null
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
