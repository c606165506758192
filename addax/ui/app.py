"""Builds the dashboard: NiceGUI pages on the ``ui.port``, one module per page in ``addax/ui/pages``.

NiceGUI keeps its pages in one global application, so ``build_ui`` is called once per process. Each page
module has ``register(services)``; the pages read and change the same database through the store layer that
the HTTP API uses, and get live updates from the same broadcast as ``/api/ws``.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI
from nicegui import app as nicegui_app
from nicegui import context, ui
from nicegui.storage import Storage

from addax.ui import media
from addax.ui.context import UiServices
from addax.ui.layout import show_error_page
from addax.ui.pages import admin, alerts, cameras, gallery, image, insights, login, map, overview

log = logging.getLogger(__name__)

PAGES = (login, overview, gallery, image, map, cameras, insights, alerts, admin)


def build_ui(services: UiServices) -> FastAPI:
    Storage.path = services.storage_dir
    services.storage_dir.mkdir(parents=True, exist_ok=True)
    root = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    media.register(services)
    for page in PAGES:
        page.register(services)
    nicegui_app.on_page_exception(show_error_page)
    nicegui_app.on_exception(_handler_failed)
    ui.run_with(
        root,
        title=services.instance_name,
        storage_secret=services.storage_secret,
        show_welcome_message=False,
        reconnect_timeout=10,
    )
    return root


def _handler_failed(exception: Exception) -> None:
    """A button or timer that failed: logged with its traceback, and the user told in plain words.

    A page the user already left (its client deleted) fails its last timers and queries: nobody to tell, and
    nothing wrong with the server, so that is a debug line."""
    try:
        client = context.client
    except RuntimeError:
        client = None
    if client is None or client.is_deleted:
        log.debug("a handler of a page already closed failed", exc_info=exception)
        return
    log.error("dashboard handler failed", exc_info=exception)
    try:
        ui.notify("That did not work; it was logged. Try again, or tell your admin.", type="negative")
    except RuntimeError:
        pass  # the page went away meanwhile
