from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from ledger.apis import BalanceSerializer
from ledger.selectors import account_balance_get
from loyalty.api_fields import StrictIntegerField, StrictRegexField
from loyalty.errors import DomainError
from loyalty.idempotency import idempotent_call
from loyalty.pagination import PageNumberPagination
from loyalty.schema import problems, replayed
from loyalty.serializers import StrictSerializer
from members.apis import MemberKeySerializer, MemberReferenceSerializer
from members.selectors import member_by_reference, member_find
from programs.apis import PosApi

from .selectors import redemption_get, reward_eligibility, reward_get_by_code, reward_list, voucher_get
from .services import redemption_cancel, reward_redeem, voucher_use

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_SCHEMA = {"type": "string", "minLength": 1, "maxLength": 255}


class RewardRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    type = serializers.CharField()


class VoucherSerializer(serializers.Serializer):
    """A redemption as the till sees it: the voucher."""

    id = serializers.UUIDField()
    code = serializers.CharField(source="voucher_code")
    status = serializers.CharField()
    reward = RewardRefSerializer()
    member = MemberKeySerializer()
    points_spent = serializers.IntegerField()
    discount_amount = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    issued_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    used_at = serializers.DateTimeField(allow_null=True)


class EmptyBodySerializer(StrictSerializer):
    """The body of a call whose path names all it acts on: none, or ``{}``."""


class RewardListApi(PosApi):
    """Active rewards; with ``member`` (a card number) each says whether that member can redeem it now."""

    pagination_class = PageNumberPagination

    class OutputSerializer(serializers.Serializer):
        id = serializers.UUIDField()
        code = serializers.CharField()
        name = serializers.CharField()
        description = serializers.CharField()
        type = serializers.CharField()
        points_cost = serializers.IntegerField()
        points_min = serializers.IntegerField(allow_null=True)
        points_max = serializers.IntegerField(allow_null=True)
        points_step = serializers.IntegerField(allow_null=True)
        stock_remaining = serializers.IntegerField(allow_null=True)
        min_tier = serializers.CharField(source="min_tier.code", allow_null=True, default=None)
        available_from = serializers.DateTimeField(allow_null=True)
        available_until = serializers.DateTimeField(allow_null=True)
        redeemable = serializers.BooleanField(required=False)
        reason = serializers.CharField(required=False, allow_null=True)

    @extend_schema(operation_id="reward_list", tags=["rewards"],
                   parameters=[OpenApiParameter("member", str, required=False,
                                                description="Card number: adds `redeemable` and `reason`")],
                   responses={200: OutputSerializer(many=True), **problems("member_not_found", "not_found")})
    def get(self, request):
        program = request.user.program
        card_number = request.query_params.get("member")
        member = member_find(program=program, field="card_number", value=card_number) \
            if card_number is not None else None
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(reward_list(program=program), request, view=self)
        rows = self.OutputSerializer(page, many=True).data
        if member is not None:
            eligibility = reward_eligibility(rewards=page, member=member)
            for reward, row in zip(page, rows, strict=True):
                row["redeemable"], row["reason"] = eligibility[reward.pk]
        return paginator.get_paginated_response(rows)


