#!/bin/sh
# The ecfs demo: mount an empty eCryptfs lower directory through FUSE, put a
# small built-in example in it, show a file through the mount and its
# encrypted form below, unmount, then read the lower tree back offline.
# Usage: ecfs/examples/demo.sh [BUILD_DIR]   (default: build)
# Installed (no build directory beside it), it runs the ecfs on PATH; ECFS=
# names another.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
ecfs="${ECFS:-$top/${1:-build}/bin/ecfs}"
[ -x "$ecfs" ] || ecfs=$(command -v ecfs)
work=$(mktemp -d)
trap 'fusermount3 -u "$work/mnt" 2>/dev/null || true; rm -rf "$work"' EXIT

# The example: a note, a file spanning several 4 KiB extents, a symlink.
mkdir -p "$work/plain/docs" "$work/lower" "$work/mnt"
printf 'Meet at the harbour at 6.\n' > "$work/plain/docs/note.txt"
seq 1 20000 > "$work/plain/numbers.txt"
ln -s docs/note.txt "$work/plain/latest"
# A demo passphrase in a file: ecfs never takes one on the command line.
printf 'correct horse battery staple' > "$work/passphrase"
chmod 600 "$work/passphrase"

echo "== mount the (empty) lower directory, names encrypted as ecryptfs-setup-private does"
"$ecfs" mount --passphrase-file "$work/passphrase" --fnek "$work/lower" "$work/mnt"
cp -a "$work/plain/." "$work/mnt/"
echo "-- through the mount:"
ls -l "$work/mnt" "$work/mnt/docs"
cat "$work/mnt/docs/note.txt"
echo "-- below it, what the kernel's eCryptfs would have written:"
ls -l "$work/lower"
note=$(ls -d "$work/lower"/*/* | head -n 1)
echo "-- the note's lower file: header (size 26, marker, version 3, key packet), then ciphertext at 8192"
od -A d -t x1 -N 48 "$note"
od -A d -t x1 -j 8192 -N 32 "$note"
"$ecfs" umount "$work/mnt"

echo "== offline, no mount: the header and the plaintext names"
"$ecfs" info "$note"
"$ecfs" ls -R --passphrase-file "$work/passphrase" "$work/lower" | cut -c1-100

echo "== decrypt the lower tree offline and compare with the original"
"$ecfs" decrypt --passphrase-file "$work/passphrase" "$work/lower" -o "$work/back"
diff -r "$work/plain" "$work/back" && echo "identical: ecfs round trip OK"
