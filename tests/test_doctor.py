"""``addax doctor``'s checks of the alert channels, against the test SMTP servers and the Telegram stand-in."""

from __future__ import annotations

import dataclasses
import re

import pytest

from addax.config import Config, Smtp, Telegram
from addax.doctor import Notice, Problem, check_email, check_telegram
from tests.conftest import free_port
from tests.mail_server import MailServer
from tests.telegram_standin import TelegramStandIn


def with_smtp(smtp: Smtp) -> Config:
    return dataclasses.replace(Config(), smtp=smtp)


async def test_email_check_logs_in_over_starttls_and_sends_nothing(tls_mail_server: MailServer) -> None:
    said = await check_email(with_smtp(tls_mail_server.settings()))
    assert "STARTTLS" in said and "logged in as" in said
    assert tls_mail_server.messages == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [({"password": "wrong"}, "refused the login"), ({"from_address": ""}, "smtp.from_address")],
)
async def test_email_check_says_what_is_wrong(mail_server: MailServer, change: dict, expected: str) -> None:
    with pytest.raises(Problem, match=expected):
        await check_email(with_smtp(mail_server.settings(**change)))


async def test_email_check_of_a_closed_port_names_the_server() -> None:
    port = free_port()
    with pytest.raises(Problem, match=re.escape(f"127.0.0.1:{port}")):
        await check_email(with_smtp(Smtp(host="127.0.0.1", port=port, from_address="a@b.org", starttls=False)))


async def test_without_settings_the_channels_are_notices_not_failures() -> None:
    with pytest.raises(Notice, match=r"smtp\.host"):
        await check_email(Config())
    with pytest.raises(Notice, match=r"telegram\.bot_token"):
        await check_telegram(Config())


async def test_telegram_check_names_the_bot_or_the_refused_token(telegram_api: TelegramStandIn) -> None:
    config = dataclasses.replace(Config(), telegram=telegram_api.settings())
    assert f"@{telegram_api.username}" in await check_telegram(config)
    wrong = dataclasses.replace(Config(), telegram=Telegram(bot_token="1:nope", api_base_url=telegram_api.base_url))
    with pytest.raises(Problem, match=r"telegram\.bot_token"):
        await check_telegram(wrong)
