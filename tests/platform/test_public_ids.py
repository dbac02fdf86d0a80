"""Every id in every POS answer, replays included, is the dashed UUID, the same string wherever it appears."""

import re

from rewards.models import Reward
from tests.rewards.conftest import give_points

DASHED = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
BARE_HEX = re.compile(r"^[0-9a-f]{32}$")
POS = "/api/v1/pos"


def ids_in(answer, path="") -> list[tuple[str, str]]:
    """Every ``id`` of the answer with where it is, and any other value spelled like an undashed UUID."""
    found = []
    if isinstance(answer, dict):
        for key, value in answer.items():
            where = f"{path}.{key}" if path else key
            if key == "id" or (isinstance(value, str) and BARE_HEX.match(value)):
                found.append((where, value))
            else:
                found += ids_in(value, where)
    elif isinstance(answer, list):
        for index, item in enumerate(answer):
            found += ids_in(item, f"{path}.{index}")
    return found


def answered(response, status: int) -> dict:
    assert response.status_code == status, response.content
    return response.json()


def test_every_id_in_every_answer_is_a_dashed_uuid(pos, member):
    give_points(member, 500)
    Reward.objects.create(program=member.program, code="FREE-COFFEE", name="Free coffee", points_cost=50)
    card = {"card_number": member.card_number}
    purchase = {"external_id": "R-1", "member": card, "currency": "EUR", "total": "42.50"}
    redeem = {"member": card, "reward": "FREE-COFFEE"}

    def redemption(key):
        return pos.post(f"{POS}/redemptions/", redeem, format="json", HTTP_IDEMPOTENCY_KEY=key)

    enrolled = answered(pos.post(f"{POS}/members/", {"email": "grace@example.com"}, format="json"), 201)
    answers = {
        "enrol": enrolled,
        "lookup": answered(pos.get(f"{POS}/members/lookup/", {"card_number": member.card_number}), 200),
        "member": answered(pos.get(f"{POS}/members/{member.id}/"), 200),
        "tier": answered(pos.get(f"{POS}/members/{member.id}/tier/"), 200),
        "purchase": answered(pos.post(f"{POS}/purchases/", purchase, format="json"), 201),
        "purchase replay": answered(pos.post(f"{POS}/purchases/", purchase, format="json"), 200),
        "preview": answered(pos.post(f"{POS}/purchases/preview/", purchase, format="json"), 200),
        "batch": answered(pos.post(f"{POS}/purchases/batch/", {"purchases": [{**purchase, "external_id": "R-2"}]},
                                   format="json"), 200),
        "return": answered(pos.post(f"{POS}/returns/", {"external_id": "RET-1", "purchase_external_id": "R-1",
                                                        "amount": "10.00"}, format="json"), 201),
        "event": answered(pos.post(f"{POS}/events/", {"external_id": "E-1", "member": card, "type": "review"},
                                   format="json"), 201),
        "rewards": answered(pos.get(f"{POS}/rewards/", {"member": member.card_number}), 200),
        "redemption": answered(redemption("key-1"), 201),
        "redemption replay": answered(redemption("key-1"), 200),
        "used": answered(pos.post(f"{POS}/vouchers/{answered(redemption('key-2'), 201)['voucher_code']}/use/"), 200),
    }
    code = answers["redemption"]["voucher_code"]
    answers["voucher"] = answered(pos.get(f"{POS}/vouchers/{code}/"), 200)
    answers["cancel"] = answered(pos.post(f"{POS}/redemptions/{answers['redemption']['id']}/cancel/"), 200)
    answers["activity"] = answered(pos.get(f"{POS}/members/{member.id}/activity/"), 200)

    found = [(name, where, value) for name, answer in answers.items() for where, value in ids_in(answer)]
    assert [(name, where, value) for name, where, value in found if not DASHED.match(str(value))] == []
    assert {name for name, _, _ in found} >= set(answers) - {"tier"}
    ids = {answers[name]["id"] for name in ("redemption", "redemption replay", "voucher", "cancel")}
    assert len(ids) == 1
    assert answers["purchase"]["id"] == answers["purchase replay"]["id"]
    assert answers["purchase"]["member"]["id"] == str(member.id) == answers["event"]["member"]["id"]
