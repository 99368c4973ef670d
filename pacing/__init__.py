"""Pacing: pure estimators and pacers that decide how many calls to place now.

The engine builds a pacer from a validated profile and drives it::

    from pacing.profile import build_pacer, load_profile
    pacer = build_pacer(load_profile("config/pacing/predictive.toml"))
    pacer.observe(Event(t, "answer", call_id=7, value=8.2))   # every call/agent event
    n = pacer.decide(View(t, ...))                             # every tick: calls to start

Modules: ``types`` (Event, View, the Pacer protocol), ``estimators`` (online dial-outcome
and duration models), ``accounting`` (abandonment windows), ``pacers`` (progressive,
ratio, predictive), ``profile`` (pacing profiles), ``referee`` (referee factories).
No I/O and no clock reads anywhere in this package: time is the ``t`` passed in.
"""
