"""The shape of a role table: one :class:`RoleCase` per endpoint, and the check run on it.

Each API area keeps its own table (``roles_admin.py``, ``roles_ops.py`` …) of
``RoleCase(method, path, allowed, build)``: ``path`` is the route's template exactly as the
app declares it (so a test can match the table against ``app.routes``), ``allowed`` the
roles that may call it, and ``build`` a function that makes a valid request for it — it
receives a :class:`RoleContext` (the fixture world, the database, a per-test cache) and
returns a :class:`RoleRequest` (the filled-in URL and the body, files or query).

:func:`check_case` sends the request as one role: a role outside ``allowed`` must get a
403 that names nothing but the refusal; a role inside must get neither 401 nor 403.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx2 as httpx
import sqlalchemy as sa
from fastapi.testclient import TestClient

from campaigns.enums import Role
from tests.api.conftest import World

T = TypeVar("T")

ALL_ROLES = frozenset(Role)
ADMIN = frozenset({Role.ADMIN})
SUPERVISORS = frozenset({Role.ADMIN, Role.HEAD})
LEADERS = frozenset({Role.ADMIN, Role.HEAD, Role.GROUP_LEADER})
AGENTS = frozenset({Role.AGENT})


@dataclass(frozen=True)
class RoleRequest:
    """A concrete request for one case: the URL with its ids filled in, and what to send."""

    url: str
    json: Any = None
    params: dict[str, Any] | None = None
    files: dict[str, tuple[str, bytes, str]] | None = None
    data: dict[str, str] | None = None
    headers: dict[str, str] | None = None


@dataclass
class RoleContext:
    """What a ``build`` function may use: the fixture world, the database, a cache.

    ``once(key, make)`` runs ``make(self)`` the first time ``key`` is asked for and gives
    the same value afterwards (e.g. a campaign every case of a test shares). A build for a
    request that consumes its target (DELETE) makes a fresh target each time instead.
    """

    world: World
    db: sa.Engine
    cache: dict[str, Any] = field(default_factory=dict)

    def once(self, key: str, make: Callable[[RoleContext], T]) -> T:
        """The cached value for ``key``, made on first use."""
        if key not in self.cache:
            self.cache[key] = make(self)
        value: T = self.cache[key]
        return value


@dataclass(frozen=True)
class RoleCase:
    """One endpoint: who may call it and how to build a valid request for it."""

    method: str
    path: str
    """The route template as the app declares it, e.g. ``/api/campaigns/{campaign_id}``."""
    allowed: frozenset[Role]
    build: Callable[[RoleContext], RoleRequest]

    @property
    def id(self) -> str:
        """A readable pytest id: ``GET /api/campaigns``."""
        return f"{self.method} {self.path}"


def fixed(url: str, **kwargs: Any) -> Callable[[RoleContext], RoleRequest]:
    """A build that always gives the same request (for paths without ids)."""

    def build(ctx: RoleContext) -> RoleRequest:
        del ctx
        return RoleRequest(url, **kwargs)

    return build


def send(client: TestClient, method: str, request: RoleRequest) -> httpx.Response:
    """Send ``request`` with ``client`` (which carries the role's Bearer token)."""
    return client.request(
        method,
        request.url,
        json=request.json,
        params=request.params,
        files=request.files,
        data=request.data,
        headers=request.headers,
    )


def check_case(case: RoleCase, role: Role, client: TestClient, ctx: RoleContext) -> None:
    """Assert the role table's promise for one role: allowed → not 401/403; else a bare 403."""
    request = case.build(ctx)
    response = send(client, case.method, request)
    where = f"{case.id} as {role.value} ({request.url})"
    if role in case.allowed:
        assert response.status_code not in {401, 403}, f"{where}: {response.text}"
        return
    assert response.status_code == 403, f"{where}: expected 403, got {response.text}"
    body = response.json()
    assert set(body) == {"error", "detail"}, f"{where}: a refusal carries data: {body}"
    assert body["error"] == "forbidden", where
