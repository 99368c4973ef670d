"""The simulation room: the demo, ``dialer simulate``, simulated agents, the in-memory ports
and the engine benchmark. It sits above the runtime (the demo runs the real runtime with
simulated agents plugged in); the runtime and the engine never import it."""
