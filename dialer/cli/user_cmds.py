"""``dialer user …``, ``dialer agent add|list`` and ``dialer group add|list``: the people
who use the API and pages, the agents who take calls and their groups.

A password is never an argument (it would stay in the shell history and the process
list): it is read from standard input with ``--password-stdin`` or asked for twice.
Every change is audited as ``cli:<system user>``, like the other commands.
"""

from __future__ import annotations

import json
import sys

import typer
from rich.table import Table

from campaigns.enums import Role


def _agent_group(app: typer.Typer) -> typer.Typer:
    """The ``dialer agent`` group that agent_cmds registered (agent actions over MQTT)."""
    for info in app.registered_groups:
        if info.name == "agent" and info.typer_instance is not None:
            return info.typer_instance
    agent_app = typer.Typer(help="Agents.", no_args_is_help=True)
    app.add_typer(agent_app, name="agent")
    return agent_app


def read_password(*, from_stdin: bool) -> str:
    """The new password: the first line of standard input, or asked for twice (hidden)."""
    from dialer.cli.campaign_cmds import fail

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            fail("--password-stdin: standard input gave no password")
        return password
    password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return str(password)


def register(app: typer.Typer, bench: typer.Typer) -> None:
    """Add ``dialer user``, ``dialer group`` and ``dialer agent add|list``."""
    del bench
    from dialer.cli.campaign_cmds import _actor, _database, console
    from dialer.services.accounts import create_user
    from dialer.services.people import (
        create_agent,
        create_group,
        edit_agent,
        edit_user,
        get_agent,
        get_group,
        get_user,
        list_agents,
        list_groups,
        list_users,
    )

    user_app = typer.Typer(
        help="Users of the HTTP API and pages: add, list, set a password.", no_args_is_help=True
    )
    group_app = typer.Typer(help="Groups of agents: add, list.", no_args_is_help=True)
    app.add_typer(user_app, name="user")
    app.add_typer(group_app, name="group")
    agent_app = _agent_group(app)
    agent_app.info.help = (
        "Agents: add and list them; their actions (login, ready, pause, status, logout) are "
        "sent to the running engine over MQTT."
    )

    stdin_option = typer.Option(
        False, "--password-stdin", help="Read the password from the first line of stdin."
    )

    @user_app.command("add")
    def user_add(  # noqa: PLR0917  (typer: each option is a parameter)
        ctx: typer.Context,
        login: str = typer.Argument(..., help="Sign-in name."),
        role: Role = typer.Option(..., "--role", help="admin, head, group_leader or agent."),
        name: str = typer.Option("", "--name", help="Full name shown in the pages."),
        group: str | None = typer.Option(
            None, "--group", help="Group name or id (the group a group leader leads)."
        ),
        agent: str | None = typer.Option(
            None, "--agent", help="Agent login or id (the agent an agent user is)."
        ),
        language: str = typer.Option("en", "--language", help="Pages in en or pl."),
        password_stdin: bool = stdin_option,
    ) -> None:
        """Add a user; the password is read from stdin or asked for."""
        password = read_password(from_stdin=password_stdin)
        with _database(ctx, write=True) as session:
            group_id = get_group(session, group).id if group else None
            agent_id = get_agent(session, agent).id if agent else None
            user = create_user(
                session,
                login=login,
                password=password,
                role=role,
                actor=_actor(),
                name=name,
                group_id=group_id,
                agent_id=agent_id,
                language=language,
            )
            console.print(f"added user {user.login!r} (id {user.id}, {role.value})")

    @user_app.command("list")
    def user_list(
        ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="JSON output.")
    ) -> None:
        """List the users with their role, group and agent."""
        with _database(ctx) as session:
            users = list_users(session)
            groups = {g.id: g.name for g in list_groups(session)}
            agents = {a.id: a.login for a in list_agents(session)}
        rows = [
            {
                "id": u.id,
                "login": u.login,
                "name": u.name,
                "role": str(u.role),
                "group": groups.get(u.group_id) if u.group_id else None,
                "agent": agents.get(u.agent_id) if u.agent_id else None,
                "language": u.language,
                "active": u.active,
            }
            for u in users
        ]
        if as_json:
            typer.echo(json.dumps(rows))
            return
        table = Table(title="Users")
        for column in ("id", "login", "name", "role", "group", "agent", "language", "active"):
            table.add_column(column)
        for row in rows:
            table.add_row(
                *(
                    ("yes" if value else "no")
                    if isinstance(value, bool)
                    else ("" if value is None else str(value))
                    for value in row.values()
                )
            )
        console.print(table)

    @user_app.command("passwd")
    def user_passwd(
        ctx: typer.Context,
        login: str = typer.Argument(..., help="Login of the user."),
        password_stdin: bool = stdin_option,
    ) -> None:
        """Set a user's password (their sessions end)."""
        with _database(ctx) as session:
            get_user(session, login)
        password = read_password(from_stdin=password_stdin)
        with _database(ctx, write=True) as session:
            user = get_user(session, login)
            edit_user(session, user.id or 0, actor=_actor(), password=password)
            console.print(f"password of {user.login!r} changed; its sessions ended")

    @agent_app.command("add")
    def agent_add(  # noqa: PLR0917  (typer options are parameters)
        ctx: typer.Context,
        login: str = typer.Argument(..., help="Agent login (no spaces)."),
        name: str = typer.Option("", "--name", help="Full name."),
        extension: str | None = typer.Option(
            None, "--extension", help="Seat the engine calls the agent on (default: login)."
        ),
        group: str | None = typer.Option(None, "--group", help="Group name or id."),
        seat: list[str] = typer.Option(
            [], "--seat", help="Another seat the agent may log in on (repeat for more)."
        ),
    ) -> None:
        """Add an agent (then `dialer user add LOGIN --role agent --agent LOGIN`)."""
        with _database(ctx, write=True) as session:
            group_id = get_group(session, group).id if group else None
            row = create_agent(
                session,
                login=login,
                name=name,
                extension=extension,
                group_id=group_id,
                seats=seat,
                actor=_actor(),
            )
            console.print(f"added agent {row.login!r} (id {row.id})")

    @agent_app.command("seats")
    def agent_seats(
        ctx: typer.Context,
        login: str = typer.Argument(..., help="Agent login."),
        seat: list[str] = typer.Option(
            [], "--seat", help="A seat besides the extension (repeat; none: clear the list)."
        ),
    ) -> None:
        """Set the seats an agent may log in on besides its extension (hot-desking)."""
        with _database(ctx, write=True) as session:
            agent = get_agent(session, login)
            row = edit_agent(session, agent.id or 0, actor=_actor(), seats=seat)
            own = row.extension or row.login
            console.print(f"agent {row.login!r} may log in on: {', '.join([own, *row.seats])}")

    @agent_app.command("list")
    def agent_list(
        ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="JSON output.")
    ) -> None:
        """List the agents with their seat and group."""
        with _database(ctx) as session:
            agents = list_agents(session)
            groups = {g.id: g.name for g in list_groups(session)}
        rows = [
            {
                "id": a.id,
                "login": a.login,
                "name": a.name,
                "extension": a.extension,
                "group": groups.get(a.group_id) if a.group_id else None,
                "active": a.active,
            }
            for a in agents
        ]
        if as_json:
            typer.echo(json.dumps(rows))
            return
        table = Table(title="Agents")
        for column in ("id", "login", "name", "extension", "group", "active"):
            table.add_column(column)
        for row in rows:
            table.add_row(
                str(row["id"]),
                str(row["login"]),
                str(row["name"]),
                str(row["extension"] or ""),
                str(row["group"] or ""),
                "yes" if row["active"] else "no",
            )
        console.print(table)

    @group_app.command("add")
    def group_add(
        ctx: typer.Context, name: str = typer.Argument(..., help="Group name, e.g. 'Team A'.")
    ) -> None:
        """Add a group of agents."""
        with _database(ctx, write=True) as session:
            row = create_group(session, name=name, actor=_actor())
            console.print(f"added group {row.name!r} (id {row.id})")

    @group_app.command("list")
    def group_list(
        ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="JSON output.")
    ) -> None:
        """List the groups."""
        with _database(ctx) as session:
            rows = [{"id": g.id, "name": g.name} for g in list_groups(session)]
        if as_json:
            typer.echo(json.dumps(rows))
            return
        table = Table(title="Groups")
        table.add_column("id")
        table.add_column("name")
        for row in rows:
            table.add_row(str(row["id"]), str(row["name"]))
        console.print(table)
