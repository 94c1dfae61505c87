"""The channel contract as the app factory uses it: every channel in CHANNELS (and the test's webhook
channel, built as Telegram, WhatsApp and SMS will be) is a Channel, given typed parts and no bag."""

from __future__ import annotations

import inspect
from contextlib import AbstractAsyncContextManager
from dataclasses import replace

import pytest
from aiohttp import web

from frontdoor.app import CHANNELS, build_parts
from frontdoor.channels.base import Channel
from frontdoor.outbox import Outbound, Undeliverable
from support.loopback import LoopbackChannel


@pytest.fixture
def parts(settings, redis_url):  # type: ignore[no-untyped-def]
    return build_parts(replace(settings, email=replace(settings.email, port=2525)), redis_url)


def built(parts) -> dict[str, object]:  # type: ignore[no-untyped-def]
    channels = {name: make(parts) for name, make in CHANNELS.items()}
    channels["loopback"] = LoopbackChannel(parts.dialog, parts.outbox, parts.limiter, secret="s" * 20,
                                           provider_url="http://127.0.0.1:1")
    return channels


def test_the_app_runs_the_web_chat_the_form_and_e_mail(parts):
    assert set(CHANNELS) == {"web", "web_form", "email"}
    assert all(channel is not None for channel in built(parts).values())


async def test_every_channel_has_the_three_methods_of_the_protocol(parts):
    protocol = {name for name in dir(Channel) if not name.startswith("_")}
    assert protocol == {"routes", "running", "deliver"}
    for name, channel in built(parts).items():
        routes = channel.routes()  # type: ignore[attr-defined]
        assert all(isinstance(r, web.AbstractRouteDef) for r in routes), name
        assert isinstance(channel.running(), AbstractAsyncContextManager), name  # type: ignore[attr-defined]
        assert inspect.iscoroutinefunction(channel.deliver), name  # type: ignore[attr-defined]


async def test_a_channel_that_answers_in_the_request_refuses_to_deliver(parts):
    channels = built(parts)
    message = Outbound(id="1-1", channel="web", recipient="nobody", body={}, attempt=1)
    for name in ("web", "web_form"):
        with pytest.raises(Undeliverable):
            await channels[name].deliver(message)  # type: ignore[attr-defined]


def test_channels_are_given_typed_parts_never_a_bag(parts):
    """No `Any` and no catch-all among what a channel's constructor takes: each part is named and typed."""
    for name, channel in built(parts).items():
        params = inspect.signature(type(channel).__init__).parameters  # annotations as written (strings)
        for param in list(params.values())[1:]:
            assert param.kind not in (param.VAR_POSITIONAL, param.VAR_KEYWORD), (name, param)
            annotation = str(param.annotation)
            assert param.annotation is not param.empty, (name, param.name)
            assert "Any" not in annotation and annotation != "object", (name, param)
