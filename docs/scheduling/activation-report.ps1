<#
.SYNOPSIS
The daily activation report for Windows Task Scheduler (README: "Daily run"); the twin of
daily-report.sh.

.DESCRIPTION
Runs `activation-kb report run --fail-on-spike` from the clone's .venv, publishes into
<Reports>\latest, and appends one line per run to <Reports>\daily.log:
  2026-03-06T06:30:04Z ok, 2 incidents: C:\activation-kb\reports\latest\fleet_report.html
  2026-03-07T06:30:02Z failed (exit 2): Error: events: \\fileserver\kms-exports: no such file or directory
With -MailTo and -SmtpServer it mails summary.txt (plain text) when incidents were found, and
the error when the run failed. The exit code is that of `report run` (README, "Exit codes"):
0 ok, 3 ok with incidents, 1 failure, 2 bad usage or input; the task's "Last Run Result".

.EXAMPLE
powershell.exe -NoProfile -ExecutionPolicy Bypass -File C:\activation-kb\docs\scheduling\activation-report.ps1 -Events \\fileserver\kms-exports -Tz Europe/Paris
#>
param(
    # The clone, with its .venv (default: two folders above this script).
    [string]$AkbHome = (Resolve-Path (Join-Path $PSScriptRoot "..\..")).Path,
    # Exports to read: file, folder or glob (default: the bundled sample).
    [string]$Events = "",
    # Period: a duration before the last event, or a date.
    [string]$Since = "7D",
    # Where reports and the log go (created).
    [string]$Reports = "",
    # Time zone of Get-WinEvent | Export-Csv local times, e.g. Europe/Paris.
    [string]$Tz = "",
    # Mail the summary to this address through this SMTP server.
    [string]$MailTo = "",
    [string]$SmtpServer = "",
    [string]$MailFrom = "activation-kb@$env:COMPUTERNAME"
)

if (-not $Reports) { $Reports = Join-Path $AkbHome "reports" }
New-Item -ItemType Directory -Force -Path $Reports | Out-Null
$log = Join-Path $Reports "daily.log"
$runLog = Join-Path $Reports "last-run.txt"
$out = Join-Path $Reports "latest"

function Write-RunLine([string]$text) {
    $stamp = (Get-Date).ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ssZ")
    Add-Content -Path $log -Value "$stamp $text" -Encoding UTF8
}

function Send-Summary([string]$subject, [string]$file) {
    if (-not $MailTo) { return }
    if (-not $SmtpServer) { Write-RunLine "mail not sent: no -SmtpServer"; return }
    try {
        Send-MailMessage -To $MailTo -From $MailFrom -Subject $subject -SmtpServer $SmtpServer `
            -Body (Get-Content -Raw -Encoding UTF8 $file) -Encoding UTF8
    } catch {
        Write-RunLine "mail to $MailTo failed: $($_.Exception.Message)"
    }
}

$cli = Join-Path $AkbHome ".venv\Scripts\activation-kb.exe"
if (-not (Test-Path $cli)) {
    Write-RunLine "failed (exit 1): $cli not found; create the .venv in $AkbHome"
    exit 1
}

$arguments = @("report", "run", "--out", $out, "--since", $Since, "--fail-on-spike")
if ($Events) { $arguments += @("--events", $Events) }
if ($Tz) { $arguments += @("--tz", $Tz) }
& $cli @arguments *> $runLog
$status = $LASTEXITCODE

if ($status -eq 0 -or $status -eq 3) {
    $incidents = (Get-Content -Raw -Encoding UTF8 (Join-Path $out "manifest.json") |
        ConvertFrom-Json).incidents
    $word = if ($incidents -eq 1) { "incident" } else { "incidents" }
    Write-RunLine "ok, $incidents $word: $(Join-Path $out 'fleet_report.html')"
    if ($status -eq 3) {
        Send-Summary "KMS activation: $incidents $word" (Join-Path $out "summary.txt")
    }
} else {
    $last = (Get-Content $runLog | Where-Object { $_.Trim() } | Select-Object -Last 1)
    Write-RunLine "failed (exit $status): $last"
    Send-Summary "KMS activation report failed (exit $status)" $runLog
}
exit $status
