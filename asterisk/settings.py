"""Settings of one Asterisk server, validated once into a frozen object.

The engine's config embeds a list of these under ``[[asterisk.servers]]``. The AMI
secret can come from the environment instead of the file: ``DIALER_AMI_SECRET_<NAME>``
(name upper-cased, ``-`` as ``_``) or, for every server, ``DIALER_AMI_SECRET``.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator


class AmiServerSettings(BaseModel):
    """One Asterisk server: AMI login, dial plan names and per-server limits."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field("pbx1", min_length=1)
    host: str = "127.0.0.1"
    port: int = Field(5038, ge=1, le=65535)
    username: str = "dialer"
    secret: SecretStr = SecretStr("")

    channel_template: str = "Local/{number}@customers"
    caller_id: str = '"Dialer" <5550100>'
    answered_context: str = "dialer-answered"
    answered_exten: str = "{number}"
    agent_seat_channel: str = "Local/{agent}@agents"
    agent_seat_context: str = "agent-handset"
    agent_bridge_context: str = "agent-bridge"
    seat_conference_prefix: str = "agent-"
    drop_context: str = "drop"
    drop_exten: str = "s"
    amd: bool = False

    ring_timeout_s: float = Field(25.0, gt=0, le=600)
    originates_per_second: float = Field(50.0, gt=0)
    max_channels: int = Field(500, ge=1)
    ping_interval_s: float = Field(5.0, gt=0)
    ping_timeout_s: float = Field(3.0, gt=0)
    login_timeout_s: float = Field(5.0, gt=0)
    reconnect_min_s: float = Field(0.5, gt=0)
    reconnect_max_s: float = Field(30.0, gt=0)
    #: Inbound: the queues whose callers are followed (empty: every queue on the server).
    inbound_queues: tuple[str, ...] = ()
    #: Inbound: the UserEvent a call that reached no queue sends (after hours, i4).
    inbound_missed_event: str = Field("InboundMissed", min_length=1)
    #: Inbound: the queue such a call counts for when the UserEvent names none.
    inbound_missed_queue: str = "after-hours"

    @field_validator("channel_template")
    @classmethod
    def _has_number(cls, value: str) -> str:
        if "{number}" not in value:
            msg = "channel_template must contain {number}, e.g. PJSIP/{number}@trunk"
            raise ValueError(msg)
        return value

    @model_validator(mode="before")
    @classmethod
    def _secret_from_env(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        name = str(data.get("name", "pbx1")).upper().replace("-", "_")
        env = os.environ.get(f"DIALER_AMI_SECRET_{name}") or os.environ.get("DIALER_AMI_SECRET")
        if env:
            return {**data, "secret": env}
        return data
