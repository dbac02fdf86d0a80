"""Values the published schema forbids are refused with 400 invalid, and nothing is written: text must be JSON
text, money a plain decimal string (as the schema's pattern says), page numbers and sizes whole numbers.
What the contract allows still goes through."""

import pytest

from earning.models import Purchase
from members.models import Member

ENROL = "/api/v1/pos/members/"
PURCHASES = "/api/v1/pos/purchases/"
REWARDS = "/api/v1/pos/rewards/"


def purchase(total, **overrides):
    return {"external_id": "R-1", "currency": "EUR", "total": total, **overrides}


def assert_invalid(response, field):
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "invalid"
    assert field in {error["field"] for error in response.json()["errors"]}


@pytest.mark.parametrize("field", ["first_name", "last_name", "phone", "referral_code"])
def test_a_number_where_the_schema_says_text_is_refused_and_nobody_is_enrolled(pos, field):
    response = pos.post(ENROL, {"email": "num@example.com", field: 12345}, format="json")

    assert_invalid(response, field)
    assert not Member.objects.filter(email="num@example.com").exists()


def test_a_card_number_sent_as_a_number_is_refused(pos, member):
    response = pos.post(PURCHASES, purchase("10.00", member={"card_number": int(member.card_number)}), format="json")

    assert_invalid(response, "member.card_number")
    assert not Purchase.objects.exists()


def test_a_yes_for_marketing_consent_is_refused_where_the_schema_says_true_or_false(pos):
    response = pos.post(ENROL, {"email": "yes@example.com", "marketing_opt_in": "yes"}, format="json")

    assert_invalid(response, "marketing_opt_in")
    assert not Member.objects.filter(email="yes@example.com").exists()


@pytest.mark.parametrize("total", ["1E+5", "1e2", 42.5, 100, " 12.50", "012.50", "12.", ".5", "+12.50", "0x10",
                                   "12.505", "0", "0.00", "1000000.01", "-5.00", "NaN", "Infinity"])
def test_money_that_is_not_a_plain_decimal_string_in_range_is_refused_and_nothing_is_recorded(pos, member, total):
    response = pos.post(PURCHASES, purchase(total, member={"card_number": member.card_number}), format="json")

    assert_invalid(response, "total")
    assert not Purchase.objects.exists()


@pytest.mark.parametrize("total", ["12.5", "12.50", "12", "0.01", "0.5", "999999.99", "1000000", "1000000.00"])
def test_money_the_contract_allows_is_accepted(pos, member, total):
    response = pos.post(PURCHASES, purchase(total, member={"card_number": member.card_number}), format="json")

    assert response.status_code == 201, response.json()
    assert Purchase.objects.get().external_id == "R-1"


def test_a_line_may_cost_nothing_but_not_a_number(pos, member):
    line = {"sku": "WATER", "quantity": 1, "unit_price": "0"}

    free = pos.post(PURCHASES, purchase("1.00", lines=[line]), format="json")
    numeric = pos.post(PURCHASES, purchase("1.00", external_id="R-2", lines=[{**line, "unit_price": 0}]), format="json")

    assert free.status_code == 201, free.json()
    assert_invalid(numeric, "lines.0.unit_price")


@pytest.mark.parametrize("param", ["page_size", "page"])
@pytest.mark.parametrize("value", ["abc", "1.5", "0", "-1", " 2", "1e1", ""])
def test_a_page_number_or_size_that_is_not_a_whole_number_is_refused(pos, param, value):
    assert_invalid(pos.get(REWARDS, {param: value}), param)


def test_a_page_size_above_the_cap_is_served_at_the_cap_and_a_page_past_the_end_is_not_found(pos, member):
    big = pos.get(REWARDS, {"page_size": "100000000000000000000000"})
    past = pos.get(REWARDS, {"page": "99999999999999999999999"})

    assert big.status_code == 200
    assert past.status_code == 404
    assert past.json()["code"] == "not_found"
