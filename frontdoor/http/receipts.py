"""The one receipt look-up, for every place a reporter can ask (the API's `GET /api/v1/receipts/{code}`,
the no-JavaScript page `/receipt`): per client first, so one busy address does not use up everyone's
pace; then the pace of all clients together (a guesser with many addresses waits with everyone);
then the intake's answer. One object, so the two places cannot drift apart in order or in limits.
"""

from __future__ import annotations

from aiohttp import web

from ..reports.intake import ReportIntake
from .pace import Pace
from .ratelimit import RequestLimits


class ReceiptLookup:
    def __init__(self, limits: RequestLimits, pace: Pace, intake: ReportIntake) -> None:
        self._limits = limits
        self._pace = pace
        self._intake = intake

    async def status(self, request: web.Request, code: str) -> str | None:
        """What the reporter may know (received, in_review, action_taken, closed), None for a code no
        report has, whether or not it could be one. Raises RateLimited (a 429) over either limit."""
        await self._limits.check(request, "receipts")
        await self._pace.wait_turn()
        return await self._intake.status(code)
