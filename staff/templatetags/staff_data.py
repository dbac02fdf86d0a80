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
