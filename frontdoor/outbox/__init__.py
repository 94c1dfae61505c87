"""Messages sent later than the request that caused them: e-mail auto-replies, messaging replies.

`Outbox` (stream.py) keeps them in Redis until a provider took them; `OutboxSender` (sender.py)
hands them to the channels that deliver them, retrying with backoff, and buries the undeliverable
in the dead letters, which `frontdoor outbox` lists, retries or drops.
"""

from .sender import DeliveryFailed, OutboxSender, Undeliverable
from .stream import DeadLetter, Outbound, Outbox

__all__ = ["DeadLetter", "DeliveryFailed", "Outbound", "Outbox", "OutboxSender", "Undeliverable"]
