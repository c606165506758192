"""The test SMTP server and Telegram stand-in on an event loop of their own, in a thread: for code that blocks
(an `addax run` subprocess driven by urllib, a benchmark) and so cannot share the test's loop."""

from __future__ import annotations

import asyncio
import re
import threading
from pathlib import Path
from typing import Any

from tests.mail_server import MailServer, Mode
from tests.telegram_standin import TelegramStandIn


class BackgroundServers:
    """The SMTP server and the Telegram stand-in, on an event loop in a thread of their own."""

    def __init__(self, folder: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.mail = MailServer(folder, mode=Mode.PLAIN)
        self.telegram = TelegramStandIn()
        self.run(self.mail.start())
        self.run(self.telegram.start())

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    def stop(self) -> None:
        self.run(self.telegram.stop())
        self.run(self.mail.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)

    def arrivals(self) -> tuple[dict[int, float], dict[int, float]]:
        """When each notification's mail arrived (by notification id), and each photo at Telegram (by image id)."""
        mails = {}
        for received in self.mail.messages:
            message_id = str(received.message["Message-ID"])  # <notification-42@addax>
            mails[int(message_id.split("-", 1)[1].split("@", 1)[0])] = received.at
        photos = {}  # by image id, from the link in the caption
        for call in self.telegram.calls_of("sendPhoto"):
            found = re.search(r"/images/(\d+)", call.params.get("caption", ""))
            if found:
                photos[int(found.group(1))] = call.at
        return mails, photos

    def __enter__(self) -> BackgroundServers:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
