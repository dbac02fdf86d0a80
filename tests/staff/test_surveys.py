"""The staff survey pages: the list, a survey's scores (the same figures as nps.csv), the definition form, the
follow-up cases and their goodwill points; each role sees and does what the permission map says, a bad value
is answered beside its field with 400, and another program's ids are not found."""

import csv
import io
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from ledger.selectors import account_balance_get
from staff.models import Adjustment
from surveys.models import FollowUpCase, FollowUpCaseChange, Survey
from surveys.services import response_record, survey_create
from tests.factories import MemberFactory, StoreFactory

pytestmark = pytest.mark.django_db

ROLES = ["manager", "agent", "analyst"]


@pytest.fixture
def survey(program):
    return survey_create(program=program, code="nps", kind="nps")


@pytest.fixture
def other_survey(other_program):
    return survey_create(program=other_program, code="nps", kind="nps")


def answer(survey, score, *, member=None, store=None, at=None, comment=""):
    return response_record(survey=survey, score=score, channel="pos", actor="test", member=member, store=store,
                           answered_at=at, comment=comment)


@pytest.fixture
def case(survey, member):
    return answer(survey, 2, member=member, comment="The coffee machine was broken again").case


def page_of(response) -> str:
    return response.content.decode()


def field_error(response, name: str) -> str:
    """The message beside a field (components/field.html)."""
    page = page_of(response)
    marker = f'id="field-{name}"'
    assert marker in page, name
    block = page.split(marker, 1)[1].split('<div class="field', 1)[0]
    assert 'class="field-error"' in block, block
    return block.split('class="field-error"', 1)[1].split("</p>", 1)[0]


# --- the list and the navigation -------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["manager", "analyst"])
def test_managers_and_analysts_find_the_surveys_in_the_navigation_and_only_managers_may_add_one(role, request,
                                                                                                survey):
    client = request.getfixturevalue(f"{role}_client")
    home = page_of(client.get("/staff/"))
    assert '<a href="/staff/surveys/"' in home and ">Surveys</a>" in home
    assert '<a href="/staff/surveys/cases/"' in home and ">Cases</a>" in home

    response = client.get("/staff/surveys/")

    assert response.status_code == 200
    assert f'href="/staff/surveys/{survey.pk}/"' in page_of(response)
    assert ("New survey" in page_of(response)) is (role == "manager")


def test_agents_find_the_cases_but_not_the_scores(agent_client, survey):
    home = page_of(agent_client.get("/staff/"))
    assert '<a href="/staff/surveys/cases/"' in home and '<a href="/staff/surveys/"' not in home
    assert agent_client.get("/staff/surveys/").status_code == 403
    assert agent_client.get(f"/staff/surveys/{survey.pk}/").status_code == 403
    assert agent_client.get("/staff/surveys/cases/").status_code == 200


def test_another_programs_surveys_are_not_listed(manager_client, other_survey):
    assert str(other_survey.pk) not in page_of(manager_client.get("/staff/surveys/"))


# --- one survey's scores ---------------------------------------------------------------------------------


def test_the_page_shows_the_nps_its_margin_and_the_counts(analyst_client, survey):
    for score in [10] * 50 + [8] * 30 + [3] * 20:
        answer(survey, score)

    response = analyst_client.get(f"/staff/surveys/{survey.pk}/")

    assert response.status_code == 200
    page = page_of(response)
    assert 'data-testid="nps">30.0<' in page and 'data-testid="margin">±15.1<' in page
    assert 'data-testid="promoters">50<' in page and 'data-testid="passives">30<' in page
    assert 'data-testid="detractors">20<' in page and 'data-testid="responses">100<' in page
    assert 'id="survey-trend-chart"' in page and 'id="survey-trend-data"' in page
    assert "Month by month, the figures behind the chart" in page


