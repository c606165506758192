"""``/login``: the same users, lockout and delays as the API and FTPS; afterwards, back to the page asked for."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import app as nicegui_app
from nicegui import ui

from addax.domain.secrets import MAX_EMAIL_CHARS, MAX_PASSWORD_CHARS
from addax.store.logins import LoginRefused
from addax.ui.context import UiServices
from addax.ui.session import Session, begin_session, local_path, signed_in


def register(services: UiServices) -> None:
    @ui.page("/login", title=f"Sign in · {services.instance_name}")
    async def login_page(request: Request) -> RedirectResponse | None:
        session = nicegui_app.storage.user
        after = local_path(request.query_params.get("next"))
        if await signed_in(services.pool, session):
            return RedirectResponse(after, status_code=303)
        _login_form(services, session, address=request.client.host if request.client else "unknown", after=after)
        return None


def _login_form(services: UiServices, session: Session, *, address: str, after: str) -> None:
    async def sign_in() -> None:
        if len(email.value) > MAX_EMAIL_CHARS or len(password.value) > MAX_PASSWORD_CHARS:
            refuse("wrong e-mail or password")  # no hashing for what cannot be anyone's login
            return
        button.disable()
        try:
            user = await services.logins.user(email.value.strip(), password.value, address=address)
        except LoginRefused as refused:
            refuse(str(refused))
            return
        finally:
            button.enable()
        begin_session(session, user)
        ui.navigate.to(after)

    def refuse(text: str) -> None:
        message.set_text(text)
        message.set_visibility(True)

    with ui.card().classes("absolute-center w-96").style("max-width: 92vw"):
        ui.label(f"{services.instance_name}: sign in").classes("text-h6")
        email = ui.input("E-mail").props("autofocus autocomplete=username").classes("w-full")
        password = ui.input("Password", password=True, password_toggle_button=True)
        password.props("autocomplete=current-password").classes("w-full")
        password.on("keydown.enter", sign_in)
        message = ui.label("").classes("text-negative")
        message.set_visibility(False)
        button = ui.button("Sign in", on_click=sign_in).classes("w-full")
