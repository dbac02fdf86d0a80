"""Earning rules: built from form fields, refused beside the field when they could not run, previewed on a
sample purchase exactly as the POS then earns it, switched off and on; analysts read, agents are refused."""

import re
from datetime import UTC, datetime

import pytest
import time_machine

from earning.models import EarningRule, Purchase
from earning.services import earning_rule_create
from staff.models import AuditEvent
from tests.conftest import pos_client
from tests.factories import MemberFactory, StoreFactory, api_key_for
from tests.tiers.conftest import ladder_define
from tiers.services import tier_assign

pytestmark = pytest.mark.django_db

LIST = "/staff/settings/rules/"
NEW = "/staff/settings/rules/new/"
PREVIEW_NEW = "/staff/settings/rules/preview/"
NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # a Wednesday


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def coffee_mornings(program, store):
    return earning_rule_create(
        program=program, code="coffee-mornings", name="Coffee mornings", effect={"kind": "multiplier", "factor": "2"},
        conditions=[{"kind": "category", "categories": ["coffee"]},
                    {"kind": "time_of_day", "from": "07:00", "until": "10:00"}])


def rule_data(**changes) -> dict:
    """A new rule as the form sends it: double points on coffee, weekday mornings, at most 200 a purchase."""
    data = {"code": "coffee-x2", "name": "Double coffee", "applies_to": "purchase", "active": "on",
            "categories": "coffee", "days": ["mon", "tue", "wed", "thu", "fri"], "time_from": "07:00",
            "time_until": "10:00", "effect_kind": "multiplier", "factor": "2", "cap_per_purchase": "200",
            "priority": "100", "stacking": "stack"}
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def edit_data(rule, **changes) -> dict:
    """What the edit page sends back for ``rule`` unchanged (the code and type are not sent: they are fixed)."""
    page = rule_data(code=None, applies_to=None, days=None, time_from=None, time_until=None, cap_per_purchase=None,
                     categories=None, name=rule.name)
    page.update({"priority": rule.priority, "stacking": rule.stacking})
    if not rule.active:
        page.pop("active")
    for condition in rule.conditions:
        if condition["kind"] == "category":
            page["categories"] = ", ".join(condition["categories"])
        if condition["kind"] == "time_of_day":
            page["time_from"], page["time_until"] = condition["from"], condition["until"]
    page.update(changes)
    return {key: value for key, value in page.items() if value is not None}


def field_error(html: str, field: str) -> str:
    """The message shown beside ``field`` (empty when there is none)."""
    start = html.find(f'id="field-{field}"')
    if start < 0:
        return ""
    end = html.find('id="field-', start + 1)
    match = re.search(r'<p class="field-error"[^>]*>(.*?)</p>', html[start:end if end > 0 else None], re.S)
    return match.group(1) if match else ""


# --- list, create, edit --------------------------------------------------------------------------------


def test_manager_sees_each_rule_in_plain_words(manager_client, coffee_mornings):
    html = manager_client.get(LIST).content.decode()
    assert "Coffee mornings" in html and "Add a rule" in html
    assert "×2 points on the matching lines" in html and "on coffee · 07:00–10:00" in html
    assert "Active" in html


def test_manager_creates_a_rule_from_form_fields_and_it_is_audited(manager_client, manager, program, store):
    response = manager_client.post(NEW, rule_data(min_spend="5", stores=["DEMO-001"], skus="LATTE,\nMOCHA, LATTE",
                                                  date_from="2026-03-01", date_until="2026-03-31",
                                                  valid_from="2026-03-01T00:00"))

    assert response.status_code == 302 and response["Location"] == LIST
    rule = EarningRule.objects.get(program=program, code="coffee-x2")
    assert rule.effect == {"kind": "multiplier", "factor": "2"}
    assert rule.conditions == [
        {"kind": "min_spend", "amount": "5"}, {"kind": "store", "stores": ["DEMO-001"]},
        {"kind": "sku", "skus": ["LATTE", "MOCHA"]}, {"kind": "category", "categories": ["coffee"]},
        {"kind": "date_window", "from": "2026-03-01", "until": "2026-03-31"},
        {"kind": "time_of_day", "from": "07:00", "until": "10:00"},
        {"kind": "day_of_week", "days": ["mon", "tue", "wed", "thu", "fri"]}]
    assert rule.cap_per_purchase == 200 and rule.active and rule.valid_from == datetime(2026, 3, 1, tzinfo=UTC)
    event = AuditEvent.objects.get(action="earning_rule.create")
    assert event.actor == manager and event.program == program and event.target_id == str(rule.pk)
    assert event.after["code"] == "coffee-x2" and event.after["effect"] == {"kind": "multiplier", "factor": "2"}


