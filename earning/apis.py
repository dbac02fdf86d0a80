import math

from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from ledger.apis import BalanceSerializer
from ledger.selectors import account_balance_get
from loyalty.api_fields import (
    AwareDateTimeField,
    ExternalIdField,
    MoneyField,
    StrictCharField,
    StrictIntegerField,
    StrictRegexField,
)
from loyalty.errors import DomainError
from loyalty.idempotency import Answer, idempotent_call
from loyalty.problems import flatten_validation_errors
from loyalty.schema import problems, replayed
from loyalty.serializers import StrictSerializer
from members.apis import MemberKeySerializer, MemberReferenceSerializer
from programs.apis import PosApi
from tiers.apis import TierRefSerializer

from .services import event_record, purchase_preview, purchase_record, purchase_return

MAX_BATCH = 500
MAX_ATTRIBUTES = 50
EVENT_TYPE_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
REPLAYED_HEADER = {"Idempotent-Replayed": "true"}


class LineSerializer(StrictSerializer):
    sku = StrictCharField(max_length=64)
    category = StrictCharField(max_length=64, required=False, allow_blank=True, default="")
    quantity = StrictIntegerField(min_value=1, max_value=100_000)
    unit_price = MoneyField(min_value=0)


class BreakdownSerializer(serializers.Serializer):
    rule = serializers.CharField()
    points = serializers.IntegerField()


def _tier_ref(member):
    tier = getattr(member, "current_tier", None) if member else None
    return {"code": tier.code, "name": tier.name} if tier else None


def once_per_external_id(*, client, scope: str, noun: str, data: dict, run) -> Answer:
    """Purchases, returns and events: exactly once per (store, external_id) of their kind."""
    return idempotent_call(
        store=client.store, scope=scope, key=data["external_id"], payload=data, run=run,
        conflict=lambda: DomainError(
            "duplicate_external_id",
            f"{noun} {data['external_id']} was already posted from this store with a different body.",
            title="Duplicate external id"),
    )


def _answer_response(answer: Answer) -> Response:
    return Response(answer.body, status=status.HTTP_200_OK if answer.replayed else answer.status,
                    headers=REPLAYED_HEADER if answer.replayed else None)


class PurchaseInputSerializer(StrictSerializer):
    external_id = ExternalIdField()
    member = MemberReferenceSerializer(required=False, allow_null=True, default=None)
    currency = StrictRegexField(r"^[A-Za-z]{3}$", error_messages={"invalid": "A 3-letter ISO 4217 code."})
    total = MoneyField()
    occurred_at = AwareDateTimeField(required=False, allow_null=True, default=None)
    lines = LineSerializer(many=True, required=False, default=list, max_length=500)


class PurchaseOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    external_id = serializers.CharField()
    member = MemberKeySerializer(allow_null=True)
    total = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField()
    occurred_at = serializers.DateTimeField()
    points_awarded = serializers.IntegerField()
    breakdown = BreakdownSerializer(many=True)
    balance = BalanceSerializer(allow_null=True)
    tier = TierRefSerializer(allow_null=True)
    claimable_until = serializers.DateTimeField(allow_null=True)


def purchase_answer(*, client, data: dict) -> Answer:
    """Record one validated purchase exactly once for the calling store (shared by single and batch posts)."""

    def run():
        purchase = purchase_record(
            store=client.store, actor=client.actor, external_id=data["external_id"],
            member_reference=data["member"], currency=data["currency"], total=data["total"],
            occurred_at=data["occurred_at"], lines=[dict(line) for line in data["lines"]],
        )
        member = purchase.member
        body = PosApi.serializer_data(PurchaseOutputSerializer, {
            "id": purchase.id, "external_id": purchase.external_id,
            "member": {"id": member.id, "card_number": member.card_number} if member else None,
            "total": purchase.total, "currency": purchase.currency, "occurred_at": purchase.occurred_at,
            "points_awarded": purchase.points_awarded, "breakdown": purchase.breakdown,
            # Points moved: the ledger left the account, locked and up to date, on the member (no read).
            "balance": account_balance_get(member=member, fresh=purchase.earn_transaction is None)
            if member else None,
            "tier": _tier_ref(member), "claimable_until": purchase.claimable_until,
        })
        return status.HTTP_201_CREATED, body

    return once_per_external_id(client=client, scope="purchase", noun="Purchase", data=data, run=run)


class PurchaseCreateApi(PosApi):
    """Post a purchase; points are credited exactly once per (store, external_id)."""

    @extend_schema(operation_id="purchase_create", request=PurchaseInputSerializer,
                   responses={201: PurchaseOutputSerializer, 200: replayed(PurchaseOutputSerializer),
                              **problems("member_not_found", "member_suspended", "duplicate_external_id",
                                         "request_in_progress")},
                   tags=["purchases"])
    def post(self, request):
        validated = self.serializer_validated(PurchaseInputSerializer, request.data)
        return _answer_response(purchase_answer(client=request.user, data=validated))