class RedemptionCreateApi(PosApi):
    """Redeem a reward for a member. Send an ``Idempotency-Key`` header; a retry with it replays the answer."""

    class InputSerializer(StrictSerializer):
        member = MemberReferenceSerializer()
        reward = StrictRegexField(r"^[A-Za-z0-9_-]{1,32}$", max_length=32,
                                        error_messages={"invalid": "A reward code, e.g. FREE-COFFEE."})
        points = StrictIntegerField(required=False, allow_null=True, default=None, min_value=1,
                                    help_text="Pay-with-points rewards only: how many points to pay.")

    class OutputSerializer(serializers.Serializer):
        id = serializers.UUIDField()
        reward = RewardRefSerializer()
        points_spent = serializers.IntegerField()
        discount_amount = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
        voucher_code = serializers.CharField()
        status = serializers.CharField()
        expires_at = serializers.DateTimeField(allow_null=True)
        balance = BalanceSerializer()

    @extend_schema(operation_id="redemption_create", tags=["rewards"], request=InputSerializer,
                   parameters=[OpenApiParameter(IDEMPOTENCY_HEADER, IDEMPOTENCY_KEY_SCHEMA, OpenApiParameter.HEADER,
                                                required=True, description="1–255 characters, unique per attempt")],
                   responses={201: OutputSerializer, 200: replayed(OutputSerializer),
                              **problems("reward_not_found", "member_not_found", "member_suspended", "out_of_stock",
                                         "request_in_progress", "tier_required", "reward_not_available",
                                         "limit_reached", "insufficient_points", "idempotency_key_reused")})
    def post(self, request):
        key = request.headers.get(IDEMPOTENCY_HEADER, "")
        if not 1 <= len(key) <= 255:
            raise DomainError("invalid", f"Send an {IDEMPOTENCY_HEADER} header of 1–255 characters.",
                              title="Invalid request",
                              errors=[{"field": IDEMPOTENCY_HEADER, "message": "required, 1–255 characters"}])
        data = self.serializer_validated(self.InputSerializer, request.data)
        client = request.user

        def run():
            reward = reward_get_by_code(program=client.program, code=data["reward"])
            member = member_by_reference(program=client.program, reference=data["member"])
            redemption = reward_redeem(member=member, reward=reward, store=client.store, actor=client.actor,
                                       points=data["points"])
            return status.HTTP_201_CREATED, self.serializer_data(self.OutputSerializer, {
                "id": redemption.id, "reward": reward, "points_spent": redemption.points_spent,
                "discount_amount": redemption.discount_amount, "voucher_code": redemption.voucher_code,
                "status": redemption.status, "expires_at": redemption.expires_at,
                # The ledger left the account, locked and up to date, on the member (no read).
                "balance": account_balance_get(member=member),
            })

        answer = idempotent_call(
            store=client.store, scope="redemption", key=key, payload=data, run=run, store_refusals=True,
            conflict=lambda: DomainError("idempotency_key_reused",
                                         "This Idempotency-Key was used with a different request.",
                                         title="Idempotency key reused"),
        )
        if answer.replayed:
            return Response(answer.body, status=status.HTTP_200_OK, headers={"Idempotent-Replayed": "true"})
        return Response(answer.body, status=answer.status)


class RedemptionCancelApi(PosApi):
    """Cancel an unused redemption: the points come back (entry kind ``refund``) and the stock too."""

    class OutputSerializer(VoucherSerializer):
        balance = BalanceSerializer(source="member_balance")

    @extend_schema(operation_id="redemption_cancel", tags=["rewards"], request=None,
                   responses={200: OutputSerializer,
                              **problems("redemption_not_found", "voucher_already_used", "voucher_not_usable")})
    def post(self, request, redemption_id):
        self.serializer_validated(EmptyBodySerializer, request.data)
        redemption = redemption_get(program=request.user.program, redemption_id=redemption_id)
        redemption = redemption_cancel(redemption=redemption, actor=request.user.actor)
        redemption.member_balance = account_balance_get(member=redemption.member, fresh=True)
        return Response(self.serializer_data(self.OutputSerializer, redemption))


class VoucherDetailApi(PosApi):
    @extend_schema(operation_id="voucher_get", tags=["rewards"],
                   responses={200: VoucherSerializer, **problems("voucher_not_found")})
    def get(self, request, code):
        return Response(VoucherSerializer(voucher_get(program=request.user.program, code=code)).data)


class VoucherUseApi(PosApi):
    """Mark a voucher used at this store (once)."""

    @extend_schema(operation_id="voucher_use", tags=["rewards"], request=None,
                   responses={200: VoucherSerializer,
                              **problems("voucher_not_found", "voucher_already_used", "voucher_not_usable")})
    def post(self, request, code):
        self.serializer_validated(EmptyBodySerializer, request.data)
        redemption = voucher_get(program=request.user.program, code=code)
        redemption = voucher_use(redemption=redemption, store=request.user.store, actor=request.user.actor)
        return Response(self.serializer_data(VoucherSerializer, redemption))
