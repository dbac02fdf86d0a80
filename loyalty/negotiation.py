"""Content negotiation with a shortcut for what POS clients send.

DRF parses the ``Accept`` header into media-type objects and matches them against every renderer on each
request, a noticeable share of a member lookup's CPU. Tills send no ``Accept``, ``*/*`` or ``application/json``;
for those the answer is known without parsing (the first renderer that takes them, at its own media type,
which is what ``DefaultContentNegotiation`` returns too). Anything else, and any ``?format=`` override,
goes through DRF unchanged.
"""

from rest_framework.negotiation import DefaultContentNegotiation

_ANY = frozenset({None, "*/*"})


class ContentNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        if renderers and format_suffix is None and "format=" not in request.META.get("QUERY_STRING", ""):
            accept, first = request.META.get("HTTP_ACCEPT"), renderers[0]
            if accept in _ANY or accept == first.media_type:
                return first, first.media_type
        return super().select_renderer(request, renderers, format_suffix)