def test_the_csv_link_gives_the_figures_the_page_shows(manager_client, survey, program):
    for score in [9, 2, 5, 0, 7, 6, 10, 1, 8, 4, 3, 9]:
        answer(survey, score)
    today = timezone.localdate()
    start = today - timedelta(days=20)

    response = manager_client.get(f"/staff/surveys/{survey.pk}/", {"start": start, "end": today})
    page = page_of(response)
    href = f"/staff/reports/nps.csv?program={program.slug}&amp;survey=nps&amp;start={start}&amp;end={today}"
    assert href in page
    exported = manager_client.get(href.replace("&amp;", "&"))
    (row,) = csv.DictReader(io.StringIO(b"".join(exported.streaming_content).decode()))

    context = response.context
    assert row["nps"] == str(context["current"].nps) == "-33.3"
    assert row["margin_of_error"] == str(context["current"].margin_of_error) == "42.2"
    for name in ("promoters", "passives", "detractors"):
        assert row[name] == str(getattr(context["current"].counts, name))
        assert f'data-testid="{name}">{row[name]}<' in page
    assert row["responses"] == str(context["current"].responses) == "12"
    assert f'data-testid="nps">{row["nps"]}<' in page and f'data-testid="margin">±{row["margin_of_error"]}<' in page


def test_a_breakdown_with_too_few_answers_shows_no_number(manager_client, survey, program):
    big, small = StoreFactory(program=program, name="Big Store"), StoreFactory(program=program, name="Tiny Kiosk")
    for score in [10] * 30:
        answer(survey, score, store=big)
    answer(survey, 0, store=small)

    page = page_of(manager_client.get(f"/staff/surveys/{survey.pk}/"))

    store_table = page.split('id="breakdown-store"', 1)[1].split("</table>", 1)[0]
    big_row = store_table.split("Big Store", 1)[1].split("</tr>", 1)[0]
    small_row = store_table.split("Tiny Kiosk", 1)[1].split("</tr>", 1)[0]
    assert "100.0" in big_row and "too few answers" not in big_row
    assert "too few answers" in small_row and "-100.0" not in small_row
    assert 'class="survey-row-few"' in store_table


def test_the_change_from_the_period_before_is_marked_significant_or_not(manager_client, survey):
    now = timezone.now()
    for score in [10] * 50 + [8] * 30 + [3] * 20:
        answer(survey, score, at=now - timedelta(days=5))
    for score in [10] * 30 + [8] * 30 + [3] * 40:
        answer(survey, score, at=now - timedelta(days=95))

    response = manager_client.get(f"/staff/surveys/{survey.pk}/")  # the last 90 days against the 90 before

    assert response.context["comparison"].significant
    assert 'data-testid="significance">significant<' in page_of(response)
    assert "at least 1.96 either way" in page_of(response)

    few = manager_client.get(f"/staff/surveys/{survey.pk}/", {"start": timezone.localdate() - timedelta(days=6),
                                                            "end": timezone.localdate()})
    # the 7 days before have no answers: nothing to compare
    assert "Nothing to compare" in page_of(few)


def test_bonus_answers_are_shown_apart(manager_client, program, store):
    survey = survey_create(program=program, code="nps", kind="nps", bonus_points=50)
    answer(survey, 10, member=MemberFactory(program=program, store=store, email="b@example.com"))
    answer(survey, 0)

    response = manager_client.get(f"/staff/surveys/{survey.pk}/")

    assert response.context["with_bonus"].responses == 1 and response.context["without_bonus"].responses == 1
    page = page_of(response)
    assert "Answers given for a bonus" in page
    assert 'data-testid="with-bonus"><span class="survey-few">too few answers' in page


@pytest.mark.parametrize(("kind", "scores", "shown"), [("csat", [5, 4, 1, 2], 'data-testid="csat">50.0 %<'),
                                                      ("ces", [7, 6, 2], 'data-testid="ces">5.0<')])
def test_csat_and_ces_surveys_show_their_own_figures(manager_client, program, kind, scores, shown):
    survey = survey_create(program=program, code=kind, kind=kind)
    for score in scores:
        answer(survey, score)

    response = manager_client.get(f"/staff/surveys/{survey.pk}/")

    assert response.status_code == 200 and shown in page_of(response)
    assert 'data-testid="nps"' not in page_of(response) and "nps.csv" not in page_of(response)


@pytest.mark.parametrize("query", [{"start": "yesterday", "end": "2026-01-01"}, {"start": "2026-02-01",
                                                                                   "end": "2026-01-01"},
                                   {"start": "99999-01-01", "end": "2026-01-01"}])
def test_bad_dates_are_answered_beside_the_field(manager_client, survey, query):
    response = manager_client.get(f"/staff/surveys/{survey.pk}/", query)

    assert response.status_code == 400
    assert "field-error" in page_of(response)


