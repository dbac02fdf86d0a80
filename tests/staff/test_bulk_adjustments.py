"""Bulk adjustments from a CSV file: a preview that posts nothing, then posting once however often it is sent."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from ledger.selectors import account_balance_get
from ledger.services import points_earn
from staff.models import Adjustment, AuditEvent
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

URL = "/staff/adjustments/bulk/"


@pytest.fixture
def bob(program, store):
    return MemberFactory(program=program, store=store, email="bob@example.com", first_name="Bob", last_name="Baker")


def upload(client, text: str | bytes, name="march.csv"):
    content = text.encode() if isinstance(text, str) else text
    return client.post(URL, {"file": SimpleUploadedFile(name, content, content_type="text/csv")})


def confirm(client, preview_response):
    token = re.search(r'name="upload" value="([^"]+)"', preview_response.content.decode()).group(1)
    return client.post(f"{URL}post/", {"upload": token})


def available(member) -> int:
    return account_balance_get(member=member, fresh=True)["available"]


def test_the_preview_shows_who_how_many_and_the_total_and_posts_nothing(manager_client, member, bob):
    response = upload(manager_client, f"card_number,points,reason\n"
                                      f"{member.card_number},250,Welcome back\n"
                                      f"{bob.card_number},1500,Partner status match\n"
                                      f"{member.card_number},100,Second visit\n")

    assert response.status_code == 200
    html = response.content.decode()
    stats = dict(re.findall(r'<p class="stat-label">([^<]+)</p><p class="stat-value num[^"]*">([^<]+)</p>', html))
    assert stats == {"Lines ready": "3", "Members": "2", "Net total": "+1,850", "Will wait for approval": "1",
                     "Lines with errors": "0"}
    assert "Ada Lovelace" in html and "Bob Baker" in html and "Waits for approval" in html
    assert ">Post 3 adjustments</button>" in html
    assert not Adjustment.objects.exists() and available(member) == 0


def test_posting_adjusts_each_member_and_lines_above_the_threshold_wait(manager_client, manager, member, bob):
    preview = upload(manager_client, f"card_number,points,reason,category\n"
                                     f"{member.card_number},250,Welcome back,goodwill\n"
                                     f"{bob.card_number},1500,Partner status match,promotion\n")

    response = confirm(manager_client, preview)

    assert response.status_code == 302 and re.fullmatch(r"/staff/adjustments/bulk/[0-9a-f]{64}/", response["Location"])
    assert available(member) == 250 and available(bob) == 0
    waiting = Adjustment.objects.get(member=bob)
    assert waiting.status == Adjustment.Status.PENDING and waiting.reason_code == "promotion"
    assert Adjustment.objects.get(member=member).requested_by == manager
    assert set(Adjustment.objects.values_list("batch", flat=True)) == {response["Location"].split("/")[-2]}
    event = AuditEvent.objects.get(action="adjustment.bulk")
    assert event.after == {"lines": 2, "posted": 1, "waiting": 1, "already": 0, "failed": []}
    assert event.target_label == "march.csv"
    assert AuditEvent.objects.filter(action="points.adjust").count() == 1
    assert AuditEvent.objects.filter(action="adjustment.request").count() == 1

    result = manager_client.get(response["Location"]).content.decode()
    assert "Waiting for approval" in result and "Posted" in result and "+250" in result


def test_posting_the_same_file_again_changes_nothing(manager_client, member, bob):
    text = f"email,points,reason\n{member.email},250,Welcome back\n{bob.email},-0010,Typo fix\n"
    points_earn(member=bob, points=10, idempotency_key="grant", source_type="test", actor="test")
    preview = upload(manager_client, text)
    confirm(manager_client, preview)
    confirm(manager_client, preview)  # confirmed twice (a double click, a browser's back button)

    again = upload(manager_client, text).content.decode()
    assert "Posted before" in again and "Nothing left to post from this file." in again
    assert 'name="upload"' not in again
    assert available(member) == 250 and available(bob) == 0
    assert Adjustment.objects.count() == 2
    last = AuditEvent.objects.filter(action="adjustment.bulk").first()
    assert last.after["already"] == 2 and last.after["posted"] == 0 and last.after["failed"] == []


def test_lines_with_errors_are_reported_by_line_and_skipped(manager_client, member, bob):
    response = upload(manager_client, "card_number,points,reason,category\n"
                                      f"{member.card_number},250,Welcome back,goodwill\n"
                                      "9000000000000019,10,Unknown card,goodwill\n"
                                      f"{bob.card_number},ten,Not a number,goodwill\n"
                                      f"{bob.card_number},0,Zero,goodwill\n"
                                      f"{bob.card_number},10,,goodwill\n"
                                      f"{bob.card_number},10,Odd category,bribe\n"
                                      f"{bob.card_number},-10,More than Bob has,correction\n"
                                      "\n"
                                      "12345,10,Short card,goodwill\n"
                                      f"{bob.card_number},²,Superscript,goodwill\n"
                                      f"{bob.card_number},9999999999999999999999,Huge,goodwill\n")

    html = response.content.decode()
    errors = dict(re.findall(r'<tr class="bulk-line-bad">\s*<td class="num">(\d+)</td>.*?'
                             r'<span class="bulk-error">([^<]+)</span>', html, re.S))
    assert errors == {
        "3": "No member of this program has this card number.",
        "4": "Points must be a whole number, e.g. 250 or -100.",
        "5": "Points must not be 0.",
        "6": "Give the reason; the member sees it on their statement.",
        "7": "Unknown category “bribe”; use one of goodwill, missing_purchase, correction, complaint, "
             "promotion, fraud, migration, other.",
        "8": "The member has 0 points available; 10 cannot be taken.",
        "10": "A card number has exactly 16 digits.",
        "11": "Points must be a whole number, e.g. 250 or -100.",
        "12": "Points must be a whole number, e.g. 250 or -100.",
    }
    assert ">Post 1 adjustment</button>" in html

    confirm(manager_client, response)
    assert available(member) == 250 and Adjustment.objects.count() == 1
    failed = AuditEvent.objects.get(action="adjustment.bulk").after["failed"]
    assert [item["line"] for item in failed] == [3, 4, 5, 6, 7, 8, 10, 11, 12]


def test_a_debit_counts_what_earlier_lines_of_the_file_added(manager_client, member):
    response = upload(manager_client, f"card_number,points,reason\n{member.card_number},100,Bonus\n"
                                      f"{member.card_number},-80,Correction of the bonus\n")
    assert "Lines with errors</p><p class=\"stat-value num\">0" in response.content.decode()


def test_a_member_of_another_program_is_not_found(manager_client, other_program):
    stranger = MemberFactory(program=other_program, email="stranger@example.com")
    response = upload(manager_client, f"card_number,points,reason\n{stranger.card_number},10,Hello\n")
    assert "No member of this program has this card number." in response.content.decode()


@pytest.mark.parametrize(("content", "message"), [
    (b"", "The submitted file is empty."),
    (b"name,points,reason\nAda,10,Hi\n", "The header must name the member in exactly one column"),
    (b"card_number,email,points,reason\n", "The header must name the member in exactly one column"),
    (b"card_number,points\n9000000000000019,10\n", "The header has no reason column."),
    (b"card_number,points,reason\n", "The file has a header but no lines."),
    ("card_number,points,reason\n9000000000000019,10,Caf\xe9\n".encode("latin-1"), "The file is not UTF-8 text."),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "The file is not"),
])
def test_a_file_that_cannot_be_read_is_refused_beside_the_file_field(manager_client, content, message):
    response = upload(manager_client, content)

    assert response.status_code == 200
    error = re.search(r'<p class="field-error" id="id_file_error">(.*?)</p>', response.content.decode(), re.S)
    assert error and message in error.group(1)
    assert not Adjustment.objects.exists()


def test_a_spreadsheets_byte_order_mark_quoting_and_thousands_separators_are_read(manager_client, member):
    response = upload(manager_client,
                      f'\ufeffCard_Number,Points,Reason\n"{member.card_number}","1,000","Big, fat bonus"\n')
    assert ">Post 1 adjustment</button>" in response.content.decode()


def test_a_tampered_or_expired_preview_is_refused(manager_client, member):
    response = manager_client.post(f"{URL}post/", {"upload": "forged"})
    assert response.status_code == 302 and response["Location"] == URL
    assert not Adjustment.objects.exists()


def test_a_preview_confirmed_by_someone_else_is_a_404(manager_client, second_manager_client, member):
    preview = upload(manager_client, f"card_number,points,reason\n{member.card_number},10,Hello\n")
    assert confirm(second_manager_client, preview).status_code == 404
    assert not Adjustment.objects.exists()


def test_agents_and_analysts_cannot_use_bulk_adjustments(agent_client, analyst_client, member):
    for client in (agent_client, analyst_client):
        assert client.get(URL).status_code == 403
        assert upload(client, f"card_number,points,reason\n{member.card_number},10,Hello\n").status_code == 403
        assert client.post(f"{URL}post/", {"upload": "x"}).status_code == 403


def test_the_result_of_a_file_never_posted_is_a_404(manager_client):
    assert manager_client.get(f"{URL}{'0' * 64}/").status_code == 404
    assert manager_client.get(f"{URL}not-a-hash/").status_code == 404


def test_the_upload_page_lists_recent_files(manager_client, member):
    confirm(manager_client, upload(manager_client, f"card_number,points,reason\n{member.card_number},10,Hi\n",
                                   name="april-goodwill.csv"))
    html = manager_client.get(URL).content.decode()
    assert "Recent files" in html and "april-goodwill.csv" in html
