"""Staff survey pages: a survey's scores for a range of dates (the figures the NPS export gives), and the
follow-up cases, worked by agents and managers, read by analysts, never seen across programs; overdue cases on the
managers' home page and emailed to them once."""

import re

import pytest
from django.utils import timezone

from staff.models import AuditEvent
from surveys.models import FollowUpCase
from surveys.services import response_record, survey_create
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def nps(program):
    return survey_create(program=program, code="nps", kind="nps", name="How was your visit?")


@pytest.fixture
def case(program, store, nps):
    member = MemberFactory(program=program, store=store, first_name="Dora", last_name="Diaz")
    return response_record(survey=nps, score=2, channel="pos", actor="t", member=member,
                           comment="The queue was far too long").case


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_the_scores_page_shows_what_the_export_gives(analyst_client, program, nps):
    survey_create(program=program, code="csat", kind="csat", name="Satisfaction")
    for score in [10] * 50 + [8] * 30 + [3] * 20:
        response_record(survey=nps, score=score, channel="pos", actor="t", comment="queue long" if score < 7 else "")
    today = timezone.localdate()

    assert "Satisfaction" in text(analyst_client.get("/staff/surveys/"))
    page = text(analyst_client.get(f"/staff/surveys/{nps.pk}/", {"start": str(today), "end": str(today)}))
    csv = b"".join(analyst_client.get("/staff/reports/nps.csv", {"program": program.slug, "survey": "nps",
                                                                  "start": str(today), "end": str(today)})
                   .streaming_content).decode()

    assert csv.splitlines()[1] == "nps,100,50,30,20,30.0,15.1"
    assert "How was your visit?" in page and ">30.0<" in page and "±15.1" in page
    assert "What they talk about" in page and "Detractors (0–6)" in page and "queue long" in page
    assert "nps.csv?program=coffee" in page


def test_few_answers_are_greyed(manager_client, nps):
    response_record(survey=nps, score=10, channel="pos", actor="t")
    page = text(manager_client.get(f"/staff/surveys/{nps.pk}/"))
    assert "survey-few" in page and "too few answers" in page


def test_bad_dates_answer_the_form_again(manager_client, nps):
    response = manager_client.get(f"/staff/surveys/{nps.pk}/", {"start": "2026-05-02", "end": "2026-05-01"})
    assert response.status_code == 400
    assert "The last date comes before the first." in text(response)


def test_agents_may_not_see_scores_but_work_cases(agent_client, case):
    assert agent_client.get("/staff/surveys/").status_code == 403
    assert agent_client.get("/staff/surveys/cases/").status_code == 200
    assert agent_client.get(f"/staff/surveys/cases/{case.pk}/").status_code == 200


def test_the_case_list_shows_open_cases_soonest_first_and_marks_overdue(manager_client, case):
    FollowUpCase.objects.filter(pk=case.pk).update(due_at=timezone.now() - timezone.timedelta(hours=1))
    page = text(manager_client.get("/staff/surveys/cases/"))
    assert "Dora Diaz" in page and "Overdue" in page and "The queue was far too long" in page
    assert "Dora Diaz" in text(manager_client.get("/staff/surveys/cases/", {"status": "overdue"}))
    assert "Dora Diaz" not in text(manager_client.get("/staff/surveys/cases/", {"status": "closed"}))
    assert manager_client.get("/staff/surveys/cases/", {"status": "nonsense"}).status_code == 400


def test_a_manager_works_a_case_to_closure(manager_client, manager, case):
    url = f"/staff/surveys/cases/{case.pk}/"
    page = text(manager_client.get(url))
    assert 'name="status"' in page and ">Save case</button>" in page

    response = manager_client.post(f"{url}work/", {"status": "in_progress", "assignee": manager.pk,
                                                   "note": "Called Dora", "root_cause": "", "seen_changes": 0})
    assert response.status_code == 302
    case.refresh_from_db()
    assert (case.status, case.assignee) == ("in_progress", manager)

    refused = manager_client.post(f"{url}work/", {"status": "closed", "assignee": manager.pk, "note": "",
                                                  "root_cause": "", "seen_changes": 1})
    assert refused.status_code == 400 and "Name the root cause to close the case." in text(refused)
    case.refresh_from_db()
    assert case.status == "in_progress"

    done = manager_client.post(f"{url}work/", {"status": "closed", "assignee": manager.pk, "note": "Sorted",
                                     "root_cause": "Lunchtime queue", "seen_changes": 1})
    assert done.status_code == 302
    case.refresh_from_db()
    assert (case.status, case.root_cause) == ("closed", "Lunchtime queue")
    assert AuditEvent.objects.filter(action="case.update").count() == 2
    assert "Called Dora" in text(manager_client.get(url)) and "Sorted" in text(manager_client.get(url))


def test_the_same_form_sent_twice_changes_the_case_once(manager_client, manager, case):
    url = f"/staff/surveys/cases/{case.pk}/"
    data = {"status": "in_progress", "assignee": "", "note": "Called", "root_cause": "", "seen_changes": 0}
    assert manager_client.post(f"{url}work/", data).status_code == 302
    again = manager_client.post(f"{url}work/", data)
    assert again.status_code == 409 and "has changed since you opened it" in text(again)
    case.refresh_from_db()
    assert case.notes.count("Called") == 1


