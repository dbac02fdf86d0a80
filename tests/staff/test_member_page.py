"""The member page at /staff/members/<id>/: profile, consent, balance with its dates, the tier and why, the statement
with every line explained, purchases and returns, redemptions and vouchers — in a bounded number of queries."""

import html as html_lib
import re
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ledger.models import Kind, LedgerEntry
from members.services import member_anonymise, member_consent_set
from staff.members.statement import PAGE_SIZE
from tests.factories import MemberFactory
from tiers.services import tier_assign, tier_define

from .conftest import client_for
from .member_story import buy, tell

pytestmark = pytest.mark.django_db


def page(client, member, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    response = client.get(f"/staff/members/{member.pk}/" + (f"?{query}" if query else ""))
    assert response.status_code == 200
    return response.content.decode()


def text(html: str) -> str:
    """The page as a person reads it: tags gone, entities decoded, spaces collapsed."""
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def section(html: str, section_id: str) -> str:
    start = html.index(f'id="{section_id}"')
    end = html.find("</section>", start)
    return html[start:end]


def statement_lines(html: str) -> list[str]:
    return [text(line) for line in re.findall(r'<li class="timeline-line[^"]*"[^>]*>(.*?)</li>', html, re.S)]


@pytest.fixture
def ladder(program):
    return [tier_define(program=program, code=code, name=name, rank=rank, threshold=threshold, multiplier=multiplier)
            for code, name, rank, threshold, multiplier in (("bronze", "Bronze", 1, 0, "1"),
                                                            ("silver", "Silver", 2, 50, "1.25"),
                                                            ("gold", "Gold", 3, 2000, "1.5"))]


@pytest.fixture
def story(program, store, api_key, member, manager, second_manager, ladder):
    return tell(program=program, store=store, member=member, manager=manager, second_manager=second_manager)


def test_the_profile_and_consent_are_shown(manager_client, member):
    member_consent_set(member=member, marketing_opt_in=True, source="staff")
    html = page(manager_client, member)
    profile = text(section(html, "profile-title"))
    assert "ada@example.com" in profile and "+4915112345678" in profile and member.card_number in profile
    assert "Ada Lovelace" in text(html)
    consent = text(section(html, "consent-title"))
    assert "Opted in" in consent and "Never asked" not in consent
    assert "Where" in consent and "By staff" in consent


def test_the_balance_shows_available_pending_with_release_dates_and_expiring_with_dates(manager_client, story):
    balance = text(section(page(manager_client, story.member), "balance-title"))
    assert "Available 1,557" in balance and "Pending 36" in balance
    released = story.new.occurred_at + timedelta(days=14)
    assert f"Pending, released on {released:%a %-d %b %Y} 36" in balance  # earned as Silver: ×1.25
    expires = story.mid.occurred_at + timedelta(days=365)
    assert f"Available, expiring on {expires:%a %-d %b %Y} 27" in balance  # 59 earned, 12 taken back, 20 spent
    assert "1,530 never expire" in balance  # staff adjustments


def test_the_tier_shows_the_windows_figure_against_each_threshold_and_what_comes_next(manager_client, story):
    tier = text(section(page(manager_client, story.member), "tier-title"))
    assert "Tier: Silver" in tier
    assert "The window holds 83 points earned" in tier  # MID-1 59 − 12 returned, NEW-1 36
    assert "Bronze 0 Reached" in tier
    assert "Silver Current 50 Reached" in tier
    assert "Gold 2,000 1,917 to go" in tier
    assert "1,917 more points earned reach Gold" in tier
    assert "Upgrade on reaching a threshold on" in tier and "Reached 50 with purchase" in tier  # why: the last change
    assert "Kept: the window already holds the threshold, and the program never downgrades." in tier


def test_a_tier_set_by_hand_says_so_and_until_when(manager_client, member, ladder):
    from django.utils import timezone

    tier_assign(member=member, tier=ladder[2], actor="user:1", reason="Status match",
                locked_until=timezone.now() + timedelta(days=30))
    tier = text(section(page(manager_client, member), "tier-title"))
    assert "Tier: Gold" in tier and "Set by hand and locked until" in tier
    assert "1,924" not in tier and "2,000 more points earned in the window keep it" in tier


def test_every_statement_line_says_why_what_the_member_sees_and_who(manager_client, story):
    lines = statement_lines(page(manager_client, story.member))
    assert len(lines) == 12
    for line in lines:
        assert "Member sees" in line and "By " in line
    new, approved, cold, redeemed, refund, cancelled, returned, released, _mid, expired, _released, old = lines
    assert "Purchase NEW-1 at Store" in new and "+36" in new and "pending" in new
    assert "The till's breakdown: base 25, coffee-x2 11." in new and "Till key “test” at" in new
    assert "Adjusted by staff: Balance migration" in approved
    assert "“Balance migration: Balance of the old card”" in approved  # what the member sees
    assert "Approved by coffee-manager-2: “Checked the old statement”" in approved
    assert "Asked by coffee-manager" in approved
    assert "By coffee-manager-2 (staff)" in approved
    assert "Complaint resolution" in cold and "By coffee-manager (staff)" in cold
    assert "now issued" in redeemed and story.open.voucher_code in redeemed
    assert f"Voucher {story.cancelled.voucher_code} for Free coffee was cancelled" in refund
    assert "Why: Chose the wrong reward." in refund and "Reverses: The redemption of Free coffee" in refund
    assert "now cancelled" in cancelled
    assert "Return RET-1: 10.00 of the 50.00 EUR of purchase MID-1" in returned and "-12" in returned
    assert "Points from purchase MID-1" in released and "pending → available" in released
    assert "Automatic release of pending points" in released
    assert "Points from purchase OLD-1" in expired and "expiry date" in expired and "-29" in expired
    assert "Automatic expiry of points" in expired
    assert "+29" in old and "total 29" in old


def test_the_running_total_ends_at_the_balance(manager_client, story):
    lines = statement_lines(page(manager_client, story.member))
    assert "total 1,593" in lines[0]  # 1,557 available + 36 pending


def test_lines_link_to_the_purchase_they_came_from_and_to_what_they_reverse(manager_client, story):
    html = section(page(manager_client, story.member), "statement-title")
    member_url = f"/staff/members/{story.member.pk}/"
    assert f'href="{member_url}purchases/{story.new.pk}/">Explain these points' in html
    assert f'href="{member_url}purchases/{story.mid.pk}/">Purchase MID-1' in html  # the return's purchase
    assert f'href="{member_url}purchases/{story.old.pk}/">Where they came from' in html  # the expired points
    refund_link = re.search(rf'href="({member_url}statement/(\d+)/)">Reverses: The redemption', html)
    assert refund_link and int(refund_link.group(2)) == story.cancelled.spend_transaction_id


def test_the_reversed_line_link_leads_to_its_page_and_line(manager_client, program, store, api_key, member):
    first = buy(store, member, "FIRST-1")
    for n in range(PAGE_SIZE + 3):
        buy(store, member, f"LATER-{n}")
    url = f"/staff/members/{member.pk}/statement/{first.earn_transaction_id}/"
    response = manager_client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/staff/members/{member.pk}/?page=2#txn-{first.earn_transaction_id}"
    assert f'id="txn-{first.earn_transaction_id}"' in page(manager_client, member, page=2)


def test_a_statement_link_of_another_member_or_to_nothing_is_a_404(manager_client, program, store, api_key, member):
    other = MemberFactory(program=program, store=store)
    theirs = buy(store, other, "THEIRS-1")
    for txn in (theirs.earn_transaction_id, 999999, 2**63, 10**30):
        assert manager_client.get(f"/staff/members/{member.pk}/statement/{txn}/").status_code == 404


def test_the_statement_is_paged_and_junk_pages_never_fail(manager_client, store, api_key, member):
    for n in range(PAGE_SIZE + 2):
        buy(store, member, f"R-{n}")
    first, second = statement_lines(page(manager_client, member)), statement_lines(page(manager_client, member, page=2))
    assert len(first) == PAGE_SIZE and len(second) == 2
    assert "R-26" in first[0] and "R-0" in second[-1]
    assert "total 540" in first[0] and "total 20" in second[-1]  # the running total carries across pages
    assert statement_lines(page(manager_client, member, page="abc")) == first
    assert statement_lines(page(manager_client, member, page=-4)) == first
    assert "No older lines" in page(manager_client, member, page=50)
    assert page(manager_client, member, page=10**30)


def test_purchases_with_their_returns_and_redemptions_with_their_vouchers(manager_client, story):
    html = page(manager_client, story.member)
    purchases = text(section(html, "purchases-title"))
    assert purchases.index("NEW-1") < purchases.index("MID-1") < purchases.index("OLD-1")
    assert "returned 10.00" in purchases and "−12 taken back" in purchases
    assert f'href="/staff/members/{story.member.pk}/purchases/{story.mid.pk}/"' in section(html, "purchases-title")
    redemptions = text(section(html, "redemptions-title"))
    assert f"{story.open.voucher_code} 20 Issued" in redemptions
    assert f"{story.cancelled.voucher_code} 20 Cancelled" in redemptions


def test_the_adjustment_form_stays_with_the_contracts_labels(manager_client, member):
    html = page(manager_client, member)
    assert '<label for="adjust_points">Points</label>' in html
    assert '<label for="adjust_category">Category</label>' in html
    assert '<label for="adjust_reason">Reason</label>' in html
    assert ">Adjust points</button>" in html


def _names(html: str) -> list[str]:
    """Every accessible name a label-based lookup could find: labels, aria-labels, what aria-labelledby names."""
    names = [text(t) for t in re.findall(r"<label[^>]*>(.*?)</label>", html, re.S)]
    names += re.findall(r'aria-label="([^"]*)"', html)
    for ident in re.findall(r'aria-labelledby="([^"]*)"', html):
        found = re.search(rf'id="{ident}"[^>]*>(.*?)</', html, re.S)
        names.append(text(found.group(1)) if found else "")
    return names


def test_no_other_name_on_the_page_holds_points_or_reason(manager_client, story):
    names = _names(page(manager_client, story.member))
    assert [n for n in names if "points" in n.lower() or "reason" in n.lower()] == ["Points", "Reason"]


def test_an_agent_sees_the_page_an_analyst_is_refused_and_another_program_is_a_404(agent_client, analyst_client,
                                                                                   other_manager_client, member):
    assert agent_client.get(f"/staff/members/{member.pk}/").status_code == 200
    assert analyst_client.get(f"/staff/members/{member.pk}/").status_code == 403
    assert other_manager_client.get(f"/staff/members/{member.pk}/").status_code == 404


@pytest.mark.parametrize("member_id", [uuid.uuid4(), "not-a-uuid", "12345", "%00", "../../admin"])
def test_odd_ids_are_a_404(manager_client, member, member_id):
    assert manager_client.get(f"/staff/members/{member_id}/").status_code == 404


def test_an_anonymised_member_shows_no_personal_data(manager_client, member):
    member_anonymise(member=member)
    html = page(manager_client, member)
    assert "Anonymised member" in html
    assert "Ada" not in text(html) and "ada@example.com" not in html and "+4915112345678" not in html


def test_the_page_costs_the_same_queries_however_long_the_story(manager_client, program, store, story, manager,
                                                              django_assert_max_num_queries):
    member = story.member
    with CaptureQueriesContext(connection) as short:
        page(manager_client, member)
    for n in range(40):
        buy(store, member, f"MORE-{n}")
    with django_assert_max_num_queries(len(short)):
        page(manager_client, member)
    assert len(short) <= 40, [q["sql"][:120] for q in short.captured_queries]


def test_a_superuser_reaches_any_programs_member(superuser, other_program):
    stranger = MemberFactory(program=other_program)
    assert client_for(superuser).get(f"/staff/members/{stranger.pk}/").status_code == 200


def test_the_entries_shown_are_the_members_own(manager_client, program, store, api_key, member):
    other = MemberFactory(program=program, store=store)
    buy(store, other, "NOT-ADAS")
    assert "NOT-ADAS" not in page(manager_client, member)
    assert LedgerEntry.objects.filter(kind=Kind.EARN).count() == 1
