"""Asterisk edge: the AMI adapter and a PBX simulator that speaks AMI over TCP.

Modules (importing this package has no side effects):

* ``protocol`` — pure AMI framing, ``AmiParser.feed(bytes) -> [Message | Greeting | Garbage]``
* ``events`` — typed call-lifecycle events (frozen dataclasses)
* ``mapping`` — pure AMI messages -> lifecycle events (``CallMapper``)
* ``settings`` — ``AmiServerSettings``, one frozen model per server
* ``adapter`` — ``AmiAdapter`` (``async with``) on panoramisk; ``DialRequest``
* ``pool`` — ``AmiPool`` (several servers) and the ``Telephony`` interface
* ``memory`` — ``WorldTelephony``: the interface over the world model, in virtual time
* ``world`` — pure, clock-agnostic PBX world model (channels, customers, agents)
* ``scenario`` — scenario TOML loader and seeded customer behaviour
* ``simulator`` — ``PbxSimulator``: asyncio AMI server around the world (``dialer pbx-sim``)
* ``bench`` — ``dialer bench ami``
"""
