"""Bearer-token authentication for analyst routes, with the roles each route allows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps

from aiohttp import web

from ..errors import Forbidden, Unauthorized
from .accounts import Analyst
from .appkeys import ACCOUNTS

ANALYST_KEY = web.RequestKey("analyst", Analyst)

Route = Callable[[web.Request], Awaitable[web.StreamResponse]]


def current(request: web.Request) -> Analyst:
    return request[ANALYST_KEY]


def requires(*roles: str) -> Callable[[Route], Route]:
    """401 without a valid token, 403 when the analyst's role is not among `roles`."""

    def decorate(handler: Route) -> Route:
        @wraps(handler)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            header = request.headers.get("Authorization", "")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthorized("Send your analyst token as 'Authorization: Bearer <token>'.")
            analyst = await request.app[ACCOUNTS].authenticate(token.strip())
            if analyst is None:
                raise Unauthorized("This token is not valid (it may have been revoked).", code="invalid_token")
            if analyst.role not in roles:
                raise Forbidden(f"This needs the role {' or '.join(roles)}; you are {analyst.role}.")
            request[ANALYST_KEY] = analyst
            return await handler(request)

        wrapper.roles = roles  # type: ignore[attr-defined]  # read by the OpenAPI test
        return wrapper

    return decorate
