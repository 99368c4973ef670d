"""The root of every error this project raises on purpose.

Each boundary (config, storage, import, AMI, pacing) subclasses ``DialerError`` in its own
module and builds the message in ``__init__`` so that a user sees what is wrong and where.
"""

from __future__ import annotations


class DialerError(Exception):
    """Root error: every error the engine raises deliberately derives from this."""

    error_id: str = "dialer_error"
