"""Every delivery is signed: ``X-Loyalty-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "t.body")>``."""

import hashlib
import hmac
import time

from tests.factories import MemberFactory
from webhooks.services import webhook_deliver_due
from webhooks.signing import signature_header, signature_verify

SECRET = "whsec_test_secret"
BODY = b'{"type":"points.earned"}'


def test_a_signature_verifies_with_the_secret_and_the_exact_body():
    header = signature_header(secret=SECRET, body=BODY, timestamp=1_700_000_000)

    assert signature_verify(secret=SECRET, body=BODY, header=header, now=1_700_000_010)
    assert not signature_verify(secret=SECRET, body=BODY + b" ", header=header, now=1_700_000_010)
    assert not signature_verify(secret="whsec_other", body=BODY, header=header, now=1_700_000_010)


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body():
    header = signature_header(secret=SECRET, body=BODY, timestamp=1_700_000_000)

    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"


def test_an_old_or_altered_timestamp_is_refused():
    header = signature_header(secret=SECRET, body=BODY, timestamp=1_700_000_000)

    assert not signature_verify(secret=SECRET, body=BODY, header=header, now=1_700_000_000 + 301)
    forged = header.replace("t=1700000000", "t=1700000100")
    assert not signature_verify(secret=SECRET, body=BODY, header=forged, now=1_700_000_100)
    assert not signature_verify(secret=SECRET, body=BODY, header="v1=abc", now=1_700_000_000)
    assert not signature_verify(secret=SECRET, body=BODY, header="", now=1_700_000_000)


def test_any_of_several_v1_signatures_may_match_while_a_secret_is_rotated():
    good = signature_header(secret=SECRET, body=BODY, timestamp=1_700_000_000)
    other = signature_header(secret="whsec_old", body=BODY, timestamp=1_700_000_000).split(",")[1]

    assert signature_verify(secret=SECRET, body=BODY, header=f"{good},{other}", now=1_700_000_000)


def test_a_delivered_request_carries_a_signature_the_receiver_verifies(program, store, endpoint, receiver):
    member = MemberFactory(program=program, store=store)

    webhook_deliver_due()

    (request,) = receiver.requests
    header = request.headers["X-Loyalty-Signature"]
    assert signature_verify(secret=endpoint.secret, body=request.body, header=header, now=time.time())
    assert not signature_verify(secret="whsec_wrong", body=request.body, header=header, now=time.time())
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Loyalty-Event"] == "member.enrolled"
    assert request.json["data"]["member"]["card_number"] == member.card_number
