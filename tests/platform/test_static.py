def test_static_files_are_served_with_debug_off_and_nothing_collected(client, settings):
    assert settings.DEBUG is False

    response = client.get("/static/css/app.css")

    assert response.status_code == 200
    assert b"--" in b"".join(response.streaming_content)  # the stylesheet itself, not an error page


def test_the_admin_login_page_renders_without_collectstatic(client, db):
    response = client.get("/admin/login/")

    assert response.status_code == 200
    assert b"/static/" in response.content