def test_another_programs_or_an_unknown_survey_is_not_found(manager_client, other_survey):
    assert manager_client.get(f"/staff/surveys/{other_survey.pk}/").status_code == 404
    assert manager_client.get(f"/staff/surveys/{uuid.uuid4()}/").status_code == 404
    assert manager_client.get("/staff/surveys/not-a-survey/").status_code == 404
    assert manager_client.get(f"/staff/surveys/{other_survey.pk}/edit/").status_code == 404
    assert manager_client.post(f"/staff/surveys/{other_survey.pk}/edit/", {}).status_code == 404


# --- the definition form ---------------------------------------------------------------------------------

VALID = {"kind": "csat", "code": "store-visit", "name": "After a store visit", "question_en": "",
         "question_de": "", "follow_up_en": "Why?", "follow_up_de": "Warum?", "active": "on",
         "starts_at": "2026-05-01T09:00", "ends_at": "", "on_purchase": "on", "sampling_percent": "25",
         "delay_minutes": "30", "cooldown_days": "60", "invitation_days": "7", "reply_target_business_days": "3",
         "bonus_points": "20"}


def test_a_manager_creates_a_survey(manager_client, program):
    response = manager_client.get("/staff/surveys/new/")
    assert response.status_code == 200 and "Create survey" in page_of(response)

    response = manager_client.post("/staff/surveys/new/", VALID)

    survey = Survey.objects.get(program=program, code="store-visit")
    assert response.status_code == 302 and response["Location"] == f"/staff/surveys/{survey.pk}/"
    assert (survey.kind, survey.sampling_rate, survey.delay_minutes, survey.cooldown_days) == (
        "csat", Decimal("0.2500"), 30, 60)
    assert survey.on_purchase and not survey.on_redemption and survey.bonus_points == 20
    assert survey.question_en == "How satisfied are you with {program}?"  # the kind's wording when left empty
    assert survey.starts_at.isoformat() == "2026-05-01T09:00:00+00:00"


@pytest.mark.parametrize(("change", "field"), [
    ({"code": "no spaces"}, "code"),
    ({"kind": "stars"}, "kind"),
    ({"sampling_percent": "150"}, "sampling_percent"),
    ({"sampling_percent": "-1"}, "sampling_percent"),
    ({"delay_minutes": "99999999999999999999"}, "delay_minutes"),
    ({"bonus_points": "ten"}, "bonus_points"),
    ({"invitation_days": "0"}, "invitation_days"),
    ({"starts_at": "tomorrow"}, "starts_at"),
    ({"ends_at": "2026-04-01T09:00"}, "ends_at"),
    ({"question_en": "x" * 301}, "question_en"),
])
def test_a_bad_definition_is_answered_beside_its_field_and_nothing_is_created(manager_client, program, change,
                                                                              field):
    response = manager_client.post("/staff/surveys/new/", {**VALID, **change})

    assert response.status_code == 400
    assert field_error(response, field)
    assert not Survey.objects.filter(program=program).exists()


def test_a_code_the_program_has_already_is_refused_beside_the_code(manager_client, survey):
    response = manager_client.post("/staff/surveys/new/", {**VALID, "code": "nps"})

    assert response.status_code == 400
    assert "already has a survey nps" in field_error(response, "code")


def test_a_manager_edits_a_survey_but_not_its_code_or_kind(manager_client, survey):
    response = manager_client.get(f"/staff/surveys/{survey.pk}/edit/")
    assert response.status_code == 200 and 'name="code"' not in page_of(response)

    response = manager_client.post(f"/staff/surveys/{survey.pk}/edit/", {
        **VALID, "code": "other", "kind": "ces", "name": "NPS after purchases", "question_en": "Recommend us?",
        "question_de": "Empfehlen?", "sampling_percent": "10", "bonus_points": "0"})

    assert response.status_code == 302
    survey.refresh_from_db()
    assert (survey.code, survey.kind, survey.name) == ("nps", "nps", "NPS after purchases")
    assert survey.sampling_rate == Decimal("0.1000") and survey.question_en == "Recommend us?"


def test_an_edit_that_empties_a_required_question_is_refused(manager_client, survey):
    response = manager_client.post(f"/staff/surveys/{survey.pk}/edit/", {**VALID, "question_en": ""})

    assert response.status_code == 400 and field_error(response, "question_en")
    survey.refresh_from_db()
    assert survey.question_en.startswith("How likely")


