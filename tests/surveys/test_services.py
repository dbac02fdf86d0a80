"""Survey definitions, follow-up cases and their due dates."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from loyalty.errors import DomainError
from surveys.models import FollowUpCase
from surveys.services import business_days_after, followup_case_open, response_record, survey_create

BERLIN = ZoneInfo("Europe/Berlin")


def test_a_new_survey_takes_the_kinds_wording_in_english_and_german(program):
    nps = survey_create(program=program, code="nps", kind="nps")
    assert nps.question("en", "Coffee Club") == "How likely are you to recommend Coffee Club to a friend?"
    assert nps.question("de", "Coffee Club").startswith("Wie wahrscheinlich ist es, dass Sie Coffee Club")
    assert nps.follow_up("en") == "What is the main reason for your score?"
    assert (nps.active, nps.bonus_points, nps.on_purchase, nps.reply_target_business_days) == (True, 0, False, 2)
    ces = survey_create(program=program, code="ces", kind="ces")
    assert ces.question("en", "Coffee Club").startswith("Coffee Club made it easy for me to")
    assert ces.scale == (1, 7)


def test_codes_are_unique_in_a_program_and_kinds_are_known(program, other_program):
    survey_create(program=program, code="nps", kind="nps")
    survey_create(program=other_program, code="nps", kind="nps")
    with pytest.raises(DomainError) as taken:
        survey_create(program=program, code="nps", kind="csat")
    assert taken.value.errors[0]["field"] == "code"
    with pytest.raises(DomainError):
        survey_create(program=program, code="x", kind="stars")


@pytest.mark.parametrize("questions", [
    "not a list", [{"id": "a", "type": "scale", "text_en": "A", "text_de": "A"}],
    [{"id": "a b", "type": "text", "text_en": "A", "text_de": "A"}],
    [{"id": "a", "type": "text", "text_en": "A"}],
    [{"id": "a", "type": "choice", "text_en": "A", "text_de": "A", "choices_en": ["x", "y"], "choices_de": ["x"]}],
    [{"id": "a", "type": "text", "text_en": "A", "text_de": "A"}] * 2,
])
def test_bad_extra_questions_are_refused(program, questions):
    with pytest.raises(DomainError) as refused:
        survey_create(program=program, code="x", kind="nps", extra_questions=questions)
    assert refused.value.errors[0]["field"] == "extra_questions"


@pytest.mark.parametrize(("start", "due"), [
    (datetime(2026, 12, 7, 10, 0, tzinfo=BERLIN), datetime(2026, 12, 9, 10, 0, tzinfo=BERLIN)),  # Mon → Wed
    (datetime(2026, 12, 10, 16, 30, tzinfo=BERLIN), datetime(2026, 12, 14, 16, 30, tzinfo=BERLIN)),  # Thu → Mon
    (datetime(2026, 12, 11, 9, 0, tzinfo=BERLIN), datetime(2026, 12, 15, 9, 0, tzinfo=BERLIN)),  # Fri → Tue
    (datetime(2026, 12, 12, 20, 0, tzinfo=BERLIN), datetime(2026, 12, 16, 0, 0, tzinfo=BERLIN)),  # Sat → Wed 0:00
])
def test_two_business_days(start, due):
    assert business_days_after(start, 2, BERLIN) == due


def test_a_detractor_opens_exactly_one_case(program, member):
    survey = survey_create(program=program, code="nps", kind="nps")
    recorded = response_record(survey=survey, score=0, channel="pos", actor="test", member=member)

    assert followup_case_open(response=recorded.response) == recorded.case
    assert FollowUpCase.objects.count() == 1
    assert recorded.case.status == "open" and recorded.case.assignee is None


@pytest.mark.parametrize(("kind", "score", "opens"), [("nps", 6, True), ("nps", 7, False), ("csat", 2, True),
                                                      ("csat", 3, False), ("ces", 1, False)])
def test_which_answers_open_a_case(program, member, kind, score, opens):
    survey = survey_create(program=program, code="s", kind=kind)
    assert (response_record(survey=survey, score=score, channel="pos", actor="t", member=member).case is not None) \
        is opens


def test_the_admin_lists_and_shows_every_survey_record(client, program, member, django_user_model):
    from surveys.models import Invitation

    client.force_login(django_user_model.objects.create_superuser("root", password="unused-password-0001"))
    survey = survey_create(program=program, code="nps", kind="nps")
    recorded = response_record(survey=survey, score=2, channel="pos", actor="t", member=member)
    invitation = Invitation.objects.create(program=program, survey=survey, member=member, trigger="manual",
                                           trigger_key="k")
    for name, pk in [("survey", survey.pk), ("response", recorded.response.pk), ("invitation", invitation.pk),
                     ("followupcase", recorded.case.pk)]:
        assert client.get(f"/admin/surveys/{name}/").status_code == 200, name
        assert client.get(f"/admin/surveys/{name}/{pk}/change/").status_code == 200, name


def test_the_admin_refuses_bad_extra_questions(client, program, django_user_model):
    from surveys.models import Survey

    client.force_login(django_user_model.objects.create_superuser("root", password="unused-password-0001"))
    survey = survey_create(program=program, code="nps", kind="nps")
    data = {"program": program.pk, "code": "nps", "name": "NPS", "kind": "nps", "question_en": "Q", "question_de": "F",
            "follow_up_en": "", "follow_up_de": "", "extra_questions": '[{"id": "x", "type": "stars"}]',
            "active": "on", "bonus_points": 0, "sampling_rate": "1", "delay_minutes": 0, "cooldown_days": 90,
            "invitation_days": 14, "reply_target_business_days": 2}
    response = client.post(f"/admin/surveys/survey/{survey.pk}/change/", data)
    assert response.status_code == 200 and "type is choice or text" in response.content.decode()
    assert Survey.objects.get().extra_questions == []


def test_anonymising_a_member_wipes_what_they_wrote_and_keeps_the_score(program, store):
    from members.services import member_anonymise
    from surveys.models import Invitation, Response
    from tests.factories import MemberFactory

    member = MemberFactory(program=program, store=store, marketing_opt_in=True)
    survey = survey_create(program=program, code="nps", kind="nps", extra_questions=[
        {"id": "idea", "type": "text", "text_en": "Idea?", "text_de": "Idee?"}])
    response_record(survey=survey, score=3, channel="pos", actor="t", member=member, comment="I am Ada, call me",
                    answers={"idea": "Ring +49 151 000"})
    Invitation.objects.create(program=program, survey=survey, member=member, trigger="manual", trigger_key="k")

    member_anonymise(member=member)

    answer = Response.objects.get()
    assert (answer.score, answer.comment, answer.answers) == (3, "", {})
    assert Invitation.objects.get().status == "skipped"


@pytest.mark.parametrize(("answers", "field"), [(["x"], "answers"), ({"nope": 1}, "answers.nope"),
                                                ({"visit": 5}, "answers.visit"), ({"visit": True}, "answers.visit"),
                                                ({"idea": 3}, "answers.idea"), ({"idea": "x" * 2001}, "answers.idea")])
def test_extra_answers_are_checked(program, answers, field):
    survey = survey_create(program=program, code="s", kind="nps", extra_questions=[
        {"id": "visit", "type": "choice", "text_en": "Where?", "text_de": "Wo?", "choices_en": ["Store", "Online"],
         "choices_de": ["Laden", "Online"]},
        {"id": "idea", "type": "text", "text_en": "Idea?", "text_de": "Idee?"}])
    with pytest.raises(DomainError) as refused:
        response_record(survey=survey, score=9, channel="pos", actor="t", answers=answers)
    assert refused.value.errors[0]["field"] == field
