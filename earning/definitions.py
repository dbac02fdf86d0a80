"""Reading a rule's stored definition (conditions and effect JSON) strictly.

A definition that reads is valid; anything else is a list of ``{"field", "message"}``
problems naming the exact place (``conditions.1.days``). Unknown keys, wrong types and
out-of-range values are all refused, so a rule that saved is a rule that can run.
"""

from __future__ import annotations

import re
from datetime import date, time
from decimal import Decimal, InvalidOperation

CODE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MAX_LIST_ITEMS = 200


class DefinitionError(Exception):
    def __init__(self, errors: list[dict]):
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


class Reader:
    """Reads one JSON object field by field, collecting problems under ``path``."""

    def __init__(self, data, path: str, errors: list[dict]):
        self.path = path
        self.errors = errors
        self.seen: set[str] = {"kind"}
        if not isinstance(data, dict):
            self.fail("", "Must be an object.")
            data = {}
        self.data = data

    def fail(self, key: str, message: str) -> None:
        self.errors.append({"field": f"{self.path}.{key}" if key else self.path, "message": message})

    def _get(self, key: str, required: bool):
        self.seen.add(key)
        if key not in self.data or self.data[key] is None:
            if required:
                self.fail(key, "This field is required.")
            return None
        return self.data[key]

    def strings(self, key: str, *, pattern: re.Pattern | None = None, choices: tuple[str, ...] | None = None,
                max_length: int = 64) -> tuple[str, ...]:
        """A non-empty list of distinct strings (each 1..max_length characters)."""
        value = self._get(key, required=True)
        if value is None:
            return ()
        if not isinstance(value, list) or not value:
            self.fail(key, "Must be a non-empty list.")
            return ()
        if len(value) > MAX_LIST_ITEMS:
            self.fail(key, f"At most {MAX_LIST_ITEMS} items.")
            return ()
        good = []
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item.strip() or len(item) > max_length or "\x00" in item:
                self.fail(f"{key}.{index}", f"Must be a string of 1–{max_length} characters.")
            elif choices is not None and item not in choices:
                self.fail(f"{key}.{index}", f"Must be one of: {', '.join(choices)}.")
            elif pattern is not None and not pattern.match(item):
                self.fail(f"{key}.{index}", "Contains characters that are not allowed.")
            else:
                good.append(item)
        if len(set(map(repr, value))) != len(value):
            self.fail(key, "Items must be distinct.")
        return tuple(good)

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self._get(key, required=False)
        if value is None:
            return default
        if value not in choices:
            self.fail(key, f"Must be one of: {', '.join(choices)}.")
            return default
        return value

    def decimal(self, key: str, *, minimum: Decimal, maximum: Decimal, exclusive_minimum: bool = False,
                required: bool = True) -> Decimal | None:
        """A number given as a JSON number or a decimal string (``"2"``, ``"1.5"``), at most 4 places."""
        value = self._get(key, required=required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            self.fail(key, "Must be a decimal number, e.g. \"2\" or \"1.5\".")
            return None
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            self.fail(key, "Must be a decimal number, e.g. \"2\" or \"1.5\".")
            return None
        if not number.is_finite() or number.as_tuple().exponent < -4:
            self.fail(key, "At most 4 decimal places.")
            return None
        too_small = number <= minimum if exclusive_minimum else number < minimum
        if too_small or number > maximum:
            bound = "greater than" if exclusive_minimum else "at least"
            self.fail(key, f"Must be {bound} {minimum} and at most {maximum}.")
            return None
        return number

    def integer(self, key: str, *, minimum: int, maximum: int, required: bool = True) -> int | None:
        value = self._get(key, required=required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, "Must be a whole number.")
            return None
        if not minimum <= value <= maximum:
            self.fail(key, f"Must be between {minimum} and {maximum}.")
            return None
        return value

    def date(self, key: str, *, required: bool = True) -> date | None:
        value = self._get(key, required=required)
        if value is None:
            return None
        try:
            return date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else _bad()
        except ValueError:
            self.fail(key, "Must be a date, YYYY-MM-DD.")
            return None

    def time(self, key: str) -> time | None:
        value = self._get(key, required=True)
        if value is None:
            return None
        try:
            return time.fromisoformat(value) if isinstance(value, str) and len(value) == 5 else _bad()
        except ValueError:
            self.fail(key, "Must be a time of day, HH:MM.")
            return None

    def string(self, key: str, *, max_length: int = 64) -> str | None:
        value = self._get(key, required=True)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip() or len(value) > max_length or "\x00" in value:
            self.fail(key, f"Must be a string of 1–{max_length} characters.")
            return None
        return value

    def done(self) -> None:
        for key in sorted(set(self.data) - self.seen):
            self.fail(key, "Unknown field.")


def _bad():
    raise ValueError


def kind_of(data, path: str, registry: dict, errors: list[dict]):
    """The class registered for ``data["kind"]``, or None (with the problem recorded)."""
    kind = data.get("kind") if isinstance(data, dict) else None
    if not isinstance(data, dict):
        errors.append({"field": path, "message": "Must be an object with a \"kind\"."})
        return None
    if kind not in registry:
        errors.append({"field": f"{path}.kind", "message": f"Must be one of: {', '.join(sorted(registry))}."})
        return None
    return registry[kind]
