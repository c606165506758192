"""Matches each finished live photo against its project's detection and theft-watch rules, as it finishes.

The finisher flags a live photo ``alert_pending`` in the transaction that makes it ``done`` and PostgreSQL
wakes this actor. It takes flagged photos (``FOR UPDATE SKIP LOCKED``, so several processes share the work),
matches each against the rules, records the notifications and clears the flag in one transaction, then hands
the new notifications to the delivery queue. The first photo of a burst that matches alerts at once; the
rest of the event find its delivery key taken. Every ``sweep_every_s`` it also re-queues notifications left
pending (by a crash between commit and queueing, or a Redis that lost its queue).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import timedelta

import asyncpg

from addax.actors.outbox import Addressing, address
from addax.domain.alerts import (
    DetectionRule,
    Match,
    Sighting,
    TheftWatchRule,
    cooling_down,
    match_detection,
    miss_reason,
    rare_enough,
    unusual_person,
)
from addax.domain.taxonomy import taxon_matches
from addax.runtime import Actor
from addax.runtime.clock import Clock, SystemClock
from addax.runtime.signal import Signal
from addax.store import alerts, database, notifications, sightings
from addax.store.alerts import StoredRule
from addax.store.notifications import Message
from addax.store.sightings import Photo

log = logging.getLogger("addax.notifier")

Enqueue = Callable[[Sequence[int]], Awaitable[None]]
PEOPLE_HISTORY = timedelta(days=365)
FRESH_FOR = timedelta(hours=24)  # a photo received longer ago than this alerts nobody


class Notifier(Actor[None]):
    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        wake: Signal,
        enqueue: Enqueue,
        addressing: Addressing,
        clock: Clock | None = None,
        batch: int = 20,
        poll_s: float = 5.0,
        sweep_every_s: float = 30.0,
    ) -> None:
        super().__init__(name="notifier")
        self._pool, self._wake, self._enqueue, self._addressing = pool, wake, enqueue, addressing
        self._clock = clock or SystemClock()
        self._batch, self._poll_s, self._sweep_every_s = batch, poll_s, sweep_every_s
        self._last_sweep = float("-inf")
        self._rules_without_channel = 0

    async def run(self) -> None:
        while True:
            try:
                busy = await self._match_some()
                if time.monotonic() - self._last_sweep >= self._sweep_every_s:
                    await self._sweep()
                self.mark_success()
            except database.OUTAGE_ERRORS as error:
                self.record_error(error)
                log.warning("database unavailable; matching waits", extra={"error": str(error)})
                busy = False
            if not busy:
                await self._wake.wait(self._poll_s)

    async def _match_some(self) -> bool:
        async with self._pool.acquire() as connection, connection.transaction():
            image_ids = await sightings.take_pending(connection, self._batch)
            if not image_ids:
                return False
            waiting: list[int] = []
            rules: dict[int, list[StoredRule]] = {}  # by project, read once per batch
            for image_id in image_ids:
                waiting += await self._match_one(connection, image_id, rules)
            await sightings.matched(connection, image_ids)
        if waiting:
            await self._enqueue(waiting)
        return True

    async def _match_one(
        self, connection: asyncpg.Connection, image_id: int, rules: dict[int, list[StoredRule]]
    ) -> list[int]:
        """One photo, in a savepoint: a photo that breaks matching is logged and skipped, never a crash loop."""
        try:
            async with connection.transaction():
                photo = await sightings.photo(connection, image_id)
                if photo is None:
                    return []
                if photo.project_id not in rules:
                    rules[photo.project_id] = await alerts.matched_per_photo(connection, photo.project_id)
                return await self._match(connection, photo, rules[photo.project_id])
        except database.OUTAGE_ERRORS:
            raise
        except Exception as error:
            log.exception("matching a photo against the rules failed; it alerts nobody", extra={"image_id": image_id})
            self.record_error(error)
            return []

    async def try_rule(self, rule: StoredRule, image_id: int, *, send: bool) -> dict[str, object]:
        """Would ``rule`` alert about this (past) photo? Its labels, species, score, sites, zones, hours and group
        size are checked; its cooldown, rarity and the photo's age are not. ``send``: deliver a test copy."""
        async with self._pool.acquire() as connection, connection.transaction():
            photo = await sightings.photo(connection, image_id)
            if photo is None or photo.project_id != rule.project_id:
                raise LookupError(f"no image {image_id} in the rule's project")
            settings = rule.body.settings
            if isinstance(settings, TheftWatchRule):
                settings = DetectionRule(labels=frozenset({"person"}), min_score=0.0)
            if not isinstance(settings, DetectionRule):
                raise ValueError(f"a {rule.kind} rule runs on its timetable, not on a photo")
            sighting = _sighting(photo)
            match = match_detection(settings, sighting)
            if match is None:
                return {"matches": False, "sent": [], "reason": miss_reason(settings, sighting)}
            message = _message(rule, photo, match)
            sent: list[int] = []
            if send:
                test = replace(
                    message,
                    key=f"test:{uuid.uuid4()}",
                    subject=f"[test] {message.subject}",
                    payload={**message.payload, "test": True},
                    event_id=None,
                )
                sent = await address(
                    connection, self._addressing, test, user_ids=[rule.user_id], channels=rule.body.channels
                )
        if sent:
            await self._enqueue(sent)
        return {"matches": True, "subject": message.subject, "payload": message.payload, "sent": sent}

    def detail(self) -> str | None:
        if self._rules_without_channel:
            return (
                f"waiting: {self._rules_without_channel} alert rule(s) but no channel to send with:"
                " set smtp.host and smtp.from_address, or telegram.bot_token"
            )
        return None

    async def _sweep(self) -> None:
        self._last_sweep = time.monotonic()
        if not (self._addressing.email_ready or self._addressing.telegram_ready):
            self._rules_without_channel = await alerts.enabled_rules(self._pool)
        left = await notifications.pending(self._pool, older_than_s=self._sweep_every_s)
        if left:
            log.info("re-queueing notifications left pending", extra={"count": len(left)})
            await self._enqueue(left)

    async def _match(self, connection: asyncpg.Connection, photo: Photo, rules: list[StoredRule]) -> list[int]:
        if not photo.boxes:
            return []
        if self._clock.now() - photo.received_at > FRESH_FOR:
            # A photo received long ago and finished only now (an approved camera's reprocessed rejections, a
            # retried dead letter) is history, not news.
            log.info("too old to alert", extra={"image_id": photo.id, "received_at": str(photo.received_at)})
            return []
        sighting = _sighting(photo)
        waiting: list[int] = []
        for rule in rules:
            if photo.event_id is not None and await notifications.alerted_for_event(
                connection, rule.id, photo.event_id
            ):
                continue  # an earlier photo of this event (or of one merged into it) alerted already
            match = await self._matches(connection, rule, photo, sighting)
            if match is None:
                continue
            waiting += await address(
                connection,
                self._addressing,
                _message(rule, photo, match),
                user_ids=[rule.user_id],
                channels=rule.body.channels,
            )
            log.info(
                "rule matched",
                extra={"rule": rule.id, "image_id": photo.id, "event_id": photo.event_id, "label": match.best.label},
            )
        return waiting

    async def _matches(
        self, connection: asyncpg.Connection, rule: StoredRule, photo: Photo, sighting: Sighting
    ) -> Match | None:
        settings = rule.body.settings
        if isinstance(settings, TheftWatchRule):
            return await self._unusual_person(connection, settings, photo, sighting)
        if not isinstance(settings, DetectionRule):
            return None
        match = match_detection(settings, sighting)
        if match is None:
            return None
        if settings.cooldown_min:
            last = await notifications.last_alert_at(
                connection, rule.id, photo.camera_id, other_than_event=photo.event_id
            )
            if cooling_down(settings, last, self._clock.now()):
                return None
        if settings.rare_days:
            history = await sightings.site_history(
                connection,
                site_id=photo.site_id,
                camera_id=photo.camera_id,
                since=photo.taken_at - timedelta(days=settings.rare_days),
                before=photo.taken_at,
                excluding_event=photo.event_id,
            )
            best = match.best
            seen = [
                past.ended_at
                for past in history
                if (taxon_matches(best.taxon, past.taxon, past.common_name) if best.taxon else past.label == best.label)
            ]
            if not rare_enough(settings, max(seen, default=None), photo.taken_at):
                return None
        return match

    async def _unusual_person(
        self, connection: asyncpg.Connection, rule: TheftWatchRule, photo: Photo, sighting: Sighting
    ) -> Match | None:
        match = match_detection(DetectionRule(labels=frozenset({"person"}), min_score=0.0), sighting)
        if match is None:
            return None
        history = await sightings.site_history(
            connection,
            site_id=photo.site_id,
            camera_id=photo.camera_id,
            since=photo.taken_at - PEOPLE_HISTORY,
            before=photo.taken_at,
            excluding_event=photo.event_id,
        )
        people = sum(1 for past in history if past.label == "person")
        return match if unusual_person(rule, people, len(history)) else None


