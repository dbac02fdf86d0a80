"""/staff/reports/nps.csv: the contract's one row, answers on the program's local date of answered_at, both ends
included; the same permissions and date handling as the liability report."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from programs.models import Program
from surveys.services import response_record, survey_create
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

CSV_URL = "/staff/reports/nps.csv"
COLUMNS = ["survey", "responses", "promoters", "passives", "detractors", "nps", "margin_of_error"]


def read_csv(response) -> list[dict]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv"
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.splitlines()[0] == ",".join(COLUMNS)
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def survey(program):
    return survey_create(program=program, code="nps", kind="nps")


def answer(survey, score, at=None, member=None):
    return response_record(survey=survey, score=score, channel="pos", actor="test", member=member, answered_at=at)


def query(program, start, end, code="nps"):
    return {"program": program.slug, "survey": code, "start": str(start), "end": str(end)}


def test_known_answers_give_the_contracts_row(analyst_client, program, survey, member):
    for score in [10] * 50 + [8] * 30 + [3] * 20:
        answer(survey, score)
    today = timezone.localdate()

    (row,) = read_csv(analyst_client.get(CSV_URL, query(program, today, today)))

    assert row == {"survey": "nps", "responses": "100", "promoters": "50", "passives": "30", "detractors": "20",
                   "nps": "30.0", "margin_of_error": "15.1"}


def test_a_negative_score_and_its_margin(manager_client, program, survey):
    for score in [9, 2, 5, 0, 7, 6, 10, 1, 8, 4, 3, 9]:
        answer(survey, score)
    today = timezone.localdate()
    (row,) = read_csv(manager_client.get(CSV_URL, query(program, today, today)))
    # 3 promoters, 2 passives, 7 detractors: 100 × (3 − 7) / 12 = −33.3; n' = 15, p' = 3.75/15, d' = 7.75/15
    assert (row["promoters"], row["passives"], row["detractors"]) == ("3", "2", "7")
    assert row["nps"] == "-33.3" and row["margin_of_error"] == "42.2"  # 196 × √((p' + d' − (p' − d')²) / 15)


def test_no_answers_leave_score_and_margin_empty(manager_client, program, survey):
    today = timezone.localdate()
    (row,) = read_csv(manager_client.get(CSV_URL, query(program, today, today)))
    assert row == {"survey": "nps", "responses": "0", "promoters": "0", "passives": "0", "detractors": "0",
                   "nps": "", "margin_of_error": ""}


def test_answers_count_on_the_programs_local_date_and_both_ends_are_included(manager_client, program, survey):
    Program.objects.filter(pk=program.pk).update(time_zone="Europe/Berlin")
    answer(survey, 10, at=datetime(2026, 3, 31, 22, 30, tzinfo=UTC))  # 1 April, 00:30 in Berlin
    answer(survey, 0, at=datetime(2026, 3, 31, 21, 30, tzinfo=UTC))  # 31 March, 23:30 in Berlin
    answer(survey, 9, at=datetime(2026, 4, 30, 21, 59, tzinfo=UTC))  # 30 April, 23:59 in Berlin
    answer(survey, 9, at=datetime(2026, 4, 30, 22, 0, tzinfo=UTC))  # 1 May in Berlin

    (row,) = read_csv(manager_client.get(CSV_URL, query(program, "2026-04-01", "2026-04-30")))

    assert (row["responses"], row["promoters"], row["detractors"]) == ("2", "2", "0")
    (march,) = read_csv(manager_client.get(CSV_URL, query(program, "2026-03-31", "2026-03-31")))
    assert (march["responses"], march["detractors"], march["nps"]) == ("1", "1", "-100.0")


def test_anonymous_and_other_surveys_answers(manager_client, program, survey, store):
    other = survey_create(program=program, code="nps-2", kind="nps")
    answer(survey, 10)
    answer(survey, 0, member=MemberFactory(program=program, store=store))
    answer(other, 10)
    today = timezone.localdate()
    (row,) = read_csv(manager_client.get(CSV_URL, query(program, today, today)))
    assert (row["responses"], row["nps"]) == ("2", "0.0")


@pytest.mark.parametrize("bad", [{"start": "2026-13-01"}, {"end": "yesterday"}, {"start": "2026-05-02", "end":
                                 "2026-05-01"}, {"survey": ""}, {"survey": "csat"}])
def test_bad_parameters_answer_a_clear_400(manager_client, program, survey, bad):
    survey_create(program=program, code="csat", kind="csat")
    params = {**query(program, "2026-05-01", "2026-05-31"), **bad}
    response = manager_client.get(CSV_URL, params)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")


def test_unknown_survey_or_another_programs_slug_is_404(manager_client, program, survey, other_program):
    survey_create(program=other_program, code="theirs", kind="nps")
    today = timezone.localdate()
    assert manager_client.get(CSV_URL, query(program, today, today, code="nope")).status_code == 404
    assert manager_client.get(CSV_URL, query(program, today, today, code="nps\x00")).status_code == 404
    assert manager_client.get(CSV_URL, query(program, today, today, code="n" * 10_000)).status_code == 404
    assert manager_client.get(CSV_URL, query(program, today, today, code="theirs")).status_code == 404
    assert manager_client.get(CSV_URL, query(other_program, today, today)).status_code == 404


def test_agents_may_not_download_it_and_analysts_and_managers_may(agent_client, analyst_client, manager_client,
                                                                  program, survey):
    today = timezone.localdate()
    assert agent_client.get(CSV_URL, query(program, today, today)).status_code == 403
    assert analyst_client.get(CSV_URL, query(program, today, today)).status_code == 200
    assert manager_client.get(CSV_URL, query(program, today, today)).status_code == 200


def test_the_figures_agree_with_the_scoring_functions(manager_client, program, survey):
    from surveys.scoring import NpsCounts, nps, nps_margin_of_error

    scores = [10, 9, 9, 7, 6, 5, 10, 8, 0]
    yesterday = timezone.now() - timedelta(days=1)
    for score in scores:
        answer(survey, score, at=yesterday)
    day = timezone.localtime(yesterday).date()
    (row,) = read_csv(manager_client.get(CSV_URL, query(program, day, day)))
    counts = NpsCounts.of_scores(scores)
    assert row["nps"] == str(nps(counts)) and row["margin_of_error"] == str(nps_margin_of_error(counts))
