"""The built-in FTPS server cameras upload to (see server.py for a session, data.py for its transfers)."""

from addax.actors.ftp.actor import FtpActor
from addax.actors.ftp.server import TEMPORARY_NAME, SessionLimits

__all__ = ["TEMPORARY_NAME", "FtpActor", "SessionLimits"]
