"""Signing in and out, and who am I."""

from __future__ import annotations

import math

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, Field

from dialer.api.security import (
    SESSION_COOKIE,
    Ctx,
    CurrentUser,
    close_session,
    open_session,
    request_token,
)

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


@router.post(
    "/auth/login",
    responses={
        401: {"description": "Wrong login or password"},
        429: {"description": "Too many wrong passwords for this login lately"},
    },
)
def login(body: LoginIn, ctx: Ctx, response: Response) -> LoginOut:
    """Sign in; the token also comes back as an HttpOnly session cookie for the pages."""
    wait = ctx.throttle.wait_s(body.login)
    if wait > 0:
        raise HTTPException(
            429,
            detail=f"too many wrong passwords for this login: try again in {math.ceil(wait)} s",
            headers={"Retry-After": str(math.ceil(wait))},
        )
    opened = open_session(ctx, body.login, body.password)
    if opened is None:
        ctx.throttle.failed(body.login)
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
