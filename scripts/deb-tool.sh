#!/usr/bin/env bash
# Installs a tool from Debian's package registry into this repo, not system-wide:
#
#   scripts/deb-tool.sh NAME BINARY[,BINARY...] [PACKAGE...]
#
# downloads PACKAGE... (default: NAME) with `apt-get download`, unpacks them with `dpkg-deb -x`
# into .tools/NAME/, writes .tools/bin/BINARY for each binary (a wrapper that finds the unpacked
# shared libraries, for tools that need more than libc: name their packages after the tool's),
# checks that each runs (`--version`, else `-V`), and records what it installed in
# .tools/NAME/.installed (the Makefile's stamp). Idempotent: with the stamp and the wrappers
# present it does nothing. Needs apt-get and dpkg-deb (Debian or Ubuntu); runs `apt-get update`
# once if the package lists do not know a package yet.
set -euo pipefail

if [[ $# -lt 2 ]]; then
  echo "usage: $0 NAME BINARY[,BINARY...] [PACKAGE...]" >&2
  exit 2
fi
name=$1
IFS=, read -r -a binaries <<<"$2"
shift 2
packages=("$@")
[[ ${#packages[@]} -gt 0 ]] || packages=("$name")

root=$(cd "$(dirname "$0")/.." && pwd)
tools=$root/.tools
dest=$tools/$name
stamp=$dest/.installed
installed=1
for binary in "${binaries[@]}"; do [[ -x $tools/bin/$binary ]] || installed=0; done
if [[ -f $stamp && $installed == 1 ]]; then
  exit 0
fi
for command in apt-get dpkg-deb; do
  command -v "$command" >/dev/null || { echo "deb-tool: $command is required (Debian or Ubuntu)" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# apt-get download writes into the current directory; let its _apt user reach it.
chmod 0755 "$work"
download() { (cd "$work" && apt-get download -q "${packages[@]}" >/dev/null 2>"$work/apt.err"); }
if ! download; then
  echo "deb-tool: the package lists do not know ${packages[*]}: running apt-get update" >&2
  apt-get update -q >/dev/null
  download || { cat "$work/apt.err" >&2; exit 1; }
fi

rm -rf "$dest"
mkdir -p "$dest" "$tools/bin"
for deb in "$work"/*.deb; do
  dpkg-deb -x "$deb" "$dest"
  dpkg-deb -f "$deb" Package Version | paste -sd' ' >>"$work/installed"
done

for binary in "${binaries[@]}"; do
  exe=usr/bin/$binary
  [[ -x $dest/$exe ]] || exe=usr/sbin/$binary
  [[ -x $dest/$exe ]] || { echo "deb-tool: ${packages[*]} has no usr/bin/$binary" >&2; exit 1; }
  # The wrapper execs the tool (so signals reach it) with the unpacked libraries first on the
  # library path; paths are relative to the wrapper, so the clone can move.
  {
    echo '#!/bin/sh'
    echo "# Written by scripts/deb-tool.sh: $binary from Debian's ${packages[*]}, unpacked in .tools/$name/."
    echo "dir=\$(cd \"\$(dirname \"\$0\")/../$name\" && pwd)"
    echo "LD_LIBRARY_PATH=\"\$dir/usr/lib/x86_64-linux-gnu:\$dir/lib/x86_64-linux-gnu\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}\" exec \"\$dir/$exe\" \"\$@\""
  } >"$tools/bin/$binary"
  chmod 0755 "$tools/bin/$binary"
  if ! version=$("$tools/bin/$binary" --version 2>&1) && ! version=$("$tools/bin/$binary" -V 2>&1); then
    echo "deb-tool: $dest/$exe does not run:" >&2
    echo "$version" >&2
    ldd "$dest/$exe" 2>&1 | grep 'not found' >&2 || true
    echo "deb-tool: name the packages of the missing libraries after ${packages[*]}" >&2
    exit 1
  fi
  echo "deb-tool: $(echo "$version" | head -1) in .tools/$name (.tools/bin/$binary)"
done
mv "$work/installed" "$stamp"
