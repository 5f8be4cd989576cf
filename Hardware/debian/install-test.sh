#!/usr/bin/env bash
# The package on a booted system: a Debian 12 root made with debootstrap, booted with
# systemd-nspawn, the package installed with dpkg, and the service checked against what a kiosk
# needs of it (Type=notify reaching ready, a reader's line, a tap delivered to a platform
# emulator outside the container, the watchdog, upgrade, `station-agent setup` with its test
# alarm through the service, remove, purge).
#
#   Hardware/debian/install-test.sh [--deb PATH] [--sim PATH] [--work DIR] [--keep]
#
#   --deb PATH   the package to test (default: the newest dist/station-agent_*.deb). A package
#                of a binary that needs the Swift runtime (build-deb.sh --allow-toolchain-libs)
#                works too: the toolchain's /opt/swift is then bound into the container read-only.
#   --sim PATH   station-sim, for the virtual reader and the platform emulator (default: the
#                debug build next to this repository's sources, built if missing).
#   --work DIR   working directory (default: a new one under /var/tmp; removed unless --keep).
#
# Needs root (systemd-nspawn), network access to deb.debian.org (debootstrap), and installs
# debootstrap, systemd-container and curl from Debian when they are missing. About three
# minutes, half of it the watchdog's 30 s and the restart after it.
#
# Each check prints `install-test: ok: WHAT` or `install-test: FAIL: WHAT`; the last line is
# `install-test: all N checks passed` (exit 0) or `install-test: N of M checks failed` (exit 1).
# The unit gets one drop-in for the test only: `DeviceAllow=char-pts rw`, because the virtual
# reader is a pseudo-terminal where a kiosk has a USB adapter (char-ttyUSB, already allowed).
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
deb="" sim="" work="" keep=no
while [ $# -gt 0 ]; do
    case "$1" in
        --deb) deb=$2; shift 2 ;;
        --sim) sim=$2; shift 2 ;;
        --work) work=$2; shift 2 ;;
        --keep) keep=yes; shift ;;
        -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
        *) echo "install-test.sh: unknown argument $1 (see --help)" >&2; exit 64 ;;
    esac
done

say() { echo "install-test: $*"; }
[ "$(id -u)" = 0 ] || { echo "install-test.sh: needs root (systemd-nspawn boots a container); run it with sudo" >&2; exit 77; }

missing=""
command -v debootstrap >/dev/null || missing="$missing debootstrap"
command -v systemd-nspawn >/dev/null || missing="$missing systemd-container"
command -v curl >/dev/null || missing="$missing curl"
if [ -n "$missing" ]; then
    say "installing from Debian:$missing"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >/dev/null
fi

if [ -z "$deb" ]; then
    deb=$(ls -t "$repo"/dist/station-agent_*.deb 2>/dev/null | head -1 || true)
    [ -n "$deb" ] || { echo "install-test.sh: no package in $repo/dist; build one with Hardware/debian/build-deb.sh, or pass --deb" >&2; exit 66; }
fi
[ -f "$deb" ] || { echo "install-test.sh: $deb: no such package" >&2; exit 66; }
if [ -z "$sim" ]; then
    sim="$repo/.build/debug/station-sim"
    [ -x "$sim" ] || (cd "$repo" && swift build --product station-sim >/dev/null)
fi

work=${work:-$(mktemp -d /var/tmp/station-install-test.XXXXXX)}
mkdir -p "$work/debs"
root="$work/root"
nspawn_pid="" sim_pids=""
cleanup() {
    set +e
    [ -n "$nspawn_pid" ] && kill "$nspawn_pid" 2>/dev/null && wait "$nspawn_pid" 2>/dev/null
    for pid in $sim_pids; do kill "$pid" 2>/dev/null; done
    exec 3>&- 2>/dev/null
    if [ "$keep" = no ]; then rm -rf "$work"; else say "kept $work"; fi
}
trap cleanup EXIT

passed=0 failed=0
check() {  # check WHAT COMMAND...: one line, ok or FAIL
    local what=$1; shift
    if "$@" >"$work/check.out" 2>&1; then
        passed=$((passed + 1)); say "ok: $what"
    else
        failed=$((failed + 1)); say "FAIL: $what"; sed 's/^/    /' "$work/check.out" | tail -20
    fi
}
# Waits up to $1 seconds for COMMAND to succeed.
within() {
    local seconds=$1; shift
    local deadline=$((SECONDS + seconds))
    until "$@"; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.5
    done
}

# The upgrade: the same binary as a newer version.
version=$(dpkg-deb -f "$deb" Version)
cp "$deb" "$work/debs/first.deb"
dpkg-deb -x "$deb" "$work/unpacked"
# A test package of a debug binary needs the toolchain's Swift runtime (bound in below).
allow="" toolchain=no
if ldd "$work/unpacked/usr/bin/station-agent" 2>/dev/null | grep -q "/opt/swift"; then allow="--allow-toolchain-libs" toolchain=yes; fi
"$repo/Hardware/debian/build-deb.sh" --binary "$work/unpacked/usr/bin/station-agent" --version "$version+upgrade1" \
    --out "$work/debs" $allow --fast >"$work/build-upgrade.log" 2>&1 \
    || { cat "$work/build-upgrade.log"; exit 1; }
