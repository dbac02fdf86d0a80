"""The portal speaks the member's language: their own choice, else the browser's (en, de), else English."""

from .conftest import signed_in


def test_the_sign_in_page_speaks_german_to_a_german_browser_and_english_otherwise(client, program):
    german = client.get(f"/portal/{program.slug}/login/", HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9,en;q=0.5")
    assert german.status_code == 200
    assert 'lang="de"' in german.text
    assert "E-Mail" in german.text and "Passwort" in german.text and "Anmelden" in german.text

    english = client.get(f"/portal/{program.slug}/login/", HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9")
    assert 'lang="en"' in english.text and "Sign in" in english.text and "Anmelden" not in english.text


def test_a_wrong_password_is_said_in_german_to_a_german_browser(client, member_with_login):
    response = client.post(f"/portal/{member_with_login.program.slug}/login/",
                           {"email": member_with_login.email, "password": "not-the-password"},
                           HTTP_ACCEPT_LANGUAGE="de")
    assert response.status_code == 400
    assert "passen zu keinem Mitglied" in response.text


def test_a_member_who_chose_german_reads_german_whatever_the_browser(client, member_with_login):
    member_with_login.language = "de"
    member_with_login.save(update_fields=["language"])
    signed_in(client, member_with_login)
    home = client.get(f"/portal/{member_with_login.program.slug}/", HTTP_ACCEPT_LANGUAGE="en-GB")
    assert home.status_code == 200
    assert "Verfügbare Punkte" in home.text and "Available points" not in home.text
    rewards = client.get(f"/portal/{member_with_login.program.slug}/rewards/", HTTP_ACCEPT_LANGUAGE="en-GB")
    assert "Prämien" in rewards.text
