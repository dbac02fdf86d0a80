"""A bad rule cannot be saved: not through the service, not through the admin, not through the ORM."""

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from earning.models import EarningRule
from earning.services import earning_rule_create, earning_rule_update, earning_rule_validate
from loyalty.errors import DomainError

GOOD_EFFECT = {"kind": "fixed_bonus", "points": 10}


@pytest.mark.parametrize(("fields", "error_field"), [
    ({"effect": {}}, "effect"),
    ({"effect": {"kind": "jackpot"}}, "effect.kind"),
    ({"effect": {"kind": "fixed_bonus"}}, "effect.points"),
    ({"effect": {"kind": "fixed_bonus", "points": 0}}, "effect.points"),
    ({"effect": {"kind": "fixed_bonus", "points": "10"}}, "effect.points"),
    ({"effect": {"kind": "fixed_bonus", "points": True}}, "effect.points"),
    ({"effect": {"kind": "fixed_bonus", "points": 10, "extra": 1}}, "effect.extra"),
    ({"effect": {"kind": "multiplier", "factor": "1"}}, "effect.factor"),
    ({"effect": {"kind": "multiplier", "factor": "two"}}, "effect.factor"),
    ({"effect": {"kind": "multiplier", "factor": "1.00001"}}, "effect.factor"),
    ({"effect": {"kind": "multiplier", "factor": "2"}, "applies_to": "event"}, "effect.kind"),
    ({"effect": {"kind": "per_unit", "points": 5}, "applies_to": "signup"}, "effect.kind"),
    ({"conditions": {"kind": "sku"}}, "conditions"),
    ({"conditions": [{"kind": "weather"}]}, "conditions.0.kind"),
    ({"conditions": ["sku"]}, "conditions.0"),
    ({"conditions": [{"kind": "sku"}]}, "conditions.0.skus"),
    ({"conditions": [{"kind": "sku", "skus": []}]}, "conditions.0.skus"),
    ({"conditions": [{"kind": "sku", "skus": "LATTE"}]}, "conditions.0.skus"),
    ({"conditions": [{"kind": "sku", "skus": ["LATTE", 7]}]}, "conditions.0.skus.1"),
    ({"conditions": [{"kind": "sku", "skus": ["LATTE", "LATTE"]}]}, "conditions.0.skus"),
    ({"conditions": [{"kind": "sku", "skus": ["A"]}, {"kind": "sku", "skus": ["B"]}]}, "conditions"),
    ({"conditions": [{"kind": "day_of_week", "days": ["funday"]}]}, "conditions.0.days.0"),
    ({"conditions": [{"kind": "date_window"}]}, "conditions.0"),
    ({"conditions": [{"kind": "date_window", "from": "2026-12-24", "until": "2026-12-01"}]}, "conditions.0.until"),
    ({"conditions": [{"kind": "date_window", "from": "24.12.2026"}]}, "conditions.0.from"),
    ({"conditions": [{"kind": "time_of_day", "from": "7:00", "until": "10:00"}]}, "conditions.0.from"),
    ({"conditions": [{"kind": "time_of_day", "from": "10:00", "until": "10:00"}]}, "conditions.0.until"),
    ({"conditions": [{"kind": "min_spend", "amount": "-1"}]}, "conditions.0.amount"),
    ({"conditions": [{"kind": "tier", "tiers": ["Gold Tier"]}]}, "conditions.0.tiers.0"),
    ({"conditions": [{"kind": "birthday", "within": "week"}]}, "conditions.0.within"),
    ({"conditions": [{"kind": "first_purchase", "ever": True}]}, "conditions.0.ever"),
    ({"conditions": [{"kind": "event_type", "types": ["stay_night"]}]}, "conditions.0.kind"),
    ({"conditions": [{"kind": "min_spend", "amount": "5"}], "applies_to": "birthday"}, "conditions.0.kind"),
    ({"code": "base"}, "code"),
    ({"code": "Not a slug"}, "code"),
    ({"stacking": "best_of"}, "group"),
    ({"cap_per_member": 100}, "cap_period"),
    ({"cap_period": "month"}, "cap_per_member"),
    ({"cap_per_purchase": 10, "applies_to": "signup"}, "cap_per_purchase"),
    ({"applies_to": "lottery"}, "applies_to"),
])
def test_the_service_refuses_a_rule_that_could_not_run(program, fields, error_field):
    fields = {"code": "bonus", "effect": GOOD_EFFECT, **fields}

    with pytest.raises(DomainError) as refused:
        earning_rule_create(program=program, name="Bonus", **fields)

    assert refused.value.code == "invalid"
    assert error_field in [error["field"] for error in refused.value.errors]
    assert not EarningRule.objects.exists()


def test_the_service_names_every_problem_at_once(program):
    with pytest.raises(DomainError) as refused:
        earning_rule_create(program=program, code="bonus", name="Bonus", effect={"kind": "multiplier"},
                            conditions=[{"kind": "sku", "skus": []}, {"kind": "store"}])

    assert [e["field"] for e in refused.value.errors] == [
        "conditions.0.skus", "conditions.1.stores", "effect.factor"]


