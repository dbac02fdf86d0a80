"""Field types the POS contract defines once for every endpoint (external ids, money, timestamps, text).

Each refuses what the published schema forbids, so what the schema allows and what the server accepts
are the same: DRF alone would read ``42`` as the text ``"42"`` and ``"1E+5"`` or ``42.5`` as money."""

import re
from decimal import Decimal

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

EXTERNAL_ID_PATTERN = r"^[A-Za-z0-9\-_./:#]{1,64}$"
MAX_MONEY = Decimal("1000000.00")
# Plain decimals up to 1,000,000.00 with at most 2 places and no leading zeros: from 0.01, or from 0.
POSITIVE_MONEY_PATTERN = r"^(?:0\.(?:0[1-9]|[1-9][0-9]?)|[1-9][0-9]{0,5}(?:\.[0-9]{1,2})?|1000000(?:\.0{1,2})?)$"
MONEY_PATTERN = r"^(?:(?:0|[1-9][0-9]{0,5})(?:\.[0-9]{1,2})?|1000000(?:\.0{1,2})?)$"


class TextOnly:
    """Mixed into a DRF text field: JSON text only, where DRF would also take a number as its digits."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(TextOnly, serializers.CharField):
    pass


class StrictCharFieldSchema(OpenApiSerializerFieldExtension):
    """Documents that a text which may not be blank needs a character other than white space: the field trims
    what it is sent, so " " arrives blank and is refused."""

    target_class = StrictCharField

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if direction == "request" and not self.target.allow_blank and self.target.trim_whitespace:
            schema["pattern"] = r"\S"
        return schema


class StrictRegexField(TextOnly, serializers.RegexField):
    pass


class StrictEmailField(TextOnly, serializers.EmailField):
    pass


class StrictBooleanField(serializers.BooleanField):
    """JSON true or false, where DRF would also take "yes", "on", 1 and the like."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class ExternalIdField(StrictRegexField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("error_messages", {
            "invalid": "1–64 characters from letters, digits and - _ . / : #",
        })
        super().__init__(EXTERNAL_ID_PATTERN, **kwargs)


class MoneyField(serializers.DecimalField):
    """A positive amount (or, with ``min_value=0``, zero too) up to 1,000,000.00, sent as a decimal string with
    at most 2 places (``"12.5"``, ``"12.50"``), never a JSON number; answered as ``"12.50"``.

    The pattern says in the schema what the range checks say here, so schema-valid money is accepted."""

    default_error_messages = {"format": 'A decimal string such as "12.50": digits, at most 2 decimal places.'}

    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", 9)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("min_value", Decimal("0.01"))
        kwargs.setdefault("max_value", MAX_MONEY)
        if kwargs["min_value"] not in (0, Decimal("0.01")) or kwargs["max_value"] != MAX_MONEY:
            raise ValueError("MoneyField's pattern knows the ranges 0.01 or 0 to 1,000,000.00 only")
        self.pattern = re.compile(POSITIVE_MONEY_PATTERN if kwargs["min_value"] else MONEY_PATTERN)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("format")
        value = super().to_internal_value(data)  # its refusals name the rule: places, minimum, maximum
        if not self.pattern.fullmatch(data):
            self.fail("format")
        return value


class MoneyFieldSchema(OpenApiSerializerFieldExtension):
    """Documents money with the pattern the field enforces (drf-spectacular's own allows "", "-" and ".")."""

    target_class = MoneyField

    def map_serializer_field(self, auto_schema, direction):
        return {"type": "string", "format": "decimal", "pattern": self.target.pattern.pattern, "example": "12.50"}


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