upgrade=$(ls "$work"/debs/station-agent_*upgrade1*.deb)
mv "$upgrade" "$work/debs/second.deb"

# The mirror this machine's apt uses (a local one in a closed network), else Debian's.
mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
mirror=${mirror:-http://deb.debian.org/debian}
say "debootstrap bookworm from $mirror into $root"
debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,libserialport0,libsqlite3-0,adduser,procps \
    bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log"; exit 1; }
# The test's drop-in, before the package arrives (its postinst reloads systemd).
mkdir -p "$root/etc/systemd/system/station-agent.service.d"
printf '[Service]\n# install-test.sh only: the virtual reader is a pseudo-terminal.\nDeviceAllow=char-pts rw\n' \
    >"$root/etc/systemd/system/station-agent.service.d/install-test.conf"

# The platform emulator and a virtual reader, outside the container (it shares the host's network).
port=$((20000 + RANDOM % 20000))
"$sim" emulator --port "$port" --db "$work/platform.sqlite" --log-level warning >"$work/emulator.log" 2>&1 &
emulator_pid=$!; sim_pids="$sim_pids $emulator_pid"
mkfifo "$work/reader.in"
"$sim" reader --link "$work/reader-1" <"$work/reader.in" >"$work/reader.log" 2>&1 &
sim_pids="$sim_pids $!"
exec 3>"$work/reader.in"
within 30 test -L "$work/reader-1" || { say "the virtual reader did not start"; cat "$work/reader.log"; exit 1; }
pty=$(readlink -f "$work/reader-1")
# As udev leaves a USB serial adapter: group dialout (gid 20 on Debian, inside and out), 0660.
chgrp 20 "$pty" && chmod 660 "$pty"

binds=(--bind="$pty:/dev/ttyUSB7" --bind-ro="$work/debs:/debs")
[ "$toolchain" = yes ] && binds+=(--bind-ro=/opt/swift)
say "booting the container (systemd-nspawn --boot)"
systemd-nspawn -D "$root" --boot --register=no --keep-unit --console=read-only --machine=station-install-test \
    "${binds[@]}" >"$work/nspawn.log" 2>&1 &
nspawn_pid=$!
inner=""
find_inner() { inner=$(pgrep -P "$nspawn_pid" -x systemd | head -1); [ -n "$inner" ]; }
within 60 find_inner || { say "the container did not start"; cat "$work/nspawn.log"; exit 1; }
inside() { nsenter -t "$inner" -a "$@"; }
booted() { local state; state=$(inside systemctl is-system-running 2>/dev/null || true); [ "$state" = running ] || [ "$state" = degraded ]; }
check "the container boots (systemctl is-system-running)" within 90 booted

# --- install
check "dpkg -i installs the package" inside dpkg -i /debs/first.deb
active() { [ "$(inside systemctl is-active station-agent)" = active ]; }
check "the service reaches ready (Type=notify: active only after READY=1)" within 60 active
check "the system user station-agent exists, in dialout" sh -c "nsenter -t $inner -a id -nG station-agent | grep -qw dialout"
check "the state directory is /var/lib/station-agent, mode 0700" sh -c "[ \"\$(stat -c %a $root/var/lib/station-agent)\" = 700 ]"

# --- a reader and the platform
cat >"$root/etc/station-agent/station.toml" <<EOF
# Written by install-test.sh.
[station]
id = "ST-NSPAWN"

[platform]
url = "http://127.0.0.1:$port"

[privacy]
card_ids = "raw"

[[device]]
name = "reader-1"
kind = "card-reader"
profile = "rdm6300"
purpose = "check-in"
port = "/dev/ttyUSB7"
EOF
config_sum=$(sha256sum "$root/etc/station-agent/station.toml" | cut -d' ' -f1)
inside systemctl restart station-agent
check "the service restarts with a reader on its line" within 60 active
reader_open() { inside journalctl -u station-agent -b --no-pager | grep -q "device=reader-1.*reader open\|reader open.*device=reader-1"; }
check "the agent opens the reader's line under the unit's hardening" within 30 reader_open
arrived() { curl -fsS "http://127.0.0.1:$port/v1/received?station=ST-NSPAWN&after=0&limit=1000" | grep -q "\"$1\""; }
echo "tap 1A002F4B6C" >&3
check "a tap reaches the platform emulator outside the container" within 30 arrived 1A002F4B6C

# --- the watchdog
main_pid=$(inside systemctl show -p MainPID --value station-agent)
inside kill -STOP "$main_pid"
restarted() { local now; now=$(inside systemctl show -p MainPID --value station-agent); [ "$now" != "$main_pid" ] && [ "$now" != 0 ] && active; }
check "a stopped agent (SIGSTOP) is restarted by the watchdog (WatchdogSec=30s)" within 90 restarted
check "the journal names the watchdog" sh -c "nsenter -t $inner -a journalctl -u station-agent -b --no-pager | grep -q 'Watchdog timeout'"

# --- upgrade: the queue and the configuration stay
kill "$emulator_pid"; wait "$emulator_pid" 2>/dev/null || true
echo "tap 0F00000001" >&3
queued() { inside station-agent status --config /etc/station-agent/station.toml 2>/dev/null | grep -Eq "queued normal: [1-9]"; }
check "with the platform down, the tap waits in the queue (station-agent status)" within 30 queued
check "dpkg -i of a newer version upgrades" inside dpkg -i /debs/second.deb
check "the upgrade keeps the configuration" sh -c "[ \"\$(sha256sum $root/etc/station-agent/station.toml | cut -d' ' -f1)\" = $config_sum ]"
check "the service runs the new version" within 60 active
"$sim" emulator --port "$port" --db "$work/platform.sqlite" --log-level warning >>"$work/emulator.log" 2>&1 &
emulator_pid=$!; sim_pids="$sim_pids $emulator_pid"
check "the tap queued before the upgrade reaches the platform after it" within 60 arrived 0F00000001

# --- station-agent setup on the kiosk: the wizard writes the file, and its test alarm runs
# through the service it restarts. Its answers come through a FIFO, each when its prompt is out;
# the button is a simulated line file in the state directory, which the unit lets the agent read.
inside systemctl stop station-agent
button="$root/var/lib/station-agent/button.lines"
press() { printf 'cts=0 dsr=%s dcd=0 ri=0\n' "$1" >"$button.new" && mv "$button.new" "$button"; }
press 0
mkfifo "$work/setup.in"
nsenter -t "$inner" -a station-agent setup --port /dev/ttyUSB7 --port sim:/var/lib/station-agent/button.lines \
    <"$work/setup.in" >"$work/setup.out" 2>&1 &
setup_pid=$!
exec 4>"$work/setup.in"
said() { grep -qF -- "$1" "$work/setup.out"; }
answer() { within 60 said "$1" && echo "$2" >&4; }
answer "exists. Replace it" y
answer "Station id" ST-SETUP
answer "Platform URL" "http://127.0.0.1:$port"
for part in "Bearer token file" "  district" "  street" "  community" "  grid" "  micro-grid"; do answer "$part" ""; done
tapped() { echo "tap 1A002F4B6C" >&3; sleep 0.3; said ": card reader, profile rdm6300"; }
within 60 said "Tap a card on each card reader now" && within 30 tapped && echo "" >&4
answer "Is there a dry-contact alarm button" y
within 60 said "Now press the alarm button" && press 1
within 30 said "the button, on DSR" && press 0
answer "reader-1 (card reader" ""
answer "district's key file" raw
within 60 said "Press the alarm button now" && press 1
setup_ended() { ! kill -0 "$setup_pid" 2>/dev/null; }
within 90 setup_ended || kill "$setup_pid" 2>/dev/null
press 0
exec 4>&-
check "station-agent setup: the file it writes names the reader's line, its profile and the button" \
    sh -c "grep -q 'profile = \"rdm6300\"' $root/etc/station-agent/station.toml && grep -q 'input = \"dsr\"' $root/etc/station-agent/station.toml"
check "station-agent setup: doctor passes on it" said "0 FAIL"
check "station-agent setup: the test alarm passes through the service it restarted" \
    sh -c "grep -q 'The service was restarted with the new file' $work/setup.out && grep -q '^PASS: alarm stored and received by the platform' $work/setup.out"
check "station-agent setup: the service runs with the new file" within 30 active
sed 's/^/    setup: /' "$work/setup.out" | tail -12

# --- remove keeps the state, purge deletes it
check "dpkg -r removes the package" inside dpkg -r station-agent
check "remove keeps the queue and the configuration" sh -c "test -f $root/var/lib/station-agent/events.sqlite && test -f $root/etc/station-agent/station.toml"
check "remove stops the service" sh -c "! nsenter -t $inner -a systemctl is-active --quiet station-agent"
check "dpkg -P purges it" inside dpkg -P station-agent
check "purge deletes the queue, the configuration and the user" \
    sh -c "! test -e $root/var/lib/station-agent && ! test -e $root/etc/station-agent && ! nsenter -t $inner -a id station-agent"

total=$((passed + failed))
if [ "$failed" = 0 ]; then
    say "all $total checks passed ($(basename "$deb"), systemd $(inside systemctl --version | head -1 | cut -d' ' -f2))"
else
    say "$failed of $total checks failed"
    exit 1
fi
