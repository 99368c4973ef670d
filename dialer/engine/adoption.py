"""Restart adoption: which legs still up on Asterisk belong to calls this engine left open.

A restarted engine reads each server's CoreShowChannels and ConfbridgeList and the
call-log rows its earlier starts left open. :func:`plan` sorts the live legs, as a pure
function of those lists:

* a call leg (``;1`` Uniqueid ``dialer-<call id>``) of an open row in an agent's conference
  is a conversation going on: adopted, connected to that seat, the seat adopted with it;
* one in the holding context is a person waiting: adopted (connected or dropped at once);
* one in the drop context hears the legal message: adopted until it ends (dropped);
* one anywhere else is still ringing: hung up (cancelled, no attempt used);
* a leg of this engine's calls that no open row knows, and an agent seat with no call
  adopted in its conference, are hung up; legs of other clients are left alone.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from asterisk.adapter import call_id_of
from asterisk.protocol import Message


class Found(StrEnum):
    """Where an open call's leg was found."""

    TALKING = "talking"
    WAITING = "waiting"
    DROPPING = "dropping"
    RINGING = "ringing"


@dataclass(frozen=True, slots=True)
class FoundCall:
    """A leg of an open call, live on ``server``."""

    call_id: str
    server: str
    where: Found
    channel_id: str
    channel: str
    seat: str | None = None
    """The agent seat (conference name without its prefix) it talks in."""


@dataclass(frozen=True, slots=True)
class FoundSeat:
    """An agent seat live on ``server``: its ``;1`` Uniqueid and its legs in the room."""

    seat: str
    server: str
    uniqueid: str
    members: frozenset[str]
    channel: str = ""


@dataclass(frozen=True, slots=True)
class Plan:
    """What to adopt, what is gone, what to hang up."""

    calls: tuple[FoundCall, ...] = ()
    seats: tuple[FoundSeat, ...] = ()
    """Seats with an adopted conversation."""
    gone: tuple[str, ...] = ()
    """Open calls found on no server."""
    hangups: tuple[tuple[str, str], ...] = field(default=())
    """(server, channel) of legs that belong to no known call."""
    idle: tuple[FoundSeat, ...] = ()
    """Seats with no adopted conversation (their channels are in ``hangups`` too: a
    restart hangs them up; a cluster takeover adopts those of its campaigns' agents)."""


def plan(
    open_calls: Collection[str],
    channels: Mapping[str, Sequence[Message]],
    members: Mapping[str, Sequence[Message]],
    *,
    own_prefix: str,
    seat_prefix: str = "agent-",
    holding_context: str = "dialer-answered",
    bridge_context: str = "agent-bridge",
    drop_context: str = "drop",
) -> Plan:
    """Sort the live legs of every server (``channels``: CoreShowChannel items, ``members``:
    ConfbridgeList items of the agents' rooms) against the calls left open. A room's
    member redirected in through ``bridge_context`` is a customer; the others are seat legs.

    ``own_prefix`` starts every call id of this engine: only such legs are hung up as
    unknown (another client's calls on the same server are not ours to end).
    """
    known = set(open_calls)
    calls: list[FoundCall] = []
    seats: list[FoundSeat] = []
    hangups: list[tuple[str, str]] = []
    idle: list[FoundSeat] = []
    found: set[str] = set()
    for server, items in channels.items():
        room_of: dict[str, str] = {}
        seat_legs: dict[str, dict[str, set[str]]] = {}
        for m in members.get(server, ()):
            room = m.get("Conference")
            if not room.startswith(seat_prefix):
                continue
            uid, linked = m.get("Uniqueid"), m.get("Linkedid")
            room_of[uid] = room
            if m.get("Context") != bridge_context and call_id_of(linked or uid) not in known:
                seat_legs.setdefault(room, {}).setdefault(linked or uid, set()).add(uid)
        talking_rooms: set[str] = set()
        for ch in items:
            uid = ch.get("Uniqueid")
            call_id = call_id_of(uid)
            if call_id is None or call_id not in known:
                continue
            found.add(call_id)
            in_room = room_of.get(uid)
            seat: str | None
            if in_room is not None:
                where, seat = Found.TALKING, in_room.removeprefix(seat_prefix)
                talking_rooms.add(in_room)
            elif ch.get("Context") == holding_context:
                where, seat = Found.WAITING, None
            elif ch.get("Context") == drop_context:
                where, seat = Found.DROPPING, None
            else:
                where, seat = Found.RINGING, None
                hangups.append((server, ch.get("Channel")))
            calls.append(FoundCall(call_id, server, where, uid, ch.get("Channel"), seat))
        kept: set[str] = {f"dialer-{c.call_id}" for c in calls if c.where is not Found.RINGING}
        channel_of = {ch.get("Uniqueid"): ch.get("Channel") for ch in items}
        for room, legs in seat_legs.items():
            for uniqueid, uids in legs.items():
                live_seat = FoundSeat(
                    room.removeprefix(seat_prefix),
                    server,
                    uniqueid,
                    frozenset(uids),
                    channel_of.get(uniqueid, ""),
                )
                if room in talking_rooms:
                    seats.append(live_seat)
                    kept.add(uniqueid)
                elif live_seat.channel:
                    hangups.append((server, live_seat.channel))
                    idle.append(live_seat)
                    kept.add(uniqueid)
        for ch in items:
            uid, linked = ch.get("Uniqueid"), ch.get("Linkedid") or ch.get("Uniqueid")
            if uid != linked or linked in kept:
                continue  # a ;2 leg goes with its ;1; kept legs stay
            call_id = call_id_of(uid)
            if call_id is not None and call_id not in known and call_id.startswith(own_prefix):
                hangups.append((server, ch.get("Channel")))
    gone = tuple(sorted(known - found))
    return Plan(tuple(calls), tuple(seats), gone, tuple(hangups), tuple(idle))
