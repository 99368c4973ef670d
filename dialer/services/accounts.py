"""User accounts: password hashing (argon2) and creating users, shared by the API (sign-in,
the users routes) and the CLI (``dialer user add``, the demo)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from campaigns.enums import Role
from campaigns.models import Agent, AgentGroup, User
from campaigns.statuses import audit
from dialer.errors import DialerError

_hasher = PasswordHasher()
#: Compared against when the login is unknown, so both paths take the same time.
_DUMMY_HASH = _hasher.hash("not a password")


class UserError(DialerError):
    """A user cannot be created or changed as asked; the message says why."""

    error_id = "invalid_user"


def use_hasher(hasher: PasswordHasher) -> None:
    """Replace the password hasher (tests use cheap parameters; production the defaults)."""
    global _hasher, _DUMMY_HASH  # noqa: PLW0603
    _hasher = hasher
    _DUMMY_HASH = hasher.hash("not a password")


def hash_password(password: str) -> str:
    """The argon2 hash to store for ``password``."""
    if len(password) < 8:
        msg = "password: at least 8 characters"
        raise UserError(msg)
    return _hasher.hash(password)


def check_unknown(password: str) -> None:
    """Spend the time of a password check on an unknown login (so both take as long)."""
    check_password(_DUMMY_HASH, password)


def rehashed(stored_hash: str, password: str) -> str:
    """The hash to keep after a successful sign-in: a new one when the parameters changed."""
    return _hasher.hash(password) if _hasher.check_needs_rehash(stored_hash) else stored_hash


def check_password(stored_hash: str, password: str) -> bool:
    """True when ``password`` matches the stored hash."""
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def create_user(
    session: Session,
    *,
    login: str,
    password: str,
    role: Role,
    actor: str,
    name: str = "",
    group_id: int | None = None,
    agent_id: int | None = None,
    language: str = "en",
) -> User:
    """Add a user (audited). An agent user needs its agent; a group leader its group."""
    login = login.strip()
    if not login or len(login) > 64:
        raise UserError("login: 1 to 64 characters")
    if session.exec(select(User).where(User.login == login)).first() is not None:
        raise UserError(f"login: {login!r} is taken")
    _check_links(session, role, group_id, agent_id)
    if language not in {"en", "pl"}:
        raise UserError(f"language: 'en' or 'pl', not {language!r}")
    user = User(
        login=login,
        name=name,
        password_hash=hash_password(password),
        role=role,
        group_id=group_id,
        agent_id=agent_id,
        language=language,
    )
    session.add(user)
    session.flush()
    audit(
        session,
        actor=actor,
        action="user.create",
        entity="user",
        entity_id=user.id,
        details={"login": login, "role": role.value, "group_id": group_id, "agent_id": agent_id},
    )
    return user


def _check_links(session: Session, role: Role, group_id: int | None, agent_id: int | None) -> None:
    if role is Role.AGENT and agent_id is None:
        raise UserError("agent_id: an agent user must be tied to an agent")
    if role is Role.GROUP_LEADER and group_id is None:
        raise UserError("group_id: a group leader must lead a group")
    if agent_id is not None:
        if session.get(Agent, agent_id) is None:
            raise UserError(f"agent_id: no agent {agent_id}")
        taken = session.exec(select(User).where(User.agent_id == agent_id)).first()
        if taken is not None:
            raise UserError(f"agent_id: agent {agent_id} already has a user ({taken.login})")
    if group_id is not None and session.get(AgentGroup, group_id) is None:
        raise UserError(f"group_id: no group {group_id}")