class PurchasePreviewApi(PosApi):
    """What a purchase would earn now, without recording anything."""

    class InputSerializer(PurchaseInputSerializer):
        external_id = ExternalIdField(required=False)

    class OutputSerializer(serializers.Serializer):
        member = MemberKeySerializer(allow_null=True)
        total = serializers.DecimalField(max_digits=12, decimal_places=2)
        points_awarded = serializers.IntegerField()
        breakdown = BreakdownSerializer(many=True)
        tier = TierRefSerializer(allow_null=True)

    @extend_schema(operation_id="purchase_preview", request=InputSerializer,
                   responses={200: OutputSerializer, **problems("member_not_found", "member_suspended")},
                   tags=["purchases"])
    def post(self, request):
        data = self.serializer_validated(self.InputSerializer, request.data)
        member, earnings = purchase_preview(
            program=request.user.program, member_reference=data["member"], currency=data["currency"],
            total=data["total"], occurred_at=data["occurred_at"], lines=[dict(line) for line in data["lines"]],
            store=request.user.store,
        )
        return Response(self.serializer_data(self.OutputSerializer, {
            "member": {"id": member.id, "card_number": member.card_number} if member else None,
            "total": data["total"], "points_awarded": sum(e.points for e in earnings),
            "breakdown": [e.as_dict() for e in earnings], "tier": _tier_ref(member),
        }))


class PurchaseBatchApi(PosApi):
    """Purchases a till recorded while offline, posted late in one call (up to 500).

    Each item is handled exactly as a single post would be, independently: its own
    idempotency by external id, its own result. The call answers 200 with one result
    per item, in order: ``status`` is what the single post would have answered and
    ``body`` its body (a purchase, or a problem).
    """

    class InputSerializer(StrictSerializer):
        purchases = serializers.ListField(child=serializers.DictField(), min_length=1, max_length=MAX_BATCH)

    class ResultSerializer(serializers.Serializer):
        index = serializers.IntegerField()
        external_id = serializers.CharField(allow_null=True)
        status = serializers.IntegerField()
        replayed = serializers.BooleanField()
        body = serializers.DictField()

    class OutputSerializer(serializers.Serializer):
        results = serializers.ListField(child=serializers.DictField())

    @extend_schema(operation_id="purchase_batch", request=InputSerializer, responses={200: OutputSerializer},
                   tags=["purchases"])
    def post(self, request):
        validated = self.serializer_validated(self.InputSerializer, request.data)
        results = []
        for index, raw in enumerate(validated["purchases"]):
            external_id = raw.get("external_id") if isinstance(raw.get("external_id"), str) else None
            try:
                data = self.serializer_validated(PurchaseInputSerializer, raw)
                answer = purchase_answer(client=request.user, data=data)
                results.append({"index": index, "external_id": external_id,
                                "status": 200 if answer.replayed else answer.status,
                                "replayed": answer.replayed, "body": answer.body})
            except serializers.ValidationError as exc:
                errors = flatten_validation_errors(exc.detail)
                problem = DomainError("invalid", f"{errors[0]['field']}: {errors[0]['message']}",
                                      title="Invalid request", errors=errors).as_problem()
                results.append({"index": index, "external_id": external_id, "status": 400, "replayed": False,
                                "body": problem})
            except DomainError as error:
                results.append({"index": index, "external_id": external_id, "status": error.status,
                                "replayed": error.replayed, "body": error.as_problem()})
        return Response({"results": results})


class ReturnCreateApi(PosApi):
    """Return (part of) a purchase: points come back in proportion to the amount."""

    class InputSerializer(StrictSerializer):
        external_id = ExternalIdField()
        purchase_external_id = ExternalIdField()
        purchase_store = StrictRegexField(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=32, required=False,
                                                allow_null=True, default=None,
                                                error_messages={"invalid": "A store code, e.g. DEMO-001."})
        amount = MoneyField()

    class OutputSerializer(serializers.Serializer):
        id = serializers.UUIDField()
        external_id = serializers.CharField()
        purchase_external_id = serializers.CharField()
        amount = serializers.DecimalField(max_digits=12, decimal_places=2)
        points_reversed = serializers.IntegerField()
        balance = BalanceSerializer(allow_null=True)

    @extend_schema(operation_id="return_create", request=InputSerializer,
                   responses={201: OutputSerializer, 200: replayed(OutputSerializer),
                              **problems("purchase_not_found", "duplicate_external_id", "request_in_progress",
                                         "return_exceeds_purchase")},
                   tags=["purchases"])
    def post(self, request):
        data = self.serializer_validated(self.InputSerializer, request.data)
        client = request.user

        def run():
            refund = purchase_return(
                store=client.store, actor=client.actor, external_id=data["external_id"],
                purchase_external_id=data["purchase_external_id"], amount=data["amount"],
                purchase_store_code=data["purchase_store"],
            )
            member = refund.purchase.member
            return status.HTTP_201_CREATED, self.serializer_data(self.OutputSerializer, {
                "id": refund.id, "external_id": refund.external_id,
                "purchase_external_id": refund.purchase.external_id, "amount": refund.amount,
                "points_reversed": refund.points_reversed,
                "balance": account_balance_get(member=member, fresh=True) if member else None,
            })

        answer = once_per_external_id(client=client, scope="return", noun="Return", data=data, run=run)
        return _answer_response(answer)


