"""Member emails: plain text + HTML, in the member's language, from the program's templates."""

from decimal import Decimal

import pytest
from django.core import mail

from notifications.models import NotificationSettings, Outbox
from notifications.services import outbox_send_due
from rewards.models import Reward
from rewards.services import reward_redeem
from tests.factories import MemberFactory
from tiers.services import tier_define


def buy(pos, member, total="20.00", external_id="R-1"):
    response = pos.post("/api/v1/pos/purchases/", {"external_id": external_id, "currency": "EUR", "total": total,
                                                   "member": {"card_number": member.card_number}}, format="json")
    assert response.status_code == 201, response.content
    outbox_send_due()


def only_email(kind):
    row = Outbox.objects.get(kind=kind)
    (message,) = [m for m in mail.outbox if m.extra_headers["Message-ID"] == f"<outbox-{row.pk}@localhost>"]
    return message


def html_of(message) -> str:
    ((html, mimetype),) = message.alternatives
    assert mimetype == "text/html"
    return html


def test_points_earned_in_english_with_text_html_and_the_unsubscribe_link(pos, member):
    buy(pos, member)

    message = only_email("points_earned")
    assert message.subject == "You earned 20 points with Coffee Club"
    assert "Hello Ada," in message.body and "you earned 20 points at" in message.body
    assert "http://127.0.0.1:8000/email/unsubscribe/" in message.body
    assert "<strong>20 points</strong>" in html_of(message)
    assert 'lang="en"' in html_of(message)
    assert "List-Unsubscribe" not in message.extra_headers, "transactional: no list unsubscribe"


def test_points_earned_in_german_for_a_german_member(pos, program, store):
    member = MemberFactory(program=program, store=store, email="grete@example.com", first_name="Grete",
                           language="de")
    buy(pos, member)

    message = only_email("points_earned")
    assert message.subject == "Sie haben 20 Punkte bei Coffee Club gesammelt"
    assert "Hallo Grete," in message.body
    assert "Keine Werbe-E-Mails mehr erhalten" in message.body
    assert 'lang="de"' in html_of(message)


def test_pending_points_say_from_when_they_can_be_redeemed_in_the_members_language(pos, program, store):
    program.pending_days = 14
    program.save()
    member = MemberFactory(program=program, store=store, language="de")

    buy(pos, member)

    assert "Sie können sie ab dem" in only_email("points_earned").body


def test_tier_changed(pos, program, member):
    tier_define(program=program, code="base", name="Bean", rank=0, threshold=0)
    tier_define(program=program, code="gold", name="Gold", rank=1, threshold=50)

    buy(pos, member, total="60.00")

    message = only_email("tier_changed")
    assert message.subject == "Your Coffee Club tier is now Gold"
    assert "congratulations: you reached Gold" in message.body


def test_reward_issued_carries_the_voucher_code(program, member):
    from ledger.services import points_earn

    points_earn(member=member, points=100, idempotency_key="grant-1", source_type="test", actor="test")
    reward = Reward.objects.create(program=program, code="FREE-COFFEE", name="Free coffee", points_cost=50,
                                   voucher_valid_days=30)
    redemption = reward_redeem(member=member, reward=reward, actor="test")
    outbox_send_due()

    message = only_email("reward_issued")
    assert message.subject == "Your reward: Free coffee"
    assert redemption.voucher_code in message.body and redemption.voucher_code in html_of(message)
    assert "Valid until" in message.body


def test_a_program_can_have_its_own_templates(pos, program, member, settings, tmp_path):
    folder = tmp_path / "notifications" / "email" / "programs" / program.slug / "points_earned"
    folder.mkdir(parents=True)
    (folder / "en.subject.txt").write_text("Beans! +{{ data.points }}")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}]

    buy(pos, member)

    message = only_email("points_earned")
    assert message.subject == "Beans! +20"
    assert "you earned 20 points" in message.body, "what the program does not override is the default"


def test_a_program_that_sends_no_emails_queues_none(pos, program, member):
    NotificationSettings.objects.create(program=program, emails_enabled=False)

    buy(pos, member)

    assert not Outbox.objects.exists()
    assert mail.outbox == []


@pytest.mark.parametrize("language", ["en", "de"])
def test_every_kind_renders_in_both_languages(program, store, language):
    from notifications.models import Kind
    from notifications.services import email_render

    member = MemberFactory(program=program, store=store, language=language, marketing_opt_in=True)
    data = {"points": 5, "source": {"store_name": "Main St"}, "to_tier": {"name": "Gold"}, "cause": "upgrade",
            "first_expiry": member.enrolled_at, "until": member.enrolled_at, "days": 30,
            "reward": {"name": "Tote"}, "voucher_code": "ABC", "survey_name": "NPS", "survey_url": "https://x.test/s",
            "balance": {"available": Decimal(5), "pending": 0}}
    for kind in Kind.values:
        email = email_render(member=member, kind=kind, data=data)
        assert email.subject and "{{" not in email.subject
        assert email.text.strip() and email.html.strip()
        assert f'lang="{language}"' in email.html


