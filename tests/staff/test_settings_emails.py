"""Member emails in the program's own words: saved per email and language, previewed with a sample member, used
by the emails sent from then on, refused beside the field when the template would not read, back to default."""

import pytest

from notifications.models import EmailTemplateOverride, Kind
from notifications.services import email_render
from staff.models import AuditEvent
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

LIST = "/staff/settings/emails/"
EARNED_EN = "/staff/settings/emails/points_earned/en/"
EARNED_DATA = {"points": 42, "source": {"type": "purchase", "store_name": "Berlin Mitte"}, "pending_until": None}

SUBJECT = "{{ member.first_name }}, {{ data.points }} new points at {{ program.name }}"
BODY = "Hi {{ member.first_name|default:\"friend\" }},\n\nthat was {{ data.points }} points.\n\nSee you soon!"


@pytest.fixture
def ada(program, store):
    return MemberFactory(program=program, store=store, first_name="Ada", email="ada@example.com", language="en")


def test_manager_sees_every_email_in_both_languages(manager_client, program):
    EmailTemplateOverride.objects.create(program=program, kind=Kind.TIER_CHANGED, language="de", subject="S",
                                         body="B")
    html = manager_client.get(LIST).content.decode()
    for label in Kind.labels:
        assert label in html
    assert html.count("Own wording") == 1 and html.count(">Default<") == 2 * len(Kind.values) - 1
    assert "English" in html and "German" in html


def test_the_editor_starts_from_the_default_wording_with_a_preview(manager_client, program):
    response = manager_client.get(EARNED_EN)

    html = response.content.decode()
    assert 'value="You earned {{ data.points }} points with {{ program.name }}"' in html
    assert "Hello {{ member.first_name|default:&quot;there&quot; }}," in html
    assert "You earned 42 points with Coffee Club" in html  # the preview, with a sample member
    assert "Values you can use" in html and "data.source.store_name" in html
    assert "'unsafe-inline'" in response["Content-Security-Policy"]  # the email's own inline styles, in its frame


def test_manager_saves_the_programs_wording_and_the_next_email_uses_it(manager_client, manager, program, ada):
    response = manager_client.post(EARNED_EN, {"subject": SUBJECT, "body": BODY})

    assert response.status_code == 302 and response["Location"] == EARNED_EN
    override = EmailTemplateOverride.objects.get(program=program, kind="points_earned", language="en")
    assert (override.subject, override.body) == (SUBJECT, BODY)
    email = email_render(member=ada, kind="points_earned", data=EARNED_DATA)
    assert email.subject == "Ada, 42 new points at Coffee Club"
    assert email.text.startswith("Hi Ada,\n\nthat was 42 points.\n\nSee you soon!\n\n--\n")
    assert "<p>Hi Ada,</p>" in email.html and "<p>See you soon!</p>" in email.html
    assert "unsubscribe" in email.text.lower()  # the program's frame stays around the wording
    event = AuditEvent.objects.get(action="email_template.update")
    assert event.actor == manager and event.target_id == "points_earned/en"
    assert event.after == {"subject": SUBJECT, "body": BODY} and event.before["subject"].startswith("You earned")


def test_the_other_language_and_other_programs_keep_their_wording(manager_client, program, other_program, ada):
    manager_client.post(EARNED_EN, {"subject": SUBJECT, "body": BODY})
    german = MemberFactory(program=program, email="de@example.com", first_name="Jan", language="de")
    elsewhere = MemberFactory(program=other_program, email="x@example.com", first_name="Eve", language="en")

    assert email_render(member=german, kind="points_earned", data=EARNED_DATA).subject.startswith("Sie haben 42")
    assert email_render(member=elsewhere, kind="points_earned", data=EARNED_DATA).subject.startswith("You earned 42")


def test_a_second_save_audits_only_what_changed(manager_client, program):
    manager_client.post(EARNED_EN, {"subject": SUBJECT, "body": BODY})
    manager_client.post(EARNED_EN, {"subject": SUBJECT, "body": BODY + "\nCheers"})

    second = AuditEvent.objects.filter(action="email_template.update").order_by("-created_at").first()
    assert second.before == {"body": BODY} and second.after == {"body": BODY + "\nCheers"}

    response = manager_client.post(EARNED_EN, {"subject": SUBJECT, "body": BODY + "\nCheers"}, follow=True)
    assert "Nothing changed" in response.content.decode()
    assert AuditEvent.objects.filter(action="email_template.update").count() == 2


def test_typed_text_and_values_are_escaped_in_the_html_version(manager_client, program, store):
    member = MemberFactory(program=program, store=store, first_name="<script>x</script>", language="en")
    manager_client.post(EARNED_EN, {"subject": SUBJECT, "body": "5 < 6 & {{ member.first_name }}"})

    email = email_render(member=member, kind="points_earned", data=EARNED_DATA)
    assert "5 &lt; 6 &amp; &lt;script&gt;x&lt;/script&gt;" in email.html and "<script>" not in email.html
    assert email.text.startswith("5 < 6 & <script>x</script>")  # plain text is plain