@pytest.mark.parametrize(("changes", "conditions", "effect"), [
    ({"effect_kind": "fixed_bonus", "bonus_points": "50", "factor": "", "first_purchase": "on", "categories": "",
      "days": [], "time_from": "", "time_until": "", "cap_per_purchase": ""},
     [{"kind": "first_purchase"}], {"kind": "fixed_bonus", "points": 50}),
    ({"applies_to": "birthday", "effect_kind": "fixed_bonus", "bonus_points": "100", "categories": "", "days": [],
      "time_from": "", "time_until": "", "cap_per_purchase": "", "tiers": ["gold"]},
     [{"kind": "tier", "tiers": ["gold"]}], {"kind": "fixed_bonus", "points": 100}),
    ({"applies_to": "event", "effect_kind": "per_unit", "unit_points": "100", "categories": "", "days": [],
      "time_from": "", "time_until": "", "event_types": "stay_night", "attribute_name": "room",
      "attribute_values": "suite, deluxe"},
     [{"kind": "event_type", "types": ["stay_night"]}, {"kind": "attribute", "name": "room",
                                                        "values": ["suite", "deluxe"]}],
     {"kind": "per_unit", "points": 100}),
    ({"birthday": "month", "anniversary": "day", "categories": "", "days": [], "time_from": "", "time_until": ""},
     [{"kind": "birthday", "within": "month"}, {"kind": "enrolment_anniversary", "within": "day"}],
     {"kind": "multiplier", "factor": "2"}),
])
def test_each_kind_of_rule_is_built_from_its_fields(manager_client, program, changes, conditions, effect):
    ladder_define(program)
    response = manager_client.post(NEW, rule_data(**changes))

    assert response.status_code == 302, response.content.decode()[:2000]
    rule = EarningRule.objects.get(code="coffee-x2")
    assert (rule.conditions, rule.effect) == (conditions, effect)


def test_manager_edits_a_rule_and_only_the_change_is_audited(manager_client, coffee_mornings):
    response = manager_client.post(f"{LIST}{coffee_mornings.pk}/", edit_data(coffee_mornings, factor="3",
                                                                             name="Triple coffee"))

    assert response.status_code == 302
    coffee_mornings.refresh_from_db()
    assert coffee_mornings.effect == {"kind": "multiplier", "factor": "3"} and coffee_mornings.name == "Triple coffee"
    event = AuditEvent.objects.get(action="earning_rule.update")
    assert event.before == {"name": "Coffee mornings", "effect": {"kind": "multiplier", "factor": "2"}}
    assert event.after == {"name": "Triple coffee", "effect": {"kind": "multiplier", "factor": "3"}}


def test_saving_a_rule_unchanged_changes_and_audits_nothing(manager_client, coffee_mornings):
    before = EarningRule.objects.values().get(pk=coffee_mornings.pk)
    response = manager_client.post(f"{LIST}{coffee_mornings.pk}/", edit_data(coffee_mornings))
    assert response.status_code == 302
    after = EarningRule.objects.values().get(pk=coffee_mornings.pk)
    assert {k: v for k, v in after.items() if k != "updated_at"} == {
        k: v for k, v in before.items() if k != "updated_at"}
    assert not AuditEvent.objects.exists()


