"""The refusals a person meets in the dashboard read as pages of the product, not as bare status lines."""

import pytest
from django.test import Client


def test_a_refused_role_gets_a_page_that_says_so_and_leads_back_to_the_dashboard(agent_client):
    response = agent_client.get("/staff/settings/")
    assert response.status_code == 403
    body = response.content.decode()
    assert "Your role doesn't allow this" in body
    assert 'href="/staff/"' in body


@pytest.mark.django_db
def test_a_form_sent_without_its_token_explains_that_it_expired_and_changes_nothing():
    client = Client(enforce_csrf_checks=True)
    response = client.post("/staff/login/", {"username": "someone", "password": "something"})
    assert response.status_code == 403
    body = response.content.decode()
    assert "This form has expired" in body
    assert 'href="/staff/login/"' in body


def test_a_missing_record_in_the_dashboard_leads_back_to_the_dashboard(manager_client):
    response = manager_client.get("/staff/settings/tiers/999999/")
    assert response.status_code == 404
    assert 'href="/staff/"' in response.content.decode()


def test_the_refusal_keeps_the_dashboard_around_it(agent_client):
    body = agent_client.get("/staff/settings/").content.decode()
    assert 'aria-label="Dashboard"' in body  # the staff navigation
    assert "Sign out" in body and "Staff sign in" not in body
