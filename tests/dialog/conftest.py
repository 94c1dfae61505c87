"""What the dialog's tests build on: the parts of a dialog on a real Redis, as the app makes them."""

from __future__ import annotations

import pytest

from frontdoor.queue import TriageQueue
from support.dialog import DialogParts, dialog_parts


@pytest.fixture
async def services(redis, keyring) -> DialogParts:  # type: ignore[no-untyped-def]
    queue = TriageQueue(redis)
    await queue.setup()
    return dialog_parts(queue, keyring)
