"""A JSON body that is wrong in one place: the error names that place as the JSON spells it (``boxes[1].bbox``)."""

from __future__ import annotations


class FieldError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
