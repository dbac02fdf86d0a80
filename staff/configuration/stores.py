"""Stores and their POS keys: list, add, rename, deactivate; a key is shown once, when made, then only its prefix."""

from django import forms
from django.contrib import messages
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_http_methods, require_POST

from programs.models import Store, StoreApiKey
from programs.services import api_key_create, api_key_revoke, store_create, store_update

from ..access import staff_object, staff_view
from .forms import SettingsForm
from .pages import audited_change, redirect_to

STORE_FIELDS = ["code", "name", "is_active"]
KEY_FIELDS = ["name", "prefix", "revoked_at"]


class StoreCreateForm(SettingsForm):
    code = forms.RegexField(
        label="Store code", max_length=32, regex=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        error_messages={"invalid": "Use letters, digits, - _ and . (starting with a letter or digit)."},
        help_text="What tills send with every purchase, e.g. BERLIN-01. It cannot be changed later.")
    name = forms.CharField(label="Store name", max_length=120)


class StoreRenameForm(SettingsForm):
    name = forms.CharField(label="Store name", max_length=120)


class ApiKeyCreateForm(SettingsForm):
    name = forms.CharField(label="Key name", max_length=80,
                           help_text="Where the key is used, e.g. Till 2 or Online shop.")


def _key_audit(api_key: StoreApiKey) -> dict:
    # The prefix identifies a key to people; the key itself is never written anywhere.
    return {"name": api_key.name, "prefix": api_key.prefix, "store": api_key.store.code,
            "revoked_at": api_key.revoked_at}


def _store_of(request, store_id, action: str = "settings.view") -> Store:
    return staff_object(request, Store.objects.all(), action, pk=store_id)


@require_http_methods(["GET", "HEAD", "POST"])
@staff_view("settings.view")
def store_list(request):
    staff = request.staff
    may_change = staff.may("settings.change")
    form = StoreCreateForm(read_only=not may_change)
    if request.method == "POST":
        staff.require("settings.change")
        form = StoreCreateForm(request.POST)
        created = form.submit(lambda: audited_change(
            request, action="store.create", fields=STORE_FIELDS,
            write=lambda: store_create(program=staff.program, **form.cleaned_data)))
        if created:
            store = created[0]
            messages.success(request, f"Store {store.code} added. Create a POS key for its tills below.")
            return redirect_to(request, "settings-store", store.pk)
    stores = (Store.objects.filter(program=staff.program)
              .annotate(active_keys=Count("api_keys", filter=Q(api_keys__revoked_at__isnull=True)))
              .order_by("-is_active", "code"))
    return render(request, "staff/configuration/stores.html", {
        "stores": stores, "form": form, "may_change": may_change})


def _store_page(request, store: Store, *, rename_form=None, key_form=None, new_key: str = "", new_key_record=None):
    may_change = request.staff.may("settings.change")
    keys = store.api_keys.select_related("created_by").order_by("revoked_at", "-created_at")
    response = render(request, "staff/configuration/store.html", {
        "store": store, "keys": keys, "may_change": may_change,
        "rename_form": rename_form or StoreRenameForm(initial={"name": store.name}, read_only=not may_change),
        "key_form": key_form or ApiKeyCreateForm(read_only=not may_change),
        "new_key": new_key, "new_key_record": new_key_record,
    })
    if new_key:
        # The only copy of the key: no cache, no back-button copy of this page.
        response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "HEAD", "POST"])
@staff_view("settings.view", record=True)
def store_detail(request, store_id):
    store = _store_of(request, store_id)
    if request.method != "POST":
        return _store_page(request, store)
    request.staff.require("settings.change")
    form = StoreRenameForm(request.POST, initial={"name": store.name})
    if form.submit(lambda: audited_change(request, action="store.update", before=store, fields=STORE_FIELDS,
                                          write=lambda: store_update(store=store, **form.changes(["name"])))):
        messages.success(request, "Store saved.")
        return redirect_to(request, "settings-store", store.pk)
    return _store_page(request, store, rename_form=form)


@require_POST
@staff_view("settings.view", record=True)
def store_activation(request, store_id, active: bool):
    store = _store_of(request, store_id, "settings.change")
    audited_change(request, action="store.reactivate" if active else "store.deactivate", before=store,
                   fields=STORE_FIELDS, write=lambda: store_update(store=store, is_active=active))
    messages.success(request, f"Store {store.code} is active again." if active else
                     f"Store {store.code} is deactivated: its POS keys are refused from now on.")
    return redirect_to(request, "settings-store", store.pk)


@require_POST
@staff_view("settings.view", record=True)
def api_key_new(request, store_id):
    store = _store_of(request, store_id, "settings.change")
    form = ApiKeyCreateForm(request.POST)
    if not form.is_valid():
        return _store_page(request, store, key_form=form)
    if not store.is_active:
        form.add_error(None, "This store is deactivated: reactivate it before creating keys.")
        return _store_page(request, store, key_form=form)
    created = {}

    def write():
        created["record"], created["key"] = api_key_create(store=store, name=form.cleaned_data["name"],
                                                           created_by=request.user)
        return created["record"]

    audited_change(request, action="api_key.create", fields=_key_audit, write=write)
    # Shown on this response only: the page is not redirected to, so the key is in no URL, session or log.
    return _store_page(request, store, new_key=created["key"], new_key_record=created["record"])


@require_http_methods(["GET", "HEAD", "POST"])
@staff_view("settings.view", record=True)
def api_key_revoke_confirm(request, store_id, key_id):
    store = _store_of(request, store_id, "settings.change")
    api_key = get_object_or_404(store.api_keys.all(), pk=key_id)
    if request.method == "POST":
        if api_key.revoked_at is None:
            audited_change(request, action="api_key.revoke", before=api_key, fields=_key_audit,
                           write=lambda: api_key_revoke(api_key=api_key))
        messages.success(request, f"Key {api_key.prefix}… ({api_key.name}) is revoked: tills using it are refused.")
        return redirect_to(request, "settings-store", store.pk)
    return render(request, "staff/configuration/key_revoke.html", {"store": store, "api_key": api_key})
