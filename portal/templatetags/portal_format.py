"""Numbers and money as the member's language writes them (the page's active language)."""

from decimal import Decimal, InvalidOperation

from babel.numbers import format_currency, format_decimal
from django import template
from django.utils import translation

register = template.Library()


def _locale() -> str:
    return (translation.get_language() or "en").replace("-", "_")


@register.filter
def money(value, currency: str) -> str:
    """``12.5|money:"EUR"`` → "€12.50" in English, "12,50 €" in German."""
    try:
        return format_currency(Decimal(value), currency, locale=_locale())
    except (TypeError, ValueError, InvalidOperation):
        return ""


@register.filter
def number(value) -> str:
    """A whole number with the language's grouping: 12,345 / 12.345."""
    try:
        return format_decimal(Decimal(value).to_integral_value(), locale=_locale())
    except (TypeError, ValueError, InvalidOperation):
        return ""
