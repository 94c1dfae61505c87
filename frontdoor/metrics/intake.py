"""The intake, counting: the one place every channel's reports pass, so the one place they are counted."""

from __future__ import annotations

from typing import Any

from ..reports.intake import Accepted, ReportIntake
from . import report_accepted


class CountingIntake(ReportIntake):
    """Counts each report it newly queued: every channel's reports pass through `enqueue` (`submit`
    calls it, the dialog calls it directly), so no channel is missed or counted twice, and a retry
    answered with the first receipt is not counted again."""

    async def enqueue(self, report: dict[str, Any], *, receipt: str | None = None,
                      dedupe_id: str | None = None, fingerprint: str = "") -> Accepted:
        accepted = await super().enqueue(report, receipt=receipt, dedupe_id=dedupe_id, fingerprint=fingerprint)
        if not accepted.duplicate:
            report_accepted(str(report.get("channel", "")))
        return accepted