def _sighting(photo: Photo) -> Sighting:
    return Sighting(
        camera_id=photo.camera_id or 0,
        site_id=photo.site_id,
        local_time=photo.local_time.replace(tzinfo=None),
        boxes=photo.boxes,
    )


def _message(rule: StoredRule, photo: Photo, match: Match) -> Message:
    best = match.best
    what = best.common_name or best.taxon or best.label
    where = photo.site or photo.camera
    local = photo.local_time
    title = "Unusual person" if rule.kind == "theft_watch" else what
    return Message(
        key=f"rule:{rule.id}:event:{photo.event_id or f'image-{photo.id}'}",
        kind="detection",
        subject=f"{title} at {where} ({photo.camera}), {local:%H:%M}",
        payload={
            "rule": rule.body.name,
            "project": photo.project,
            "label": best.label,
            "taxon": best.taxon,
            "common_name": best.common_name,
            "score": round(best.score, 3),
            "count": len(match.boxes),
            "site": photo.site,
            "camera": photo.camera,
            "local_time": local.strftime("%Y-%m-%d %H:%M ") + local.strftime("%z")[:3] + ":" + local.strftime("%z")[3:],
            "image_id": photo.id,
            "event_id": photo.event_id,
        },
        rule_id=rule.id,
        project_id=photo.project_id,
        camera_id=photo.camera_id,
        image_id=photo.id,
        event_id=photo.event_id,
    )
