"""The objects the API's routes use, each under a typed key of the app (set by frontdoor/app.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from ..http.ratelimit import RequestLimits
from ..http.receipts import ReceiptLookup
from ..keyring import Keyring
from ..outbox import Outbox
from ..queue import TriageQueue
from ..reports.intake import ReportIntake
from .accounts import Analysts

ACCOUNTS = web.AppKey("accounts", Analysts)
INTAKE = web.AppKey("intake", ReportIntake)
# The public routes' limits per client (reports), and the receipt look-up with its own limits.
LIMITS = web.AppKey("limits", RequestLimits)
RECEIPTS = web.AppKey("receipts", ReceiptLookup)
KEYRING = web.AppKey("keyring", Keyring)  # analysts read a consented contact
OUTBOX = web.AppKey("outbox", Outbox)  # for its counts in the statistics
QUEUE = web.AppKey("queue", TriageQueue)
# Whether Redis answers, for /readyz: the client's ping, so routes never hold the client itself.
PING: web.AppKey[Callable[[], Awaitable[object]]] = web.AppKey("ping")
