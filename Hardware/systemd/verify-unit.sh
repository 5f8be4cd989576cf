#!/bin/sh
# Runs `systemd-analyze verify` on station-agent.service in a scratch root, so that neither the
# agent nor the unit has to be installed on this machine. verify insists that ExecStart's binary
# exists and that the units it names (sysinit.target, ...) exist: the scratch root gets a
# copy of the system's units and an executable stand-in at /usr/bin/station-agent
# (pass a real binary as $1 to check that instead).
# Exit status: 0 when verify prints nothing, 1 when it fails or warns, 2 when systemd-analyze is missing.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
unit="$here/station-agent.service"
command -v systemd-analyze >/dev/null 2>&1 || { echo "systemd-analyze not found (apt-get install systemd)" >&2; exit 2; }
root=$(mktemp -d "${TMPDIR:-/tmp}/station-unit-verify.XXXXXX")
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/usr/bin" "$root/bin" "$root/etc/systemd/system" "$root/usr/lib/systemd"
if [ -d /usr/lib/systemd/system ]; then cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"; fi
if [ $# -ge 1 ]; then
    cp "$1" "$root/usr/bin/station-agent"
else
    printf '#!/bin/sh\nexit 0\n' > "$root/usr/bin/station-agent"
fi
chmod 0755 "$root/usr/bin/station-agent"
cp "$(command -v kill 2>/dev/null || echo /bin/kill)" "$root/bin/kill" 2>/dev/null || printf '#!/bin/sh\n' > "$root/bin/kill"
chmod 0755 "$root/bin/kill"
cp "$unit" "$root/etc/systemd/system/station-agent.service"
echo "+ systemd-analyze verify --root=$root station-agent.service"
# verify exits 0 even for lines it ignores ("Failed to parse ..., ignoring"): any output fails.
output=$(systemd-analyze verify --root="$root" station-agent.service 2>&1) || { echo "$output" >&2; exit 1; }
if [ -n "$output" ]; then echo "$output" >&2; echo "station-agent.service: systemd-analyze verify reported problems" >&2; exit 1; fi
echo "station-agent.service: systemd-analyze verify passed ($(systemd-analyze --version | head -1))"
