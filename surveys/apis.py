from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from earning.apis import REPLAYED_HEADER, once_per_external_id
from loyalty.api_fields import AwareDateTimeField, ExternalIdField, StrictCharField, StrictIntegerField
from loyalty.schema import problems, replayed
from loyalty.serializers import StrictSerializer
from members.apis import MemberReferenceSerializer
from programs.apis import PosApi

from .services import MAX_COMMENT, pos_response_record


class SurveyRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    kind = serializers.ChoiceField(choices=["nps", "csat", "ces"])


class CaseRefSerializer(serializers.Serializer):
    id = serializers.UUIDField()


class SurveyResponseCreateApi(PosApi):
    """Record a survey answer collected at the till (a tablet, a receipt code).

    ``member`` and ``comment`` are optional: an anonymous answer counts in the scores and opens no case.
    The score's scale is the survey's: NPS 0–10, CSAT 1–5, CES 1–7 (outside it: ``400 invalid`` on
    ``score``). An NPS answer is a ``promoter`` (9–10), ``passive`` (7–8) or ``detractor`` (0–6); a detractor
    (or a CSAT of 1–2) with a member opens a follow-up case, named in ``case``.

    Idempotent by (store, external_id) exactly like purchases: the same body again replays the first
    answer (200, ``Idempotent-Replayed: true``), another body is ``409 duplicate_external_id``.
    """

    @extend_schema_serializer(component_name="SurveyResponseCreate")
    class InputSerializer(StrictSerializer):
        external_id = ExternalIdField()
        survey = StrictCharField(max_length=32, help_text="The survey's code, e.g. `nps`.")
        member = MemberReferenceSerializer(required=False, allow_null=True, default=None)
        score = StrictIntegerField(min_value=0, max_value=10,
                                   help_text="On the survey's scale: NPS 0–10, CSAT 1–5, CES 1–7.")
        comment = StrictCharField(required=False, allow_blank=True, max_length=MAX_COMMENT, default="")
        answered_at = AwareDateTimeField(required=False, allow_null=True, default=None,
                                         help_text="When the member answered; not in the future. Default: now.")

    @extend_schema_serializer(component_name="SurveyResponse")
    class OutputSerializer(serializers.Serializer):
        id = serializers.UUIDField()
        survey = SurveyRefSerializer()
        score = serializers.IntegerField()
        category = serializers.ChoiceField(choices=["promoter", "passive", "detractor"], allow_null=True,
                                           help_text="NPS answers only; null for CSAT and CES.")
        case = CaseRefSerializer(allow_null=True, help_text="The follow-up case the answer opened, if any.")

    @extend_schema(operation_id="survey_response_create", request=InputSerializer,
                   responses={201: OutputSerializer, 200: replayed(OutputSerializer),
                              **problems("survey_not_found", "member_not_found", "duplicate_external_id",
                                         "request_in_progress")},
                   tags=["surveys"])
    def post(self, request):
        data = self.serializer_validated(self.InputSerializer, request.data)
        client = request.user

        def run():
            recorded = pos_response_record(
                store=client.store, actor=client.actor, external_id=data["external_id"], survey_code=data["survey"],
                member_reference=data["member"], score=data["score"], comment=data["comment"],
                answered_at=data["answered_at"])
            answer, survey = recorded.response, recorded.response.survey
            return status.HTTP_201_CREATED, self.serializer_data(self.OutputSerializer, {
                "id": answer.id, "survey": {"code": survey.code, "kind": survey.kind}, "score": answer.score,
                "category": answer.category or None, "case": {"id": recorded.case.id} if recorded.case else None,
            })

        answer = once_per_external_id(client=client, scope="survey_response", noun="Survey answer", data=data,
                                      run=run)
        return Response(answer.body, status=status.HTTP_200_OK if answer.replayed else answer.status,
                        headers=REPLAYED_HEADER if answer.replayed else None)
