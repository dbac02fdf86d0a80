"""The Django admin at a laptop's width (the app sidebar folded): lists fit without scrolling sideways, with
readable names, and an authenticator app's secret shows nowhere."""

import pytest

from tests.conftest import pos_client

from .conftest import DEMO_API_KEY, assert_accessible, no_horizontal_overflow, screenshot

pytestmark = pytest.mark.django_db(transaction=True)

PAGES = [
    ("/admin/", "admin-index-records.png"),
    ("/admin/ledger/ledgertransaction/", "admin-ledger-transactions.png"),
    ("/admin/ledger/pointslot/", "admin-points-lots.png"),
    ("/admin/members/member/", "admin-members-list.png"),
    ("/admin/programs/store/", "admin-stores.png"),
    ("/admin/earning/purchase/", "admin-purchases.png"),
    ("/admin/rewards/reward/", "admin-rewards.png"),
    ("/admin/earning/earningrule/", "admin-earning-rules.png"),
    ("/admin/tiers/membertier/", "admin-member-tiers.png"),
    ("/admin/staff/staffrole/", "admin-staff-roles.png"),
    ("/admin/staff/totpdevice/", "admin-authenticator-apps.png"),
]


def test_a_superuser_reads_the_admin_lists_at_laptop_width(demo, page):
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from staff.models import TotpDevice

    manager = get_user_model().objects.get(username="demo-manager")
    TotpDevice.objects.create(user=manager, secret="JBSWY3DPEHPK3PXP", confirmed_at=timezone.now())
    pos = pos_client(DEMO_API_KEY)
    for n, member in enumerate(demo.members):
        pos.post("/api/v1/pos/purchases/", {"external_id": f"R-{n}", "member": {"id": str(member.id)},
                                            "currency": "EUR", "total": "42.50"}, format="json")

    page.goto("/admin/login/?next=/admin/")
    page.get_by_label("Username").fill("staff")
    page.get_by_label("Password").fill("demo-staff-2026")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/admin/")
    # Fold the app sidebar away once, as staff do on a laptop (the admin remembers it), so lists have the width.
    page.goto("/admin/members/member/")
    page.locator("#toggle-nav-sidebar").click()

    for url, name in PAGES:
        page.goto(url)
        assert no_horizontal_overflow(page), url
        fits = "[...document.querySelectorAll('.results')].every(r => r.scrollWidth <= r.clientWidth)"
        assert page.evaluate(fits), f"{url}: the list's columns are wider than the screen"
        assert "entrys" not in page.content().lower()
        assert_accessible(page)
        screenshot(page, name, full_page=False)
    assert "JBSWY3DPEHPK3PXP" not in page.content()  # the authenticator apps' list, last: never the secret
