#!/bin/sh
# The ecfs demo: encrypt a small built-in example tree exactly as the Linux
# kernel's eCryptfs would, show it from both sides, and read it back.
# Usage: ecfs/examples/demo.sh [BUILD_DIR]   (default: build)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
ecfs="$top/${1:-build}/bin/ecfs"
work=$(mktemp -d)
trap 'fusermount3 -u "$work/mnt" 2>/dev/null || true; rm -rf "$work"' EXIT

# The example: a note, a file spanning several 4 KiB extents, a symlink.
mkdir -p "$work/plain/docs"
printf 'Meet at the harbour at 6.\n' > "$work/plain/docs/note.txt"
seq 1 20000 > "$work/plain/numbers.txt"
ln -s docs/note.txt "$work/plain/latest"
# A demo passphrase in a file: ecfs never takes one on the command line.
printf 'correct horse battery staple' > "$work/passphrase"
chmod 600 "$work/passphrase"

echo "== key signature (what ecryptfs-add-passphrase prints)"
"$ecfs" sig --fnek --passphrase-file "$work/passphrase"

echo "== encrypt the tree, names included (ecryptfs-setup-private style)"
"$ecfs" encrypt --fnek --passphrase-file "$work/passphrase" "$work/plain" -o "$work/lower"
ls -l "$work/lower"

echo "== the same directory, plaintext names beside the encrypted ones"
"$ecfs" ls -R --passphrase-file "$work/passphrase" "$work/lower" | cut -c1-110

note=$(ls "$work/lower"/*/* | head -n 1)
echo "== header of one lower file"
"$ecfs" info "$note"
echo "== its first bytes on disk (header), then ciphertext at 8192"
od -A d -t x1 -N 48 "$note"
od -A d -t x1 -j 8192 -N 32 "$note"

if "$ecfs" mount --help >/dev/null 2>&1 && [ -e /dev/fuse ]; then
	echo "== mount it through FUSE and read the note"
	mkdir "$work/mnt"
	"$ecfs" mount --passphrase-file "$work/passphrase" --fnek "$work/lower" "$work/mnt"
	cat "$work/mnt/docs/note.txt"
	"$ecfs" umount "$work/mnt"
fi

echo "== decrypt it back and compare"
"$ecfs" decrypt --passphrase-file "$work/passphrase" "$work/lower" -o "$work/back"
diff -r "$work/plain" "$work/back" && echo "identical: ecfs round trip OK"
