"""The unsubscribe page linked from every member email.

``GET`` asks for confirmation (mail scanners follow links; a visit changes nothing). ``POST``
withdraws marketing consent: from the page's button, or straight from a mail client's one-click
unsubscribe (RFC 8058), which posts without a CSRF token; the signed token is the credential.
"""

from django.shortcuts import render
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .services import member_for_unsubscribe_token, member_unsubscribe


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request, token: str):
    member = member_for_unsubscribe_token(token=token)
    if member is None:
        return render(request, "notifications/unsubscribe_invalid.html", status=400)
    done = request.method == "POST"
    if done:
        member = member_unsubscribe(member=member)
    language = member.language if member.language in ("en", "de") else "en"
    with translation.override(language):
        return render(request, "notifications/unsubscribe.html",
                      {"member": member, "program": member.program, "done": done, "language": language})
