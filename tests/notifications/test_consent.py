"""Consent: marketing emails (survey invitations) need opt-in; the signed unsubscribe link withdraws it.

Transactional emails (points earned, tier changed, points expiring, reward issued) report on the
member's own account and are sent whatever the marketing choice.
"""

from django.core import mail
from django.test import Client

from notifications.models import Outbox
from notifications.services import (
    notification_enqueue,
    outbox_send_due,
    survey_invitation_send,
    unsubscribe_token,
    unsubscribe_url,
)
from tests.factories import MemberFactory


def invite(member, key="nps-1"):
    return survey_invitation_send(member=member, survey_name="How was your visit?",
                                  survey_url="https://example.com/s/1", invitation_key=key)


def test_a_survey_invitation_needs_marketing_consent(program, store):
    without = MemberFactory(program=program, store=store, marketing_opt_in=False)
    with_consent = MemberFactory(program=program, store=store, marketing_opt_in=True)

    assert invite(without) is False
    assert invite(with_consent) is True
    outbox_send_due()

    (message,) = mail.outbox
    assert message.to == [with_consent.email]
    assert Outbox.objects.get().category == "marketing"
    assert message.extra_headers["List-Unsubscribe"] == f"<{unsubscribe_url(member=with_consent)}>"
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_transactional_emails_go_without_marketing_consent(member):
    assert member.marketing_opt_in is False

    assert notification_enqueue(member=member, kind="points_earned", data={"points": 3}, dedupe_key="e:1")
    outbox_send_due()

    assert len(mail.outbox) == 1
    assert Outbox.objects.get().category == "transactional"


def test_the_unsubscribe_page_asks_first_and_changes_nothing_on_a_visit(client, program, store):
    member = MemberFactory(program=program, store=store, marketing_opt_in=True)

    response = client.get(unsubscribe_url(member=member))

    assert response.status_code == 200
    assert "Stop marketing emails?" in response.content.decode()
    member.refresh_from_db()
    assert member.marketing_opt_in is True


def test_unsubscribing_turns_marketing_consent_off_and_drops_queued_marketing(program, store):
    member = MemberFactory(program=program, store=store, marketing_opt_in=True, language="de")
    invite(member)
    notification_enqueue(member=member, kind="points_earned", data={"points": 3}, dedupe_key="e:1")
    strict = Client(enforce_csrf_checks=True)  # a mail client's one-click POST carries no CSRF token

    response = strict.post(unsubscribe_url(member=member), {"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200
    assert "Abgemeldet" in response.content.decode()
    member.refresh_from_db()
    assert member.marketing_opt_in is False and member.marketing_opt_in_at is not None
    outbox_send_due()
    assert [m.extra_headers.get("List-Unsubscribe") for m in mail.outbox] == [None], "only the transactional one"
    assert Outbox.objects.get(kind="survey_invitation").status == "cancelled"
    assert invite(member, key="nps-2") is False


def test_consent_withdrawn_after_queueing_stops_the_marketing_email_at_send_time(program, store):
    from members.services import member_consent_set

    member = MemberFactory(program=program, store=store, marketing_opt_in=True)
    invite(member)
    member_consent_set(member=member, marketing_opt_in=False, source="portal")  # e.g. in the portal, not by the link

    assert outbox_send_due()["cancelled"] == 1
    assert mail.outbox == []


def test_a_forged_or_altered_link_is_refused(client, program, store):
    member = MemberFactory(program=program, store=store, marketing_opt_in=True)
    token = unsubscribe_token(member=member)
    other = MemberFactory(program=program, store=store, marketing_opt_in=True)
    forged = unsubscribe_token(member=other).rpartition(":")[0] + ":" + token.rpartition(":")[2]

    for bad in (token[:-2] + "xx", forged, "not-a-token"):
        response = client.post(f"/email/unsubscribe/{bad}/")
        assert response.status_code == 400
        assert "not valid" in response.content.decode()

    member.refresh_from_db()
    other.refresh_from_db()
    assert member.marketing_opt_in and other.marketing_opt_in


def test_the_token_names_only_its_member(program, store):
    first = MemberFactory(program=program, store=store)
    second = MemberFactory(program=program, store=store)

    assert unsubscribe_token(member=first) != unsubscribe_token(member=second)
    from notifications.services import member_for_unsubscribe_token

    assert member_for_unsubscribe_token(token=unsubscribe_token(member=second)) == second
