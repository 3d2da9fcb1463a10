#!/bin/sh
# The daily activation report, for cron and systemd timers (README: "Daily run").
#
# Runs `activation-kb report run --fail-on-spike` from the clone's .venv, publishes into
# $AKB_REPORTS/latest, and appends one line per run to $AKB_REPORTS/daily.log:
#   2026-03-06T06:30:04Z ok, 2 incidents: /srv/activation-kb/reports/latest/fleet_report.html
#   2026-03-07T06:30:02Z failed (exit 2): Error: events: /srv/exports: no such file or directory
# With AKB_MAIL_TO set it mails summary.txt (plain text) when incidents were found, and the
# error when the run failed.
#
# Settings (environment variables; cron lines and systemd units set them):
#   AKB_HOME     the clone, with its .venv (default: two folders above this script)
#   AKB_EVENTS   exports to read: file, folder or glob (default: the bundled sample)
#   AKB_SINCE    period, a duration before the last event or a date (default: 7D)
#   AKB_REPORTS  where reports and the log go (default: $AKB_HOME/reports; created)
#   AKB_MAIL_TO  address to mail (default: none); needs a `mail` command (bsd-mailx)
#   AKB_OPTIONS  more `report run` options, e.g. "--tz Europe/Paris --lang fr"
#
# Exit status: that of `activation-kb report run` (README, "Exit codes"): 0 ok, 3 ok with
# incidents, 1 failure, 2 bad usage or input; 1 also when AKB_HOME has no .venv.
set -u

here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
home=${AKB_HOME:-$(CDPATH= cd -- "$here/../.." && pwd)}
reports=${AKB_REPORTS:-$home/reports}
since=${AKB_SINCE:-7D}
out=$reports/latest
log=$reports/daily.log
run_log=$reports/last-run.txt

mkdir -p "$reports" || { echo "daily-report: cannot create $reports" >&2; exit 1; }
stamp() { date -u +%Y-%m-%dT%H:%M:%SZ; }
say() { echo "$(stamp) $*" >> "$log"; }

mail_to() {  # subject, file
    [ -n "${AKB_MAIL_TO:-}" ] || return 0
    if command -v mail > /dev/null 2>&1; then
        mail -s "$1" "$AKB_MAIL_TO" < "$2" || say "mail to $AKB_MAIL_TO failed"
    else
        say "mail not sent: no mail command (install bsd-mailx)"
    fi
}

cli=$home/.venv/bin/activation-kb
if [ ! -x "$cli" ]; then
    say "failed (exit 1): $cli not found; run 'make venv' in $home"
    exit 1
fi

# One run at a time: a run still going when the next one starts makes the next one wait.
if command -v flock > /dev/null 2>&1; then
    exec 9> "$reports/.daily.lock"
    flock 9
fi

set -- report run --out "$out" --since "$since" --fail-on-spike
if [ -n "${AKB_EVENTS:-}" ]; then
    set -- "$@" --events "$AKB_EVENTS"
fi
# AKB_OPTIONS is split on spaces on purpose (several options)
# shellcheck disable=SC2086
"$cli" "$@" ${AKB_OPTIONS:-} > "$run_log" 2>&1
status=$?

case $status in
    0 | 3)
        incidents=$("$home/.venv/bin/python" -c \
            'import json, sys; print(json.load(open(sys.argv[1]))["incidents"])' \
            "$out/manifest.json" 2> /dev/null || echo "?")
        word=incidents
        [ "$incidents" = 1 ] && word=incident
        say "ok, $incidents $word: $out/fleet_report.html"
        if [ "$status" -eq 3 ]; then
            mail_to "KMS activation: $incidents $word" "$out/summary.txt"
        fi
        ;;
    *)
        say "failed (exit $status): $(grep -v '^ *$' "$run_log" | tail -n 1)"
        mail_to "KMS activation report failed (exit $status)" "$run_log"
        ;;
esac
exit "$status"
