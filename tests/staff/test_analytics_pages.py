"""The analytics section: who may read it, its tabs, its CSV files by name, and today's figures on demand."""

import pytest

from analytics.models import RollupRun

pytestmark = pytest.mark.django_db

PAGES = ["/staff/analytics/behaviour/", "/staff/analytics/at-risk/", "/staff/analytics/points/",
         "/staff/analytics/simulator/"]


@pytest.mark.parametrize("url", PAGES)
def test_managers_and_analysts_read_every_page_and_agents_may_not(url, manager_client, analyst_client, agent_client):
    for client in (manager_client, analyst_client):
        response = client.get(url)
        assert response.status_code == 200
        body = response.content.decode()
        assert 'aria-label="Analytics sections"' in body and 'aria-current="page"' in body
    assert agent_client.get(url).status_code == 403


def test_the_section_opens_on_behaviour(manager_client):
    response = manager_client.get("/staff/analytics/")
    assert response.status_code == 302 and response["Location"].startswith("/staff/analytics/behaviour/")


@pytest.mark.parametrize("page", ["behaviour", "at-risk", "points", "simulator"])
def test_a_table_that_does_not_exist_is_404(page, manager_client):
    assert manager_client.get(f"/staff/analytics/{page}/no-such-table.csv").status_code == 404


def test_update_today_rolls_up_and_returns_to_the_page(manager_client, program):
    response = manager_client.post("/staff/analytics/refresh/", {"page": "points"})
    assert response.status_code == 302
    assert response["Location"] == f"/staff/analytics/points/?program={program.slug}"
    run = RollupRun.objects.get(program=program)
    assert run.trigger == "today" and run.drift == {}
    assert manager_client.get("/staff/analytics/refresh/").status_code == 405


def test_agents_may_not_refresh(agent_client, program):
    assert agent_client.post("/staff/analytics/refresh/", {"page": "points"}).status_code == 403
    assert not RollupRun.objects.filter(program=program).exists()