@pytest.mark.parametrize("role", ["agent", "analyst"])
def test_agents_and_analysts_may_not_define_surveys(role, request, survey, program):
    client = request.getfixturevalue(f"{role}_client")
    assert client.get("/staff/surveys/new/").status_code == 403
    assert client.post("/staff/surveys/new/", VALID).status_code == 403
    assert client.post(f"/staff/surveys/{survey.pk}/edit/", {**VALID, "name": "Changed"}).status_code == 403
    assert Survey.objects.filter(program=program).count() == 1 and Survey.objects.get().name != "Changed"


# --- follow-up cases -------------------------------------------------------------------------------------


def test_the_queue_shows_overdue_cases_first_and_filters_by_status_and_assignee(manager_client, survey, program,
                                                                              store, manager, agent):
    members = [MemberFactory(program=program, store=store, email=f"m{i}@example.com") for i in range(3)]
    later, overdue, closed = (answer(survey, 1, member=m).case for m in members)
    FollowUpCase.objects.filter(pk=overdue.pk).update(due_at=timezone.now() - timedelta(hours=3))
    FollowUpCase.objects.filter(pk=closed.pk).update(status="closed", root_cause="Price")
    FollowUpCase.objects.filter(pk=later.pk).update(assignee=agent)

    response = manager_client.get("/staff/surveys/cases/")
    assert response.status_code == 200
    assert [c.pk for c in response.context["cases"]] == [overdue.pk, later.pk]
    assert "Overdue" in page_of(response)

    assert [c.pk for c in manager_client.get("/staff/surveys/cases/", {"status": "closed"}).context["cases"]] == [
        closed.pk]
    assert len(manager_client.get("/staff/surveys/cases/", {"status": "all"}).context["cases"]) == 3
    mine = manager_client.get("/staff/surveys/cases/", {"assignee": str(agent.pk)})
    assert [c.pk for c in mine.context["cases"]] == [later.pk]
    nobody = manager_client.get("/staff/surveys/cases/", {"assignee": "none"})
    assert [c.pk for c in nobody.context["cases"]] == [overdue.pk]
    assert manager_client.get("/staff/surveys/cases/", {"status": "lost"}).status_code == 400
    assert manager_client.get("/staff/surveys/cases/", {"assignee": "999999"}).status_code == 400


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_a_case_with_the_answer_and_the_member(role, request, case, member):
    response = request.getfixturevalue(f"{role}_client").get(f"/staff/surveys/cases/{case.pk}/")

    assert response.status_code == 200
    page = page_of(response)
    assert "The coffee machine was broken again" in page and 'data-testid="case-score">2 of 10' in page
    assert (f'href="/staff/members/{member.pk}/"' in page) is (role != "analyst")  # analysts see no member page
    assert ("Save case" in page) is (role != "analyst")
    assert ("Give goodwill points" in page) is (role != "analyst")


def test_a_case_is_worked_to_its_close_and_each_step_is_in_its_history(manager_client, case, manager, agent):
    url = f"/staff/surveys/cases/{case.pk}/work/"
    response = manager_client.post(url, {"status": "in_progress", "assignee": str(agent.pk),
                                         "note": "Called the member", "root_cause": "", "seen_changes": 0})
    assert response.status_code == 302
    case.refresh_from_db()
    assert (case.status, case.assignee) == ("in_progress", agent)

    refused = manager_client.post(url, {"status": "closed", "assignee": str(agent.pk), "root_cause": "",
                                        "seen_changes": 1})
    assert refused.status_code == 400
    assert "root cause" in field_error(refused, "root_cause")
    case.refresh_from_db()
    assert case.status == "in_progress"

    closed = manager_client.post(url, {"status": "closed", "assignee": str(agent.pk), "root_cause": "Broken machine",
                                       "seen_changes": 1})
    assert closed.status_code == 302
    case.refresh_from_db()
    assert (case.status, case.root_cause) == ("closed", "Broken machine") and case.closed_at
    steps = list(FollowUpCaseChange.objects.filter(case=case).values_list("from_status", "to_status"))
    assert steps == [("open", "in_progress"), ("in_progress", "closed")]
    page = page_of(manager_client.get(f"/staff/surveys/cases/{case.pk}/"))
    assert "Called the member" in page and "Broken machine" in page


def test_a_move_that_makes_no_sense_is_refused_beside_the_status(manager_client, case):
    FollowUpCase.objects.filter(pk=case.pk).update(status="closed", root_cause="Price")

    response = manager_client.post(f"/staff/surveys/cases/{case.pk}/work/", {"status": "resolved", "assignee": "",
                                                                          "root_cause": "Price", "seen_changes": 0})

    assert response.status_code == 400 and "cannot become resolved" in field_error(response, "status")
    case.refresh_from_db()
    assert case.status == "closed"