@extend_schema_field({
    "type": "object", "maxProperties": MAX_ATTRIBUTES,
    "description": "Names of 1–64 characters (OpenAPI 3.0 cannot say so in the schema), without NUL.",
    "additionalProperties": {"nullable": True, "anyOf": [
        {"type": "string", "maxLength": 500, "pattern": "^[^\\x00]*$"},
        {"type": "number", "minimum": -1e15, "maximum": 1e15},
        {"type": "boolean"},
    ]},
})
class EventAttributesField(serializers.DictField):
    """Up to 50 attributes: keys of 1–64 characters, values text (up to 500), numbers, booleans or null."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if len(value) > MAX_ATTRIBUTES:
            raise serializers.ValidationError(f"At most {MAX_ATTRIBUTES} attributes.")
        for key, item in value.items():
            if not 1 <= len(key) <= 64 or "\x00" in key:
                raise serializers.ValidationError(f"Attribute names are 1–64 characters: {key[:64]!r}.")
            if isinstance(item, str):
                if len(item) > 500 or "\x00" in item:
                    raise serializers.ValidationError(f"{key}: text of at most 500 characters, without NUL.")
            elif item is not None and not isinstance(item, (bool, int, float)):
                raise serializers.ValidationError(f"{key}: a text, a number, true/false or null.")
            elif not isinstance(item, (bool, type(None))) and not (math.isfinite(item) and abs(item) <= 1e15):
                raise serializers.ValidationError(f"{key}: a number of at most 10^15.")
        return value


class EventTypeField(StrictRegexField):
    """A slug given as a JSON string (a number is refused, not read as text); answered in lower case."""

    def to_internal_value(self, data):
        return super().to_internal_value(data).lower()


class EventCreateApi(PosApi):
    """Post non-purchase activity (a night stayed, a review written); the event rules say what it earns.

    Idempotent by (store, external_id) exactly like purchases: the same body again replays the first
    answer (200, ``Idempotent-Replayed: true``), another body is ``409 duplicate_external_id``.
    """

    @extend_schema_serializer(component_name="EventCreate")
    class InputSerializer(StrictSerializer):
        external_id = ExternalIdField()
        member = MemberReferenceSerializer()
        type = EventTypeField(EVENT_TYPE_PATTERN, error_messages={
            "invalid": "1–64 letters, digits, - or _, e.g. stay_night."})
        quantity = StrictIntegerField(min_value=1, max_value=100_000, required=False, default=1)
        attributes = EventAttributesField(required=False, default=dict)
        occurred_at = AwareDateTimeField(required=False, allow_null=True, default=None)

    @extend_schema_serializer(component_name="Event")
    class OutputSerializer(serializers.Serializer):
        id = serializers.UUIDField()
        external_id = serializers.CharField()
        member = MemberKeySerializer()
        type = serializers.CharField()
        quantity = serializers.IntegerField()
        attributes = serializers.DictField()
        occurred_at = serializers.DateTimeField()
        points_awarded = serializers.IntegerField()
        breakdown = BreakdownSerializer(many=True)
        balance = BalanceSerializer()

    @extend_schema(operation_id="event_create", request=InputSerializer,
                   responses={201: OutputSerializer, 200: replayed(OutputSerializer),
                              **problems("member_not_found", "member_suspended", "duplicate_external_id",
                                         "request_in_progress")},
                   tags=["events"])
    def post(self, request):
        data = self.serializer_validated(self.InputSerializer, request.data)
        client = request.user

        def run():
            event = event_record(
                store=client.store, actor=client.actor, external_id=data["external_id"],
                member_reference=data["member"], event_type=data["type"], quantity=data["quantity"],
                attributes=data["attributes"], occurred_at=data["occurred_at"],
            )
            member = event.member
            return status.HTTP_201_CREATED, self.serializer_data(self.OutputSerializer, {
                "id": event.id, "external_id": event.external_id,
                "member": {"id": member.id, "card_number": member.card_number}, "type": event.type,
                "quantity": event.quantity, "attributes": event.attributes, "occurred_at": event.occurred_at,
                "points_awarded": event.points_awarded, "breakdown": event.breakdown,
                "balance": account_balance_get(member=member, fresh=event.earn_transaction is None),
            })

        answer = once_per_external_id(client=client, scope="event", noun="Event", data=data, run=run)
        return _answer_response(answer)
