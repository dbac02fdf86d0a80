"""The audit log at /staff/audit/: staff actions newest first with who, when, what and why; searchable,
paginated and exportable; and every kind of staff change on the dashboard (and in the Django admin) lands in it."""

import csv
import io
import re
import uuid
from datetime import UTC, datetime

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from staff.data import audit
from staff.models import AuditEvent, StaffRole
from staff.services import audit_record
from tests.factories import StoreFactory, api_key_for
from tiers.services import tier_define

from .conftest import client_for

pytestmark = pytest.mark.django_db

URL = "/staff/audit/"


def event(*, program, actor, action="points.adjust", at=None, **fields):
    with time_machine.travel(at or datetime(2026, 3, 1, 12, tzinfo=UTC), tick=False):
        return audit_record(actor=actor, program=program, action=action, **fields)


def shown(response) -> list[str]:
    """The actions the page lists, top to bottom."""
    assert response.status_code == 200, response.content.decode()[:500]
    return re.findall(r'<span class="audit-action">([^<]+)</span>', response.content.decode())


def test_events_are_listed_newest_first_with_who_when_what_and_why(manager_client, manager, program, member):
    event(program=program, actor=manager, action="member.suspend", target=member, target_label="Ada Lovelace",
          before={"status": "active"}, after={"status": "suspended"}, reason="Card reported stolen",
          at=datetime(2026, 3, 1, 9, tzinfo=UTC))
    event(program=program, actor=manager, action="member.reactivate", target=member, target_label="Ada Lovelace",
          before={"status": "suspended"}, after={"status": "active"}, reason="Card found again",
          at=datetime(2026, 3, 2, 9, tzinfo=UTC))

    response = manager_client.get(URL)

    assert shown(response) == ["Member reactivated", "Member suspended"]
    html = response.content.decode()
    assert "coffee-manager" in html and "2 Mar 2026" in html and "09:00:00" in html
    assert f'href="/staff/members/{member.pk}/"' in html
    assert '<span class="audit-before">suspended</span>' in html and '<span class="audit-after">active</span>' in html
    assert "Card found again" in html


def test_only_the_programs_own_events_are_shown(manager_client, manager, other_manager, program, other_program):
    event(program=program, actor=manager, action="store.create")
    event(program=other_program, actor=other_manager, action="tier.create")
    event(program=None, actor=manager, action="two_factor.reset")

    assert shown(manager_client.get(URL)) == ["Store created"]


def test_a_superuser_also_sees_what_belongs_to_no_program(superuser, manager, program):
    event(program=program, actor=manager, action="store.create")
    event(program=None, actor=superuser, action="admin.change", target_label="coffee-agent", at=datetime(
        2026, 3, 2, tzinfo=UTC))

    response = client_for(superuser).get(URL)

    assert shown(response) == ["Record changed in the admin", "Store created"]
    assert "No program" in response.content.decode()


@pytest.fixture
def history(program, manager, second_manager, member):
    event(program=program, actor=manager, action="points.adjust", target=member, target_label="Ada Lovelace",
          after={"points": 250}, reason="Coffee was cold", at=datetime(2026, 3, 1, 10, tzinfo=UTC))
    event(program=program, actor=second_manager, action="adjustment.approve", target=member,
          target_label="Ada Lovelace", after={"points": 2500}, reason="Partner status match",
          at=datetime(2026, 3, 5, 10, tzinfo=UTC))
    event(program=program, actor=manager, action="store.create", target_type="store", target_id="1",
          target_label="BERLIN-01 (Berlin Mitte)", after={"code": "BERLIN-01"}, at=datetime(2026, 3, 9, 10, tzinfo=UTC))


@pytest.mark.parametrize(("query", "expected"), [
    ({"q": "cold"}, ["Points adjusted"]),  # the reason
    ({"q": "berlin"}, ["Store created"]),  # the record
    ({"q": "2500"}, ["Adjustment approved"]),  # what changed
    ({"q": "ada lovelace"}, ["Adjustment approved", "Points adjusted"]),
    ({"actor": "coffee-manager-2"}, ["Adjustment approved"]),
    ({"action": "store.create"}, ["Store created"]),
    ({"start": "2026-03-05"}, ["Store created", "Adjustment approved"]),
    ({"end": "2026-03-04"}, ["Points adjusted"]),
    ({"start": "2026-03-02", "end": "2026-03-08"}, ["Adjustment approved"]),
    ({"q": "ada", "actor": "coffee-manager"}, ["Points adjusted"]),
    ({"q": "nothing like it"}, []),
])
def test_the_log_is_searched_by_text_actor_action_and_dates(manager_client, history, query, expected):
    assert shown(manager_client.get(URL, query)) == expected


