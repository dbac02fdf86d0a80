"""Every admin page staff can open renders, with real data behind it (no 500 on any screen)."""

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import reverse

from programs.demo import demo_seed
from tests.conftest import pos_client

KEY = "demo-pos-key-0001"


@pytest.fixture
def world(db):
    """The demo program after a day of trading: purchases, a return, a redemption, a voucher used."""
    demo_seed(api_key=KEY)
    pos = pos_client(KEY)
    member = pos.post("/api/v1/pos/members/", {"email": "shopper@example.com"}, format="json").json()
    ref = {"id": member["id"]}
    pos.post("/api/v1/pos/purchases/", {"external_id": "R-1", "member": ref, "currency": "EUR", "total": "120.00"},
             format="json")
    pos.post("/api/v1/pos/returns/", {"external_id": "RET-1", "purchase_external_id": "R-1", "amount": "20.00"},
             format="json")
    voucher = pos.post("/api/v1/pos/redemptions/", {"member": ref, "reward": "FREE-COFFEE"}, format="json",
                       HTTP_IDEMPOTENCY_KEY="k1").json()
    pos.post(f"/api/v1/pos/vouchers/{voucher['voucher_code']}/use/")


@pytest.fixture
def staff_client(client, world):
    client.force_login(get_user_model().objects.get(username="staff"))
    return client


def admin_models():
    return [model for model in admin.site._registry if model._meta.app_label not in {"auth", "contenttypes"}]


def test_every_list_and_detail_page_renders(staff_client):
    # One world for all pages (seeding it is the slow part); failures are reported together.
    broken = []
    for model in admin_models():
        opts = model._meta
        pages = [reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")]
        obj = model._default_manager.first()
        if obj is not None:
            pages.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]))
        broken += [(url, status) for url in pages if (status := staff_client.get(url).status_code) != 200]

    assert broken == []
    assert len(admin_models()) >= 20
