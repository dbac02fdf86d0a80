from django import template

register = template.Library()


@register.filter
def may(staff, action: str) -> bool:
    """``{% if request.staff|may:"settings.change" %}``: whether the person may do it in the page's program."""
    return bool(staff) and staff.may(action)