@pytest.mark.parametrize(("query", "field"), [
    ({"start": "03/01/2026"}, "start"),
    ({"start": "2026-03-09", "end": "2026-03-01"}, "end"),
    ({"actor": "nobody-like-this"}, "actor"),
    ({"action": "'; DROP TABLE"}, "action"),
    ({"q": "x" * 201}, "q"),
    ({"start": "0001-01-01"}, "start"),
])
def test_a_bad_filter_answers_the_form_with_the_message_beside_the_field(manager_client, history, query, field):
    response = manager_client.get(URL, query)

    assert response.status_code == 400
    html = response.content.decode()
    assert re.search(rf'id="field-{field}">\s*<label[^>]*>[^<]*(<span[^>]*>[^<]*</span>)?</label>\s*'
                     rf'(<p class="help"[^>]*>[^<]*</p>\s*)?<p class="field-error"', html)
    assert '<span class="audit-action">' not in html


def test_the_log_is_paginated_and_pages_keep_the_search(manager_client, manager, program, monkeypatch):
    monkeypatch.setattr(audit, "PAGE_SIZE", 2)
    for day in range(1, 6):
        event(program=program, actor=manager, action="store.update", target_label=f"store {day}",
              at=datetime(2026, 3, day, tzinfo=UTC))

    first = manager_client.get(URL, {"q": "store"})
    assert "page 1 of 3" in first.content.decode()
    assert 'href="?q=store&amp;page=2"' in first.content.decode()
    third = manager_client.get(URL, {"q": "store", "page": "3"}).content.decode()
    assert "store 1" in third and "store 5" not in third
    for junk in ("999", "-1", "abc", "1" * 40):  # never a 500: the nearest page
        assert manager_client.get(URL, {"page": junk}).status_code == 200


def test_the_log_downloads_as_csv_with_the_pages_search(manager_client, history):
    response = manager_client.get(f"{URL}export.csv", {"q": "ada"})

    assert response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["action"] for row in rows] == ["adjustment.approve", "points.adjust"]
    assert rows[0]["who"] == "coffee-manager-2" and rows[0]["why"] == "Partner status match"
    assert rows[0]["after"] == '{"points": 2500}' and rows[0]["at"] == "2026-03-05T10:00:00+00:00"
    assert manager_client.get(f"{URL}export.csv", {"start": "junk"}).status_code == 400


def test_a_formula_in_a_reason_is_defused_in_the_csv(manager_client, manager, program):
    event(program=program, actor=manager, reason="=HYPERLINK(\"http://evil\")")

    text = b"".join(manager_client.get(f"{URL}export.csv").streaming_content).decode()

    assert "'=HYPERLINK" in text


def test_only_managers_read_the_log(agent_client, analyst_client):
    for client in (agent_client, analyst_client):
        assert client.get(URL).status_code == 403
        assert client.get(f"{URL}export.csv").status_code == 403


# --- every staff change is audited -------------------------------------------------------------------


def actions_after(run) -> list[str]:
    before = set(AuditEvent.objects.values_list("pk", flat=True))
    run()
    return list(AuditEvent.objects.exclude(pk__in=before).order_by("pk").values_list("action", flat=True))


