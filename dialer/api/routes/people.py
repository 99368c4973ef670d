"""Users, agents and groups: administrators manage them; everyone edits their own profile.

A group leader sees its own group and that group's agents; asking for any other group
gets the same 403 as asking for one that does not exist.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from campaigns.enums import Role
from campaigns.models import Agent, AgentGroup, User
from dialer.api.routes.admin_common import MAX_ID, Text, field_errors, invalid, unique
from dialer.api.security import (
    Admin,
    Ctx,
    CurrentUser,
    Leader,
    Principal,
    forbidden,
    request_token,
)
from dialer.services.accounts import UserError, create_user
from dialer.services.people import (
    AgentError,
    GroupError,
    create_agent,
    create_group,
    edit_agent,
    edit_group,
    edit_own,
    edit_user,
    list_agents,
    list_groups,
    list_users,
)

router = APIRouter(prefix="/api", tags=["people"])

UserId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="User id.")]
AgentId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="Agent id.")]
GroupId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="Group id.")]
RefId = Annotated[int, Field(ge=1, le=MAX_ID)]
Language = Literal["en", "pl"]
Password = Annotated[str, Field(min_length=8, max_length=256)]
Login = Annotated[Text, Field(min_length=1, max_length=64, pattern=r"^\S+$")]


# ------------------------------------------------------------------------------ models


class UserOut(BaseModel):
    """A user (never the password)."""

    id: int
    login: str
    name: str
    role: Role
    group_id: int | None = Field(description="The group a group leader leads.")
    agent_id: int | None = Field(description="The agent an agent user is.")
    language: str
    active: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class UserIn(BaseModel):
    """A new user."""

    model_config = ConfigDict(extra="forbid")

    login: Login
    password: Password
    role: Role
    name: Text = Field(default="", max_length=120)
    group_id: RefId | None = Field(default=None, description="Needed for a group leader.")
    agent_id: RefId | None = Field(default=None, description="Needed for an agent.")
    language: Language = "en"


class UserPatch(BaseModel):
    """Changes to a user: only the fields given change (null clears group_id/agent_id)."""

    model_config = ConfigDict(extra="forbid")

    name: Text | None = Field(default=None, max_length=120)
    role: Role | None = None
    group_id: RefId | None = None
    agent_id: RefId | None = None
    active: bool | None = None
    language: Language | None = None
    password: Password | None = Field(default=None, description="A new password.")


class MePatch(BaseModel):
    """Changes to one's own profile; a new password needs the current one."""

    model_config = ConfigDict(extra="forbid")

    name: Text | None = Field(default=None, max_length=120)
    language: Language | None = None
    password: Password | None = None
    current_password: str | None = Field(default=None, max_length=256)


class AgentOut(BaseModel):
    """An agent."""

    id: int
    login: str
    name: str
    extension: str | None = Field(description="The seat the engine calls the agent on.")
    seats: list[str] = Field(
        description="Other seats the agent may log in on (hot-desking); any other is refused."
    )
    group_id: int | None
    active: bool
    created_at: dt.datetime


class AgentIn(BaseModel):
    """A new agent."""

    model_config = ConfigDict(extra="forbid")

    login: Login
    name: Text = Field(default="", max_length=120)
    extension: Text | None = Field(default=None, max_length=32, pattern=r"^\S+$")
    seats: list[Annotated[Text, Field(max_length=32, pattern=r"^\S+$")]] | None = Field(
        default=None, max_length=20, description="Other seats the agent may log in on."
    )
    group_id: RefId | None = None
    active: bool = True


class AgentPatch(BaseModel):
    """Changes to an agent: only the fields given change (null clears extension/group)."""

    model_config = ConfigDict(extra="forbid")

    login: Login | None = None
    name: Text | None = Field(default=None, max_length=120)
    extension: Text | None = Field(default=None, max_length=32, pattern=r"^\S+$")
    seats: list[Annotated[Text, Field(max_length=32, pattern=r"^\S+$")]] | None = Field(
        default=None, max_length=20, description="Other seats the agent may log in on."
    )
    group_id: RefId | None = None
    active: bool | None = None


class GroupOut(BaseModel):
    """A group of agents."""

    id: int
    name: str
    agents: int = Field(description="Agents in the group.")


class GroupIn(BaseModel):
    """A new group, or its new name."""

    model_config = ConfigDict(extra="forbid")

    name: Text = Field(min_length=1, max_length=120)


