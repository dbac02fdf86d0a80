import pytest

from surveys.services import survey_create


@pytest.fixture
def nps_survey(program):
    return survey_create(program=program, code="nps", kind="nps")


@pytest.fixture
def csat_survey(program):
    return survey_create(program=program, code="csat", kind="csat")
