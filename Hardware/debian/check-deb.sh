#!/bin/sh
# Builds the package (arguments go to build-deb.sh, e.g. --binary PATH) and checks it:
# the expected files with their modes, the conffile, the control fields, the maintainer
# scripts' syntax, and (where systemd-analyze exists) the unit. Exit 0 when all hold.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok:   $*"; }

deb=$("$here/build-deb.sh" "$@" | tail -1)
[ -f "$deb" ] || { echo "FAIL: build-deb.sh produced no package ($deb)" >&2; exit 1; }
echo "package: $deb"

contents=$(dpkg-deb --contents "$deb")
expect_file() { # mode path
    line=$(printf '%s\n' "$contents" | awk -v p="./$2" '$NF == p {print $1; exit}')
    if [ -z "$line" ]; then fail "$2 is not in the package"; return; fi
    [ "$line" = "$1" ] && pass "$2 ($1)" || fail "$2 has mode $line, expected $1"
}
expect_file -rwxr-xr-x usr/bin/station-agent
expect_file -rw-r----- etc/station-agent/station.toml
expect_file -rw-r--r-- lib/systemd/system/station-agent.service
expect_file -rw-r--r-- lib/udev/rules.d/60-station-agent.rules
printf '%s\n' "$contents" | awk '{print $2}' | grep -qv '^root/root$' && fail "files not owned by root/root" || pass "all files root/root"

[ "$(dpkg-deb --field "$deb" Package)" = station-agent ] && pass "Package: station-agent" || fail "Package field"
[ "$(dpkg-deb --field "$deb" Architecture)" = "$(dpkg --print-architecture)" ] && pass "Architecture" || fail "Architecture field"
depends=$(dpkg-deb --field "$deb" Depends)
for package in adduser libserialport0 libsqlite3-0; do
    case ", $depends," in *", $package,"*|*", $package "*) pass "Depends: $package" ;; *) fail "Depends lacks $package ($depends)" ;; esac
done

control=$(mktemp -d "${TMPDIR:-/tmp}/station-agent-control.XXXXXX")
trap 'rm -rf "$control"' EXIT
dpkg-deb --control "$deb" "$control"
[ "$(cat "$control/conffiles")" = /etc/station-agent/station.toml ] && pass "conffiles" || fail "conffiles: $(cat "$control/conffiles")"
for script in postinst prerm postrm; do
    if [ -x "$control/$script" ] && sh -n "$control/$script"; then pass "$script (executable, sh syntax)"; else fail "$script"; fi
done
grep -q 'adduser "$user" dialout' "$control/postinst" && pass "postinst adds the user to dialout" || fail "postinst: dialout"
grep -q 'rm -rf /var/lib/station-agent' "$control/postrm" && pass "postrm purges the queue" || fail "postrm: purge"

if command -v systemd-analyze >/dev/null 2>&1; then
    if "$here/../systemd/verify-unit.sh" >/dev/null; then pass "systemd-analyze verify"; else fail "systemd-analyze verify"; fi
else
    echo "skip: systemd-analyze not installed"
fi

if [ "$failures" -ne 0 ]; then echo "check-deb.sh: $failures check(s) failed" >&2; exit 1; fi
echo "check-deb.sh: all checks passed"
