"""NPS broken down by store, tier, enrolment cohort, time since the last purchase and topic: five queries in all."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from earning.services import purchase_record
from members.models import Member
from programs.demo import demo_seed
from surveys.breakdowns import survey_breakdowns
from surveys.models import Survey
from surveys.scoring import NpsCounts
from surveys.services import response_record
from tests.factories import MemberFactory, StoreFactory


def breakdowns(**window) -> dict:
    return {b.key: [(group.label, group.counts) for group in b.groups]
            for b in survey_breakdowns(**window, zone=timezone.get_current_timezone())}


def test_breakdowns(db, django_assert_num_queries):
    demo = demo_seed(api_key="breakdown-key-0001")
    program, store = demo.program, demo.store
    survey = Survey.objects.get(program=program, code="nps")
    airport = StoreFactory(program=program, code="AIR-1", name="Airport")
    now = timezone.now()
    gold = MemberFactory(program=program, store=store, email="gold@example.com")
    purchase_record(store=store, actor="t", external_id="G-1", member_reference={"id": str(gold.pk)},
                    currency="EUR", total=Decimal("2500.00"), occurred_at=now - timedelta(days=40))
    new = MemberFactory(program=program, store=store, email="new@example.com")
    old = MemberFactory(program=program, store=store, email="old@example.com")
    Member.objects.filter(pk=old.pk).update(enrolled_at=now.replace(year=now.year - 1))
    purchase_record(store=store, actor="t", external_id="O-1", member_reference={"id": str(old.pk)},
                    currency="EUR", total=Decimal("5.00"), occurred_at=now - timedelta(days=2))

    def answer(score, member=None, at_store=None):
        response_record(survey=survey, score=score, channel="pos", actor="t", member=member, store=at_store)

    answer(10, gold, store)
    answer(3, new, airport)
    answer(9, old, store)
    answer(0)  # anonymous, at no store
    window = {"survey": survey, "start_at": now - timedelta(hours=1), "end_at": now + timedelta(hours=1)}

    with django_assert_num_queries(5):
        found = breakdowns(**window)
    assert found["store"] == [("Airport", NpsCounts(0, 0, 1)), (store.name, NpsCounts(2, 0, 0)),
                              ("No store (email or portal)", NpsCounts(0, 0, 1))]
    assert found["tier"] == [  # the new member has not bought yet: no tier
        ("Bronze", NpsCounts(1, 0, 0)), ("Gold", NpsCounts(1, 0, 0)), ("No tier", NpsCounts(0, 0, 1)),
        ("Anonymous answers", NpsCounts(0, 0, 1))]
    quarter = f"Q{(now.month - 1) // 3 + 1} {now.year}"
    last_year = f"Q{(now.month - 1) // 3 + 1} {now.year - 1}"
    assert found["cohort"] == [
        (last_year, NpsCounts(1, 0, 0)), (quarter, NpsCounts(1, 0, 1)), ("Anonymous answers", NpsCounts(0, 0, 1))]
    assert found["recency"] == [
        ("Bought within 30 days", NpsCounts(1, 0, 0)), ("31 to 90 days", NpsCounts(1, 0, 0)),
        ("No purchase before answering", NpsCounts(0, 0, 1)), ("Anonymous answers", NpsCounts(0, 0, 1))]


def test_topics_tag_answers_and_become_a_breakdown(program):
    from datetime import timedelta

    import pytest

    from loyalty.errors import DomainError
    from surveys.models import Topic
    from surveys.selectors import topic_suggestions
    from surveys.services import response_topics_set, survey_create

    survey = survey_create(program=program, code="nps", kind="nps")
    queue = response_record(survey=survey, score=2, channel="pos", actor="t", comment="Long queue at lunch").response
    both = response_record(survey=survey, score=9, channel="pos", actor="t",
                           comment="Long queue, friendly staff").response
    response_record(survey=survey, score=10, channel="pos", actor="t", comment="Friendly staff")
    now = timezone.now()
    window = {"survey": survey, "start_at": now - timedelta(hours=1), "end_at": now + timedelta(hours=1)}

    assert topic_suggestions(**window) == ["friendly staff", "long queue"]
    response_topics_set(response=queue, names=["Queue ", "queue"])
    response_topics_set(response=both, names=["queue", "Staff"])

    assert list(Topic.objects.values_list("name", flat=True)) == ["Queue", "Staff"]
    assert breakdowns(**window)["topic"] == [("Queue", NpsCounts(1, 0, 1)), ("Staff", NpsCounts(1, 0, 0)),
                                             ("No topic", NpsCounts(1, 0, 0))]
    with pytest.raises(DomainError):
        response_topics_set(response=queue, names=["x" * 61])
    response_topics_set(response=queue, names=[])
    assert not queue.topics.exists()
