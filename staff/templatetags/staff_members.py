"""Filters of the member pages."""

from decimal import Decimal, InvalidOperation

from django import template

register = template.Library()


@register.filter
def qualifying(value, metric: str) -> str:
    """A qualifying value as its metric reads: spend with its cents (1,234.50), points and credits whole (1,234)."""
    try:
        value = Decimal(value)
    except (TypeError, ValueError, InvalidOperation):
        return value
    return f"{value:,.2f}" if metric == "spend" else f"{value:,.0f}"
