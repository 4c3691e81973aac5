#!/bin/sh
# Runs the real ActiveSync client, Thunderbird + TbSync + EAS-4-TbSync,
# headless against an EAS server, and drives it over Marionette:
# fresh profile, pre-seeded account, sync (folder list, then the contacts,
# calendar and tasks folders), add a contact, an event and a task, sync,
# change the contact and delete the event, sync, list.
#
# The add-ons are not in this repository and are never fetched here:
#   TBSYNC_XPI, EAS4TBSYNC_XPI  built add-ons (default $TBSYNC_BUILD_DIR/tbsync.xpi,
#                               eas4tbsync.xpi; TBSYNC_BUILD_DIR defaults to
#                               ~/.cache/syncml-imap/tbsync)
#   TBSYNC_GIT, EAS4TBSYNC_GIT  or local git directories of jobisoft/TbSync and
#                               jobisoft/EAS-4-TbSync to build them from (build-xpi.sh)
# Without them the run is skipped: exit 77.
#
# Server: EAS_URL (e.g. http://127.0.0.1:8080; the profile lets Thunderbird reach
# 127.0.0.1 only), EAS_USER, EAS_PASSWORD.
# Without EAS_URL the recording stub easstub.py is started on 127.0.0.1 and
# what Thunderbird sends lands in EAS_RECORD_DIR (default $TB_WORK/recorded);
# it sends one contact, event and task to the client unless EAS_STUB_SEED=0.
#
# TB_WORK (default a new temp dir) holds the profile and logs;
# MARIONETTE_PORT (default 2828); THUNDERBIRD (default thunderbird);
# EAS_VERSION (auto, 14.0, 16.1, ...; auto lets TbSync pick, 14.0 when offered);
# EAS_DEVICE_ID (default random MZTB...); EAS_PROVISION=1 asks for a policy first.
# Needs: thunderbird (Debian 1:140.12.0esr-1~deb12u1), xvfb-run, python3.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
BUILD=${TBSYNC_BUILD_DIR:-$HOME/.cache/syncml-imap/tbsync}
TBSYNC_XPI=${TBSYNC_XPI:-$BUILD/tbsync.xpi}
EAS4TBSYNC_XPI=${EAS4TBSYNC_XPI:-$BUILD/eas4tbsync.xpi}
if [ ! -f "$TBSYNC_XPI" ] || [ ! -f "$EAS4TBSYNC_XPI" ]; then
	if [ -n "${TBSYNC_GIT:-}" ] && [ -n "${EAS4TBSYNC_GIT:-}" ]; then
		TBSYNC_BUILD_DIR=$BUILD "$here/build-xpi.sh"
	else
		echo "run.sh: skip: no TbSync/EAS-4-TbSync add-ons (set TBSYNC_XPI and EAS4TBSYNC_XPI, or TBSYNC_GIT and EAS4TBSYNC_GIT)" >&2
		exit 77
	fi
fi
THUNDERBIRD=${THUNDERBIRD:-thunderbird}
for t in "$THUNDERBIRD" xvfb-run python3; do
	command -v "$t" >/dev/null || { echo "run.sh: skip: $t not installed" >&2; exit 77; }
done

TB_WORK=${TB_WORK:-$(mktemp -d /tmp/tbsync-run.XXXXXX)}
mkdir -p "$TB_WORK"
export MARIONETTE_PORT=${MARIONETTE_PORT:-2828}
EAS_USER=${EAS_USER:-alice}
EAS_PASSWORD=${EAS_PASSWORD:-secret}
drv() { python3 "$here/tbdriver.py" "$@"; }
step() { # name, driver arguments: runs one step and says how long it took
	s0=$(date +%s.%N); n=$1; shift
	drv "$@"
	echo "run.sh: $n: $(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $s0 }")s" >&2
}
stub_pid="" tb_pid=""
cleanup() {
	# Thunderbird quits over Marionette; xvfb-run then stops its Xvfb itself
	# (killing xvfb-run instead would leave the Xvfb behind).
	if [ -n "$tb_pid" ]; then
		drv --timeout 10 quit 2>/dev/null || true
		i=0
		while kill -0 "$tb_pid" 2>/dev/null && [ $i -lt 30 ]; do sleep 0.5; i=$((i + 1)); done
		kill "$tb_pid" 2>/dev/null || true
	fi
	[ -z "$stub_pid" ] || kill "$stub_pid" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

if [ -z "${EAS_URL:-}" ]; then
	port=${EAS_STUB_PORT:-8765}
	EAS_RECORD_DIR=${EAS_RECORD_DIR:-$TB_WORK/recorded}
	python3 "$here/easstub.py" --port "$port" --record "$EAS_RECORD_DIR" \
		--answer "${EAS_STUB_ANSWER:-minimal}" $([ "${EAS_STUB_SEED:-1}" = 1 ] && echo --seed) \
		2>"$TB_WORK/easstub.log" &
	stub_pid=$!
	EAS_URL=http://127.0.0.1:$port
fi

start=$(date +%s)
drv profile --profile "$TB_WORK/profile" --tbsync-xpi "$TBSYNC_XPI" --eas-xpi "$EAS4TBSYNC_XPI" \
	--url "$EAS_URL" --user "$EAS_USER" --asversion "${EAS_VERSION:-auto}" \
	${EAS_DEVICE_ID:+--device-id "$EAS_DEVICE_ID"} ${EAS_PROVISION:+--provision}
# -remote-allow-system-access: Marionette's chrome context, where TbSync lives.
xvfb-run -a "$THUNDERBIRD" --profile "$TB_WORK/profile" --no-remote --marionette \
	-remote-allow-system-access >"$TB_WORK/thunderbird.log" 2>&1 &
tb_pid=$!

step "startup+password+folder list+first sync" sync --user "$EAS_USER" --password "$EAS_PASSWORD" --select-all
step add-contact add-contact --first Erika --last Mustermann --email erika@example.org
step add-event add-event --title "Test event" --start 20270115T100000Z --end 20270115T110000Z
step add-task add-task --title "Test task" --due 20270120T120000Z
step add-series add-event --title "TB series" --start 20270201T100000Z --end 20270201T110000Z --rrule "FREQ=WEEKLY;COUNT=4"
step sync sync --user "$EAS_USER"
step change-contact change-contact --name "Erika Mustermann" --title Engineer
step delete-item delete-item --title "Test event"
step move-occurrence move-occurrence --title "TB series" --occurrence 20270208T100000Z --start 20270208T140000Z --end 20270208T150000Z
step delete-occurrence delete-occurrence --title "TB series" --occurrence 20270215T100000Z
step sync sync --user "$EAS_USER"
step list list
echo "run.sh: done in $(( $(date +%s) - start ))s; profile and logs in $TB_WORK" >&2
