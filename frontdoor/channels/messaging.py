"""What every messaging channel (Telegram, WhatsApp, SMS) does with a message its provider sent us.

Their requests come from the provider's servers, not from the reporter, and the provider delivers
again whatever it thinks we did not take. So a webhook acknowledges only what is stored:

1. the channel checks the request is the provider's (its signature) and reads the sender and the
   inbound, with the provider's message id, from it;
2. `MessagingInbox.receive` rate-limits the conversation (its pseudonym, never the provider's
   address, which every reporter shares), runs the dialog's turn, which commits the conversation and
   keeps the answer under the message id, and puts that answer in the outbox under the same id;
3. only then does the channel answer 200. Should anything fail (Redis down), it answers 5xx and
   the provider delivers again: the dialog answers the redelivery as the first time without moving
   the conversation on, and the outbox does not put a reply it holds already. However often an
   inbound arrives, and however concurrently, the reporter gets one reply.

The reply goes out through the outbox, in order, retried with backoff: `deliver` of the channel
turns each outbox body (`{"message": <Message as a dict>, "locale": ...}`) into the provider's form.
"""

from __future__ import annotations

import hashlib
import time

from ..dialog import i18n
from ..dialog.engine import Dialog
from ..dialog.messages import ConversationKey, Inbound, Message, Turn, message_from_dict
from ..http.ratelimit import RateLimiter
from ..outbox import Outbox

REPLY_ONCE_S = 86400  # as long as the dialog keeps an inbound's answer


class MessagingInbox:
    def __init__(self, channel: str, dialog: Dialog, outbox: Outbox, limiter: RateLimiter) -> None:
        self._channel = channel
        self._dialog = dialog
        self._outbox = outbox
        self._limiter = limiter

    async def receive(self, sender: str, inbound: Inbound, *, locale_hint: str | None = None,
                      country_hint: str | None = None) -> Turn | None:
        """Take one inbound from `sender` (the provider's id for them: hashed at once, never stored).
        Returns the turn, or None when the conversation is over its rate limit (then the reporter
        is told, at most once a minute, to slow down). Raises when the reply could not be stored:
        the caller answers the provider 5xx, and the provider delivers again."""
        key = ConversationKey(self._channel, sender)
        pseudonym = self._dialog.pseudonym(key)
        verdict = await self._limiter.hit("messages", f"conversation:{pseudonym}")
        if not verdict.allowed:
            minute = int(time.time() // 60)
            text = i18n.text(i18n.choose_locale(locale_hint), "slow_down")
            await self._outbox.put(self._channel, sender, [body(Message(text), locale_hint or i18n.DEFAULT)],
                                   once=f"slow:{pseudonym}:{minute}", once_ttl_s=120)
            return None
        turn = await self._dialog.turn(key, inbound, locale_hint=locale_hint, country_hint=country_hint)
        once = None
        if inbound.message_id is not None:
            digest = hashlib.sha256(inbound.message_id.encode()).hexdigest()[:32]
            once = f"reply:{pseudonym}:{digest}"
        await self._outbox.put(self._channel, sender, [body(m, turn.locale) for m in turn.messages],
                               once=once, once_ttl_s=REPLY_ONCE_S)
        return turn


def body(message: Message, locale: str) -> dict[str, object]:
    """A dialog message as the outbox keeps it for a messaging channel."""
    return {"message": message.as_dict(), "locale": locale}


def message_of(outbox_body: dict[str, object]) -> tuple[Message, str]:
    """The message and locale back from an outbox body (what a channel's `deliver` renders)."""
    data = outbox_body["message"]
    if not isinstance(data, dict):
        raise ValueError("not a messaging body")
    return message_from_dict(data), str(outbox_body.get("locale") or i18n.DEFAULT)
