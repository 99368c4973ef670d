"""Signing in and out, and who am I."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any, Literal

import structlog
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlmodel import select

from campaigns.enums import Role
from campaigns.models import User
from campaigns.statuses import audit
from dialer.api.context import ApiContext
from dialer.api.security import (
    SESSION_COOKIE,
    Admin,
    Ctx,
    CurrentUser,
    close_session,
    open_session,
    request_token,
)
from dialer.api.throttle import in_networks

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api", tags=["auth"])


class LoginIn(BaseModel):
    """A sign-in."""

    login: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class LoginOut(BaseModel):
    """A new session: send ``token`` as ``Authorization: Bearer TOKEN``."""

    token: str
    csrf: str
    user: dict[str, object]


def _client_address(request: Request) -> str | None:
    return request.client.host if request.client is not None else None


def _last_admin(ctx: ApiContext, login: str) -> bool:
    """True when ``login`` is an active administrator and no other active administrator
    could sign in now (none, or each one locked)."""
    with ctx.session() as session:
        admins = session.exec(
            select(User.login).where(User.role == Role.ADMIN.value, User.active == True)  # noqa: E712
        ).all()
    if login not in admins:
        return False
    return all(ctx.throttle.locked(other) for other in admins if other != login)


def _too_many(wait: float, kind: str) -> JSONResponse:
    seconds = math.ceil(wait)
    what = "this login" if kind == "login" else "your address"
    return JSONResponse(
        {
            "error": "too_many_attempts",
            "detail": f"too many wrong passwords for {what}: try again in {seconds} s",
            "locked": kind,
            "retry_after_s": seconds,
        },
        status_code=429,
        headers={"Retry-After": str(seconds)},
    )


@router.post(
    "/auth/login",
    responses={
        401: {"description": "Wrong login or password"},
        429: {"description": "Too many wrong passwords for this login or address lately"},
    },
)
def login(body: LoginIn, ctx: Ctx, request: Request, response: Response) -> Any:
    """Sign in; the token also comes back as an HttpOnly session cookie for the pages.

    429 (with ``Retry-After`` and ``retry_after_s``) while the login or the client's
    address is locked; never for the last active administrator from a trusted network.
    """
    address = _client_address(request)
    wait, kind = ctx.throttle.wait_s(body.login, address)
    if wait > 0 and kind is not None:
        trusted = address is not None and in_networks(address, ctx.settings.http.trusted_networks)
        if not (trusted and _last_admin(ctx, body.login)):
            return _too_many(wait, kind)
        log.warning("signin_lock_bypassed", login=body.login, address=address, lock=kind)
    opened = open_session(ctx, body.login, body.password)
    if opened is None:
        ctx.throttle.failed(body.login, address)
        log.info("signin_failed", login=body.login[:64], address=address)
        raise HTTPException(401, detail="wrong login or password")
    ctx.throttle.succeeded(body.login)
    token, user = opened
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=ctx.settings.http.secure_cookies,
        max_age=int(ctx.settings.http.session_hours * 3600),
        path="/",
    )
    return LoginOut(token=token, csrf=user.csrf, user=user.public())


class LockOut(BaseModel):
    """A login or a client address that may not sign in for a while."""

    kind: Literal["login", "address"]
    key: str = Field(description="The login, or the client address.")
    failures: int = Field(description="Wrong passwords counted in the window.")
    wait_s: float = Field(description="Seconds until the lock ends by itself.")


class LiftIn(BaseModel):
    """The lock to lift."""

    kind: Literal["login", "address"]
    key: str = Field(min_length=1, max_length=64)


@router.get("/auth/locks")
def locks_list(user: Admin, ctx: Ctx) -> list[LockOut]:
    """Sign-in locks in force (logins and addresses), longest first."""
    del user
    return [LockOut(**asdict(lock)) for lock in ctx.throttle.locks()]


@router.post("/auth/locks/lift", status_code=204, responses={404: {"description": "No lock"}})
def locks_lift(body: LiftIn, user: Admin, ctx: Ctx) -> Response:
    """Lift the lock of a login or an address now (audited)."""
    if not ctx.throttle.lift(body.kind, body.key):
        raise HTTPException(404, detail=f"no sign-in lock on {body.kind} {body.key!r}")
    with ctx.session() as session:
        audit(
            session,
            actor=user.actor,
            action="signin.unlock",
            entity=body.kind,
            entity_id=body.key,
            details={},
        )
    return Response(status_code=204)


@router.post("/auth/logout", status_code=204)
def logout(request: Request, user: CurrentUser, ctx: Ctx, response: Response) -> Response:
    """End this session."""
    del user
    token, _ = request_token(request)
    if token:
        close_session(ctx, token)
    response.status_code = 204
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/me")
def me(user: CurrentUser) -> dict[str, object]:
    """The signed-in user (with the CSRF token the pages send back)."""
    return user.public()
