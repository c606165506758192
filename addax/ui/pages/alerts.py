"""``/alerts``: my alert rules (made and changed with a form, tried on a past photo), my channels and my log.

The rules are checked by the same code as the API's (:mod:`addax.store.rule_changes`): users change only their
own rules, project admins see their projects' rules (not others' theft watches), only admins set reminders.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from nicegui import ui

from addax.domain.alerts import rule_json
from addax.domain.taxonomy import species_choices
from addax.store import accounts, rule_changes
from addax.store.alerts import StoredRule
from addax.store.rule_changes import RuleRefused
from addax.ui.context import UiServices
from addax.ui.layout import signed_in_page
from addax.ui.pages import alerts_channels
from addax.ui.pages.alerts_form import KIND_NAMES, RuleForm
from addax.ui.pages.alerts_try import TryRule
from addax.ui.session import Viewer, current_viewer

SPECIES_NAMES = {taxon: label.split(",")[0].split(" (")[0] for taxon, label in species_choices()}


def register(services: UiServices) -> None:
    @signed_in_page(services, "/alerts", "Alerts")
    async def alerts_page(viewer: Viewer, request: Request) -> None:
        with ui.column().classes("w-full q-pa-sm q-gutter-y-sm").style("max-width: 60rem; margin: 0 auto"):
            with ui.tabs().classes("w-full").props("dense align=justify outside-arrows mobile-arrows") as tabs:
                rules_tab = ui.tab("Rules", icon="rule")
                channels_tab = ui.tab("Channels", icon="send")
                log_tab = ui.tab("Log", icon="history")
            with ui.tab_panels(tabs, value=rules_tab).classes("w-full"):
                with ui.tab_panel(rules_tab).classes("q-px-none"):
                    await _rules(services, viewer)
                with ui.tab_panel(channels_tab).classes("q-px-none q-gutter-y-sm"):
                    await alerts_channels.channels(services, viewer)
                with ui.tab_panel(log_tab).classes("q-px-none q-gutter-y-sm"):
                    await alerts_channels.log(services, viewer)


class _Rules:
    """The list of rules with its actions; each action re-reads the user and checks the rule is theirs."""

    def __init__(self, services: UiServices, viewer: Viewer) -> None:
        self.services, self.viewer = services, viewer
        self.form = RuleForm(services, viewer, self.reload)
        self.trying = TryRule(services, viewer)
        self.confirm = ui.dialog()

    async def reload(self) -> None:
        self.listing.refresh()

    async def _user(self) -> accounts.User | None:
        now = await current_viewer(self.services.pool, self.viewer)
        if now is None:
            ui.navigate.to("/login")
            return None
        return now.user

    async def toggle(self, rule: StoredRule, enabled: bool) -> None:
        if (user := await self._user()) is None:
            return
        try:
            own = await rule_changes.own_rule(self.services.pool, user, rule.id)
            await rule_changes.change(self.services.pool, user, own, {"enabled": enabled})
        except RuleRefused as refused:
            ui.notify(refused.message, type="negative")
        self.listing.refresh()

    async def delete(self, rule: StoredRule) -> None:
        self.confirm.close()
        if (user := await self._user()) is None:
            return
        try:
            own = await rule_changes.own_rule(self.services.pool, user, rule.id)
            await rule_changes.delete(self.services.pool, user, own)
        except RuleRefused as refused:
            ui.notify(refused.message, type="negative")
        else:
            ui.notify(f"Deleted “{rule.body.name}”")
        self.listing.refresh()

    def ask_delete(self, rule: StoredRule) -> None:
        self.confirm.clear()
        with self.confirm, ui.card():
            ui.label(f"Delete the rule “{rule.body.name}”? This cannot be undone.")
            with ui.row().classes("justify-end w-full"):
                ui.button("Keep it", on_click=self.confirm.close).props("flat")
                ui.button("Delete", on_click=lambda: self.delete(rule)).props("color=negative")
        self.confirm.open()

    @ui.refreshable_method
    async def listing(self) -> None:
        found = await rule_changes.visible_rules(self.services.pool, self.viewer.user)
        if not found:
            ui.label("No alert rules yet. Make one: for example, a wolf by night near the gate.")
        for rule in found:
            _rule_card(
                rule,
                mine=rule.user_id == self.viewer.user.id,
                toggle=self.toggle,
                edit=self.form.open,
                test=self.trying.open,
                delete=self.ask_delete,
            )


async def _rules(services: UiServices, viewer: Viewer) -> None:
    rules = _Rules(services, viewer)
    with ui.row().classes("w-full items-center justify-between"):
        ui.label("Rules: mine and my projects'" if viewer.administered else "My rules").classes("text-h6")
        ui.button("New rule", icon="add", on_click=lambda: rules.form.open()).props("color=primary")
    await rules.listing()


def _summary(rule: StoredRule) -> str:
    """The few words that tell rules apart in a list."""
    data = rule_json(rule.body)
    parts = []
    if rule.kind == "detection":
        species = [SPECIES_NAMES.get(name, name) for name in data["species"]]
        labels = [label for label in data["labels"] if label != "animal" or not species]
        parts.append(" or ".join(species + labels) or "anything")
        parts.append(f"score ≥ {data['min_score']:.2f}")
        if data["hours"]:
            parts.append(f"{data['hours'][0]:02d}:00-{data['hours'][1] % 24:02d}:00")
        if data["sites"]:
            parts.append(f"{len(data['sites'])} site(s)")
    elif rule.kind == "species_report":
        parts.append(f"{data['period']} at {data['at']}")
    elif rule.kind == "reminder":
        parts.append(f"on {data['on']} at {data['at']}")
    elif "at" in data:
        parts.append(f"daily at {data['at']}")
    parts.append(" + ".join("e-mail" if channel == "email" else "Telegram" for channel in rule.body.channels))
    return " · ".join(parts)


Action = Callable[[StoredRule], Any]


def _rule_card(
    rule: StoredRule,
    *,
    mine: bool,
    toggle: Callable[[StoredRule, bool], Awaitable[None]],
    edit: Action,
    test: Action,
    delete: Action,
) -> None:
    with ui.card().classes("rule-card w-full q-pa-sm").props("flat bordered"):
        with ui.row().classes("w-full items-center no-wrap"):
            with ui.column().classes("col q-gutter-y-none"):
                ui.label(rule.body.name).classes("text-subtitle1 text-weight-medium ellipsis")
                kind = KIND_NAMES.get(rule.kind, rule.kind).split(" (")[0]
                owner = "" if mine else f" · by {rule.owner}"
                ui.label(f"{kind} · {rule.project}{owner}").classes("text-caption text-grey-8")
            switch = ui.switch(value=rule.body.enabled)
            switch.props["aria-label"] = f"Enabled: {rule.body.name}"  # a name is data, never a props string
            if mine:
                switch.on_value_change(lambda event: toggle(rule, event.value))
            else:
                switch.disable()
        ui.label(_summary(rule)).classes("text-body2")
        if mine:
            with ui.row().classes("q-gutter-xs"):
                ui.button("Edit", icon="edit", on_click=lambda: edit(rule)).props("flat dense")
                if rule.kind in ("detection", "theft_watch"):
                    ui.button("Try", icon="science", on_click=lambda: test(rule)).props("flat dense")
                ui.button("Delete", icon="delete", on_click=lambda: delete(rule)).props("flat dense color=negative")
