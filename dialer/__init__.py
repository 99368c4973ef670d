"""Predictive dialer campaign engine: runtime, configuration and command line."""

__version__ = "0.1.0"
