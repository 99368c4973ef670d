"""The engine room: the pure core of the dialer.

Orchestration (:mod:`.core`), the agent and call state machines (:mod:`.agents`,
:mod:`.calls`), the restart adoption plan (:mod:`.adoption`) and the ports the core needs:
its clock (:mod:`.clock`), its event sink (:mod:`.sink`), and the lead source and call
journal protocols (in :mod:`.core`). It imports nothing of the runtime, the simulation, the
API or the CLI; its adapters live in :mod:`dialer.runtime` (database, Asterisk, MQTT) and
:mod:`dialer.sim` (in-memory, simulated agents).
"""

from dialer.engine.calls import Call, CallPhase, ConnectCall, DropCall, HangupCall, Lead
from dialer.engine.core import (
    AgentRun,
    CallJournal,
    CampaignRun,
    Command,
    Engine,
    EngineError,
    LeadSource,
    Originate,
    PhaseChange,
    PhaseLog,
    RunState,
    StartSeat,
    StopSeat,
)

__all__ = [
    "AgentRun",
    "Call",
    "CallJournal",
    "CallPhase",
    "CampaignRun",
    "Command",
    "ConnectCall",
    "DropCall",
    "Engine",
    "EngineError",
    "HangupCall",
    "Lead",
    "LeadSource",
    "Originate",
    "PhaseChange",
    "PhaseLog",
    "RunState",
    "StartSeat",
    "StopSeat",
]
