"""The runtime room: the engine wired to the database (:mod:`.store`), Asterisk
(:mod:`.telephony`), MQTT (:mod:`.mqtt`), scheduled jobs (:mod:`.jobs`) and pacing profiles
(:mod:`.profiles`); :class:`Runtime` is the engine process. It imports the engine below it
and never the simulation (simulated agents plug in through :class:`AgentDriver`)."""

from dialer.runtime.core import AgentDriver, EngineStartError, Runtime, run_forever

__all__ = ["AgentDriver", "EngineStartError", "Runtime", "run_forever"]
