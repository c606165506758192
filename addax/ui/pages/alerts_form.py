"""The form that makes or changes an alert rule without JSON: it fills the API's flat body and hands it to the
same checks as the API (:mod:`addax.store.rule_changes`), showing a refusal next to the field it names."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from nicegui import ui

from addax.domain.alerts import rule_json
from addax.domain.taxonomy import species_choices
from addax.store import browse, rule_changes
from addax.store.alerts import StoredRule
from addax.store.rule_changes import RuleRefused
from addax.ui.context import UiServices
from addax.ui.session import Viewer, current_viewer

KIND_NAMES = {
    "detection": "Detection (a photo shows …)",
    "camera_health": "Camera health (battery, card, silence)",
    "digest": "Daily digest",
    "species_report": "Species report (weekly / monthly)",
    "reminder": "Reminder for the team",
}
LABEL_NAMES = {"animal": "animal", "person": "person", "vehicle": "vehicle"}
HOURS_FROM: dict[int | None, str] = {None: "any time", **{hour: f"{hour:02d}:00" for hour in range(24)}}
HOURS_TO: dict[int | None, str] = {None: "any time", **{hour: f"{hour % 24:02d}:00" for hour in range(1, 25)}}


@dataclass
class FormValues:
    """What the form's controls are bound to, in the shape of the API's body."""

    project: int | None = None
    kind: str = "detection"
    name: str = ""
    email: bool = True
    telegram: bool = False
    enabled: bool = True
    labels: list[str] = field(default_factory=list)
    species: list[str] = field(default_factory=list)
    min_score: float = 0.5
    sites: list[int] = field(default_factory=list)
    hour_from: int | None = None
    hour_to: int | None = None
    cooldown_min: float | None = 30
    battery_below_pct: float | None = 20
    sd_above_pct: float | None = 90
    silent: bool = True
    at: str = "08:00"
    period: str = "weekly"
    on: str = ""
    message: str = ""

    @classmethod
    def of(cls, rule: StoredRule) -> FormValues:
        shown = rule_json(rule.body)
        hours = shown.get("hours") or [None, None]
        values = cls(project=rule.project_id, kind=rule.kind, name=rule.body.name, enabled=rule.body.enabled)
        values.email, values.telegram = "email" in rule.body.channels, "telegram" in rule.body.channels
        values.hour_from, values.hour_to = hours
        for key in ("labels", "species", "min_score", "sites", "cooldown_min", "silent", "at", "period", "on"):
            if key in shown:
                setattr(values, key, shown[key])
        for key in ("battery_below_pct", "sd_above_pct", "message"):
            if key in shown:
                setattr(values, key, shown[key])
        return values

    def body(self) -> dict[str, Any]:
        """The API's body: the shared fields and the kind's own (a kind the form does not know keeps its own)."""
        body: dict[str, Any] = {
            "project": self.project,
            "kind": self.kind,
            "name": self.name,
            "channels": [channel for channel, on in (("email", self.email), ("telegram", self.telegram)) if on],
            "enabled": self.enabled,
        }
        at = {"at": self.at}
        own: dict[str, dict[str, Any]] = {
            "detection": {
                "labels": list(self.labels),
                "species": list(self.species),
                "min_score": round(self.min_score, 2),
                "sites": list(self.sites),
                "hours": None if self.hour_from is None and self.hour_to is None else [self.hour_from, self.hour_to],
                "cooldown_min": _whole(self.cooldown_min),
            },
            "camera_health": {
                "battery_below_pct": _whole(self.battery_below_pct),
                "sd_above_pct": _whole(self.sd_above_pct),
                "silent": self.silent,
                **at,
            },
            "digest": at,
            "species_report": {"period": self.period, **at},
            "reminder": {"on": self.on, "message": self.message, **at},
        }
        return {**body, **own.get(self.kind, {})}


def _whole(number: float | None) -> int | float | None:
    """A number input's value as the parser wants it: whole numbers as int (it refuses 30.0 for minutes)."""
    return int(number) if number is not None and float(number).is_integer() else number