def test_the_code_and_type_of_a_rule_stay_what_they_were(manager_client, coffee_mornings):
    manager_client.post(f"{LIST}{coffee_mornings.pk}/", edit_data(coffee_mornings, code="other", applies_to="signup"))
    coffee_mornings.refresh_from_db()
    assert (coffee_mornings.code, coffee_mornings.applies_to) == ("coffee-mornings", "purchase")


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"factor": "1"}, "factor", "greater than 1"),
    ({"factor": "250"}, "factor", "at most 100"),
    ({"factor": ""}, "factor", "This field is required"),
    ({"effect_kind": "fixed_bonus", "bonus_points": ""}, "bonus_points", "This field is required"),
    ({"effect_kind": "fixed_bonus", "bonus_points": "0"}, "bonus_points", "between 1 and"),
    ({"effect_kind": "jackpot"}, "effect_kind", "Select a valid choice"),
    ({"time_until": ""}, "time_until", "This field is required"),
    ({"time_until": "07:00"}, "time_until", "Must differ"),
    ({"time_from": "7 o'clock"}, "time_from", "Enter a valid time"),
    ({"date_from": "2026-05-01", "date_until": "2026-04-01"}, "date_until", "Must not be before"),
    ({"code": "base"}, "code", "names the base rule"),
    ({"code": "Not A Slug"}, "code", "Enter a valid"),
    ({"stacking": "best_of"}, "group", "needs a group"),
    ({"cap_per_member": "500"}, "cap_period", "needs a cap period"),
    ({"cap_period": "month"}, "cap_per_member", "needs a cap period"),
    ({"cap_per_purchase": "0"}, "cap_per_purchase", "greater than or equal to 1"),
    ({"applies_to": "signup", "effect_kind": "fixed_bonus", "bonus_points": "10", "cap_per_purchase": ""},
     "categories", "does not apply to signup rules"),
    ({"applies_to": "event"}, "effect_kind", "does not apply to event rules"),
    ({"applies_to": "event", "effect_kind": "per_unit", "unit_points": "5", "categories": "", "days": [],
      "time_from": "", "time_until": "", "event_types": "Stay Night"}, "event_types", "not allowed"),
    ({"valid_from": "2026-05-01T10:00", "valid_until": "2026-04-01T10:00"}, "valid_until", "Must be after"),
    ({"days": ["funday"]}, "days", "Select a valid choice"),
    ({"stores": ["NOWHERE"]}, "stores", "Select a valid choice"),
    ({"priority": "-1"}, "priority", "greater than or equal to 0"),
    ({"name": ""}, "name", "This field is required"),
    ({"skus": "x" * 65}, "skus", "1–64 characters"),
])
def test_a_rule_that_could_not_run_is_refused_beside_its_field(manager_client, program, store, changes, field,
                                                               message):
    response = manager_client.post(NEW, rule_data(**changes))

    assert response.status_code == 200
    html = response.content.decode()
    assert "There is a problem" in html
    assert message in field_error(html, field), field_error(html, field) or html[:3000]
    assert not EarningRule.objects.exists() and not AuditEvent.objects.exists()


def test_a_code_in_use_is_refused_beside_the_code(manager_client, coffee_mornings):
    response = manager_client.post(NEW, rule_data(code="coffee-mornings"))
    assert response.status_code == 200
    assert "already has a rule coffee-mornings" in field_error(response.content.decode(), "code")
    assert EarningRule.objects.count() == 1


def test_a_broken_edit_changes_nothing(manager_client, coffee_mornings):
    response = manager_client.post(f"{LIST}{coffee_mornings.pk}/", edit_data(coffee_mornings, factor="0.5"))
    assert response.status_code == 200 and "greater than 1" in field_error(response.content.decode(), "factor")
    coffee_mornings.refresh_from_db()
    assert coffee_mornings.effect == {"kind": "multiplier", "factor": "2"}
    assert not AuditEvent.objects.exists()


def test_odd_input_never_fails_the_page(manager_client, coffee_mornings):
    for data in ({}, {"code": "\x00", "priority": "9" * 40, "factor": "nan", "valid_from": "yesterday"},
                 {"name": "x" * 10_000, "days": "mon", "effect_kind": ["multiplier", "per_unit"]}):
        assert manager_client.post(NEW, data).status_code == 200
        assert manager_client.post(f"{LIST}{coffee_mornings.pk}/", data).status_code == 200
        assert manager_client.post(PREVIEW_NEW, data).status_code == 200
    assert manager_client.get(f"{LIST}?page=%00&sort=';drop").status_code == 200
    assert EarningRule.objects.count() == 1 and not AuditEvent.objects.exists()


