"""What every configuration form shares: read-only for those who may only look, refusals beside their fields."""

from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from loyalty.errors import DomainError

T = TypeVar("T")
DATETIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class SettingsForm(forms.Form):
    """A configuration form. ``read_only`` disables every field: analysts see the values, never a form to send."""

    def __init__(self, *args, read_only: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.read_only = read_only
        if read_only:
            for field in self.fields.values():
                field.disabled = True

    def submit(self, write: Callable[[], T]) -> T | None:
        """``write()`` (the services, with their audit) when the form is valid; None when the form or a service
        refused it, the reasons then shown beside their fields and nothing written."""
        if not self.is_valid():
            return None
        try:
            return write()
        except (ValidationError, DomainError) as refusal:
            self.add_refusal(refusal)
            return None

    def changes(self, names) -> dict:
        """The cleaned values of those of ``names`` the person changed."""
        return {name: self.cleaned_data[name] for name in names if name in self.changed_data}

    def add_refusal(self, error: ValidationError | DomainError) -> None:
        """Show a service's refusal beside each field it names; anything else goes to the summary at the top."""
        if isinstance(error, DomainError):
            items = [(e.get("field"), e.get("message", "")) for e in error.errors or []] or [(None, error.detail)]
        elif hasattr(error, "error_dict"):
            items = [(name, message) for name, messages in error.message_dict.items() for message in messages]
        else:
            items = [(None, message) for message in error.messages]
        for name, message in items:
            field = self.field_for_refusal(name)
            self.add_error(field if field in self.fields else None, message)

    def field_for_refusal(self, name: str | None) -> str | None:
        """The form field that shows a refusal of the model field ``name`` (forms with other names override)."""
        return None if name in (None, NON_FIELD_ERRORS) else name


def per_line(text: str) -> list[str]:
    """A textarea of one item per line, as a list without blank lines."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def plain_number(value):
    """A decimal as people write it (``1``, ``0.01``), not as stored (``1.0000``, ``0.010000``); others as they are."""
    return Decimal(format(value.normalize(), "f")) if isinstance(value, Decimal) else value
