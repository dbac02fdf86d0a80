"""The strict base of every request body's serializer."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property

from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail, ValidationError


class StrictSerializer(serializers.Serializer):
    """A request body, or an object inside one, that refuses fields it does not declare (``400 invalid`` naming
    each, ``lines.0.colour``) instead of dropping them: a till that sends ``card_number`` beside ``member`` rather
    than inside it would otherwise post a guest purchase, and the member's points would be lost without a word.
    Every POS input serializer, and every serializer nested in one, derives from it."""

    @cached_property
    def _declared_names(self) -> frozenset[str]:
        return frozenset(self.fields)

    def to_internal_value(self, data):
        if not isinstance(data, Mapping) or not data.keys() - self._declared_names:
            return super().to_internal_value(data)
        errors = {}
        try:
            super().to_internal_value(data)
        except ValidationError as exc:
            errors = dict(exc.detail)
        for name in data:
            if name not in self._declared_names:
                errors[name] = [ErrorDetail("Unknown field.", code="unknown")]
        raise ValidationError(errors)
