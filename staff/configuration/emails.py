"""Member emails in the program's own words: for each email and language a subject and a body, previewed with a
sample member, and back to the platform's wording with one button."""

from csp.decorators import csp_update
from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from notifications.models import KIND_CATEGORY, EmailTemplateOverride, Kind
from notifications.samples import COMMON_PLACEHOLDERS, PLACEHOLDERS, sample_member
from notifications.services import (
    WORDING_ERRORS,
    WORDING_TAGS,
    email_context_render,
    email_sample_context,
    email_template_check,
    email_template_override_reset,
    email_template_override_set,
    email_template_wording,
)

from ..access import staff_view
from ..services import audit_record
from .forms import SettingsForm
from .pages import redirect_to, settings_url

LANGUAGES = EmailTemplateOverride.Language
WHEN_SENT = {
    Kind.POINTS_EARNED: "After a purchase or other activity earns points.",
    Kind.TIER_CHANGED: "When a member moves to another tier.",
    Kind.POINTS_EXPIRING: "Before points expire, within the program's warning window.",
    Kind.REWARD_ISSUED: "When a member redeems a reward: it carries the voucher code.",
    Kind.SURVEY_INVITATION: "Asks members who agreed to marketing emails to answer a survey.",
    Kind.PASSWORD_RESET: "When a member asks for a new password: it carries a one-time link.",
    Kind.EMAIL_CONFIRMATION: "After joining online, and when a member asks again: a link confirming the address.",
    Kind.CARD_CLAIM: "When a member with a card from the till asks to use it online: a link to choose a password.",
}
# The email preview is the message as members get it: its layout styles each element inline, which this page
# allows for that (sandboxed, script-less) frame.
_EMAIL_FRAME_STYLES = csp_update({"style-src-attr": ["'unsafe-inline'"]})


class EmailTemplateForm(SettingsForm):
    subject = forms.CharField(label="Subject", max_length=300)
    body = forms.CharField(
        label="Body", max_length=20_000, widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "true"}),
        help_text="Plain text: a blank line starts a new paragraph. Put a value in double braces, e.g. "
                  "{{ member.first_name }}; keep a sentence for some members only with {% if … %} … {% endif %}.")

    def __init__(self, *args, subject: str, body: str, **kwargs):
        super().__init__(*args, initial={"subject": subject, "body": body}, **kwargs)
        self.fields["body"].widget.attrs["class"] = "mono-input"


def _email(kind: str, language: str) -> tuple[str, str]:
    if kind not in Kind.values or language not in LANGUAGES.values:
        raise Http404("No such email.")
    return kind, language


def _target(kind: str, language: str) -> dict:
    return {"target_type": "emailtemplateoverride", "target_id": f"{kind}/{language}",
            "target_label": f"{Kind(kind).label} ({LANGUAGES(language).label})"}


@require_safe
@staff_view("settings.view")
def email_list(request):
    program = request.staff.program
    overrides = {(o.kind, o.language): o for o in EmailTemplateOverride.objects.filter(program=program)}
    rows = [{"kind": kind, "label": label, "when": WHEN_SENT[kind], "marketing": KIND_CATEGORY[kind] == "marketing",
             "languages": [(code, name, overrides.get((kind, code))) for code, name in LANGUAGES.choices]}
            for kind, label in Kind.choices]
    return render(request, "staff/configuration/emails.html", {
        "rows": rows, "may_change": request.staff.may("settings.change"), "program": program})


def _preview(program, kind: str, language: str, form: EmailTemplateForm) -> dict | None:
    """The email a sample member would get with the form's wording; None while the wording has a problem (the
    form then says which, beside its field)."""
    if not form.is_valid():
        return None
    subject, body = form.cleaned_data["subject"], form.cleaned_data["body"]
    try:
        email_template_check(program=program, kind=kind, language=language, subject=subject, body=body)
        email = email_context_render(kind=kind, context=email_sample_context(program=program, kind=kind,
                                                                             language=language),
                                     wording=(subject, body))
    except ValidationError as refusal:
        form.add_refusal(refusal)
        return None
    except WORDING_ERRORS as error:  # the check rendered it already: only a value of this moment could differ
        form.add_error("body", f"A sample email fails with it: {error}")
        return None
    return {"email": email, "to": sample_member()}


