"""People: users of the API and pages, agents who take calls, and the groups agents form.

Every function takes the caller's session and ``actor``; every change writes the audit log
in that session, so it commits (or not) with the change. Errors name the field that is
wrong (``field: problem``) and carry it as ``.field``. The HTTP routes and the CLI
(``dialer user …``, ``dialer agent add``, ``dialer group add``) both use this module.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col, select

from campaigns.enums import Role
from campaigns.models import Agent, AgentGroup, User, UserSession, utcnow
from campaigns.statuses import audit, name_key
from dialer.errors import DialerError
from dialer.services.accounts import UserError, check_password, hash_password

LANGUAGES = ("en", "pl")
LOGIN_MAX = 64
NAME_MAX = 120
EXTENSION_MAX = 32


class PeopleError(DialerError):
    """An agent or group cannot be created or changed as asked; names the field."""

    error_id = "invalid_request"

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        super().__init__(f"{field}: {problem}")


class AgentError(PeopleError):
    """An agent cannot be created or changed as asked."""

    error_id = "invalid_agent"


class GroupError(PeopleError):
    """A group cannot be created or changed as asked."""

    error_id = "invalid_group"


class UserNotFoundError(DialerError):
    """No user has this id or login."""

    error_id = "user_not_found"

    def __init__(self, key: object) -> None:
        super().__init__(f"user {key!r} does not exist")


class AgentNotFoundError(DialerError):
    """No agent has this id or login."""

    error_id = "agent_not_found"

    def __init__(self, key: object) -> None:
        super().__init__(f"agent {key!r} does not exist")


class GroupNotFoundError(DialerError):
    """No group has this id or name."""

    error_id = "group_not_found"

    def __init__(self, key: object) -> None:
        super().__init__(f"group {key!r} does not exist")


def _user_error(field: str, problem: str) -> UserError:
    return UserError(f"{field}: {problem}")


def _clean(value: str, field: str, limit: int, error: type[PeopleError]) -> str:
    cleaned = " ".join(value.split())
    if not cleaned or len(cleaned) > limit:
        raise error(field, f"1 to {limit} characters, not {value[: limit + 10]!r}")
    return cleaned


# ------------------------------------------------------------------------------- groups


def list_groups(session: Session) -> list[AgentGroup]:
    """Every group, by name."""
    return sorted(session.exec(select(AgentGroup)), key=lambda row: row.name.lower())


def get_group(session: Session, key: int | str) -> AgentGroup:
    """A group by id or by name (any case)."""
    found = None
    if isinstance(key, int) or key.isdigit():
        found = session.get(AgentGroup, int(key))
    if found is None and isinstance(key, str):
        found = _group_named(session, key)
    if found is None:
        raise GroupNotFoundError(key)
    return found


def _group_named(session: Session, name: str) -> AgentGroup | None:
    """The group called ``name`` in any case (compared here: SQL lower() may fold only ASCII)."""
    wanted = name_key(name)
    for group in session.exec(select(AgentGroup)):
        if name_key(group.name) == wanted:
            return group
    return None


def _check_group_name(session: Session, name: str, exclude_id: int | None = None) -> str:
    clean = _clean(name, "name", NAME_MAX, GroupError)
    taken = _group_named(session, clean)
    if taken is not None and taken.id != exclude_id:
        raise GroupError("name", f"{clean!r} is taken by group {taken.id}")
    return clean


def create_group(session: Session, *, name: str, actor: str) -> AgentGroup:
    """Add a group (audited)."""
    group = AgentGroup(name=_check_group_name(session, name))
    session.add(group)
    session.flush()
    audit(
        session,
        actor=actor,
        action="group.create",
        entity="agent_group",
        entity_id=group.id,
        details={"name": group.name},
    )
    return group


def edit_group(session: Session, group_id: int, *, actor: str, name: str) -> AgentGroup:
    """Rename a group (audited)."""
    group = session.get(AgentGroup, group_id)
    if group is None:
        raise GroupNotFoundError(group_id)
    clean = _check_group_name(session, name, exclude_id=group_id)
    if clean != group.name:
        audit(
            session,
            actor=actor,
            action="group.edit",
            entity="agent_group",
            entity_id=group_id,
            details={"changed": {"name": [group.name, clean]}},
        )
        group.name = clean
        session.add(group)
        session.flush()
    return group


def _check_group_id(session: Session, group_id: int | None, error: type[PeopleError]) -> None:
    if group_id is not None and session.get(AgentGroup, group_id) is None:
        raise error("group_id", f"no group has id {group_id}")


# ------------------------------------------------------------------------------- agents


def list_agents(session: Session, *, group_id: int | None = None) -> list[Agent]:
    """Agents by login (only ``group_id``'s when given)."""
    query = select(Agent).order_by(col(Agent.login))
    if group_id is not None:
        query = query.where(Agent.group_id == group_id)
    return list(session.exec(query))


def get_agent(session: Session, key: int | str) -> Agent:
    """An agent by id or by login."""
    found = None
    if isinstance(key, int) or key.isdigit():
        found = session.get(Agent, int(key))
    if found is None and isinstance(key, str):
        found = session.exec(select(Agent).where(Agent.login == key.strip())).first()
    if found is None:
        raise AgentNotFoundError(key)
    return found


def _check_agent(
    session: Session,
    *,
    login: str,
    extension: str | None,
    group_id: int | None,
    exclude_id: int | None = None,
) -> tuple[str, str | None]:
    clean_login = login.strip()
    if not clean_login or len(clean_login) > LOGIN_MAX or any(ch.isspace() for ch in clean_login):
        raise AgentError("login", f"1 to {LOGIN_MAX} characters without spaces")
    taken = session.exec(select(Agent).where(Agent.login == clean_login)).first()
    if taken is not None and taken.id != exclude_id:
        raise AgentError("login", f"{clean_login!r} is taken by agent {taken.id}")
    seat = extension.strip() if extension else None
    if seat is not None:
        if not seat or len(seat) > EXTENSION_MAX or any(ch.isspace() for ch in seat):
            raise AgentError("extension", f"1 to {EXTENSION_MAX} characters without spaces")
        other = session.exec(
            select(Agent).where(Agent.extension == seat, Agent.active == True)  # noqa: E712
        ).first()
        if other is not None and other.id != exclude_id:
            raise AgentError("extension", f"{seat!r} is the seat of agent {other.login}")
    _check_group_id(session, group_id, AgentError)
    return clean_login, seat


def create_agent(
    session: Session,
    *,
    login: str,
    actor: str,
    name: str = "",
    extension: str | None = None,
    group_id: int | None = None,
    active: bool = True,
    seats: list[str] | None = None,
) -> Agent:
    """Add an agent (audited). ``extension`` is the seat the engine calls the agent on;
    ``seats`` the other seats it may log in on (hot-desking)."""
    clean_login, seat = _check_agent(session, login=login, extension=extension, group_id=group_id)
    allowed = check_seats(seats or [])
    agent = Agent(
        login=clean_login,
        name=" ".join(name.split())[:NAME_MAX],
        extension=seat,
        seats=allowed,
        group_id=group_id,
        active=active,
    )
    session.add(agent)
    session.flush()
    audit(
        session,
        actor=actor,
        action="agent.create",
        entity="agent",
        entity_id=agent.id,
        details={
            "login": agent.login,
            "name": agent.name,
            "extension": seat,
            "seats": allowed,
            "group_id": group_id,
            "active": active,
        },
    )
    return agent


_AGENT_FIELDS = ("login", "name", "extension", "seats", "group_id", "active")
#: Seats one agent may be allowed besides its extension.
SEATS_MAX = 20


def check_seats(seats: object) -> list[str]:
    """A clean list of allowed seats (each like an extension), or AgentError("seats")."""
    if not isinstance(seats, list | tuple):
        raise AgentError("seats", "a list of seats such as ['201', 'desk-7']")
    clean: list[str] = []
    for seat in seats:
        text = seat.strip() if isinstance(seat, str) else ""
        if not text or len(text) > EXTENSION_MAX or any(ch.isspace() for ch in text):
            raise AgentError(
                "seats", f"{seat!r}: each seat 1 to {EXTENSION_MAX} characters without spaces"
            )
        if text not in clean:
            clean.append(text)
    if len(clean) > SEATS_MAX:
        raise AgentError("seats", f"at most {SEATS_MAX} seats per agent")
    return clean


def edit_agent(session: Session, agent_id: int, *, actor: str, **changes: object) -> Agent:
    """Change an agent's login, name, extension, allowed seats, group or active flag
    (audited)."""
    unknown = sorted(set(changes) - set(_AGENT_FIELDS))
    if unknown:
        raise AgentError(
            unknown[0], f"not a field of an agent (fields: {', '.join(_AGENT_FIELDS)})"
        )
    agent = session.get(Agent, agent_id)
    if agent is None:
        raise AgentNotFoundError(agent_id)
    before = {key: getattr(agent, key) for key in _AGENT_FIELDS}
    after = {**before, **changes}
    login, seat = _check_agent(
        session,
        login=str(after["login"] or ""),
        extension=after["extension"] if isinstance(after["extension"], str) else None,
        group_id=after["group_id"] if isinstance(after["group_id"], int) else None,
        exclude_id=agent_id,
    )
    after.update(
        login=login,
        extension=seat,
        seats=check_seats(after["seats"] if after["seats"] is not None else []),
        name=" ".join(str(after["name"] or "").split())[:NAME_MAX],
        active=bool(after["active"]),
    )
    changed = {key: [before[key], after[key]] for key in _AGENT_FIELDS if before[key] != after[key]}
    if changed:
        for key, (_old, new) in changed.items():
            setattr(agent, key, new)
        session.add(agent)
        session.flush()
        audit(
            session,
            actor=actor,
            action="agent.edit",
            entity="agent",
            entity_id=agent_id,
            details={"changed": changed},
        )
    return agent


# -------------------------------------------------------------------------------- users


def list_users(session: Session) -> list[User]:
    """Every user, by login."""
    return list(session.exec(select(User).order_by(col(User.login))))


def get_user(session: Session, key: int | str) -> User:
    """A user by id or by login."""
    found = None
    if isinstance(key, int) or key.isdigit():
        found = session.get(User, int(key))
    if found is None and isinstance(key, str):
        found = session.exec(select(User).where(User.login == key.strip())).first()
    if found is None:
        raise UserNotFoundError(key)
    return found


def _active_admins(session: Session) -> list[User]:
    return list(
        session.exec(
            select(User).where(User.role == Role.ADMIN.value, User.active == True)  # noqa: E712
        )
    )


def end_sessions(session: Session, user_id: int, *, keep_token_hash: str | None = None) -> int:
    """Sign a user out everywhere (except the session ``keep_token_hash``); returns how many."""
    query = sa.delete(UserSession).where(col(UserSession.user_id) == user_id)
    if keep_token_hash is not None:
        query = query.where(col(UserSession.token_hash) != keep_token_hash)
    result = session.execute(query)
    return int(getattr(result, "rowcount", 0) or 0)


_USER_FIELDS = ("name", "role", "group_id", "agent_id", "active", "language", "password")


def edit_user(session: Session, user_id: int, *, actor: str, **changes: object) -> User:
    """Change a user (admin): name, role, group, agent, active, language, password.

    The agent and group links must fit the role (an agent user needs its agent, a group
    leader its group); the last active administrator keeps that role and stays active. A
    new password or deactivation signs the user out everywhere.
    """
    unknown = sorted(set(changes) - set(_USER_FIELDS))
    if unknown:
        raise _user_error(unknown[0], f"not a field of a user (fields: {', '.join(_USER_FIELDS)})")
    user = session.get(User, user_id)
    if user is None:
        raise UserNotFoundError(user_id)
    keys = ("name", "role", "group_id", "agent_id", "active", "language")
    before: dict[str, object] = {key: getattr(user, key) for key in keys}
    before["role"] = Role(user.role)
    after = {**before, **{k: v for k, v in changes.items() if k != "password"}}
    role = Role(str(after["role"]))
    group_id = after["group_id"] if isinstance(after["group_id"], int) else None
    agent_id = after["agent_id"] if isinstance(after["agent_id"], int) else None
    _check_user_links(session, role, group_id, agent_id, user_id)
    language = str(after["language"])
    if language not in LANGUAGES:
        raise _user_error("language", f"one of {', '.join(LANGUAGES)}, not {language!r}")
    active = bool(after["active"])
    if Role(user.role) is Role.ADMIN and user.active and (role is not Role.ADMIN or not active):
        others = [row for row in _active_admins(session) if row.id != user_id]
        if not others:
            field = "active" if not active else "role"
            raise _user_error(field, "the last active administrator must stay one")
    name = " ".join(str(after["name"] or "").split())
    if len(name) > NAME_MAX:
        raise _user_error("name", f"at most {NAME_MAX} characters")
    after.update(role=role, group_id=group_id, agent_id=agent_id, language=language, name=name)
    after["active"] = active
    changed: dict[str, object] = {
        key: [_plain(before[key]), _plain(after[key])] for key in keys if before[key] != after[key]
    }
    password = changes.get("password")
    if password is not None:
        user.password_hash = hash_password(str(password))
        changed["password"] = "changed"  # noqa: S105  (a marker, not a password)
    if not changed:
        return user
    user.name = name
    user.role = role
    user.group_id = group_id
    user.agent_id = agent_id
    user.language = language
    user.active = active
    user.updated_at = utcnow()
    session.add(user)
    session.flush()
    if password is not None or not active:
        end_sessions(session, user_id)
    audit(
        session,
        actor=actor,
        action="user.edit",
        entity="user",
        entity_id=user_id,
        details={"login": user.login, "changed": changed},
    )
    return user


def _plain(value: object) -> object:
    return value.value if isinstance(value, Role) else value


def _check_user_links(
    session: Session, role: Role, group_id: int | None, agent_id: int | None, user_id: int
) -> None:
    if role is Role.AGENT and agent_id is None:
        raise _user_error("agent_id", "an agent user must be tied to an agent")
    if role is Role.GROUP_LEADER and group_id is None:
        raise _user_error("group_id", "a group leader must lead a group")
    if agent_id is not None:
        if session.get(Agent, agent_id) is None:
            raise _user_error("agent_id", f"no agent has id {agent_id}")
        taken = session.exec(select(User).where(User.agent_id == agent_id)).first()
        if taken is not None and taken.id != user_id:
            raise _user_error("agent_id", f"agent {agent_id} already has a user ({taken.login})")
    if group_id is not None and session.get(AgentGroup, group_id) is None:
        raise _user_error("group_id", f"no group has id {group_id}")


def edit_own(
    session: Session,
    user_id: int,
    *,
    name: str | None = None,
    language: str | None = None,
    password: str | None = None,
    current_password: str | None = None,
    keep_token_hash: str | None = None,
) -> User:
    """A user changes their own name, language or password (the password needs the current
    one; other sessions of the user end)."""
    user = session.get(User, user_id)
    if user is None:
        raise UserNotFoundError(user_id)
    changed: dict[str, object] = {}
    if password is not None:
        if not current_password or not check_password(user.password_hash, current_password):
            raise _user_error("current_password", "the current password is needed and was wrong")
        user.password_hash = hash_password(password)
        changed["password"] = "changed"  # noqa: S105  (a marker, not a password)
    if name is not None:
        clean = " ".join(name.split())
        if len(clean) > NAME_MAX:
            raise _user_error("name", f"at most {NAME_MAX} characters")
        if clean != user.name:
            changed["name"] = [user.name, clean]
            user.name = clean
    if language is not None and language != user.language:
        if language not in LANGUAGES:
            raise _user_error("language", f"one of {', '.join(LANGUAGES)}, not {language!r}")
        changed["language"] = [user.language, language]
        user.language = language
    if not changed:
        return user
    user.updated_at = utcnow()
    session.add(user)
    session.flush()
    if password is not None:
        end_sessions(session, user_id, keep_token_hash=keep_token_hash)
    audit(
        session,
        actor=f"user:{user.login}",
        action="user.edit_self",
        entity="user",
        entity_id=user_id,
        details={"changed": changed},
    )
    return user
