#!/bin/sh
# Builds dist/station-agent_<version>_<arch>.deb with dpkg-deb.
#
#   Hardware/debian/build-deb.sh                  release build (--static-swift-stdlib), then package
#   Hardware/debian/build-deb.sh --binary PATH    package an already built station-agent binary
#   Hardware/debian/build-deb.sh --version 1.2.3  package version (default: git describe, else 0.0.0)
#   Hardware/debian/build-deb.sh --fast           gzip -1 instead of xz (for tests; the package is larger)
#
# Runs on the machine whose architecture the package is for (amd64 here; arm64 on a Raspberry
# Pi OS 64-bit board or an arm64 Debian container); see Hardware/debian/README.md.
# Depends: is computed from the binary's NEEDED libraries with `dpkg -S` on this machine, so
# build on the Debian release the kiosks run.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
binary=""
version=""
out="$repo/dist"
static=yes
allow_toolchain_libs=${ALLOW_TOOLCHAIN_LIBS:-no}
compression=""

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case "$1" in
        --binary) binary=$2; shift 2 ;;
        --version) version=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --no-static) static=no; shift ;;
        --fast) compression="-Zgzip -z1"; shift ;;
        --allow-toolchain-libs) allow_toolchain_libs=yes; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "build-deb.sh: unknown argument $1 (see --help)" >&2; exit 64 ;;
    esac
done

for tool in dpkg-deb dpkg objdump; do
    command -v "$tool" >/dev/null 2>&1 || { echo "build-deb.sh: $tool is missing (apt-get install dpkg-dev binutils)" >&2; exit 69; }
done

arch=$(dpkg --print-architecture)
if [ -z "$version" ]; then
    version=$(git -C "$repo" describe --tags --always 2>/dev/null | sed 's/^v//; s/-/+/g' || true)
    # A release tag (1.2 or 1.2.3, possibly +N+gHASH after it) is a version; a bare commit id is not.
    case "$version" in [0-9]*.[0-9]*) ;; *) version="0.0.0${version:++git$version}" ;; esac
fi

if [ -z "$binary" ]; then
    flags="-c release --product station-agent"
    [ "$static" = yes ] && flags="$flags --static-swift-stdlib"
    echo "+ swift build $flags (in $repo)"
    # shellcheck disable=SC2086
    (cd "$repo" && swift build $flags)
    binary="$(cd "$repo" && swift build -c release --show-bin-path)/station-agent"
fi
[ -x "$binary" ] || { echo "build-deb.sh: $binary is not an executable (build it first or pass --binary)" >&2; exit 66; }

# Depends: from the libraries the binary needs, owned by Debian packages on this machine.
depends="adduser"
foreign=""
for lib in $(objdump -p "$binary" | awk '/NEEDED/ {print $2}'); do
    path=$(ldconfig -p 2>/dev/null | awk -v lib="$lib" '$1 == lib {print $NF; exit}')
    owner=""
    if [ -n "$path" ]; then
        owner=$(dpkg -S "$path" 2>/dev/null | head -1 | cut -d: -f1 || true)
        [ -n "$owner" ] || owner=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -1 | cut -d: -f1 || true)
    fi
    if [ -n "$owner" ]; then
        case ", $depends," in *", $owner,"*) ;; *) depends="$depends, $owner" ;; esac
    else
        foreign="$foreign $lib"
    fi
done
# Loaded at run time by name, not through NEEDED, in some builds: always require them.
for package in libserialport0 libsqlite3-0; do
    case ", $depends," in *", $package,"*) ;; *) depends="$depends, $package" ;; esac
done
if [ -n "$foreign" ]; then
    if [ "$allow_toolchain_libs" = yes ]; then
        echo "build-deb.sh: WARNING: the binary needs libraries no Debian package provides:$foreign" >&2
        echo "build-deb.sh: WARNING: this package only runs where the Swift toolchain is installed; build with --static-swift-stdlib for kiosks" >&2
    else
        echo "build-deb.sh: the binary needs libraries no Debian package provides:$foreign" >&2
        echo "build-deb.sh: build with --static-swift-stdlib (the default), or pass --allow-toolchain-libs for a test package" >&2
        exit 65
    fi
fi

stage=$(mktemp -d "${TMPDIR:-/tmp}/station-agent-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT
root="$stage/root"
install -d -m 0755 "$root/DEBIAN" "$root/usr/bin" "$root/etc/station-agent" "$root/lib/systemd/system" \
    "$root/lib/udev/rules.d" "$root/usr/share/doc/station-agent"
install -m 0755 "$binary" "$root/usr/bin/station-agent"
strip --strip-unneeded "$root/usr/bin/station-agent" 2>/dev/null || true
install -m 0640 "$here/station.toml" "$root/etc/station-agent/station.toml"
install -m 0644 "$repo/Hardware/systemd/station-agent.service" "$root/lib/systemd/system/station-agent.service"
install -m 0644 "$repo/Hardware/udev/60-station-agent.rules" "$root/lib/udev/rules.d/60-station-agent.rules"
install -m 0644 "$here/README.md" "$root/usr/share/doc/station-agent/README.Debian.md"
[ -f "$repo/docs/station.example.toml" ] && install -m 0644 "$repo/docs/station.example.toml" "$root/usr/share/doc/station-agent/station.example.toml"
[ -f "$repo/Hardware/udev/README.md" ] && install -m 0644 "$repo/Hardware/udev/README.md" "$root/usr/share/doc/station-agent/udev.md"
for script in postinst prerm postrm; do
    install -m 0755 "$here/maintainer/$script" "$root/DEBIAN/$script"
done
printf '/etc/station-agent/station.toml\n' > "$root/DEBIAN/conffiles"
chmod 0644 "$root/DEBIAN/conffiles"

size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<CONTROL
Package: station-agent
Version: $version
Architecture: $arch
Maintainer: StationAgent maintainers <station-agent@localhost>
Section: misc
Priority: optional
Installed-Size: $size
Depends: $depends
Recommends: systemd, udev
Homepage: https://localhost/station-agent
Description: field agent for community service-station kiosks
 Reads card readers and alarm boxes over serial lines, keeps every event
 durably in an SQLite queue, and forwards the events to the district platform.
 Runs as the systemd service station-agent (user station-agent, group dialout).
CONTROL

mkdir -p "$out"
deb="$out/station-agent_${version}_${arch}.deb"
# shellcheck disable=SC2086
dpkg-deb --root-owner-group $compression --build "$root" "$deb" >/dev/null
echo "$deb"
