"""Sending a survey to a segment from the staff pages: the preview counts the segment and who of it may be invited
(consent, cool-down, open cases), the invitations go out once however often the form is sent, each sending is
audited, managers only, bad values answered beside their field with nothing sent, another program's survey not
found."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from earning.services import purchase_record
from members.models import Member
from staff.models import AuditEvent
from surveys.models import Invitation
from surveys.services import response_record, survey_campaign_send, survey_create
from tests.analytics.test_health import at, build_world
from tests.factories import MemberFactory, StoreFactory
from tiers.services import tier_assign, tier_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def survey(program):
    return survey_create(program=program, code="nps", kind="nps", cooldown_days=30)


@pytest.fixture
def other_survey(other_program):
    return survey_create(program=other_program, code="nps", kind="nps")


@pytest.fixture
def gold(program):
    tier_create(program=program, code="base", name="Base", rank=1, threshold=0)
    return tier_create(program=program, code="gold", name="Gold", rank=2, threshold=1000)


def url(survey) -> str:
    return f"/staff/surveys/{survey.pk}/campaign/"


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


def token_of(response) -> str:
    return re.search(r'name="token" value="([0-9a-f]{32})"', page_of(response)).group(1)


def stat(response, testid: str) -> str:
    return re.search(rf'data-testid="{testid}">([^<]*)<', page_of(response)).group(1)


def consenting(program, store, n, prefix="yes"):
    return [MemberFactory(program=program, store=store, email=f"{prefix}{i}@example.com", marketing_opt_in=True)
            for i in range(n)]


def test_the_survey_page_links_to_the_campaign_page_for_managers_only(manager_client, analyst_client, survey):
    assert f'href="{url(survey)}"' in page_of(manager_client.get(f"/staff/surveys/{survey.pk}/"))
    assert "Send to a segment" not in page_of(analyst_client.get(f"/staff/surveys/{survey.pk}/"))


def test_the_form_has_a_labelled_field_for_each_criterion(manager_client, survey, gold, store):
    response = manager_client.get(url(survey))

    assert response.status_code == 200
    page = page_of(response)
    for name, label in [("tier", "Tier"), ("store", "Store joined at"), ("enrolled_from", "Joined from"),
                        ("enrolled_to", "Joined up to (inclusive)"), ("purchased_since", "Last purchase on or after"),
                        ("not_purchased_since", "Last purchase before (or none)")]:
        assert f'for="id_{name}"' in page and label in page, name
    assert '<option value="gold">Gold</option>' in page and 'value="DEMO-001"' in page
    assert ">Preview</button>" in page and "Send invitations" not in page


def test_the_preview_counts_the_segment_and_who_may_be_invited_and_sends_nothing(manager_client, program, store,
                                                                                 survey):
    consenting(program, store, 3)
    MemberFactory(program=program, store=store, email="no@example.com", marketing_opt_in=False)
    unhappy = MemberFactory(program=program, store=store, email="case@example.com", marketing_opt_in=True)
    response_record(survey=survey, score=0, channel="pos", actor="t", member=unhappy)  # opens a follow-up case
    recent = MemberFactory(program=program, store=store, email="recent@example.com", marketing_opt_in=True)
    survey_campaign_send(survey=survey, members=Member.objects.filter(pk=recent.pk), key="earlier")  # cool-down
    elsewhere = StoreFactory(program=program, code="DEMO-002")
    consenting(program, elsewhere, 2, prefix="else")
    before = Invitation.objects.count()
    token = token_of(manager_client.get(url(survey)))

    everyone = manager_client.post(url(survey), {"token": token, "action": "preview"})
    at_store = manager_client.post(url(survey), {"token": token, "action": "preview", "store": "DEMO-001"})

    assert everyone.status_code == 200
    assert (stat(everyone, "matching"), stat(everyone, "invitable"), stat(everyone, "left-out")) == ("8", "5", "3")
    assert (stat(at_store, "matching"), stat(at_store, "invitable"), stat(at_store, "left-out")) == ("6", "3", "3")
    assert "Send invitations</button>" in page_of(at_store)
    assert token_of(at_store) == token
    assert Invitation.objects.count() == before
    assert not AuditEvent.objects.filter(action="survey.campaign").exists()


def test_the_preview_takes_at_most_two_queries_beyond_the_page(manager_client, program, store, survey,
                                                               django_assert_max_num_queries):
    consenting(program, store, 5)
    token = token_of(manager_client.get(url(survey)))
    manager_client.post(url(survey), {"token": token})  # warm the session and the caches
    with django_assert_max_num_queries(50) as counted:
        manager_client.post(url(survey), {"token": token, "action": "preview"})
    page_queries = len(counted.captured_queries)
    consenting(program, store, 20, prefix="more")
    with django_assert_max_num_queries(page_queries):  # as many queries for 25 members as for 5
        manager_client.post(url(survey), {"token": token, "action": "preview"})


def test_sending_invites_the_segment_once_says_how_many_and_is_audited(manager_client, manager, program, store,
                                                                       survey, gold):
    yes = consenting(program, store, 3)
    tier_assign(member=yes[0], tier=gold, reason="test", actor="t")
    tier_assign(member=yes[1], tier=gold, reason="test", actor="t")
    silver_no = MemberFactory(program=program, store=store, email="no@example.com", marketing_opt_in=False)
    tier_assign(member=silver_no, tier=gold, reason="test", actor="t")
    token = token_of(manager_client.get(url(survey)))
    form = {"token": token, "action": "send", "tier": "gold"}

    response = manager_client.post(url(survey), form, follow=True)

    assert response.redirect_chain == [(url(survey), 302)]
    assert "Invitations sent to 2 members; 1 of the segment skipped" in page_of(response)
    assert set(Invitation.objects.values_list("member__email", flat=True)) == {"yes0@example.com",
                                                                                "yes1@example.com"}
    (event,) = AuditEvent.objects.filter(action="survey.campaign")
    assert event.actor == manager and event.program == program and event.target_id == str(survey.pk)
    assert event.after == {"key": token, "tier": "gold", "queued": 2, "left_out": 1}
    assert token_of(response) != token  # the page after sending has a new form


def test_a_double_submit_sends_once(manager_client, program, store, survey):
    consenting(program, store, 2)
    token = token_of(manager_client.get(url(survey)))
    form = {"token": token, "action": "send"}

    first = manager_client.post(url(survey), form, follow=True)
    again = manager_client.post(url(survey), form, follow=True)

    assert "Invitations sent to 2 members; 0 of the segment skipped" in page_of(first)
    assert "These invitations were already sent (2 queued); nothing was sent again." in page_of(again)
    assert Invitation.objects.count() == 2
    assert AuditEvent.objects.filter(action="survey.campaign").count() == 1


def test_a_double_submit_of_a_campaign_that_found_nobody_is_recorded_once(manager_client, program, store, survey):
    MemberFactory(program=program, store=store, marketing_opt_in=False)
    form = {"token": token_of(manager_client.get(url(survey))), "action": "send"}

    manager_client.post(url(survey), form)
    again = manager_client.post(url(survey), form, follow=True)

    assert "nothing was sent again" in page_of(again)
    assert Invitation.objects.count() == 0
    assert AuditEvent.objects.filter(action="survey.campaign").count() == 1


def test_a_new_form_skips_the_members_the_last_campaign_invited(manager_client, program, store, survey):
    consenting(program, store, 2)
    manager_client.post(url(survey), {"token": token_of(manager_client.get(url(survey))), "action": "send"})
    MemberFactory(program=program, store=store, email="new@example.com", marketing_opt_in=True)

    response = manager_client.post(url(survey), {"token": token_of(manager_client.get(url(survey))),
                                                 "action": "send"}, follow=True)

    assert "Invitations sent to 1 member; 2 of the segment skipped" in page_of(response)
    assert Invitation.objects.count() == 3


def test_the_enrolment_and_purchase_dates_are_the_programs_days(manager_client, program, store, survey):
    old, new = consenting(program, store, 2)
    Member.objects.filter(pk=old.pk).update(enrolled_at=timezone.now() - timedelta(days=400))
    purchase_record(store=store, actor="t", external_id="P-1", member_reference={"id": str(new.pk)},
                    currency=program.currency, total=Decimal("20.00"))
    today = timezone.localdate()
    token = token_of(manager_client.get(url(survey)))

    joined_lately = manager_client.post(url(survey), {"token": token, "enrolled_from": today - timedelta(days=30),
                                                      "enrolled_to": today})
    joined_long_ago = manager_client.post(url(survey), {"token": token,
                                                        "enrolled_to": today - timedelta(days=365)})
    never_bought = manager_client.post(url(survey), {"token": token, "not_purchased_since": today})
    bought = manager_client.post(url(survey), {"token": token, "purchased_since": today - timedelta(days=10)})

    assert stat(joined_lately, "matching") == "1" and stat(joined_long_ago, "matching") == "1"
    assert stat(never_bought, "matching") == "1" and stat(bought, "matching") == "1"
    assert 'data-testid="matching">1<' in page_of(manager_client.post(url(survey), {
        "token": token, "purchased_since": today, "enrolled_from": today - timedelta(days=30)}))


@pytest.mark.parametrize(("values", "field", "message"), [
    ({"tier": "platinum"}, "tier", "Choose one of the program&#x27;s tiers."),
    ({"store": "NOPE-9"}, "store", "Choose one of the program&#x27;s stores."),
    ({"enrolled_from": "2026-05-01", "enrolled_to": "2026-04-01"}, "enrolled_to", "comes before"),
    ({"purchased_since": "2026-05-01", "not_purchased_since": "2026-04-01"}, "not_purchased_since",
     "no member can match"),
    ({"enrolled_from": "yesterday"}, "enrolled_from", "Give a date as YYYY-MM-DD."),
    ({"purchased_since": "0001-01-01"}, "purchased_since", "Give a date from 1970 to 2999."),
    ({"health_band": "dying"}, "health_band", "Choose one of the health bands."),
])
@pytest.mark.parametrize("action", ["preview", "send"])
def test_bad_values_are_answered_beside_their_field_and_nothing_is_sent(manager_client, program, store, survey,
                                                                        gold, values, field, message, action):
    consenting(program, store, 2)
    token = token_of(manager_client.get(url(survey)))

    response = manager_client.post(url(survey), {"token": token, "action": action, **values})

    assert response.status_code == 400
    assert message in field_error(response, field)
    assert "Send invitations" not in page_of(response)
    assert Invitation.objects.count() == 0
    assert not AuditEvent.objects.filter(action="survey.campaign").exists()


def test_a_missing_or_forged_token_sends_nothing(manager_client, program, store, survey):
    consenting(program, store, 2)
    for token in ("", "not-a-token"):
        response = manager_client.post(url(survey), {"token": token, "action": "send"})
        assert response.status_code == 400
        assert "This form has expired" in page_of(response)
    assert Invitation.objects.count() == 0


def test_a_closed_survey_is_not_sent(manager_client, program, store, survey):
    consenting(program, store, 2)
    survey.active = False
    survey.save()
    token = token_of(manager_client.get(url(survey)))

    preview = manager_client.post(url(survey), {"token": token, "action": "preview"})
    response = manager_client.post(url(survey), {"token": token, "action": "send"})

    assert "This survey takes no answers now" in page_of(preview) and "Send invitations" not in page_of(preview)
    assert response.status_code == 400 and "This survey takes no answers now." in page_of(response)
    assert Invitation.objects.count() == 0
    assert not AuditEvent.objects.filter(action="survey.campaign").exists()


@pytest.mark.parametrize("role", ["agent", "analyst"])
def test_only_managers_may_send_a_campaign(role, request, program, store, survey):
    consenting(program, store, 2)
    client = request.getfixturevalue(f"{role}_client")

    assert client.get(url(survey)).status_code == 403
    assert client.post(url(survey), {"token": "a" * 32, "action": "preview"}).status_code == 403
    assert client.post(url(survey), {"token": "a" * 32, "action": "send"}).status_code == 403
    assert Invitation.objects.count() == 0


def test_another_programs_survey_is_not_found(manager_client, other_survey, other_program):
    MemberFactory(program=other_program, marketing_opt_in=True)

    assert manager_client.get(url(other_survey)).status_code == 404
    assert manager_client.post(url(other_survey), {"token": "a" * 32, "action": "send"}).status_code == 404
    assert manager_client.get("/staff/surveys/not-a-uuid/campaign/").status_code == 404
    assert Invitation.objects.count() == 0


def test_the_form_offers_the_health_bands_and_lagging(manager_client, survey):
    page = page_of(manager_client.get(url(survey)))
    assert 'for="id_health_band"' in page and 'for="id_lagging_only"' in page
    assert '<option value="at-risk">At risk</option>' in page and "Lagging members only" in page


def test_the_preview_counts_exactly_the_health_band_and_the_lagging(manager_client, program, survey):
    """The world of tests/analytics/test_health.py on day 20: lost are Ben, Dan and Eve; lagging Ben and Cleo;
    Ana healthy, Cleo watch."""
    build_world(program)
    with time_machine.travel(at(20), tick=False):
        token = token_of(manager_client.get(url(survey)))
        matching = {
            label: stat(manager_client.post(url(survey), {"token": token, "action": "preview", **values}), "matching")
            for label, values in {"lost": {"health_band": "lost"}, "healthy": {"health_band": "healthy"},
                                  "watch": {"health_band": "watch"}, "at risk": {"health_band": "at-risk"},
                                  "lagging": {"lagging_only": "on"},
                                  "lost and lagging": {"health_band": "lost", "lagging_only": "on"},
                                  "anyone": {}}.items()}
    assert matching == {"lost": "3", "healthy": "1", "watch": "1", "at risk": "0", "lagging": "2",
                        "lost and lagging": "1", "anyone": "5"}


def test_a_health_segment_is_sent_to_the_band_and_audited_with_it(manager_client, program, survey):
    _, people = build_world(program)
    Member.objects.filter(pk__in=[m.pk for m in people.values()]).update(marketing_opt_in=True)
    with time_machine.travel(at(20), tick=False):
        token = token_of(manager_client.get(url(survey)))
        manager_client.post(url(survey), {"token": token, "action": "send", "health_band": "lost"})
    invited = set(Invitation.objects.filter(survey=survey).values_list("member_id", flat=True))
    assert invited == {people["Ben"].pk, people["Dan"].pk, people["Eve"].pk}
    event = AuditEvent.objects.get(action="survey.campaign")
    assert event.after["health_band"] == "lost" and event.after["queued"] == 3
