"""Alerts end to end in-process: photos through the real pipeline and detector, matched against rules in
PostgreSQL, delivered by the arq courier over real Redis to a real SMTP server (aiosmtpd) and to the Telegram
stand-in that the real aiogram client talks to."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest

from addax.actors.courier import Courier, Delivering
from addax.actors.outbox import Addressing
from addax.alerting import Alerting, start_alerting
from addax.config import Http, Notifications
from addax.domain.alerts import RuleBody, parse_rule
from addax.domain.intake import Origin, Source
from addax.domain.secrets import hash_password
from addax.store import accounts, alerts, notifications, queue, work
from tests.actors.conftest import Intake
from tests.actors.test_pipeline import ANIMAL, PERSON, Line, config_for, start_line
from tests.conftest import Servers
from tests.domain.jpeg_factory import trail_photo
from tests.mail_server import MailServer
from tests.models.graphs import detector_model
from tests.telegram_standin import TelegramStandIn
from tests.waiting import eventually

CHAT_ID = 424242


@dataclass
class Watch:
    line: Line
    alerting: Alerting
    user_id: int
    email: str
    mail: MailServer
    bot: TelegramStandIn

    @property
    def pool(self) -> asyncpg.Pool:
        return self.line.intake.pool

    async def rule(self, **body: Any) -> int:
        parsed: RuleBody = parse_rule({"name": "test rule", **body})
        return await alerts.add_rule(
            self.pool, user_id=self.user_id, project_id=self.line.intake.project_id, body=parsed, next_run_at=None
        )

    async def rows(self) -> list[asyncpg.Record]:
        return await self.pool.fetch("SELECT * FROM notifications ORDER BY id")

    async def settled(self) -> None:
        """Every photo finished and matched, and every notification out of 'pending'."""

        async def quiet() -> bool:
            waiting = await self.pool.fetchval(
                "SELECT (SELECT count(*) FROM images WHERE alert_pending OR stage NOT IN ('done', 'failed'))"
                " + (SELECT count(*) FROM notifications WHERE status = 'pending')"
            )
            return waiting == 0

        await eventually(quiet, timeout=30, what="matching and deliveries to finish")


async def watch_for(
    intake: Intake, servers: Servers, mail: MailServer, bot: TelegramStandIn, unique: str, **notify: Any
) -> Watch:
    models_dir = intake.data_dir / "models"
    detector_model(models_dir, boxes=[ANIMAL, PERSON], name="md")
    line = await start_line(intake, models_dir)
    config = dataclasses.replace(
        config_for(intake, models_dir),
        smtp=mail.settings(),
        telegram=bot.settings(),
        http=Http(public_url="https://addax.example.org"),
        notifications=Notifications(retry_base_s=0.05, max_attempts=3, **notify),
    )
    alerting = await start_alerting(
        intake.supervisor,
        config,
        pool=intake.pool,
        redis=await intake.supervisor.use("queue", queue.open_queue(servers.redis_url), probe=queue.ping),
        redis_url=servers.redis_url,
        objects=line.objects,
        done=line.pipeline.done,
        service=False,
        queue=f"addax:test:{unique}",
    )
    email = f"ranger-{unique}@example.org"
    user_id = await accounts.add_user(
        intake.pool, email, hash_password("pw"), role=accounts.Role.VIEWER, project=intake.project, by="test"
    )
    await intake.pool.execute("INSERT INTO telegram_links (user_id, chat_id) VALUES ($1, $2)", user_id, CHAT_ID)
    return Watch(line, alerting, user_id, email, mail, bot)


@pytest.fixture
async def watch(
    intake: Intake, servers: Servers, mail_server: MailServer, telegram_api: TelegramStandIn, unique: str
) -> AsyncIterator[Watch]:
    yield await watch_for(intake, servers, mail_server, telegram_api, unique)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def test_a_person_is_mailed_with_the_blurred_photo_and_sent_to_telegram(watch: Watch) -> None:
    await watch.rule(labels=["person"], channels=["email", "telegram"])
    with watch.line.events.subscribe() as subscription:
        await watch.line.send_photos(1)
        (mail,) = await watch.mail.wait_for(1)
        (photo,) = await watch.bot.wait_for_calls("sendPhoto", 1)
        await watch.settled()
        sent_events = []
        while len(sent_events) < 2:
            event = await subscription.next()
            if event.type == "alert.sent":
                sent_events.append(event)
    image = await watch.pool.fetchrow("SELECT id, annotated_key FROM images")
    annotated = await watch.line.objects.read(image["annotated_key"])

    assert mail.rcpt_tos == [watch.email]
    message = mail.message
    assert "person" in message["Subject"].lower()
    (attached,) = list(message.iter_attachments())
    assert sha(attached.get_content()) == sha(annotated), "the annotated, blurred photo, byte for byte"
    text = message.get_body(("plain",)).get_content()
    assert f"https://addax.example.org/images/{image['id']}" in text
    assert message["Message-ID"].startswith("<notification-")

    assert photo.params["chat_id"] == str(CHAT_ID)
    assert sha(next(iter(photo.files.values()))) == sha(annotated)
    assert "person" in photo.params["caption"].lower()
    assert photo.transfer_encoding == "chunked"

    rows = await watch.rows()
    assert sorted((row["channel"], row["status"], row["attempts"]) for row in rows) == [
        ("email", "sent", 1),
        ("telegram", "sent", 1),
    ]
    assert {event.data["channel"] for event in sent_events} == {"email", "telegram"}


async def test_a_burst_of_ten_photos_is_one_alert(watch: Watch) -> None:
    await watch.rule(labels=["animal"], channels=["email"])
    await watch.line.send_photos(10)  # one camera, 30 s apart: one event
    await watch.line.all_in("done", 10)
    await watch.settled()
    assert len(watch.mail.messages) == 1
    (row,) = await watch.rows()
    assert row["status"] == "sent" and row["event_id"] is not None


async def test_a_rule_that_does_not_match_sends_nothing(watch: Watch) -> None:
    await watch.rule(labels=["vehicle"], channels=["email"])
    await watch.rule(labels=["animal"], min_score=0.95, channels=["email"])
    await watch.line.send_photos(2)
    await watch.line.all_in("done", 2)
    await watch.settled()
    assert await watch.rows() == [] and watch.mail.messages == []


async def test_a_backfill_never_raises_real_time_alerts(watch: Watch) -> None:
    await watch.rule(labels=["person"], channels=["email"])
    intake = watch.line.intake
    name, data = trail_photo(0, 1)
    partial = intake.spool.new_partial()
    partial.write(data)
    origin = Origin(intake.project_id, Source.IMPORT, name, "", intake.account, alerts=False)
    await intake.ingestor.ingest(await intake.receiver.persist(partial, origin))
    await watch.line.all_in("done", 1)
    await watch.settled()
    assert await watch.rows() == []


async def test_a_mail_server_that_keeps_failing_makes_a_dead_letter_that_a_retry_delivers(watch: Watch) -> None:
    await watch.rule(labels=["person"], channels=["email"])
    watch.mail.fail_temporarily(3)  # as many as notifications.max_attempts
    await watch.line.send_photos(1)
    await watch.settled()
    (row,) = await watch.rows()
    assert (row["status"], row["attempts"]) == ("failed", 3) and "451" in row["error"]
    letters = await work.dead_letters(watch.pool, projects=[watch.line.intake.project_id], user_id=watch.user_id)
    assert [(letter["notification_id"], letter["stage"]) for letter in letters] == [(row["id"], "notify")]
    assert watch.mail.messages == []

    async with watch.pool.acquire() as connection, connection.transaction():
        assert await notifications.retry_dead_letter(connection, letters[0]["id"]) == row["id"]
    await watch.alerting.enqueue([row["id"]])
    (mail,) = await watch.mail.wait_for(1)
    await watch.settled()
    assert (await watch.rows())[0]["status"] == "sent"
    assert mail.rcpt_tos == [watch.email]


async def test_a_refused_recipient_fails_at_once_without_retries(watch: Watch) -> None:
    await watch.rule(labels=["person"], channels=["email"])
    watch.mail.refuse(watch.email)
    await watch.line.send_photos(1)
    await watch.settled()
    (row,) = await watch.rows()
    assert (row["status"], row["attempts"]) == ("failed", 1)


async def test_telegram_429_is_retried_after_the_retry_after_it_asked_for(watch: Watch) -> None:
    await watch.rule(labels=["person"], channels=["telegram"])
    watch.bot.fail_next("sendPhoto", status=429, retry_after=1)
    started = time.monotonic()
    await watch.line.send_photos(1)
    await watch.bot.wait_for_calls("sendPhoto", 1, timeout=30)
    await watch.settled()
    (row,) = await watch.rows()
    assert (row["status"], row["attempts"]) == ("sent", 1), "being rate limited is not a failed attempt"
    assert time.monotonic() - started >= 1.0


async def test_a_blocked_bot_fails_for_good_at_once(watch: Watch) -> None:
    await watch.rule(labels=["person"], channels=["telegram"])
    watch.bot.fail_next("sendPhoto", status=403)
    await watch.line.send_photos(1)
    await watch.settled()
    (row,) = await watch.rows()
    assert (row["status"], row["attempts"]) == ("failed", 1) and "blocked" in row["error"]


async def test_a_test_copy_never_messages_people_outside_the_allowed_recipients(
    intake: Intake, servers: Servers, mail_server: MailServer, telegram_api: TelegramStandIn, unique: str
) -> None:
    watch = await watch_for(
        intake, servers, mail_server, telegram_api, unique, allowed_recipients=["tester@example.org"]
    )
    await watch.rule(labels=["person"], channels=["email", "telegram"])
    await watch.line.send_photos(1)
    await watch.line.all_in("done", 1)
    await watch.settled()
    rows = await watch.rows()
    assert {(row["status"], row["error"]) for row in rows} == {
        ("suppressed", "not in notifications.allowed_recipients")
    }
    assert watch.mail.messages == [] and watch.bot.calls_of("sendPhoto") == []


async def test_a_user_without_a_linked_chat_sees_why_nothing_came(watch: Watch) -> None:
    await watch.pool.execute("DELETE FROM telegram_links WHERE user_id = $1", watch.user_id)
    await watch.rule(labels=["person"], channels=["telegram"])
    await watch.line.send_photos(1)
    await watch.line.all_in("done", 1)
    await watch.settled()
    (row,) = await watch.rows()
    assert row["status"] == "failed" and "linked" in row["error"]


async def test_a_cooldown_keeps_a_camera_quiet_across_events(watch: Watch) -> None:
    await watch.rule(labels=["person"], channels=["email"], cooldown_min=60)
    intake = watch.line.intake
    # Two events of one camera, an hour of camera time apart (the 60 s sequence gap separates them).
    for index in (0, 120):
        name, data = trail_photo(index, 1)
        assert (await intake.ingest(name, data)).kind == "stored"
    await watch.line.all_in("done", 2)
    await watch.settled()
    assert await watch.pool.fetchval("SELECT count(DISTINCT event_id) FROM images") == 2
    assert len(await watch.rows()) == 1, "the second event fell inside the cooldown"


async def test_the_payload_names_the_rule_site_camera_and_local_time(watch: Watch) -> None:
    await watch.rule(labels=["animal"], channels=["email"])
    await watch.line.send_photos(1)
    await watch.settled()
    (row,) = await watch.rows()
    payload = row["payload"]
    assert payload["rule"] == "test rule" and payload["label"] == "animal"
    assert payload["camera"] and payload["local_time"].count(":") == 2  # "2026-... 06:00 +01:00"
    assert payload["score"] == pytest.approx(0.9, abs=0.01)


async def test_what_config_forbids_at_sending_time_is_suppressed_though_it_matched_before(watch: Watch) -> None:
    """A test copy restored from a backup finds notifications still pending: it must not send them."""
    notification_id = await watch.pool.fetchval(
        """INSERT INTO notifications (delivery_key, user_id, channel, recipient, kind, subject, payload)
           VALUES ('restored', $1, 'email', $2, 'status', 'restored',
                   '{"title": "t", "project": null, "rule": null, "lines": [], "cleared": false}') RETURNING id""",
        watch.user_id,
        watch.email,
    )
    delivering = Delivering(
        smtp=watch.mail.settings(),
        telegram=None,
        instance_name="Addax",
        public_url="",
        max_attempts=3,
        retry_base_s=0.05,
        addressing=Addressing(allowed_recipients=("tester@example.org",)),
    )
    assert await Courier(watch.pool, watch.line.objects, delivering).deliver(notification_id) == "suppressed"
    (row,) = await watch.rows()
    assert (row["status"], row["error"]) == ("suppressed", "not in notifications.allowed_recipients")
    assert watch.mail.messages == []


async def test_a_delivery_that_crashes_counts_as_an_attempt_and_ends_as_a_dead_letter(watch: Watch) -> None:
    await watch.rule(labels=["person"], channels=["email"])
    await watch.pool.execute(
        "CREATE FUNCTION break_payload() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN NEW.kind := 'no-such-template'; RETURN NEW; END $$"
    )
    await watch.pool.execute(
        "CREATE TRIGGER break_payload BEFORE INSERT ON notifications FOR EACH ROW EXECUTE FUNCTION break_payload()"
    )
    await watch.line.send_photos(1)
    await watch.settled()
    (row,) = await watch.rows()
    assert (row["status"], row["attempts"]) == ("failed", 3)
    assert "crashed" in row["error"]
    assert await watch.pool.fetchval("SELECT count(*) FROM dead_letters WHERE notification_id = $1", row["id"]) == 1


async def test_a_rule_is_tried_on_a_past_photo_and_sends_a_test_copy(watch: Watch) -> None:
    await watch.line.send_photos(1)
    await watch.settled()  # no rule yet: nothing sent
    image_id = await watch.pool.fetchval("SELECT id FROM images")
    people = await alerts.rule(watch.pool, await watch.rule(labels=["person"], channels=["email"]))
    vehicles = await alerts.rule(watch.pool, await watch.rule(labels=["vehicle"], channels=["email"]))
    assert people is not None and vehicles is not None

    missed = await watch.alerting.try_rule(vehicles, image_id, send=True)
    assert missed == {"matches": False, "sent": [], "reason": "the photo shows animal and person, not vehicle"}
    dry = await watch.alerting.try_rule(people, image_id, send=False)
    assert dry["matches"] is True and dry["sent"] == [] and "person" in str(dry["subject"]).lower()
    assert await watch.rows() == []

    sent = await watch.alerting.try_rule(people, image_id, send=True)
    (mail,) = await watch.mail.wait_for(1)
    assert mail.message["Subject"].startswith("[test]")
    await watch.settled()
    (row,) = await watch.rows()
    assert sent["sent"] == [row["id"]] and row["event_id"] is None, "a test is not the event's alert"
    # The real alert of that event is still to come, if it happens: trying did not use it up.
    assert not await notifications.alerted_for_event(
        watch.pool, people.id, await watch.pool.fetchval("SELECT event_id FROM images WHERE id = $1", image_id)
    )
