"""A local stand-in for the Telegram Bot API (aiohttp.web), for the real aiogram client to talk to.

Routes ``/bot{token}/{method}`` like api.telegram.org; answers in Telegram's JSON shape
(``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": ..., "description": ...}``). It records
every call, queues messages from users for ``getUpdates`` (long polling, woken by ``queue_message``), and
fails the next call of a method on request. A wrong token gets 401, an unknown method 404, as Telegram does.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from aiohttp import web

from addax.config import Telegram

TOKEN = "123456:stand-in-token"
DESCRIPTIONS = {
    400: "Bad Request: chat not found",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: can't use getUpdates method while webhook is active",
    500: "Internal Server Error",
    502: "Bad Gateway",
}

MAX_UPLOAD = 50 * 2**20  # Telegram takes photos up to 10 MB, other files up to 50 MB

Json = dict[str, Any]


@dataclass(frozen=True)
class Call:
    """One request as the stand-in received it: form fields, uploaded files and how the body came."""

    method: str
    params: dict[str, str]
    files: dict[str, bytes]
    content_type: str
    transfer_encoding: str | None
    at: float = field(default_factory=time.time)  # when the request had arrived whole (for bench/alerts.py)


@dataclass(frozen=True)
class _Failure:
    status: int
    description: str
    retry_after: int | None


class TelegramStandIn:
    def __init__(self, *, token: str = TOKEN, username: str = "AddaxTestBot") -> None:
        self.token = token
        self.username = username
        self.base_url = ""
        self.calls: list[Call] = []
        self.webhook: dict[str, str] | None = None
        self._updates: list[Json] = []
        self._failures: dict[str, list[_Failure]] = {}
        self._update_ids = itertools.count(1000)
        self._message_ids = itertools.count(1)
        self._news = asyncio.Event()  # an update was queued
        self._called = asyncio.Event()  # a call was recorded
        self._runner: web.AppRunner | None = None
        self._methods: dict[str, Callable[[Mapping[str, str], Mapping[str, bytes]], Awaitable[Any]]] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
        }

    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_UPLOAD)
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_get("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def settings(self, **overrides: Any) -> Telegram:
        """The client settings that reach this stand-in with the token it knows."""
        return replace(Telegram(bot_token=self.token, api_base_url=self.base_url, poll_timeout_s=5), **overrides)

    def reset(self) -> None:
        """Forget calls, queued updates, failures and the webhook (between tests)."""
        self.calls.clear()
        self._updates.clear()
        self._failures.clear()
        self.webhook = None

    def calls_of(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def queue_message(self, chat_id: int, text: str, *, username: str | None = "ranger") -> int:
        """A user writes ``text`` to the bot in a private chat; returns the update_id."""
        user: Json = {"id": chat_id, "is_bot": False, "first_name": username or "Ranger"}
        if username is not None:
            user["username"] = username
        chat: Json = {"id": chat_id, "type": "private"}
        message = {"message_id": next(self._message_ids), "date": int(time.time()), "chat": chat, "from": user}
        return self.queue_update({"message": {**message, "text": text}})

    def queue_update(self, update: Json) -> int:
        """Any update (``{"edited_message": {...}}``, ...); the update_id is added. Returns it."""
        update_id = next(self._update_ids)
        self._updates.append({"update_id": update_id, **update})
        self._news.set()
        return update_id

    def fail_next(
        self, method: str, *, status: int = 429, description: str | None = None, retry_after: int | None = None
    ) -> None:
        """The next call of ``method`` fails with ``status`` in Telegram's shape (429: retry after 3 s unless told)."""
        if status == 429 and retry_after is None:
            retry_after = 3
        if description is None:
            description = f"Too Many Requests: retry after {retry_after}" if status == 429 else DESCRIPTIONS[status]
        self._failures.setdefault(method, []).append(_Failure(status, description, retry_after))

    async def wait_for_calls(self, method: str, count: int, timeout: float = 10) -> list[Call]:
        """The calls of ``method`` once there are at least ``count``."""
        try:
            async with asyncio.timeout(timeout):
                await _until(self._called, lambda: len(self.calls_of(method)) >= count)
        except TimeoutError:
            got = len(self.calls_of(method))
            raise AssertionError(f"{got} of {count} {method} calls arrived within {timeout:g}s") from None
        return self.calls_of(method)

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params, files = await _read(request)
        self.calls.append(Call(method, params, files, request.content_type, request.headers.get("Transfer-Encoding")))
        self._called.set()
        if request.match_info["token"] != self.token:
            return _error(401, DESCRIPTIONS[401])
        if self._failures.get(method):
            failure = self._failures[method].pop(0)
            return _error(failure.status, failure.description, failure.retry_after)
        handler = self._methods.get(method)
        if handler is None:
            return _error(404, DESCRIPTIONS[404])
        return web.json_response({"ok": True, "result": await handler(params, files)})

    async def _get_me(self, params: Mapping[str, str], files: Mapping[str, bytes]) -> Json:
        return {
            "id": int(self.token.partition(":")[0]),
            "is_bot": True,
            "first_name": "Addax",
            "username": self.username,
        }

    async def _get_updates(self, params: Mapping[str, str], files: Mapping[str, bytes]) -> list[Json]:
        offset = int(params.get("offset") or 0)
        if offset:  # asking from an offset confirms every earlier update: Telegram forgets them
            self._updates[:] = [update for update in self._updates if update["update_id"] >= offset]
        try:
            async with asyncio.timeout(float(params.get("timeout") or 0)):
                await _until(self._news, lambda: bool(self._updates))
        except TimeoutError:
            pass  # nothing new: an empty answer, as Telegram gives
        return self._updates[: int(params.get("limit") or 100)]

    async def _send_message(self, params: Mapping[str, str], files: Mapping[str, bytes]) -> Json:
        return {**self._message(params["chat_id"]), "text": params["text"]}

    async def _send_photo(self, params: Mapping[str, str], files: Mapping[str, bytes]) -> Json:
        photo = files["photo"]
        size = {"file_id": "photo-1", "file_unique_id": "u-photo-1", "width": 1, "height": 1, "file_size": len(photo)}
        caption = {"caption": params["caption"]} if "caption" in params else {}
        return {**self._message(params["chat_id"]), "photo": [size], **caption}

    async def _set_webhook(self, params: Mapping[str, str], files: Mapping[str, bytes]) -> bool:
        self.webhook = {"url": params["url"], "secret_token": params.get("secret_token", "")}
        return True

    async def _delete_webhook(self, params: Mapping[str, str], files: Mapping[str, bytes]) -> bool:
        self.webhook = None
        return True

    def _message(self, chat_id: str) -> Json:
        chat = {"id": int(chat_id), "type": "private"}
        return {"message_id": next(self._message_ids), "date": int(time.time()), "chat": chat}


async def _until(event: asyncio.Event, check: Callable[[], bool]) -> None:
    """Wait until ``check()``, re-checking each time ``event`` is set (no polling)."""
    while not check():
        event.clear()
        if not check():
            await event.wait()


async def _read(request: web.Request) -> tuple[dict[str, str], dict[str, bytes]]:
    """Form fields and files of a urlencoded or multipart body (or a JSON one, as other clients send).

    A file sent as a field's ``attach://<name>`` (aiogram's way) is filed under that field's name.
    """
    if request.content_type == "application/json":
        return {key: str(value) for key, value in (await request.json()).items()}, {}
    params: dict[str, str] = {}
    files: dict[str, bytes] = {}
    for key, value in (await request.post()).items():
        if isinstance(value, web.FileField):
            files[key] = value.file.read()
        else:
            params[key] = value if isinstance(value, str) else bytes(value).decode()
    for key, value in list(params.items()):  # photo=attach://<name>: the file is the part called <name>
        if value.startswith("attach://") and value[len("attach://") :] in files:
            files[key] = files.pop(value[len("attach://") :])
            del params[key]
    return params, files


def _error(status: int, description: str, retry_after: int | None = None) -> web.Response:
    body: Json = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=status)