def test_every_kind_of_staff_change_is_audited(manager_client, second_manager_client, agent_client, manager,
                                              program, policy, member, store, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    tiers = {code: tier_define(program=program, code=code, name=code.title(), rank=rank, threshold=threshold)
             for code, rank, threshold in [("bronze", 1, 0), ("gold", 2, 2000)]}
    settings_form = {
        "name": "Coffee Club", "points_per_unit": "2", "pending_days": 0, "expiry_days": 365, "claim_window_days": 30,
        "value_per_point": "0.01", "time_zone": "UTC", "accent_color": "#4a3fe0", "approval_threshold": 1000,
        "agent_adjustment_limit": 500, "redemption_undo_minutes": 15, "transfer_daily_limit": 10000,
    }

    def adjust(client, points):
        return client.post(f"/staff/members/{member.pk}/adjust/", {
            "points": points, "reason": "Because", "category": "goodwill", "token": uuid.uuid4().hex})

    changes = {
        "configuration": lambda: manager_client.post("/staff/settings/", settings_form),
        "adjustment": lambda: adjust(agent_client, 50),
        "adjustment waiting": lambda: adjust(manager_client, 2500),
        "approval": lambda: second_manager_client.post(
            f"/staff/approvals/{member_adjustment(member).pk}/approve/", {"note": "ok"}),
        "tier assignment": lambda: manager_client.post(f"/staff/members/{member.pk}/tier/", {
            "tier": tiers["gold"].pk, "explanation": "Status match"}),
        "suspension": lambda: agent_client.post(f"/staff/members/{member.pk}/status/", {"explanation": "Stolen"}),
        "key creation": lambda: manager_client.post(f"/staff/settings/stores/{store.pk}/keys/", {"name": "Till 2"}),
        "key revocation": lambda: manager_client.post(
            f"/staff/settings/stores/{store.pk}/keys/{store.api_keys.first().pk}/revoke/"),
        "import": lambda: manager_client.post(f"/staff/imports/{imported(manager_client).pk}/start/"),
    }
    expected = {
        "configuration": ["program.update"], "adjustment": ["points.adjust"],
        "adjustment waiting": ["adjustment.request"], "approval": ["adjustment.approve"],
        "tier assignment": ["member.tier_assign"], "suspension": ["member.suspend"],
        "key creation": ["api_key.create"], "key revocation": ["api_key.revoke"],
        "import": ["import.start", "import.done"],
    }
    api_key_for(store)
    recorded = {name: actions_after(change) for name, change in changes.items()}

    assert recorded == expected
    for each in AuditEvent.objects.exclude(action__startswith="import"):
        assert each.actor_id and each.actor_name and each.program == program


def member_adjustment(member):
    from staff.models import Adjustment

    return Adjustment.objects.filter(member=member, status=Adjustment.Status.PENDING).get()


def imported(client):
    response = client.post("/staff/imports/", {"kind": "members", "file": SimpleUploadedFile(
        "few.csv", b"email\nnew-member@example.com\n", content_type="text/csv")})
    from staff.models import ImportJob

    return ImportJob.objects.get(pk=response["Location"].split("/")[-2])


def test_changes_made_in_the_django_admin_are_audited_with_before_and_after(superuser, program, agent):
    client = client_for(superuser)
    role = StaffRole.objects.get(user=agent)
    store = StoreFactory(program=program, code="OLD-1", name="Old name")

    response = client.post(f"/admin/staff/staffrole/{role.pk}/change/", {
        "user": agent.pk, "program": program.pk, "role": "manager", "created_at_0": "2026-01-01",
        "created_at_1": "10:00:00"})
    assert response.status_code == 302, response.content.decode()[:3000]
    client.post(f"/admin/programs/store/{store.pk}/change/", {
        "program": program.pk, "code": "OLD-1", "name": "New name", "is_active": "on"})
    client.post(f"/admin/programs/store/{store.pk}/delete/", {"post": "yes"})

    events = list(AuditEvent.objects.filter(action__startswith="admin.").order_by("pk"))
    assert [(e.action, e.target_type) for e in events] == [
        ("admin.change", "staffrole"), ("admin.change", "store"), ("admin.delete", "store")]
    assert events[0].before["role"] == "agent" and events[0].after["role"] == "manager"
    assert events[0].program == program and events[0].actor == superuser
    assert events[1].before == {"name": "Old name"} and events[1].after == {"name": "New name"}
    assert events[2].before == {"record": "OLD-1 (New name)"}


def test_a_password_changed_in_the_admin_is_audited_without_the_hash(superuser, agent):
    client = client_for(superuser)
    response = client.post(f"/admin/auth/user/{agent.pk}/password/", {
        "password1": "another-long-password-9", "password2": "another-long-password-9", "usable_password": "true"})
    assert response.status_code == 302, response.content.decode()[:2000]

    audited = AuditEvent.objects.filter(action__startswith="admin.", target_type="user").values_list("after", flat=True)
    assert all("pbkdf2" not in str(after) and "md5" not in str(after) for after in audited)


def test_rows_edited_inline_in_the_admin_are_audited_one_by_one(superuser, program, store):
    client = client_for(superuser)
    form = {
        "slug": program.slug, "name": program.name, "currency": "EUR", "points_per_unit": "1", "pending_days": 0,
        "expiry_days": 365, "claim_window_days": 30, "time_zone": "UTC", "default_phone_region": "DE",
        "value_per_point": "0.01", "accent_color": "#4a3fe0", "redemption_undo_minutes": 15,
        "transfer_daily_limit": 10000,
        "stores-TOTAL_FORMS": 2, "stores-INITIAL_FORMS": 1, "stores-MIN_NUM_FORMS": 0, "stores-MAX_NUM_FORMS": 1000,
        "stores-0-id": store.pk, "stores-0-program": program.pk, "stores-0-code": store.code,
        "stores-0-name": "Renamed inline", "stores-0-is_active": "on",
        "stores-1-program": program.pk, "stores-1-code": "NEW-2", "stores-1-name": "Second store",
        "stores-1-is_active": "on",
    }

    response = client.post(f"/admin/programs/program/{program.pk}/change/", form)

    assert response.status_code == 302, re.findall(r'class="errorlist[^"]*"[^>]*>(.*?)</ul>',
                                                   response.content.decode(), re.S)
    events = {(e.action, e.target_label): e for e in AuditEvent.objects.filter(target_type="store")}
    renamed = events[("admin.change", "DEMO-001 (Renamed inline)")]
    assert renamed.before == {"name": store.name} and renamed.after == {"name": "Renamed inline"}
    added = events[("admin.add", "NEW-2 (Second store)")]
    assert added.after["code"] == "NEW-2" and added.program == program
