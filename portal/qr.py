"""Card numbers and voucher codes as codes a till's scanner reads off a phone screen: QR for camera scanners,
Code 128 for the laser scanners many tills still have."""

import barcode
import segno
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

BAR_HEIGHT = 40  # in modules: the bars scale with the width the page gives them


def qr_svg(text: str, *, label: str) -> SafeString:
    """Inline SVG (the Content-Security-Policy allows no data: images) named ``label`` for screen readers."""
    svg = segno.make(text, error="m").svg_inline(scale=1, border=4, dark="#101828", light="#ffffff",
                                                  omitsize=True, svgclass="portal-qr")
    named = format_html('<svg role="img" aria-label="{}" ', label)
    return mark_safe(svg.replace("<svg ", named, 1))  # noqa: S308 - segno's own markup, label escaped above


def barcode_svg(text: str, *, label: str) -> SafeString:
    """Code 128 of ``text`` as inline SVG: one path of bars, a quiet zone of 10 modules either side.

    python-barcode encodes; its own SVG writer sets style attributes, which the Content-Security-Policy
    refuses, so the bars are drawn here from the module pattern.
    """
    modules = "".join(barcode.get("code128", text).build())
    quiet = 10
    bars, x = [], quiet
    for run in _runs(modules):
        if run[0] == "1":
            bars.append(f"M{x} 0h{len(run)}v{BAR_HEIGHT}h-{len(run)}z")
        x += len(run)
    width = x + quiet
    return format_html(
        '<svg class="portal-barcode" role="img" aria-label="{}" viewBox="0 0 {} {}" preserveAspectRatio="none" '
        'xmlns="http://www.w3.org/2000/svg"><rect width="100%" height="100%" fill="#ffffff"/>'
        '<path fill="#101828" d="{}"/></svg>', label, width, BAR_HEIGHT, "".join(bars))


def _runs(modules: str):
    start = 0
    for i in range(1, len(modules) + 1):
        if i == len(modules) or modules[i] != modules[start]:
            yield modules[start:i]
            start = i