# --- switching off and on ------------------------------------------------------------------------------


def test_a_deactivated_rule_earns_nothing_and_comes_back_when_reactivated(manager_client, program, store, member,
                                                                          coffee_mornings, clock):
    clock.move_to(datetime(2026, 3, 4, 8, 30, tzinfo=UTC))
    till = pos_client(api_key_for(store))

    def earned(external_id):
        return till.post("/api/v1/pos/purchases/", {
            "external_id": external_id, "member": {"card_number": member.card_number}, "currency": "EUR",
            "total": "10.00", "lines": [{"sku": "LATTE", "category": "coffee", "quantity": 2, "unit_price": "5.00"}],
        }, format="json").json()["points_awarded"]

    assert earned("R-1") == 20
    response = manager_client.post(f"{LIST}{coffee_mornings.pk}/deactivate/")
    assert response.status_code == 302 and response["Location"] == f"{LIST}{coffee_mornings.pk}/"
    assert earned("R-2") == 10
    manager_client.post(f"{LIST}{coffee_mornings.pk}/reactivate/")
    assert earned("R-3") == 20
    assert [e.action for e in AuditEvent.objects.order_by("created_at")] == [
        "earning_rule.deactivate", "earning_rule.activate"]
    assert AuditEvent.objects.get(action="earning_rule.deactivate").after == {"active": False}


# --- the preview ---------------------------------------------------------------------------------------


def sample(**changes) -> dict:
    data = {"sample-total": "25.00", "sample-store": "DEMO-001", "sample-occurred_at": "2026-03-04T08:30",
            "sample-tier": "", "sample-line1_sku": "LATTE", "sample-line1_category": "coffee",
            "sample-line1_quantity": "3", "sample-line1_unit_price": "4.50"}
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def preview_of(html: str) -> tuple[int, dict[str, int]]:
    total = int(re.search(r'data-total-points="(\d+)"', html).group(1))
    rows = {code: int(points) for code, points in re.findall(r'data-rule="([^"]+)" data-points="(\d+)"', html)}
    return total, rows


@pytest.mark.parametrize(("rule", "sample_changes", "tier", "first"), [
    ({}, {}, None, False),
    ({}, {"sample-occurred_at": "2026-03-04T11:30"}, None, False),  # outside the time window
    ({}, {"sample-occurred_at": "2026-03-07T08:30"}, None, False),  # a Saturday
    ({"cap_per_purchase": "5"}, {}, "gold", False),
    ({"effect_kind": "fixed_bonus", "bonus_points": "75", "first_purchase": "on", "min_spend": "20"}, {}, "silver",
     True),
    ({"effect_kind": "per_unit", "unit_points": "7", "skus": "LATTE", "categories": ""},
     {"sample-line2_sku": "MUFFIN", "sample-line2_category": "bakery", "sample-line2_quantity": "2",
      "sample-line2_unit_price": "3.00"}, None, False),
    ({"stores": ["AIRPORT-2"]}, {}, None, False),
    ({"tiers": ["gold"], "stacking": "best_of", "group": "mornings"}, {}, "gold", False),
])
def test_the_preview_earns_exactly_what_the_pos_then_earns(manager_client, program, store, clock, rule,
                                                           sample_changes, tier, first):
    tiers = ladder_define(program)
    StoreFactory(program=program, code="AIRPORT-2")
    # Another rule of the program takes part in both, as it would at the till.
    earning_rule_create(program=program, code="weekday-bonus", name="Weekday bonus", priority=50,
                        effect={"kind": "fixed_bonus", "points": 3},
                        conditions=[{"kind": "day_of_week", "days": ["mon", "tue", "wed", "thu", "fri"]}])
    form = rule_data(**rule)
    data = {**form, **sample(**sample_changes, **{"sample-tier": tier or "",
                                                   "sample-first_purchase": "on" if first else None})}

    preview = manager_client.post(PREVIEW_NEW, data, HTTP_HX_REQUEST="true")

    assert preview.status_code == 200
    assert not EarningRule.objects.filter(code="coffee-x2").exists() and not Purchase.objects.exists()
    total, rows = preview_of(preview.content.decode())

    # The same rule saved, the same purchase posted by a member of that tier, at that moment.
    assert manager_client.post(NEW, form).status_code == 302
    member = MemberFactory(program=program, store=store)
    if tier:
        tier_assign(member=member, tier=tiers[tier], reason="test", actor="test")
    if not first:
        Purchase.objects.create(program=program, store=store, external_id="EARLIER", member=member, currency="EUR",
                                total="1.00", occurred_at=datetime(2026, 1, 5, tzinfo=UTC), actor="test")
    clock.move_to(datetime.fromisoformat(data["sample-occurred_at"]).replace(tzinfo=UTC))
    lines = [{"sku": data[f"sample-line{i}_sku"], "category": data[f"sample-line{i}_category"],
              "quantity": int(data[f"sample-line{i}_quantity"]), "unit_price": data[f"sample-line{i}_unit_price"]}
             for i in (1, 2) if data.get(f"sample-line{i}_sku")]
    till = pos_client(api_key_for(StoreFactory._meta.model.objects.get(program=program, code=data["sample-store"])))
    answer = till.post("/api/v1/pos/purchases/", {"external_id": "R-1", "member": {"card_number": member.card_number},
                                                 "currency": "EUR", "total": data["sample-total"], "lines": lines},
                       format="json").json()

    assert total == answer["points_awarded"]
    assert rows == {line["rule"]: line["points"] for line in answer["breakdown"]}


