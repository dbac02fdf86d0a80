"""POST /api/v1/pos/surveys/responses/: an answer collected at the till, exactly as the contract says."""

from datetime import timedelta

import pytest
from django.utils import timezone

from loyalty.models import IdempotencyRecord
from surveys.models import FollowUpCase, Response
from surveys.services import survey_create
from tests.factories import MemberFactory

URL = "/api/v1/pos/surveys/responses/"


def post(pos, body):
    return pos.post(URL, body, format="json")


def body(member=None, **extra):
    data = {"external_id": "S-1001", "survey": "nps", "score": 9, "comment": "Friendly staff"}
    if member is not None:
        data["member"] = {"card_number": member.card_number}
    return {**data, **extra}


def assert_problem(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == code
    return problem


def test_a_promoter_is_recorded_with_its_category_and_no_case(pos, member, nps_survey):
    response = post(pos, body(member))

    assert response.status_code == 201
    data = response.json()
    assert data["survey"] == {"code": "nps", "kind": "nps"}
    assert data["score"] == 9 and data["category"] == "promoter" and data["case"] is None
    stored = Response.objects.get(pk=data["id"])
    assert stored.member == member and stored.store.code == "DEMO-001" and stored.channel == "pos"
    assert stored.comment == "Friendly staff" and stored.external_id == "S-1001"


@pytest.mark.parametrize(("score", "category"), [(0, "detractor"), (6, "detractor"), (7, "passive"),
                                                 (8, "passive"), (10, "promoter")])
def test_nps_categories(pos, nps_survey, score, category):
    assert post(pos, body(score=score)).json()["category"] == category


def test_a_detractor_with_a_member_opens_one_case(pos, member, nps_survey):
    data = post(pos, body(member, score=3)).json()

    case = FollowUpCase.objects.get()
    assert data["case"] == {"id": str(case.id)}
    assert case.member == member and case.status == "open" and str(case.response_id) == data["id"]
    assert case.due_at > timezone.now() + timedelta(days=1)


def test_an_anonymous_detractor_counts_but_opens_no_case(pos, nps_survey):
    data = post(pos, {"external_id": "S-1", "survey": "nps", "score": 2}).json()

    assert data["case"] is None and data["category"] == "detractor"
    assert Response.objects.get().member is None
    assert not FollowUpCase.objects.exists()


def test_the_same_body_again_replays_the_first_answer(pos, member, nps_survey):
    first = post(pos, body(member, score=1))
    again = post(pos, body(member, score=1))

    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Response.objects.count() == 1 and FollowUpCase.objects.count() == 1


def test_another_body_under_the_same_external_id_is_409(pos, member, nps_survey):
    post(pos, body(member))

    assert_problem(post(pos, body(member, score=4)), 409, "duplicate_external_id")
    assert Response.objects.count() == 1


def test_another_store_may_use_the_same_external_id(pos, other_pos, nps_survey, other_program):
    survey_create(program=other_program, code="nps", kind="nps")
    assert post(pos, body()).status_code == 201
    assert post(other_pos, body()).status_code == 201


def test_an_unknown_or_inactive_survey_is_404(pos, program, nps_survey):
    assert_problem(post(pos, body(survey="nope")), 404, "survey_not_found")
    survey_create(program=program, code="old", kind="nps", active=False)
    assert_problem(post(pos, body(survey="old")), 404, "survey_not_found")
    survey_create(program=program, code="later", kind="nps", starts_at=timezone.now() + timedelta(days=1))
    assert_problem(post(pos, body(survey="later")), 404, "survey_not_found")
    assert not Response.objects.exists() and not IdempotencyRecord.objects.exists()


def test_another_programs_survey_is_404(pos, other_program, program):
    survey_create(program=other_program, code="theirs", kind="nps")
    assert_problem(post(pos, body(survey="theirs")), 404, "survey_not_found")


@pytest.mark.parametrize(("kind", "score"), [("nps", 11), ("nps", -1), ("csat", 0), ("csat", 6), ("ces", 0),
                                             ("ces", 8), ("nps", 10**12)])
def test_a_score_outside_the_surveys_scale_is_400_on_score(pos, program, kind, score):
    survey_create(program=program, code="s", kind=kind)

    problem = assert_problem(post(pos, body(survey="s", score=score)), 400, "invalid")

    assert [error["field"] for error in problem["errors"]] == ["score"]
    assert not Response.objects.exists() and not IdempotencyRecord.objects.exists()


@pytest.mark.parametrize("score", ["9", 9.5, True, None])
def test_a_score_that_is_not_a_whole_number_is_400(pos, nps_survey, score):
    problem = assert_problem(post(pos, body(score=score)), 400, "invalid")
    assert problem["errors"][0]["field"] == "score"


def test_csat_and_ces_scales_are_accepted_and_have_no_category(pos, program):
    survey_create(program=program, code="csat", kind="csat")
    survey_create(program=program, code="ces", kind="ces")
    csat = post(pos, body(survey="csat", score=5, external_id="C-1")).json()
    ces = post(pos, body(survey="ces", score=7, external_id="E-1")).json()
    assert csat["category"] is None and csat["survey"]["kind"] == "csat"
    assert ces["category"] is None and ces["survey"]["kind"] == "ces"


def test_a_very_unhappy_csat_answer_with_a_member_opens_a_case(pos, program, member):
    survey_create(program=program, code="csat", kind="csat")
    assert post(pos, body(member, survey="csat", score=2)).json()["case"] is not None
    assert post(pos, body(member, survey="csat", score=3, external_id="S-2")).json()["case"] is None


def test_an_unknown_member_is_404_and_stores_nothing(pos, nps_survey, other_program):
    stranger = MemberFactory(program=other_program)
    assert_problem(post(pos, body(stranger)), 404, "member_not_found")
    assert_problem(post(pos, {**body(), "member": {"email": "nobody@example.com"}}), 404, "member_not_found")
    assert not Response.objects.exists()


def test_answered_at_defaults_to_now_and_may_not_be_in_the_future(pos, nps_survey):
    earlier = timezone.now() - timedelta(days=2)
    data = post(pos, body(answered_at=earlier.isoformat())).json()
    assert Response.objects.get(pk=data["id"]).answered_at == earlier

    future = (timezone.now() + timedelta(hours=1)).isoformat()
    problem = assert_problem(post(pos, body(external_id="S-2", answered_at=future)), 400, "invalid")
    assert problem["errors"][0]["field"] == "answered_at"
    assert Response.objects.count() == 1


@pytest.mark.parametrize("bad", [{"external_id": "has space"}, {"comment": "x" * 2001}, {"survey": ""},
                                 {"comment": "a\x00b"}, {"survey": "nps\x00"}, {"survey": 7}, {"comment": None},
                                 {"member": {"card_number": "1", "email": "a@b.c"}}, {"colour": "red"},
                                 {"answered_at": "2026-01-01T10:00:00"}])
def test_bad_input_is_400_and_changes_nothing(pos, nps_survey, bad):
    assert_problem(post(pos, {**body(), **bad}), 400, "invalid")
    assert not Response.objects.exists()


def test_without_a_key_it_is_401(client, nps_survey):
    response = client.post(URL, body(), content_type="application/json")
    assert response.status_code == 401


def test_the_operation_is_in_the_published_schema(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/pos/surveys/responses/"]["post"]
    assert operation["operationId"] == "survey_response_create"
    assert {"201", "200", "400", "404", "409"} <= set(operation["responses"])


def test_the_bonus_is_posted_once_however_often_the_answer_is_retried(pos, program, member):
    from ledger.models import LedgerTransaction

    survey_create(program=program, code="nps", kind="nps", bonus_points=25)
    first = post(pos, body(member))
    assert post(pos, body(member)).status_code == 200
    assert post(pos, body(member, external_id="S-2")).status_code == 201

    assert LedgerTransaction.objects.filter(source_type="survey").count() == 1
    member.account.refresh_from_db()
    assert member.account.available == 25
    assert Response.objects.get(pk=first.json()["id"]).incentivised is True
    assert Response.objects.filter(incentivised=True).count() == 1