def test_a_code_is_unique_in_its_program_only(program, other_program):
    earning_rule_create(program=program, code="bonus", name="Bonus", effect=GOOD_EFFECT)
    earning_rule_create(program=other_program, code="bonus", name="Bonus", effect=GOOD_EFFECT)

    with pytest.raises(DomainError) as refused:
        earning_rule_create(program=program, code="bonus", name="Again", effect=GOOD_EFFECT)

    assert refused.value.errors == [{"field": "code", "message": "The program already has a rule bonus."}]
    assert EarningRule.objects.count() == 2


def test_a_valid_rule_of_every_kind_saves(program):
    definitions = [
        ("purchase", [{"kind": "sku", "skus": ["LATTE"]}, {"kind": "category", "categories": ["coffee"]},
                      {"kind": "store", "stores": ["DEMO-001"]}, {"kind": "date_window", "from": "2026-01-01"},
                      {"kind": "time_of_day", "from": "07:00", "until": "10:00"},
                      {"kind": "day_of_week", "days": ["mon"]}, {"kind": "min_spend", "amount": 5},
                      {"kind": "tier", "tiers": ["gold"]}, {"kind": "first_purchase"},
                      {"kind": "birthday", "within": "month"}, {"kind": "enrolment_anniversary"}],
         {"kind": "multiplier", "factor": "1.25"}),
        ("event", [{"kind": "event_type", "types": ["stay_night"]},
                   {"kind": "attribute", "name": "room", "values": ["suite"]}], {"kind": "per_unit", "points": 100}),
        ("signup", [{"kind": "store", "stores": ["DEMO-001"]}], GOOD_EFFECT),
        ("referral", [{"kind": "min_spend", "amount": "10.00"}], GOOD_EFFECT),
        ("birthday", [{"kind": "tier", "tiers": ["gold"]}], GOOD_EFFECT),
    ]
    for index, (applies_to, conditions, effect) in enumerate(definitions):
        earning_rule_create(program=program, code=f"rule-{index}", name="Rule", applies_to=applies_to,
                            conditions=conditions, effect=effect)

    assert EarningRule.objects.count() == len(definitions)


def test_an_update_that_breaks_a_rule_is_refused_and_changes_nothing(program):
    rule = earning_rule_create(program=program, code="bonus", name="Bonus", effect=GOOD_EFFECT)

    with pytest.raises(DomainError):
        earning_rule_update(rule=rule, effect={"kind": "fixed_bonus", "points": -5})

    rule.refresh_from_db()
    assert rule.effect == GOOD_EFFECT


def test_saving_a_bad_rule_directly_is_refused_too(program):
    rule = EarningRule(program=program, code="bonus", name="Bonus", effect={"kind": "fixed_bonus", "points": 0})

    with pytest.raises(ValidationError):
        rule.save()
    with pytest.raises(DomainError):
        earning_rule_validate(rule=rule)
    assert not EarningRule.objects.exists()


@pytest.fixture
def staff_client(client, db):
    user = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw-for-tests-only")
    client.force_login(user)
    return client


def admin_form(program, **overrides):
    form = {"program": str(program.pk), "code": "coffee-x2", "name": "Double coffee", "description": "",
            "active": "on", "applies_to": "purchase",
            "conditions": '[{"kind": "category", "categories": ["coffee"]}]',
            "effect": '{"kind": "multiplier", "factor": "2"}', "priority": "100", "group": "", "stacking": "stack",
            "cap_per_purchase": "", "cap_per_member": "", "cap_period": "", "valid_from_0": "", "valid_from_1": "",
            "valid_until_0": "", "valid_until_1": ""}
    form.update(overrides)
    return form


def test_staff_create_a_rule_in_the_admin_without_code(staff_client, program):
    response = staff_client.post("/admin/earning/earningrule/add/", admin_form(program))

    assert response.status_code == 302, response.context["adminform"].form.errors
    rule = EarningRule.objects.get()
    assert rule.effect == {"kind": "multiplier", "factor": "2"}


@pytest.mark.parametrize(("overrides", "field"), [
    ({"effect": '{"kind": "multiplier", "factor": "0.5"}'}, "effect"),
    ({"conditions": '[{"kind": "category"}]'}, "conditions"),
    ({"conditions": "not json"}, "conditions"),
    ({"stacking": "best_of"}, "group"),
    ({"cap_per_member": "10"}, "cap_period"),
])
def test_the_admin_refuses_a_bad_rule_and_says_where(staff_client, program, overrides, field):
    response = staff_client.post("/admin/earning/earningrule/add/", admin_form(program, **overrides))

    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not EarningRule.objects.exists()


def test_the_admin_add_page_lists_the_condition_and_effect_kinds(staff_client):
    page = staff_client.get("/admin/earning/earningrule/add/").content.decode()

    for kind in ("sku", "category", "store", "date_window", "time_of_day", "day_of_week", "min_spend", "tier",
                 "first_purchase", "birthday", "enrolment_anniversary", "event_type", "multiplier", "fixed_bonus",
                 "per_unit"):
        assert f"&quot;kind&quot;: &quot;{kind}&quot;" in page