def test_the_preview_names_what_the_rule_adds_and_why_not(manager_client, program, store):
    html = manager_client.post(PREVIEW_NEW, {**rule_data(), **sample()}, HTTP_HX_REQUEST="true").content.decode()
    assert "This rule adds 13 points." in html and "<html" not in html  # the extra ×1 on 3 × 4.50 of coffee

    html = manager_client.post(PREVIEW_NEW, {**rule_data(), **sample(**{"sample-occurred_at": "2026-03-04T12:00"})},
                               HTTP_HX_REQUEST="true").content.decode()
    assert "the purchase does not meet the time of day" in html

    html = manager_client.post(PREVIEW_NEW, {**rule_data(active=None), **sample()}, HTTP_HX_REQUEST="true")
    assert "switched off" in html.content.decode()


def test_the_preview_without_javascript_is_the_whole_page_with_nothing_saved(manager_client, program, store):
    response = manager_client.post(PREVIEW_NEW, {**rule_data(name="Draft rule"), **sample()})

    html = response.content.decode()
    assert response.status_code == 200 and "<html" in html
    assert 'value="Draft rule"' in html and "What would this purchase earn?" in html
    assert preview_of(html)[0] > 0
    assert 'action="/staff/settings/rules/new/"' in html  # saving still goes to the form's own page
    assert not EarningRule.objects.exists() and not AuditEvent.objects.exists()


def test_an_incomplete_rule_or_sample_is_answered_with_what_is_missing(manager_client, program, store):
    html = manager_client.post(PREVIEW_NEW, {**rule_data(factor=""), **sample()},
                               HTTP_HX_REQUEST="true").content.decode()
    assert "Complete the rule" in html and "Multiplier: This field is required." in html

    html = manager_client.post(PREVIEW_NEW, {**rule_data(), **sample(**{"sample-total": "lots"})},
                               HTTP_HX_REQUEST="true").content.decode()
    assert "Check the sample purchase" in html and "Enter a number." in html

    html = manager_client.post(PREVIEW_NEW, {**rule_data(), **sample(**{"sample-line1_sku": ""})}).content.decode()
    assert "Give the item" in field_error(html, "sample-line1_sku")


