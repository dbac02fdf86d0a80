"""The permission map, entry by entry: exactly these roles may do each action, and nothing is left out."""

import pytest

from staff.models import Role
from staff.permissions import PERMISSIONS, role_may

M, A, N = Role.MANAGER, Role.AGENT, Role.ANALYST

EXPECTED = {
    "dashboard.view": {M, A, N},
    "member.view": {M, A},
    "member.adjust": {M, A},
    "member.suspend": {M, A},
    "member.tier_assign": {M},
    "member.anonymise": {M},
    "member.note": {M, A},
    "redemption.cancel": {M, A},
    "voucher.resend": {M, A},
    "adjustment.approve": {M},
    "adjustment.bulk": {M},
    "settings.view": {M, N},
    "settings.change": {M},
    "import.run": {M},
    "export.download": {M, N},
    "report.view": {M, N},
    "survey.view": {M, N},
    "survey.change": {M},
    "case.view": {M, A, N},
    "case.work": {M, A},
    "case.escalations": {M},
    "audit.view": {M},
}


def test_the_map_names_exactly_the_expected_actions():
    assert set(PERMISSIONS) == set(EXPECTED)


@pytest.mark.parametrize("action", sorted(EXPECTED))
@pytest.mark.parametrize("role", [M, A, N])
def test_each_role_may_do_exactly_its_actions(action, role):
    assert role_may(role, action) is (role in EXPECTED[action])


@pytest.mark.parametrize("action", sorted(EXPECTED))
def test_no_role_may_do_nothing(action):
    assert role_may(None, action) is False


def test_an_action_missing_from_the_map_is_an_error_not_a_refusal():
    with pytest.raises(KeyError):
        role_may(M, "member.delete_everything")