def _page(request, kind, language, form, *, override, preview=None):
    program = request.staff.program
    return render(request, "staff/configuration/email_form.html", {
        "form": form, "kind": kind, "kind_label": Kind(kind).label, "language": language,
        "language_label": LANGUAGES(language).label, "languages": LANGUAGES.choices, "override": override,
        "when": WHEN_SENT[kind], "preview": preview, "may_change": request.staff.may("settings.change"),
        "placeholders": [*COMMON_PLACEHOLDERS, *PLACEHOLDERS[kind]], "tags": WORDING_TAGS,
        "save_url": settings_url(request, "settings-email", kind, language),
        "preview_url": settings_url(request, "settings-email-preview", kind, language),
        "reset_url": settings_url(request, "settings-email-reset", kind, language),
        "program": program,
    })


@require_http_methods(["GET", "HEAD", "POST"])
@staff_view("settings.view")
@_EMAIL_FRAME_STYLES
def email_edit(request, kind, language):
    kind, language = _email(kind, language)
    staff, program = request.staff, request.staff.program
    subject, body, override = email_template_wording(program=program, kind=kind, language=language)
    if request.method != "POST":
        form = EmailTemplateForm(subject=subject, body=body, read_only=not staff.may("settings.change"))
        preview = _preview(program, kind, language, EmailTemplateForm({}, subject=subject, body=body, read_only=True))
        return _page(request, kind, language, form, override=override, preview=preview)
    staff.require("settings.change")
    form = EmailTemplateForm(request.POST, subject=subject, body=body)

    def save():
        new = {"subject": form.cleaned_data["subject"], "body": form.cleaned_data["body"]}
        old = {"subject": subject, "body": body}
        if new == old:
            return "unchanged"
        with transaction.atomic():
            saved = email_template_override_set(program=program, kind=kind, language=language, **new)
            audit_record(actor=request.user, program=program, action="email_template.update",
                         before={k: v for k, v in old.items() if new[k] != v} if override else old,
                         after={k: v for k, v in new.items() if old[k] != v} if override else new,
                         **_target(kind, language))
        return saved

    if saved := form.submit(save):
        if saved == "unchanged":
            messages.info(request, "Nothing changed: the wording is as it was.")
        else:
            messages.success(request, f"Saved. The next “{Kind(kind).label}” emails in {LANGUAGES(language).label} "
                                      "use this wording.")
        return redirect_to(request, "settings-email", kind, language)
    return _page(request, kind, language, form, override=override)


@require_POST
@staff_view("settings.view")
@_EMAIL_FRAME_STYLES
def email_preview(request, kind, language):
    kind, language = _email(kind, language)
    program = request.staff.program
    subject, body, override = email_template_wording(program=program, kind=kind, language=language)
    # Those who may only look preview the wording as saved: their fields are disabled, never sent.
    form = EmailTemplateForm(request.POST, subject=subject, body=body,
                             read_only=not request.staff.may("settings.change"))
    preview = _preview(program, kind, language, form)
    if request.headers.get("HX-Request") == "true":
        return render(request, "staff/configuration/_email_preview.html", {"preview": preview, "form": form})
    return _page(request, kind, language, form, override=override, preview=preview)


@require_POST
@staff_view("settings.change")
def email_reset(request, kind, language):
    kind, language = _email(kind, language)
    program = request.staff.program
    with transaction.atomic():
        removed = email_template_override_reset(program=program, kind=kind, language=language)
        if removed is not None:
            audit_record(actor=request.user, program=program, action="email_template.reset",
                         before={"subject": removed.subject, "body": removed.body}, after=None,
                         **_target(kind, language))
    if removed is not None:
        messages.success(request, f"“{Kind(kind).label}” in {LANGUAGES(language).label} is back to the default "
                                  "wording.")
    return redirect_to(request, "settings-email", kind, language)