@pytest.mark.parametrize("data", [{"status": "nonsense"}, {"status": "resolved", "seen_changes": "x"},
                                  {"status": "resolved", "assignee": "999999"}, {"root_cause": "x" * 500},
                                  {"note": "a\x00b"}])
def test_odd_input_answers_400_and_changes_nothing(manager_client, case, data):
    base = {"status": "in_progress", "assignee": "", "note": "", "root_cause": "", "seen_changes": 0}
    response = manager_client.post(f"/staff/surveys/cases/{case.pk}/work/", {**base, **data})
    assert response.status_code == 400
    case.refresh_from_db()
    assert case.status == "open" and not case.changes.exists()


def test_analysts_read_cases_but_may_not_work_them(analyst_client, case):
    page = text(analyst_client.get(f"/staff/surveys/cases/{case.pk}/"))
    assert "The queue was far too long" in page and ">Save case</button>" not in page
    response = analyst_client.post(f"/staff/surveys/cases/{case.pk}/work/",
                                   {"status": "in_progress", "seen_changes": 0})
    assert response.status_code == 403
    case.refresh_from_db()
    assert case.status == "open"


def test_another_programs_case_is_404(other_manager, case, other_program):
    from tests.staff.conftest import client_for

    other = client_for(other_manager)
    assert other.get(f"/staff/surveys/cases/{case.pk}/").status_code == 404
    assert other.post(f"/staff/surveys/cases/{case.pk}/work/", {"status": "closed"}).status_code == 404
    assert other.get("/staff/surveys/cases/not-a-uuid/").status_code == 404
    assert "Dora" not in text(other.get("/staff/surveys/cases/"))


def test_the_scores_page_breaks_down_and_compares_with_the_period_before(manager_client, program, store, nps):
    from datetime import timedelta

    now = timezone.now()
    for score in [10] * 20 + [0] * 20:
        response_record(survey=nps, score=score, channel="pos", actor="t", answered_at=now - timedelta(days=10),
                        store=store)
    for score in [10] * 35 + [0] * 5:
        response_record(survey=nps, score=score, channel="pos", actor="t", answered_at=now, store=store)
    today = timezone.localdate()
    start = today - timedelta(days=6)

    page = text(manager_client.get(f"/staff/surveys/{nps.pk}/", {"start": str(start), "end": str(today)}))

    assert ">75.0<" in page and "+75.0" in page and "significant" in page and "not significant" not in page
    assert "By store" in page and "By tier" in page and "By enrolment quarter" in page
    assert "By time since the last purchase" in page and store.name in page


def test_overdue_cases_show_on_the_managers_home_and_are_emailed_once(manager_client, agent_client, manager, case,
                                                                      program):
    from datetime import timedelta

    from django.core import mail
    from django.core.management import call_command

    from staff.tasks import escalate_overdue_cases

    manager.email = "boss@example.com"
    manager.save()
    assert "Survey cases overdue" not in text(manager_client.get("/staff/"))
    FollowUpCase.objects.filter(pk=case.pk).update(due_at=timezone.now() - timedelta(hours=2))

    home = text(manager_client.get("/staff/"))
    assert "Survey cases overdue" in home and "/staff/surveys/cases/?status=overdue" in home
    assert "Survey cases overdue" not in text(agent_client.get("/staff/"))

    assert escalate_overdue_cases() == 1
    (message,) = mail.outbox
    assert message.to == ["boss@example.com"] and "1 survey follow-up case overdue" in message.subject
    assert f"/staff/surveys/cases/{case.pk}/" in message.body and "Dora Diaz" in message.body
    call_command("escalate_overdue_cases", stdout=__import__("io").StringIO())
    assert len(mail.outbox) == 1  # once per case


def test_an_agent_tags_the_answer_with_topics_and_they_become_a_breakdown(agent_client, manager_client, case, nps):
    url = f"/staff/surveys/cases/{case.pk}/topics/"
    assert agent_client.post(url, {"topics": "Queue, lunchtime , queue"}).status_code == 302
    assert sorted(case.response.topics.values_list("name", flat=True)) == ["Queue", "lunchtime"]
    assert AuditEvent.objects.filter(action="survey.topics").count() == 1
    page = text(agent_client.get(f"/staff/surveys/cases/{case.pk}/"))
    assert 'value="Queue, lunchtime"' in page or 'value="lunchtime, Queue"' in page

    refused = agent_client.post(url, {"topics": "x" * 61})
    assert refused.status_code == 400 and "at most 60 characters" in text(refused)
    scores = text(manager_client.get(f"/staff/surveys/{nps.pk}/"))
    topic_table = scores.split('id="breakdown-topic"', 1)[1].split("</table>", 1)[0]
    assert ">Queue<" in topic_table and ">lunchtime<" in topic_table


def test_analysts_may_not_tag(analyst_client, case):
    assert analyst_client.post(f"/staff/surveys/cases/{case.pk}/topics/", {"topics": "x"}).status_code == 403
    assert not case.response.topics.exists()
