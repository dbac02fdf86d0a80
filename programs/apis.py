"""The base of every POS API view: what makes a view a till's, and nothing any other view should inherit.

A POS call authenticates with its store's key (``Authorization: Api-Key <key>``), is rate-limited per key,
speaks JSON only and takes the negotiation shortcut for what tills send. Those are the view's, not DRF's
global defaults, so a staff or portal view gets none of them by accident (settings.REST_FRAMEWORK holds
neutral defaults for those).

POS views also validate and render through one serializer instance per class, kept by the process:
``Serializer(data=…)`` deep-copies every declared field (and every nested serializer's) for each new
instance, which costs more CPU than validating a purchase does (bench/history.md has the figures). Validation and
rendering keep no state on the instance (``is_valid`` does; ``run_validation`` and ``to_representation`` do
not), so one shared instance per class serves every request.
"""

from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from loyalty.negotiation import ContentNegotiation
from loyalty.parsers import JSONParser

from .auth import IsPosClient, PosApiKeyAuthentication, PosKeyRateThrottle

_shared: dict[type, object] = {}


def _instance(serializer_class):
    serializer = _shared.get(serializer_class)
    if serializer is None:
        serializer = _shared[serializer_class] = serializer_class()
    return serializer


# No docstring: a view's is its operation's description in the schema, and subclasses would inherit it.
class PosApi(APIView):
    # A POS operation: ``request.user`` is the calling till's ``PosClient`` (store, program, key).
    authentication_classes = (PosApiKeyAuthentication,)
    permission_classes = (IsPosClient,)
    throttle_classes = (PosKeyRateThrottle,)
    content_negotiation_class = ContentNegotiation
    parser_classes = (JSONParser,)
    renderer_classes = (JSONRenderer,)

    @staticmethod
    def serializer_validated(serializer_class, data) -> dict:
        """``serializer_class(data=data)`` validated as ``is_valid(raise_exception=True)`` would: the validated
        data, or the very ``ValidationError`` ``is_valid`` raises (refusals take the per-request path, so their
        error bodies are DRF's, edge cases included)."""
        try:
            return _instance(serializer_class).run_validation(data)
        except ValidationError:
            serializer = serializer_class(data=data)
            serializer.is_valid(raise_exception=True)
            return serializer.validated_data

    @staticmethod
    def serializer_data(serializer_class, instance) -> dict:
        """``serializer_class(instance).data``, as a plain dict."""
        return _instance(serializer_class).to_representation(instance)