def _user_out(row: User) -> UserOut:
    return UserOut(
        id=row.id or 0,
        login=row.login,
        name=row.name,
        role=Role(row.role),
        group_id=row.group_id,
        agent_id=row.agent_id,
        language=row.language,
        active=row.active,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _agent_out(row: Agent) -> AgentOut:
    return AgentOut.model_validate(row, from_attributes=True)


def _not_null(changes: dict[str, object], *keys: str) -> None:
    for key in keys:
        if key in changes and changes[key] is None:
            raise invalid(key, "a value (null is not allowed here)")


# ------------------------------------------------------------------------------- users


@router.get("/users")
def users_list(user: Admin, ctx: Ctx) -> list[UserOut]:
    """Every user, by login."""
    del user
    with ctx.session() as session:
        return [_user_out(row) for row in list_users(session)]


@router.post("/users", status_code=201)
def users_create(body: UserIn, user: Admin, ctx: Ctx) -> UserOut:
    """Add a user (an agent user needs agent_id, a group leader group_id)."""
    with unique("login", body.login), ctx.session() as session, field_errors(UserError):
        row = create_user(
            session,
            login=body.login,
            password=body.password,
            role=body.role,
            actor=user.actor,
            name=" ".join(body.name.split()),
            group_id=body.group_id,
            agent_id=body.agent_id,
            language=body.language,
        )
        return _user_out(row)


@router.patch("/users/{user_id}")
def users_edit(user_id: UserId, body: UserPatch, user: Admin, ctx: Ctx) -> UserOut:
    """Change a user; a new password or deactivation signs them out everywhere."""
    changes = body.model_dump(exclude_unset=True)
    _not_null(changes, "role", "active", "language", "password")
    with (
        unique("agent_id", changes.get("agent_id")),
        ctx.session() as session,
        field_errors(UserError),
    ):
        row = edit_user(session, user_id, actor=user.actor, **changes)
        return _user_out(row)


@router.patch("/me")
def me_edit(body: MePatch, user: CurrentUser, ctx: Ctx, request: Request) -> UserOut:
    """Change one's own name, language or password (other sessions end on a new one)."""
    token, _ = request_token(request)
    keep = hashlib.sha256(token.encode()).hexdigest() if token else None
    with ctx.session() as session, field_errors(UserError):
        row = edit_own(
            session,
            user.user_id,
            name=body.name,
            language=body.language,
            password=body.password,
            current_password=body.current_password,
            keep_token_hash=keep,
        )
        return _user_out(row)


# ------------------------------------------------------------------------------ agents


def _group_scope(user: Principal, group_id: int | None) -> int | None:
    """The group a request may list: its own for a group leader (403 for another)."""
    if user.role is not Role.GROUP_LEADER:
        return group_id
    if group_id is not None and group_id != user.group_id:
        raise forbidden()
    return user.group_id


@router.get("/agents")
def agents_list(
    user: Leader,
    ctx: Ctx,
    group_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> list[AgentOut]:
    """Agents by login (a group leader: its group's)."""
    scope = _group_scope(user, group_id)
    with ctx.session() as session:
        if user.role is Role.GROUP_LEADER and scope is None:
            return []
        return [_agent_out(row) for row in list_agents(session, group_id=scope)]


@router.post("/agents", status_code=201)
def agents_create(body: AgentIn, user: Admin, ctx: Ctx) -> AgentOut:
    """Add an agent."""
    with unique("login", body.login), ctx.session() as session, field_errors(AgentError):
        row = create_agent(
            session,
            login=body.login,
            name=body.name,
            extension=body.extension,
            seats=body.seats,
            group_id=body.group_id,
            active=body.active,
            actor=user.actor,
        )
        return _agent_out(row)


@router.patch("/agents/{agent_id}")
def agents_edit(agent_id: AgentId, body: AgentPatch, user: Admin, ctx: Ctx) -> AgentOut:
    """Change an agent's login, name, seat, group or active flag."""
    changes = body.model_dump(exclude_unset=True)
    _not_null(changes, "login", "active")
    with (
        unique("login", changes.get("login")),
        ctx.session() as session,
        field_errors(AgentError),
    ):
        row = edit_agent(session, agent_id, actor=user.actor, **changes)
        return _agent_out(row)


# ------------------------------------------------------------------------------ groups


def _agent_counts(session: Session) -> dict[int, int]:
    rows = session.exec(select(Agent.group_id, sa.func.count()).group_by(col(Agent.group_id))).all()
    return {int(group): int(count) for group, count in rows if group is not None}


@router.get("/groups")
def groups_list(user: Leader, ctx: Ctx) -> list[GroupOut]:
    """Groups by name (a group leader: its own)."""
    with ctx.session() as session:
        counts = _agent_counts(session)
        rows = list_groups(session)
        if user.role is Role.GROUP_LEADER:
            rows = [row for row in rows if row.id == user.group_id]
        return [
            GroupOut(id=row.id or 0, name=row.name, agents=counts.get(row.id or 0, 0))
            for row in rows
        ]


def _group_out(session: Session, row: AgentGroup) -> GroupOut:
    return GroupOut(
        id=row.id or 0, name=row.name, agents=_agent_counts(session).get(row.id or 0, 0)
    )


@router.post("/groups", status_code=201)
def groups_create(body: GroupIn, user: Admin, ctx: Ctx) -> GroupOut:
    """Add a group."""
    with unique("name", body.name), ctx.session() as session, field_errors(GroupError):
        return _group_out(session, create_group(session, name=body.name, actor=user.actor))


@router.patch("/groups/{group_id}")
def groups_edit(group_id: GroupId, body: GroupIn, user: Admin, ctx: Ctx) -> GroupOut:
    """Rename a group."""
    with unique("name", body.name), ctx.session() as session, field_errors(GroupError):
        return _group_out(session, edit_group(session, group_id, name=body.name, actor=user.actor))
