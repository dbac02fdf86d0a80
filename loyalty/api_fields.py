"""Field types the POS contract defines once for every endpoint (external ids, money, timestamps)."""

from decimal import Decimal

from rest_framework import serializers

EXTERNAL_ID_PATTERN = r"^[A-Za-z0-9\-_./:#]{1,64}$"
MAX_MONEY = Decimal("1000000.00")


class ExternalIdField(serializers.RegexField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("error_messages", {
            "invalid": "1–64 characters from letters, digits and - _ . / : #",
        })
        super().__init__(EXTERNAL_ID_PATTERN, **kwargs)


class MoneyField(serializers.DecimalField):
    """A positive amount with at most 2 decimal places, up to 1,000,000.00; answered as ``"12.50"``."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", 9)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("min_value", Decimal("0.01"))
        kwargs.setdefault("max_value", MAX_MONEY)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool):  # JSON true would otherwise read as 1
            self.fail("invalid")
        return super().to_internal_value(data)


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 with a timezone; a timestamp without one is ambiguous across tills, so refused."""

    default_error_messages = {"naive": "Include a timezone, e.g. 2026-11-22T10:00:00Z or +01:00."}

    def enforce_timezone(self, value):
        if value.tzinfo is None:
            self.fail("naive")
        return super().enforce_timezone(value)


class StrictIntegerField(serializers.IntegerField):
    """An integer that refuses booleans and strings like "3" a till should not send."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)
