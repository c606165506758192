"""Whether a notification may go out, how retries back off, and when each kind of rule runs next."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from addax.domain.alerts import (
    CameraHealthRule,
    DetectionRule,
    DigestRule,
    ProjectRule,
    ReminderRule,
    SpeciesReportRule,
    TheftWatchRule,
)
from addax.domain.delivery import next_run, retry_delay_s, suppressed_reason

BERLIN = ZoneInfo("Europe/Berlin")
# Sunday 29 November 2026, 10:00 in Berlin.
NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def test_nothing_is_suppressed_by_default() -> None:
    assert suppressed_reason(True, [], "ranger@example.org") is None


def test_disabled_notifications_and_recipients_outside_the_allowed_list_are_suppressed() -> None:
    assert suppressed_reason(False, [], "a@b.org") == "notifications.enabled is false"
    allowed = [" Tester@Example.org ", "424242"]
    assert suppressed_reason(True, allowed, "tester@example.org") is None, "e-mail addresses ignore case"
    assert suppressed_reason(True, allowed, "424242") is None, "chat ids too"
    assert suppressed_reason(True, allowed, "ranger@example.org") == "not in notifications.allowed_recipients"


@pytest.mark.parametrize(("attempts", "delay"), [(1, 5.0), (2, 10.0), (3, 20.0), (5, 80.0), (20, 3600.0)])
def test_retries_back_off_doubling_up_to_an_hour(attempts: int, delay: float) -> None:
    assert retry_delay_s(attempts, 5.0) == delay


def test_rules_matched_per_photo_have_no_timetable() -> None:
    assert next_run(DetectionRule(), NOW, BERLIN, first=True) is None


def test_daily_checks_run_at_their_local_time() -> None:
    assert next_run(CameraHealthRule(at=time(8, 0)), NOW, BERLIN) == datetime(2026, 11, 30, 8, 0, tzinfo=BERLIN)
    assert next_run(DigestRule(at=time(11, 0)), NOW, BERLIN) == datetime(2026, 11, 29, 11, 0, tzinfo=BERLIN)


def test_periodic_checks_look_again_after_their_interval() -> None:
    assert next_run(ProjectRule(), NOW, BERLIN) == NOW + timedelta(hours=1)
    assert next_run(TheftWatchRule(), NOW, BERLIN) == NOW + timedelta(minutes=15)


def test_reports_run_on_mondays_or_on_the_first() -> None:
    weekly = next_run(SpeciesReportRule(period="weekly", at=time(7, 0)), NOW, BERLIN)
    assert weekly == datetime(2026, 11, 30, 7, 0, tzinfo=BERLIN)
    monthly = next_run(SpeciesReportRule(period="monthly", at=time(7, 0)), NOW, BERLIN)
    assert monthly == datetime(2026, 12, 1, 7, 0, tzinfo=BERLIN)


def test_a_reminder_runs_once_on_its_day_even_when_set_later_that_day() -> None:
    later = ReminderRule(on=date(2026, 12, 3), message="swap batteries", at=time(9, 0))
    assert next_run(later, NOW, BERLIN, first=True) == datetime(2026, 12, 3, 9, 0, tzinfo=BERLIN)
    assert next_run(later, NOW, BERLIN) is None, "after its run: nothing more"
    today = ReminderRule(on=date(2026, 11, 29), message="now", at=time(8, 0))
    assert next_run(today, NOW, BERLIN, first=True) == NOW, "08:00 has passed: sent at once, that same day"
    passed = ReminderRule(on=date(2026, 11, 28), message="too late", at=time(8, 0))
    assert next_run(passed, NOW, BERLIN, first=True) is None
