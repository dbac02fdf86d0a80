"""Stored refusals: the refused work goes, the refusal stays, and a twin that answered first wins."""

import pytest

from loyalty import idempotency
from loyalty.errors import DomainError
from loyalty.idempotency import Answer, idempotent_call
from loyalty.models import IdempotencyRecord
from programs.models import Store


def _conflict():
    return DomainError("idempotency_key_reused", "Another request used this key.", status=422)


def _call(store, run, key="k-1"):
    return idempotent_call(store=store, scope="test", key=key, payload={"n": 1}, run=run, conflict=_conflict,
                           store_refusals=True)


def _refusing_after_a_write(store):
    def run():
        Store.objects.filter(pk=store.pk).update(name="written by the refused work")
        raise DomainError("insufficient_points", "Not enough points.", status=422)

    return run


def test_a_refusal_is_stored_and_its_work_undone(store):
    with pytest.raises(DomainError) as refused:
        _call(store, _refusing_after_a_write(store))

    assert refused.value.code == "insufficient_points" and not refused.value.replayed
    store.refresh_from_db()
    assert store.name != "written by the refused work"
    record = IdempotencyRecord.objects.get(store=store, scope="test", key="k-1")
    assert record.response_status == 422 and record.response_body["code"] == "insufficient_points"

    with pytest.raises(DomainError) as replayed:
        _call(store, lambda: (201, {"would": "succeed now"}))
    assert replayed.value.code == "insufficient_points" and replayed.value.replayed


def test_a_400_is_not_stored(store):
    def run():
        raise DomainError.invalid("points", "Say how many points to pay with.")

    with pytest.raises(DomainError):
        _call(store, run)

    assert not IdempotencyRecord.objects.filter(store=store).exists()
    assert _call(store, lambda: (201, {"ok": True})) == Answer(201, {"ok": True})


def test_a_twin_that_answered_while_the_refusal_rolled_back_is_the_answer(store, monkeypatch):
    claim, claims = idempotency._claim, []

    def twin_gets_in_first(**kwargs):
        claims.append(kwargs["key"])
        if len(claims) == 2:  # after our refused work rolled back, before we store the refusal
            twin = claim(**kwargs)
            IdempotencyRecord.objects.filter(pk=twin).update(response_status=201, response_body={"id": "twin"})
        return claim(**kwargs)

    monkeypatch.setattr(idempotency, "_claim", twin_gets_in_first)

    answer = _call(store, _refusing_after_a_write(store))

    assert answer == Answer(201, {"id": "twin"}, replayed=True)
    assert IdempotencyRecord.objects.get(store=store, scope="test", key="k-1").response_status == 201
