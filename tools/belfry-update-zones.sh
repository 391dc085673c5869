#!/bin/sh
# belfry-update-zones: rebuild belfry's zone rules from the system's tzdata
# (after a tzdata package upgrade), without the source tree.  Installed by
# make install as LIBEXECDIR/belfry-update-zones; see docs/operations.md
# ("Zone rules after a tzdata update").  Needs genrb (Debian: icu-devtools).
#
#   belfry-update-zones [ZONEINFO_DIR]      (default /usr/share/zoneinfo)
#
# The new rules replace the old file in one rename; restart belfryd to
# load them (systemctl restart belfry).
set -eu
TZGEN=@LIBEXECDIR@/belfry-tzgen
ICU=@DATADIR@/icu
ZONEINFO=${1:-/usr/share/zoneinfo}
command -v genrb >/dev/null 2>&1 || {
	echo "belfry-update-zones: genrb not found (Debian: apt-get install icu-devtools)" >&2
	exit 1
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$TZGEN" "$ZONEINFO" > "$tmp/zoneinfo64.txt"
genrb -q -d "$tmp" "$tmp/zoneinfo64.txt"
install -m 644 "$tmp/zoneinfo64.res" "$ICU/zoneinfo64.res.new"
mv -f "$ICU/zoneinfo64.res.new" "$ICU/zoneinfo64.res"
echo "belfry-update-zones: $ICU/zoneinfo64.res rebuilt from $ZONEINFO ($(cat "$ZONEINFO/tzdata.zi" 2>/dev/null | sed -n 's/^# version //p'))"
