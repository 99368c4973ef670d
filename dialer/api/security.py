"""Users, passwords, sessions and roles.

Passwords are stored as argon2 hashes. Signing in creates a session: a random token given
to the client once (as a Bearer token for API clients and an HttpOnly cookie for the pages)
and stored only as its SHA-256. Pages that use the cookie send the session's CSRF token in
the ``X-CSRF-Token`` header with every change. A request outside the caller's role gets
403 with the roles that would be allowed, and nothing about the thing asked for.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, HTTPException, Request
from sqlmodel import select

from campaigns.enums import Role
from campaigns.models import Agent, User, UserSession, utcnow
from dialer.api.context import ApiContext
from dialer.services.accounts import (
    check_password,
    check_unknown,
    rehashed,
)

SESSION_COOKIE = "dialer_session"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """The signed-in user a request acts for."""

    user_id: int
    login: str
    name: str
    role: Role
    group_id: int | None
    agent_id: int | None
    language: str
    csrf: str

    @property
    def actor(self) -> str:
        """How the audit log names this user."""
        return f"user:{self.login}"

    def sees_all_calls(self) -> bool:
        """Administrators and heads see every call; others only their scope."""
        return self.role in {Role.ADMIN, Role.HEAD}

    def public(self) -> dict[str, Any]:
        """What ``GET /api/me`` shows."""
        return {
            "id": self.user_id,
            "login": self.login,
            "name": self.name,
            "role": self.role.value,
            "group_id": self.group_id,
            "agent_id": self.agent_id,
            "language": self.language,
            "csrf": self.csrf,
        }


def open_session(ctx: ApiContext, login: str, password: str) -> tuple[str, Principal] | None:
    """Check a login and password; on success a new session's token and principal."""
    with ctx.session() as session:
        user = session.exec(select(User).where(User.login == login)).first()
        if user is None or not user.active:
            check_unknown(password)
            return None
        if not check_password(user.password_hash, password):
            return None
        user.password_hash = rehashed(user.password_hash, password)
        token = secrets.token_urlsafe(32)
        now = utcnow()
        row = UserSession(
            token_hash=_token_hash(token),
            user_id=user.id or 0,
            csrf=secrets.token_urlsafe(24),
            created_at=now,
            expires_at=now + dt.timedelta(hours=ctx.settings.http.session_hours),
        )
        session.add(row)
        # Sessions that ended are removed as new ones start.
        session.execute(sa.delete(UserSession).where(UserSession.expires_at < now))  # type: ignore[arg-type]
        return token, _principal(user, row.csrf)


def close_session(ctx: ApiContext, token: str) -> None:
    """End a session (sign out)."""
    with ctx.session() as session:
        session.execute(
            sa.delete(UserSession).where(UserSession.token_hash == _token_hash(token))  # type: ignore[arg-type]
        )


def _principal(user: User, csrf: str) -> Principal:
    return Principal(
        user_id=user.id or 0,
        login=user.login,
        name=user.name,
        role=Role(user.role),
        group_id=user.group_id,
        agent_id=user.agent_id,
        language=user.language,
        csrf=csrf,
    )


def request_token(request: Request) -> tuple[str | None, bool]:
    """The session token of a request and whether it came from the cookie."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), False
    cookie = request.cookies.get(SESSION_COOKIE)
    return (cookie, True) if cookie else (None, False)


def principal_for(ctx: ApiContext, token: str) -> Principal | None:
    """The user of a live session token, or None."""
    with ctx.session() as session:
        row = session.get(UserSession, _token_hash(token))
        if row is None or row.expires_at <= utcnow():
            return None
        user = session.get(User, row.user_id)
        if user is None or not user.active:
            return None
        return _principal(user, row.csrf)


def get_ctx(request: Request) -> ApiContext:
    """The app's shared context."""
    ctx: ApiContext = request.app.state.ctx
    return ctx


def current_user(request: Request) -> Principal:
    """The signed-in user (401 without a valid session; 403 for a cookie change without
    the CSRF header)."""
    ctx = get_ctx(request)
    token, via_cookie = request_token(request)
    principal = principal_for(ctx, token) if token else None
    if principal is None:
        raise HTTPException(
            401,
            detail="sign in first: POST /api/auth/login, then send the token as "
            "'Authorization: Bearer TOKEN' (or use the session cookie)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if (
        via_cookie
        and request.method not in _SAFE_METHODS
        and not secrets.compare_digest(request.headers.get(CSRF_HEADER, ""), principal.csrf)
    ):
        raise HTTPException(403, detail=f"the {CSRF_HEADER} header is missing or wrong")
    request.state.principal = principal
    return principal


CurrentUser = Annotated[Principal, Depends(current_user)]
Ctx = Annotated[ApiContext, Depends(get_ctx)]


def forbidden(roles: tuple[Role, ...] | None = None) -> HTTPException:
    """The 403 for a request outside the caller's role or scope (names nothing asked for)."""
    if roles:
        allowed = ", ".join(r.value for r in roles)
        return HTTPException(403, detail=f"not allowed for your role (allowed: {allowed})")
    return HTTPException(403, detail="not allowed for your role or outside your scope")


def require(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency that lets only ``roles`` through (403 for the others)."""

    def check(user: CurrentUser) -> Principal:
        if user.role not in roles:
            raise forbidden(roles)
        return user

    return check


#: Role sets used by the routes.
ADMIN_ONLY = (Role.ADMIN,)
SUPERVISORS = (Role.ADMIN, Role.HEAD)
LEADERS = (Role.ADMIN, Role.HEAD, Role.GROUP_LEADER)
EVERYONE = (Role.ADMIN, Role.HEAD, Role.GROUP_LEADER, Role.AGENT)

Admin = Annotated[Principal, Depends(require(*ADMIN_ONLY))]
Supervisor = Annotated[Principal, Depends(require(*SUPERVISORS))]
Leader = Annotated[Principal, Depends(require(*LEADERS))]
AgentUser = Annotated[Principal, Depends(require(Role.AGENT))]


def agent_ids_in_scope(ctx: ApiContext, user: Principal) -> set[int] | None:
    """The agents whose calls ``user`` may see: None = all (admin, head)."""
    if user.sees_all_calls():
        return None
    if user.role is Role.AGENT:
        return {user.agent_id} if user.agent_id is not None else set()
    if user.group_id is None:  # a leader without a group leads no one (not the ungrouped)
        return set()
    with ctx.session() as session:
        rows = session.exec(select(Agent.id).where(Agent.group_id == user.group_id)).all()
    return {int(r) for r in rows if r is not None}
