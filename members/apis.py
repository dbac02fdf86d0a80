"""How POS requests and answers name a member.

The member object itself (enrol, lookup, get) shows the member's balance and tier, which the ledger and tiers
own; those apps sit above members, so its endpoints are served from ``tiers/apis.py``.
"""

from drf_spectacular.extensions import OpenApiSerializerExtension
from rest_framework import serializers

from loyalty.api_fields import StrictCharField
from loyalty.serializers import StrictSerializer


class MemberReferenceSerializer(StrictSerializer):
    """The contract's member reference: exactly one of id, card_number, email, phone.

    Shared by every operation that acts for a member.
    """

    # Resolved by ``members.selectors.member_by_reference``; the docstring above is the schema's description.
    id = StrictCharField(required=False, max_length=64)
    card_number = StrictCharField(required=False, max_length=32)
    email = StrictCharField(required=False, max_length=254)
    phone = StrictCharField(required=False, max_length=32)

    def validate(self, attrs):
        if len(attrs) != 1:
            raise serializers.ValidationError("Give exactly one of id, card_number, email or phone.")
        return attrs


class MemberReferenceSchema(OpenApiSerializerExtension):
    """Says "exactly one of the four" in the schema, as ``to_internal_value`` enforces it."""

    target_class = MemberReferenceSerializer

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        properties = {**schema["properties"], "id": {**schema["properties"]["id"], "format": "uuid"}}
        return {
            "description": schema["description"],
            "oneOf": [{"type": "object", "properties": {name: field}, "required": [name],
                       "additionalProperties": False} for name, field in properties.items()],
        }


class MemberKeySerializer(serializers.Serializer):
    """How answers about a purchase, event or voucher name its member."""

    id = serializers.UUIDField()
    card_number = serializers.CharField()
