"""The account link emails (a new password, confirming the email, claiming a card): transactional, in the member's
language or else the page's, worded by staff like any other email."""

import pytest

from notifications.models import KIND_CATEGORY, Category, Kind, NotificationSettings, Outbox
from notifications.services import (
    ACCOUNT_LINK_KINDS,
    account_link_send,
    email_template_check,
    email_template_default,
)
from tests.factories import MemberFactory

LINK = "http://127.0.0.1:8000/portal/coffee/some/link/"


def test_account_link_emails_need_no_marketing_consent():
    assert {KIND_CATEGORY[kind] for kind in ACCOUNT_LINK_KINDS} == {Category.TRANSACTIONAL}


@pytest.mark.parametrize("kind", ACCOUNT_LINK_KINDS)
@pytest.mark.parametrize("language", ["en", "de"])
def test_the_default_wording_is_wording_staff_may_save(program, kind, language):
    subject, body = email_template_default(program=program, kind=kind, language=language)
    assert "{{ data.link }}" in body
    email_template_check(program=program, kind=kind, language=language, subject=subject, body=body)


def test_only_account_kinds_go_this_way(member):
    with pytest.raises(ValueError):
        account_link_send(member=member, kind=Kind.POINTS_EARNED, link=LINK, hours=2, request_key="x")


def test_the_members_own_language_wins_over_the_pages(program, store):
    chose_german = MemberFactory(program=program, store=store, language="de")
    chose_nothing = MemberFactory(program=program, store=store)
    account_link_send(member=chose_german, kind=Kind.PASSWORD_RESET, link=LINK, hours=2, request_key="a",
                      language="en")
    account_link_send(member=chose_nothing, kind=Kind.PASSWORD_RESET, link=LINK, hours=2, request_key="b",
                      language="de")
    account_link_send(member=chose_nothing, kind=Kind.PASSWORD_RESET, link=LINK, hours=2, request_key="c",
                      language="fr")
    languages = dict(Outbox.objects.values_list("dedupe_key", "context__language"))
    assert languages == {f"password_reset:{chose_german.pk}:a": "de", f"password_reset:{chose_nothing.pk}:b": "de",
                         f"password_reset:{chose_nothing.pk}:c": "en"}


def test_the_same_request_queues_one_email(member):
    assert account_link_send(member=member, kind=Kind.CARD_CLAIM, link=LINK, hours=24, request_key="k")
    assert not account_link_send(member=member, kind=Kind.CARD_CLAIM, link=LINK, hours=24, request_key="k")
    assert Outbox.objects.count() == 1


def test_validity_in_days_from_two_days_on(member):
    for hours, key in ((2, "a"), (24, "b"), (168, "c")):
        account_link_send(member=member, kind=Kind.EMAIL_CONFIRMATION, link=LINK, hours=hours, request_key=key)
    days = {row.context["data"]["hours"]: row.context["data"]["days"] for row in Outbox.objects.all()}
    assert days == {2: None, 24: None, 168: 7}


def test_a_program_that_sends_no_emails_queues_none(program, member):
    NotificationSettings.objects.create(program=program, emails_enabled=False)
    assert not account_link_send(member=member, kind=Kind.PASSWORD_RESET, link=LINK, hours=2, request_key="x")
    assert not Outbox.objects.exists()