def test_an_edited_rule_is_previewed_in_place_of_its_saved_self(manager_client, program, store, coffee_mornings):
    html = manager_client.post(f"{LIST}{coffee_mornings.pk}/preview/",
                               {**edit_data(coffee_mornings, factor="4"), **sample()},
                               HTTP_HX_REQUEST="true").content.decode()
    total, rows = preview_of(html)
    assert rows == {"base": 25, "coffee-mornings": 40} and total == 65  # 13.50 of coffee × (4 − 1), rounded down
    coffee_mornings.refresh_from_db()
    assert coffee_mornings.effect["factor"] == "2"


def test_the_edit_page_opens_with_a_preview_of_the_rule_as_saved(manager_client, coffee_mornings):
    html = manager_client.get(f"{LIST}{coffee_mornings.pk}/").content.decode()
    assert "What would this purchase earn?" in html and 'data-total-points="' in html


# --- who may do what -----------------------------------------------------------------------------------


def test_analyst_reads_and_previews_rules_but_cannot_change_them(analyst_client, coffee_mornings):
    html = analyst_client.get(LIST).content.decode()
    assert "Coffee mornings" in html and "Add a rule" not in html
    page = analyst_client.get(f"{LIST}{coffee_mornings.pk}/").content.decode()
    assert "Save rule" not in page and "Deactivate rule" not in page and "disabled" in page
    assert "Preview earnings" in page

    # Their fields are disabled: the preview runs the rule as saved, whatever is sent.
    html = analyst_client.post(f"{LIST}{coffee_mornings.pk}/preview/", {"factor": "50", **sample()},
                               HTTP_HX_REQUEST="true").content.decode()
    assert preview_of(html)[1]["coffee-mornings"] == 13

    assert analyst_client.get(NEW).status_code == 403
    assert analyst_client.post(NEW, rule_data()).status_code == 403
    assert analyst_client.post(PREVIEW_NEW, rule_data()).status_code == 403
    edited = edit_data(coffee_mornings, factor="9")
    assert analyst_client.post(f"{LIST}{coffee_mornings.pk}/", edited).status_code == 403
    assert analyst_client.post(f"{LIST}{coffee_mornings.pk}/deactivate/").status_code == 403
    coffee_mornings.refresh_from_db()
    assert coffee_mornings.active and coffee_mornings.effect["factor"] == "2"
    assert not AuditEvent.objects.exists()


def test_agent_is_refused_every_rule_page(agent_client, coffee_mornings):
    for url in (LIST, NEW, f"{LIST}{coffee_mornings.pk}/"):
        assert agent_client.get(url).status_code == 403
    for url in (NEW, PREVIEW_NEW, f"{LIST}{coffee_mornings.pk}/", f"{LIST}{coffee_mornings.pk}/preview/",
                f"{LIST}{coffee_mornings.pk}/deactivate/"):
        assert agent_client.post(url, rule_data()).status_code == 403


def test_another_programs_rule_is_a_404(manager_client, other_program):
    theirs = earning_rule_create(program=other_program, code="theirs", name="Theirs",
                                 effect={"kind": "fixed_bonus", "points": 5})
    for url in (f"{LIST}{theirs.pk}/", f"{LIST}{theirs.pk}/preview/", f"{LIST}{theirs.pk}/deactivate/"):
        assert manager_client.post(url, rule_data()).status_code == 404
    assert manager_client.get(f"{LIST}{theirs.pk}/").status_code == 404
    assert manager_client.get(f"{LIST}00000000-0000-0000-0000-000000000000/").status_code == 404
    assert manager_client.get(f"{LIST}not-a-uuid/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.active and theirs.name == "Theirs"


def test_staff_of_several_programs_configure_the_program_they_chose(program, other_program, superuser):
    from tests.staff.conftest import client_for

    client = client_for(superuser)
    StoreFactory(program=other_program, code="OTHER-1")
    page = client.get(f"{NEW}?program=other").content.decode()
    assert "OTHER-1" in page and 'formaction="/staff/settings/rules/preview/?program=other"' in page

    response = client.post(f"{NEW}?program=other", rule_data(stores=["OTHER-1"]))

    assert response.status_code == 302 and response["Location"] == f"{LIST}?program=other"
    rule = EarningRule.objects.get(code="coffee-x2")
    assert rule.program == other_program
    assert AuditEvent.objects.get(action="earning_rule.create").program == other_program