class RuleForm:
    """A dialog with the form; ``saved`` runs after a rule was made or changed."""

    def __init__(self, services: UiServices, viewer: Viewer, saved: Callable[[], Awaitable[None]]) -> None:
        self.services, self.viewer, self.saved = services, viewer, saved
        self.rule: StoredRule | None = None
        self.values = FormValues()
        self.errors: dict[str, ui.label] = {}
        self.sites: dict[int, str] = {}
        self.dialog = ui.dialog().props("persistent")
        self.species_options = dict(species_choices())

    async def open(self, rule: StoredRule | None = None) -> None:
        self.rule = rule
        self.values = FormValues.of(rule) if rule else FormValues(project=next(iter(self.viewer.projects), None))
        await self._load_sites()
        self._draw()
        self.dialog.open()

    async def _load_sites(self) -> None:
        project = self.values.project
        if project is None or not self.viewer.can_see(project):
            self.sites = {}
            return
        self.sites = {row["id"]: row["name"] for row in await browse.sites(self.services.pool, projects=[project])}

    def _kinds(self) -> dict[str, str]:
        kinds = {kind: name for kind, name in KIND_NAMES.items() if kind != "reminder"}
        if self.viewer.admin_of(self.values.project) or self.values.kind == "reminder":
            kinds["reminder"] = KIND_NAMES["reminder"]
        if self.values.kind not in kinds:  # a kind made through the API (theft watch, project) keeps its name
            kinds[self.values.kind] = self.values.kind.replace("_", " ")
        return kinds

    def _error_slot(self, name: str) -> None:
        label = ui.label("").classes("text-negative text-caption")
        label.set_visibility(False)
        self.errors[name] = label

    def _draw(self) -> None:
        self.dialog.clear()
        self.errors = {}
        values, editing = self.values, self.rule is not None
        with self.dialog, ui.card().classes("w-full q-pa-md").style("max-width: 40rem"):
            ui.label("Change the rule" if editing else "New alert rule").classes("text-h6")
            project = ui.select(self.viewer.project_names, label="Project", on_change=self._project_changed).bind_value(
                values, "project"
            )
            project.classes("w-full").set_enabled(not editing)
            self._error_slot("project")
            kind = ui.select(self._kinds(), label="Kind", on_change=lambda: self._draw_kind.refresh())
            kind.bind_value(values, "kind").classes("w-full").set_enabled(not editing)
            self._error_slot("kind")
            ui.input("Name").bind_value(values, "name").classes("w-full").props("maxlength=200")
            self._error_slot("name")
            with ui.row().classes("items-center q-gutter-sm"):
                ui.label("Send by")
                ui.checkbox("e-mail").bind_value(values, "email")
                ui.checkbox("Telegram").bind_value(values, "telegram")
            self._error_slot("channels")
            ui.switch("Enabled").bind_value(values, "enabled")
            self._draw_kind()
            self.general_error = ui.label("").classes("text-negative")
            self.general_error.set_visibility(False)
            with ui.row().classes("justify-end w-full q-gutter-sm"):
                ui.button("Cancel", on_click=self.dialog.close).props("flat")
                ui.button("Save", on_click=self._save).props("color=primary")

    async def _project_changed(self) -> None:
        self.values.sites = []
        await self._load_sites()
        self._draw_kind.refresh()

    @ui.refreshable_method
    def _draw_kind(self) -> None:
        values = self.values
        for name in [name for name in self.errors if name not in ("project", "kind", "name", "channels")]:
            del self.errors[name]
        if values.kind == "detection":
            ui.select(LABEL_NAMES, multiple=True, label="What (empty: anything)").bind_value(values, "labels").classes(
                "w-full"
            ).props("use-chips")
            self._error_slot("labels")
            # A rule made through the API may name a species in its own words ("any deer"): offer it as it is.
            options = {
                **self.species_options,
                **{name: name for name in values.species if name not in self.species_options},
            }
            species = ui.select(options, multiple=True, with_input=True, label="Species (search)")
            species.bind_value(values, "species").classes("w-full").props("use-chips")
            self._error_slot("species")
            with ui.row().classes("items-center w-full no-wrap"):
                ui.label("Min. score").classes("text-no-wrap")
                ui.slider(min=0.05, max=1.0, step=0.05).bind_value(values, "min_score").props("label").classes(
                    "col-grow"
                )
                ui.label().bind_text_from(values, "min_score", lambda score: f"{score:.2f}")
            self._error_slot("min_score")
            ui.select(self.sites, multiple=True, label="Sites (empty: every site)").bind_value(values, "sites").classes(
                "w-full"
            ).props("use-chips")
            self._error_slot("sites")
            with ui.row().classes("w-full no-wrap q-gutter-sm"):
                ui.select(HOURS_FROM, label="From").bind_value(values, "hour_from").classes("col")
                ui.select(HOURS_TO, label="To").bind_value(values, "hour_to").classes("col")
            self._error_slot("hours")
            ui.number("Quiet after an alert (minutes, per camera)", min=0, step=5).bind_value(
                values, "cooldown_min"
            ).classes("w-full")
            self._error_slot("cooldown_min")
        elif values.kind == "camera_health":
            ui.number("Battery below (%; empty: off)", min=0, max=100).bind_value(values, "battery_below_pct").classes(
                "w-full"
            )
            self._error_slot("battery_below_pct")
            ui.number("SD card above (%; empty: off)", min=0, max=100).bind_value(values, "sd_above_pct").classes(
                "w-full"
            )
            self._error_slot("sd_above_pct")
            ui.switch("A camera falls silent").bind_value(values, "silent")
        elif values.kind == "species_report":
            ui.select({"weekly": "weekly (Mondays)", "monthly": "monthly (the 1st)"}, label="Every").bind_value(
                values, "period"
            ).classes("w-full")
            self._error_slot("period")
        elif values.kind == "reminder":
            ui.input("On").props("type=date").bind_value(values, "on").classes("w-full")
            self._error_slot("on")
            ui.textarea("Message").bind_value(values, "message").classes("w-full").props("maxlength=1000")
            self._error_slot("message")
        if values.kind in ("camera_health", "digest", "species_report", "reminder"):
            ui.input("At (project time)").props("type=time").bind_value(values, "at").classes("w-full")
            self._error_slot("at")

    def _show(self, refused: RuleRefused) -> None:
        for label in [*self.errors.values(), self.general_error]:
            label.set_visibility(False)
        root = (refused.field or "").split("[")[0].split(".")[0]
        label = self.errors.get(root, self.general_error)
        label.set_text(refused.message)
        label.set_visibility(True)

    async def _save(self) -> None:
        pool = self.services.pool
        now = await current_viewer(pool, self.viewer)  # the session may have ended since the page loaded
        if now is None:
            ui.navigate.to("/login")
            return
        user = now.user
        try:
            if self.rule is None:
                stored = await rule_changes.add(pool, user, self.values.body())
            else:
                own = await rule_changes.own_rule(pool, user, self.rule.id)
                body = {key: value for key, value in self.values.body().items() if key not in ("project", "kind")}
                stored = await rule_changes.change(pool, user, own, body)
        except RuleRefused as refused:
            self._show(refused)
            return
        self.dialog.close()
        ui.notify(f"Saved “{stored.body.name}”", type="positive")
        await self.saved()
