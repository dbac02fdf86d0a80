"""The error pages render on their own (no browser needed)."""

from django.template.loader import render_to_string


def test_500_page_renders_without_a_request_or_context():
    # Django's server_error view renders 500.html with an empty context.
    html = render_to_string("500.html")

    assert "Something went wrong" in html
    assert "css/app.css" in html
