from drf_spectacular import openapi

from .serializers import StrictSerializer


class AutoSchema(openapi.AutoSchema):
    """Names each operation's nested ``InputSerializer``/``OutputSerializer`` after its view
    (``PurchasePreviewApi.InputSerializer`` → ``PurchasePreviewInput``), so the one-class-per-
    operation style does not collide into a single "Input" component."""

    def _get_serializer_name(self, serializer, direction, bypass_extensions=False):
        name = super()._get_serializer_name(serializer, direction, bypass_extensions)
        cls = serializer if isinstance(serializer, type) else type(serializer)
        outer, _, inner = cls.__qualname__.rpartition(".")
        base = inner.removesuffix("Serializer")
        if outer and name.startswith(base):
            return outer.removesuffix("Api") + name
        return name

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        cls = serializer if isinstance(serializer, type) else type(serializer)
        if direction == "request" and issubclass(cls, StrictSerializer):
            schema["additionalProperties"] = False  # the server refuses any other field
        return schema
