#!/bin/sh
# Builds tbsync.xpi and eas4tbsync.xpi from local git directories of the
# upstream repositories (jobisoft/TbSync, jobisoft/EAS-4-TbSync; bare or not).
# An .xpi is a zip of the add-on's tree with manifest.json at its root.
# Nothing is downloaded and nothing lands in this repository.
#
#   TBSYNC_GIT=/path/TbSync.git EAS4TBSYNC_GIT=/path/EAS-4-TbSync.git \
#     integration/thunderbird/build-xpi.sh
#
# TBSYNC_REF / EAS4TBSYNC_REF (default TB140) choose the branch or tag;
# TBSYNC_BUILD_DIR (default ~/.cache/syncml-imap/tbsync) where the xpis go.
set -eu
: "${TBSYNC_GIT:?set TBSYNC_GIT to a git directory of jobisoft/TbSync}"
: "${EAS4TBSYNC_GIT:?set EAS4TBSYNC_GIT to a git directory of jobisoft/EAS-4-TbSync}"
TBSYNC_REF=${TBSYNC_REF:-TB140}
EAS4TBSYNC_REF=${EAS4TBSYNC_REF:-TB140}
OUT=${TBSYNC_BUILD_DIR:-$HOME/.cache/syncml-imap/tbsync}
mkdir -p "$OUT"

build() { # git-dir ref out.xpi
	# Only what the add-on loads: no screenshots, no unused icons.
	git -C "$1" archive --format=zip -o "$3.tmp" "$2" \
		manifest.json background.js _locales api content LICENSE
	mv "$3.tmp" "$3"
	v=$(git -C "$1" show "$2:manifest.json" | sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' | head -1)
	c=$(git -C "$1" rev-parse "$2")
	echo "$3: version $v, $2 = $c"
}
build "$TBSYNC_GIT" "$TBSYNC_REF" "$OUT/tbsync.xpi"
build "$EAS4TBSYNC_GIT" "$EAS4TBSYNC_REF" "$OUT/eas4tbsync.xpi"
