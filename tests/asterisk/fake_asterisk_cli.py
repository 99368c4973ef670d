"""A stand-in for ``asterisk -C <conf> -rx '<command>'`` against the PBX simulator.

``record.py`` runs the CLI out of band in scenario h6 (``manager show connected``, then
``manager kick session <fd>``). Here ``-C`` carries the simulator's AMI port; the kick is
the simulator's ``SimControl Op=drop`` (at that moment the recorder's session is the only
one, so dropping every connection is the kick: the socket closes with no message). The
control session logs in with ``Events: off`` so that it adds nothing to the recording but
a ``SuccessfulAuth``, which the comparison ignores.
"""

from __future__ import annotations

import contextlib
import socket
import sys


def _ami(port: int, action: str) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.recv(1024)  # greeting
        sock.sendall(b"Action: Login\r\nUsername: dialer\r\nEvents: off\r\n\r\n")
        sock.recv(4096)
        sock.sendall(action.encode() + b"\r\n\r\n")
        with contextlib.suppress(OSError):  # the drop may close this connection too
            sock.recv(4096)


def main(argv: list[str]) -> int:
    """Answer the two CLI commands scenario h6 uses."""
    port = int(argv[argv.index("-C") + 1])
    command = argv[argv.index("-rx") + 1]
    if command == "manager show connected":
        # columns as Asterisk prints them (record.py reads user, host and FileDes)
        print("  Username  IP Address  Start  Elapsed  FileDes  HttpCnt  ReadPerms  WritePerms")
        print("  dialer  127.0.0.1  1796598239  1  12  0  0007ffff  0007ffff")
        print("1 users connected.")
        return 0
    if command.startswith("manager kick session"):
        _ami(port, "Action: SimControl\r\nOp: drop")
        print("Kicking manager session connected using file descriptor 12")
        return 0
    print(f"No such command '{command}'")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
