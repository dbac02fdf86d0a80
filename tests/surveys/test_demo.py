"""The demo program has the contract's active NPS survey `nps`; seeding again leaves it as it is."""

import io

from django.core.management import call_command

from programs.demo import demo_seed
from surveys.models import Survey
from tests.conftest import pos_client

KEY = "survey-demo-key-0001"


def test_the_demo_has_an_active_nps_survey_once(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    demo = demo_seed(api_key=KEY)
    Survey.objects.filter(program=demo.program, code="nps").update(name="Renamed by staff")
    call_command("seed_demo", "--api-key", KEY, stdout=io.StringIO())

    (survey,) = Survey.objects.filter(program=demo.program)
    assert (survey.code, survey.kind, survey.active, survey.name) == ("nps", "nps", True, "Renamed by staff")
    assert survey.is_open()

    answer = pos_client(KEY).post("/api/v1/pos/surveys/responses/",
                                  {"external_id": "S-1", "survey": "nps", "score": 10,
                                   "member": {"email": demo.members[0].email}}, format="json")
    assert answer.status_code == 201
    assert answer.json()["category"] == "promoter"
