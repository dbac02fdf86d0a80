"""The Django admin, mended: every list, add and record page opens for a superuser, with English plurals, filter
titles people read, related records by name (never a bare id), few enough columns for a laptop, and the staff
records registered (the authenticator apps without their secrets)."""

import re
from html.parser import HTMLParser

import pyotp
import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from ledger.models import LedgerTransaction
from programs.demo import demo_seed
from staff.models import Adjustment, AuditEvent, ImportJob, ReasonCode, StaffPolicy, StaffRole, TotpDevice
from tests.conftest import pos_client

pytestmark = pytest.mark.django_db

KEY = "demo-pos-key-0001"
UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
OUR_APPS = {"programs", "members", "ledger", "tiers", "earning", "rewards", "notifications", "webhooks", "staff"}


@pytest.fixture
def world(db, settings):
    """The demo program after some trading, with a record of every staff kind."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # the demo's seven users
    demo = demo_seed(api_key=KEY)
    pos = pos_client(KEY)
    member = pos.post("/api/v1/pos/members/", {"email": "shopper@example.com", "first_name": "Sam"},
                      format="json").json()
    ref = {"id": member["id"]}
    pos.post("/api/v1/pos/purchases/", {"external_id": "R-1", "member": ref, "currency": "EUR", "total": "120.00"},
             format="json")
    pos.post("/api/v1/pos/returns/", {"external_id": "RET-1", "purchase_external_id": "R-1", "amount": "20.00"},
             format="json")
    voucher = pos.post("/api/v1/pos/redemptions/", {"member": ref, "reward": "FREE-COFFEE"}, format="json",
                       HTTP_IDEMPOTENCY_KEY="k1").json()
    pos.post(f"/api/v1/pos/vouchers/{voucher['voucher_code']}/use/")

    manager = get_user_model().objects.get(username="demo-manager")
    shopper = demo.program.members.get(email="shopper@example.com")
    Adjustment.objects.create(program=demo.program, member=shopper, points=1500, reason_code=ReasonCode.GOODWILL,
                              note="Broken machine", requested_by=manager, idempotency_key="adj-1")
    AuditEvent.objects.create(program=demo.program, actor=manager, actor_name=manager.username,
                              action="settings.change", target_label="Demo Coffee Club")
    ImportJob.objects.create(program=demo.program, kind=ImportJob.Kind.MEMBERS, file_name="members.csv",
                             file_sha256="0" * 64, content=b"email\n", created_by=manager)
    TotpDevice.objects.create(user=manager, secret=pyotp.random_base32(), confirmed_at=timezone.now())
    return demo


@pytest.fixture
def staff_client(client, world):
    client.force_login(get_user_model().objects.get(username="staff"))
    return client


def registered():
    return [(model, model_admin) for model, model_admin in admin.site._registry.items()
            if model._meta.app_label in OUR_APPS]


class CellText(HTMLParser):
    """The text of the change list's cells (links' targets, which carry ids, are not text)."""

    def __init__(self):
        super().__init__()
        self.depth, self.cells = 0, []

    def handle_starttag(self, tag, attrs):
        if tag in ("td", "th") and self.depth == 0:
            self.depth, self.cells = 1, [*self.cells, ""]
        elif self.depth:
            self.depth += tag not in ("input", "img", "br")

    def handle_endtag(self, tag):
        if self.depth:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.cells[-1] += data


def test_every_list_add_and_record_page_opens(staff_client):
    # Every admin page, ours and the libraries' (axes), bar Django's own auth and content types; one world for all
    # pages (seeding it is the slow part), failures reported together.
    pages = [(model, model_admin) for model, model_admin in admin.site._registry.items()
             if model._meta.app_label not in {"auth", "contenttypes"}]
    broken = []
    for model, model_admin in pages:
        opts = model._meta
        urls = [reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")]
        if model_admin.has_add_permission(type("R", (), {"user": get_user_model()(is_superuser=True)})()):
            urls.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_add"))
        obj = model._default_manager.first()
        if obj is not None:
            urls.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]))
        broken += [(url, status) for url in urls if (status := staff_client.get(url).status_code) != 200]
    assert broken == []
    assert len(pages) >= 20


def test_staff_records_are_registered():
    for model in (StaffRole, StaffPolicy, AuditEvent, Adjustment, ImportJob, TotpDevice):
        assert model in admin.site._registry


def test_model_names_read_as_english_plurals(staff_client):
    wrong = [str(model._meta.verbose_name_plural) for model, _ in registered()
             if re.search(r"([^aeiou]ys|ss|xs|chs|shs|ys s)$", str(model._meta.verbose_name_plural))]
    assert wrong == []
    index = staff_client.get("/admin/").content.decode()
    assert "Qualifying activity" in index and "entrys" not in index.lower()
    transaction = LedgerTransaction.objects.first()
    page = staff_client.get(f"/admin/ledger/ledgertransaction/{transaction.pk}/change/").content.decode()
    assert "Ledger entries" in page


def test_filter_titles_name_what_they_filter(staff_client):
    rough = []
    for model, _ in registered():
        opts = model._meta
        page = staff_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")).content.decode()
        rough += [(opts.model_name, title) for title in re.findall(r"By (is [\w ]+|[\w ]+ to|[\w ]+_[\w ]+)\b", page)]
    assert rough == []
    stores = staff_client.get("/admin/programs/store/").content.decode()
    assert "By status" in stores and "Inactive" in stores


def test_list_columns_fit_a_laptop_screen():
    wide = [(model._meta.model_name, len(model_admin.list_display)) for model, model_admin in registered()
            if len(model_admin.list_display) > 6]
    assert wide == []


def test_list_pages_show_related_records_by_name_not_by_id(staff_client):
    with_ids = []
    for model, _ in registered():
        opts = model._meta
        parser = CellText()
        parser.feed(staff_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")).content.decode())
        with_ids += [(opts.model_name, cell.strip()) for cell in parser.cells if UUID.search(cell)]
    assert with_ids == []
    lots = staff_client.get("/admin/ledger/pointslot/").content.decode()
    assert "Sam" in lots  # the lot's member, by name


def test_list_pages_read_related_records_in_one_query(staff_client, django_assert_max_num_queries):
    for url in ("/admin/ledger/pointslot/", "/admin/ledger/ledgertransaction/", "/admin/earning/purchase/",
                "/admin/rewards/redemption/", "/admin/staff/adjustment/", "/admin/tiers/membertier/",
                "/admin/ledger/pointsaccount/"):
        staff_client.get(url)  # warm: sessions, content types
        with django_assert_max_num_queries(12):
            assert staff_client.get(url).status_code == 200


def test_an_authenticator_app_is_shown_without_its_secret_and_cannot_be_added_or_edited(staff_client):
    device = TotpDevice.objects.get()
    page = staff_client.get(f"/admin/staff/totpdevice/{device.pk}/change/").content.decode()
    assert device.secret not in page and "demo-manager" in page
    assert staff_client.get("/admin/staff/totpdevice/add/").status_code == 403
    listing = staff_client.get("/admin/staff/totpdevice/").content.decode()
    assert device.secret not in listing