def test_the_email_says_what_was_true_when_it_was_queued(program, member):
    from notifications.services import notification_enqueue

    notification_enqueue(member=member, kind="points_earned", data={"points": 20}, dedupe_key="earned:1")
    member.first_name = "Augusta"
    member.save()
    program.name = "Tea Club"
    program.save()

    outbox_send_due()

    message = only_email("points_earned")
    assert message.subject == "You earned 20 points with Coffee Club"
    assert "Hello Ada," in message.body


def test_dates_and_decimals_are_formatted_in_the_members_language_when_sent(program, store):
    from datetime import UTC, datetime

    from notifications.services import notification_enqueue

    member = MemberFactory(program=program, store=store, language="de", first_name="Grete")
    notification_enqueue(member=member, kind="points_earned", dedupe_key="earned:1", data={
        "points": 20, "pending_until": datetime(2031, 3, 2, 12, 0, tzinfo=UTC),
        "balance": {"available": Decimal("5.5"), "pending": Decimal("20")}})

    outbox_send_due()

    body = only_email("points_earned").body
    assert "ab dem 2. März 2031" in body
    assert "5,5 Punkte (20 vorgemerkt)" in body


def test_an_unsent_message_reads_as_it_will_be_sent_and_a_sent_one_as_it_was(program, member):
    from notifications.services import notification_enqueue, outbox_message

    notification_enqueue(member=member, kind="points_earned", data={"points": 20}, dedupe_key="earned:1")
    row = Outbox.objects.get()
    assert row.rendered_subject == "" and row.context["member"]["first_name"] == "Ada"
    unsent = outbox_message(row)
    assert unsent.subject == "You earned 20 points with Coffee Club"
    assert "Hello Ada," in unsent.text and "<strong>20 points</strong>" in unsent.html

    outbox_send_due()

    row = Outbox.objects.get()
    message = only_email("points_earned")
    assert (row.rendered_subject, row.rendered_text, row.rendered_html) == (
        message.subject, message.body, html_of(message))


def test_a_message_rendered_when_it_was_queued_is_sent_as_it_is(program, member):
    Outbox.objects.create(program=program, member=member, kind="points_earned", category="transactional",
                          dedupe_key="earned:old", to=member.email, from_email="club@localhost",
                          rendered_subject="Old subject", rendered_text="Old text\n", rendered_html="<p>Old</p>")

    outbox_send_due()

    message = only_email("points_earned")
    assert (message.subject, message.body, html_of(message)) == ("Old subject", "Old text\n", "<p>Old</p>")


def test_a_program_template_that_cannot_be_rendered_fails_its_message_and_not_the_others(
        pos, program, member, other_program, settings, tmp_path):
    from notifications.services import notification_enqueue

    folder = tmp_path / "notifications" / "email" / "programs" / program.slug / "points_earned"
    folder.mkdir(parents=True)
    (folder / "en.subject.txt").write_text("Beans! {% if %}")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}]
    elsewhere = MemberFactory(program=other_program, email="bob@example.com")
    notification_enqueue(member=member, kind="points_earned", data={"points": 20}, dedupe_key="earned:1")
    notification_enqueue(member=elsewhere, kind="points_earned", data={"points": 20}, dedupe_key="earned:2")

    counts = outbox_send_due()

    assert (counts["sent"], counts["failed"]) == (1, 1)
    assert [m.to for m in mail.outbox] == [["bob@example.com"]]
    broken = Outbox.objects.get(dedupe_key="earned:1")
    assert broken.status == "failed" and broken.last_error.startswith("template:")


def test_a_message_queued_by_code_that_knows_no_context_is_sent_as_rendered(program, member):
    from django.db import connection

    with connection.cursor() as cursor:  # the columns as before notifications 0002; context takes its default
        cursor.execute(
            "INSERT INTO notifications_outbox (program_id, member_id, channel, kind, category, dedupe_key, \"to\", "
            "from_email, subject, text, html, headers, status, attempts, next_attempt_at, created_at, last_error) "
            "VALUES (%s, %s, 'email', 'points_earned', 'transactional', 'earned:old', %s, 'club@localhost', "
            "'Old subject', 'Old text', '', '{}', 'pending', 0, %s, %s, '')",
            [Outbox._meta.get_field("program").get_db_prep_save(program.pk, connection),
             Outbox._meta.get_field("member").get_db_prep_save(member.pk, connection), member.email,
             *[connection.ops.adapt_datetimefield_value(member.enrolled_at)] * 2])

    assert outbox_send_due()["sent"] == 1
    assert (only_email("points_earned").subject, Outbox.objects.get().context) == ("Old subject", {})