@pytest.mark.parametrize("data", [{"status": "lost"}, {"status": "open", "assignee": "12345678"},
                                  {"status": "open", "root_cause": "x" * 201}, {}])
def test_bad_values_for_a_case_are_refused(manager_client, case, data):
    response = manager_client.post(f"/staff/surveys/cases/{case.pk}/work/", data)
    assert response.status_code == 400
    assert FollowUpCaseChange.objects.filter(case=case).count() == 0


def test_an_agent_works_cases_and_an_analyst_may_not(agent_client, analyst_client, case):
    url = f"/staff/surveys/cases/{case.pk}/work/"
    assert analyst_client.post(url, {"status": "in_progress", "assignee": "", "seen_changes": 0}).status_code == 403
    assert analyst_client.post(f"/staff/surveys/cases/{case.pk}/goodwill/", {"points": "10"}).status_code == 403
    case.refresh_from_db()
    assert case.status == "open"

    assert agent_client.post(url, {"status": "in_progress", "assignee": "", "seen_changes": 0}).status_code == 302
    case.refresh_from_db()
    assert case.status == "in_progress"


def test_another_programs_case_is_not_found(manager_client, other_survey, other_program):
    stranger = MemberFactory(program=other_program, store=StoreFactory(program=other_program),
                             email="x@example.com")
    theirs = answer(other_survey, 0, member=stranger).case
    for url in (f"/staff/surveys/cases/{theirs.pk}/", f"/staff/surveys/cases/{uuid.uuid4()}/"):
        assert manager_client.get(url).status_code == 404
    assert manager_client.post(f"/staff/surveys/cases/{theirs.pk}/work/", {"status": "closed"}).status_code == 404
    assert manager_client.post(f"/staff/surveys/cases/{theirs.pk}/goodwill/", {"points": "5"}).status_code == 404
    assert str(theirs.pk) not in page_of(manager_client.get("/staff/surveys/cases/", {"status": "all"}))


# --- goodwill --------------------------------------------------------------------------------------------


def goodwill(client, case, points, *, token=None, message="Sorry about the machine"):
    return client.post(f"/staff/surveys/cases/{case.pk}/goodwill/", {
        "points": str(points), "message": message, "token": token or uuid.uuid4().hex})


def test_goodwill_up_to_the_threshold_posts_once_and_is_noted_on_the_case(manager_client, case, member):
    before = account_balance_get(member=member, fresh=True)["available"]
    token = uuid.uuid4().hex

    assert goodwill(manager_client, case, 200, token=token).status_code == 302
    assert goodwill(manager_client, case, 200, token=token).status_code == 302  # a double submit

    assert account_balance_get(member=member, fresh=True)["available"] == before + 200
    (adjustment,) = Adjustment.objects.filter(member=member)
    assert (adjustment.status, adjustment.reason_code) == ("posted", "goodwill")
    case.refresh_from_db()
    assert case.notes.count("Goodwill: +200 points, posted.") == 1


def test_goodwill_above_the_threshold_waits_for_another_manager(manager_client, case, member):
    before = account_balance_get(member=member, fresh=True)["available"]

    assert goodwill(manager_client, case, 1500).status_code == 302

    assert account_balance_get(member=member, fresh=True)["available"] == before
    assert Adjustment.objects.get(member=member).status == "pending"
    assert "waiting for a second manager" in FollowUpCase.objects.get(pk=case.pk).notes


@pytest.mark.parametrize(("points", "message", "field"), [(600, "Sorry", "points"), (0, "Sorry", "points"),
                                                          ("lots", "Sorry", "points"), (10, "", "message"),
                                                          (10**12, "Sorry", "points")])
def test_bad_goodwill_is_refused_beside_the_field(agent_client, case, member, points, message, field):
    response = goodwill(agent_client, case, points, message=message)  # agents may give at most 500

    assert response.status_code == 400 and field_error(response, field)
    assert not Adjustment.objects.filter(member=member).exists()


def test_goodwill_without_a_form_token_is_refused(manager_client, case, member):
    response = manager_client.post(f"/staff/surveys/cases/{case.pk}/goodwill/", {"points": "10", "message": "x"})
    assert response.status_code == 400 and not Adjustment.objects.filter(member=member).exists()