@pytest.mark.parametrize(("subject", "body", "field", "message"), [
    (SUBJECT, "{% if data.points %}no end", "body", "Unclosed tag on line 1: &#x27;if&#x27;"),
    (SUBJECT, "Hi\n{% load static %}", "body", "Line 2: {% load %} cannot be used here"),
    (SUBJECT, '{% include "notifications/email/base.html" %}', "body", "{% include %} cannot be used here"),
    (SUBJECT, "{% block content %}{% endblock %}", "body", "{% block %} cannot be used here"),
    (SUBJECT, "{% for p in data.points %}{{ p }}{% endfor %}", "body", "A sample email fails with it"),
    (SUBJECT, "{{ data.points|nosuchfilter }}", "body", "Invalid filter"),
    (SUBJECT, "", "body", "This field is required"),
    ("{{ }}", BODY, "subject", "Empty variable tag"),
    ("{% if x %}{% endif %}", BODY, "subject", "comes out empty"),
    ("x" * 301, BODY, "subject", "at most 300 characters"),
])
def test_wording_that_would_not_send_is_refused_beside_its_field(manager_client, program, subject, body, field,
                                                                 message):
    response = manager_client.post(EARNED_EN, {"subject": subject, "body": body})

    assert response.status_code == 200
    html = response.content.decode()
    block = html[html.index(f'id="field-{field}"'):]
    assert message in block[:block.index("</div>")], block[:1500]
    assert not EmailTemplateOverride.objects.exists() and not AuditEvent.objects.exists()


def test_the_preview_renders_unsaved_wording_and_saves_nothing(manager_client, program):
    response = manager_client.post(f"{EARNED_EN}preview/", {"subject": SUBJECT, "body": BODY},
                                   HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and "<html lang" not in html.split("srcdoc")[0]
    assert "Anna, 42 new points at Coffee Club" in html and "Hi Anna," in html
    assert "srcdoc=" in html and "sandbox" in html

    page = manager_client.post(f"{EARNED_EN}preview/", {"subject": SUBJECT, "body": BODY}).content.decode()
    assert "Save wording" in page and "Anna, 42 new points" in page and f'action="{EARNED_EN}"' in page

    broken = manager_client.post(f"{EARNED_EN}preview/", {"subject": SUBJECT, "body": "{% if %}"},
                                 HTTP_HX_REQUEST="true").content.decode()
    assert "No preview" in broken
    assert not EmailTemplateOverride.objects.exists() and not AuditEvent.objects.exists()


def test_back_to_default_removes_the_wording_and_is_audited(manager_client, manager, program, ada):
    manager_client.post(EARNED_EN, {"subject": SUBJECT, "body": BODY})

    response = manager_client.post(f"{EARNED_EN}reset/")

    assert response.status_code == 302 and response["Location"] == EARNED_EN
    assert not EmailTemplateOverride.objects.exists()
    assert email_render(member=ada, kind="points_earned", data=EARNED_DATA).subject == (
        "You earned 42 points with Coffee Club")
    event = AuditEvent.objects.get(action="email_template.reset")
    assert event.before == {"subject": SUBJECT, "body": BODY} and event.actor == manager
    assert manager_client.post(f"{EARNED_EN}reset/").status_code == 302  # nothing left to reset: nothing happens
    assert AuditEvent.objects.filter(action="email_template.reset").count() == 1


def test_a_wording_that_fails_for_one_member_sends_the_default_instead(program, ada, caplog):
    # Saved by hand around the checks: the sample renders it, this member's data does not.
    EmailTemplateOverride.objects.create(program=program, kind="points_earned", language="en",
                                         subject="Hi", body="{% for x in data.points %}{{ x }}{% endfor %}")
    email = email_render(member=ada, kind="points_earned", data=EARNED_DATA)
    assert email.subject == "You earned 42 points with Coffee Club"
    assert "the program's wording failed" in caplog.text


def test_analyst_reads_and_previews_but_cannot_change_emails(analyst_client, program):
    EmailTemplateOverride.objects.create(program=program, kind="points_earned", language="en", subject=SUBJECT,
                                         body=BODY)
    page = analyst_client.get(EARNED_EN).content.decode()
    assert "Save wording" not in page and "Back to default" not in page and "disabled" in page
    # Disabled fields are never sent: the analyst's preview is of the saved wording, whatever comes.
    html = analyst_client.post(f"{EARNED_EN}preview/", {"subject": "Mine", "body": "Mine"},
                               HTTP_HX_REQUEST="true").content.decode()
    assert "Anna, 42 new points" in html and "Mine" not in html
    assert analyst_client.post(EARNED_EN, {"subject": "Mine", "body": "Mine"}).status_code == 403
    assert analyst_client.post(f"{EARNED_EN}reset/").status_code == 403
    assert EmailTemplateOverride.objects.get().subject == SUBJECT and not AuditEvent.objects.exists()


def test_agent_is_refused_the_email_pages(agent_client):
    for url in (LIST, EARNED_EN):
        assert agent_client.get(url).status_code == 403
    for url in (EARNED_EN, f"{EARNED_EN}preview/", f"{EARNED_EN}reset/"):
        assert agent_client.post(url, {"subject": "S", "body": "B"}).status_code == 403


def test_unknown_emails_and_other_programs_answer_404(manager_client, other_program):
    for url in ("/staff/settings/emails/jackpot/en/", "/staff/settings/emails/points_earned/fr/",
                "/staff/settings/emails/points_earned/EN/", f"{EARNED_EN}?program=other", f"{LIST}?program=other"):
        assert manager_client.get(url).status_code == 404
    assert manager_client.post("/staff/settings/emails/jackpot/en/reset/").status_code == 404
    assert manager_client.post(f"{EARNED_EN}?program=other", {"subject": "S", "body": "B"}).status_code == 404
    assert not EmailTemplateOverride.objects.exists()


@pytest.mark.parametrize("kind", [Kind.PASSWORD_RESET, Kind.EMAIL_CONFIRMATION, Kind.CARD_CLAIM])
def test_the_portals_account_emails_can_be_worded_too(manager_client, program, kind):
    html = manager_client.get(f"/staff/settings/emails/{kind}/de/").content.decode()
    assert "data.link" in html and "data.hours" in html  # the values listed for the wording
    assert "https://example.com/portal/sample/" in html  # the preview carries the sample link
