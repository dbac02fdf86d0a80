"""How the audit log shows what it recorded."""

from django import template

register = template.Library()

LONGEST = 160


@register.filter
def audit_value(value) -> str:
    """A before or after value as a person reads it: text as it is, yes/no, lists and records in short."""
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return f"{value:,}"
    if isinstance(value, dict):
        text = ", ".join(f"{key.replace('_', ' ')} {audit_value(item)}" for key, item in value.items())
    elif isinstance(value, list):
        text = ", ".join(audit_value(item) for item in value) or "none"
    else:
        text = str(value)
    return text if len(text) <= LONGEST else text[:LONGEST - 1] + "…"


@register.filter
def delta(value, sign: str = "") -> str:
    """A movement of points with its sign: "+250", "−30" (``sign`` forces one for counts that only go one way);
    nothing moved reads "0", not "+0"."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return value
    if number == 0:
        return "0"
    if sign == "-":
        return f"−{abs(number):,}"
    if sign == "+":
        return f"+{abs(number):,}"
    return f"+{number:,}" if number > 0 else f"−{-number:,}"
