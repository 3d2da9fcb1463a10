"""Recover insertion strings from a rendered event message (CSV exports, Log Analytics).

``Get-WinEvent | Export-Csv``, Event Viewer CSV and the Log Analytics ``Event`` table keep the
rendered, localised message but not the insertion strings. The KMS events print their Info
payload on the line after ``Info:`` (``Infos :`` in French), e.g.::

    The client has sent an activation request to the key management service machine.
    Info:
    0xC004F074, 0x00000000, kms01.contoso.com:1688, 36f27b39-..., 2024/03/01 08:00, 0, 2, ...

Rules-engine events (8198, 8233), 1003 and 12308 keep the whole message: their fields are found
by label (``hr=``, ``Reason:``, ``AppId=``, ``SkuId=``, ``Trigger=``) or as the first GUID.
"""

from __future__ import annotations

import re

__all__ = ["message_items"]

_INFO_LABEL = re.compile(r"^\s*info\w*\s*:\s*$", re.I)
_QUOTED = re.compile(r"'([^']*)'")
_INFO_IDS = {12288, 12289, 12290}


def _info_line(lines: list[str]) -> str:
    for i, line in enumerate(lines[:-1]):
        if _INFO_LABEL.match(line):
            return next((x.strip() for x in lines[i + 1:] if x.strip()), "")
    filled = [x.strip() for x in lines if x.strip()]
    return filled[-1] if filled else ""


def message_items(event_id: int | None, message: str | None) -> list[str]:
    """Return the insertion strings that a rendered message of ``event_id`` carries."""
    if not message:
        return []
    eid = event_id & 0xFFFF if event_id is not None else None
    if eid in _INFO_IDS:
        return [_info_line(message.splitlines())]
    if eid == 12293:  # "... in the 'contoso.com' domain failed.\nInfo:\n0x80072338"
        domain = _QUOTED.search(message)
        return [_info_line(message.splitlines()), domain.group(1) if domain else ""]
    if eid == 12294:
        domain = _QUOTED.search(message)
        return [domain.group(1) if domain else ""]
    return [message]
