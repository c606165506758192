"""The one error a delivery channel raises, and what the retry logic needs to know about it."""

from __future__ import annotations


class DeliveryFailed(Exception):
    """A message did not reach its recipient.

    ``permanent``: retrying cannot help (the recipient was refused, the chat is gone, the bot was blocked);
    ``retry_after_s``: the server said when to try again. The message is one line, without secrets.
    """

    def __init__(self, message: str, *, permanent: bool = False, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after_s = retry_after_s
