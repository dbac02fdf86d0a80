import secrets
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from loyalty.edits import changes_apply, record_check
from loyalty.errors import DomainError

from .models import Program, Store, StoreApiKey, hash_api_key
from .selectors import api_key_cache_forget, api_key_hashes_of_store

KEY_PREFIX = "lk_"
LAST_USED_RESOLUTION = timedelta(minutes=1)


@transaction.atomic
def program_create(*, slug: str, name: str, currency: str, **policy) -> Program:
    program = Program(slug=slug, name=name, currency=currency.upper(), **policy)
    program.full_clean()
    program.save()
    return program


# What staff may change on a program. The slug and the currency stay: tills, links and every
# amount already booked are read with them.
PROGRAM_SETTINGS = frozenset({"name", "points_per_unit", "pending_days", "expiry_days", "claim_window_days",
                              "time_zone", "value_per_point", "accent_color", "logo", "redemption_undo_minutes",
                              "transfer_daily_limit"})
# The portal puts white text on the accent colour; WCAG AA asks 4.5:1 for text of that size.
ACCENT_MIN_CONTRAST = 4.5


def _relative_luminance(color: str) -> float:
    def channel(hex_pair: str) -> float:
        c = int(hex_pair, 16) / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(color[i:i + 2]) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def accent_contrast_with_white(color: str) -> float:
    """The WCAG contrast ratio of white text on ``color`` (``#rrggbb``)."""
    return 1.05 / (_relative_luminance(color) + 0.05)


def _program_policy_errors(program: Program) -> dict[str, list[str]]:
    """Settings that are each valid but make no sense together, or that members could not read."""
    errors: dict[str, list[str]] = {}
    if program.expiry_days == 0:
        errors["expiry_days"] = ["Points cannot expire on the day they are earned; leave it empty for never."]
    elif program.expiry_days is not None and program.expiry_days <= program.pending_days:
        errors["expiry_days"] = [f"Points would expire before they are released: make it more than the "
                                 f"{program.pending_days} pending days, or empty for never."]
    color = program.accent_color or ""
    if len(color) == 7 and color.startswith("#"):
        try:
            ratio = accent_contrast_with_white(color)
        except ValueError:
            ratio = None  # not hex: the field's own validator says so
        if ratio is not None and ratio < ACCENT_MIN_CONTRAST:
            errors["accent_color"] = [f"White text on this colour is hard to read (contrast {ratio:.1f}:1, "
                                      f"needs {ACCENT_MIN_CONTRAST}:1): choose a darker colour."]
    return errors


@transaction.atomic
def program_update(*, program: Program, **changes) -> Program:
    """Change some of a program's settings (``PROGRAM_SETTINGS``); returns the program as saved.

    Invalid configuration raises ``ValidationError`` naming each field and changes nothing. A replaced
    or removed logo file is deleted once the change has committed.
    """
    # NO KEY UPDATE: rows referencing the program (members, purchases) go on being written meanwhile.
    program = Program.objects.select_for_update(no_key=True).get(pk=program.pk)
    old_logo = program.logo.name
    changes_apply(program, changes, allowed=PROGRAM_SETTINGS, what="program")
    record_check(program, _program_policy_errors(program))
    program.save()
    if "logo" in changes and old_logo and old_logo != program.logo.name:
        storage = program.logo.storage
        transaction.on_commit(lambda: storage.delete(old_logo))
    return program


@transaction.atomic
def store_create(*, program: Program, code: str, name: str) -> Store:
    if Store.objects.filter(program=program, code=code).exists():
        raise ValidationError({"code": [f"This program already has a store {code}."]})
    store = Store(program=program, code=code, name=name)
    store.full_clean()
    store.save()
    return store


STORE_SETTINGS = frozenset({"name", "is_active"})


@transaction.atomic
def store_update(*, store: Store, **changes) -> Store:
    """Rename a store or (de)activate it. The code stays: tills send it with every purchase.

    A deactivated store's keys are refused at once: the cached key lookups are forgotten now and
    again after commit, as a revocation does.
    """
    store = Store.objects.select_for_update(no_key=True).get(pk=store.pk)
    was_active = store.is_active
    changes_apply(store, changes, allowed=STORE_SETTINGS, what="store")
    record_check(store)
    store.save()
    if store.is_active != was_active:
        key_hashes = api_key_hashes_of_store(store_id=store.pk)
        api_key_cache_forget(key_hashes=key_hashes)
        transaction.on_commit(lambda: api_key_cache_forget(key_hashes=key_hashes))
    return store


@transaction.atomic
def api_key_create(*, store: Store, name: str, raw_key: str | None = None, created_by=None) -> tuple[StoreApiKey, str]:
    """Create a key for ``store``; returns the record and the only copy of the key itself."""
    raw_key = raw_key or KEY_PREFIX + secrets.token_urlsafe(32)
    if len(raw_key) < 8 or any(c.isspace() for c in raw_key):
        raise DomainError.invalid("key", "An API key needs at least 8 characters and no spaces.")
    key_hash = hash_api_key(raw_key)
    if StoreApiKey.objects.filter(key_hash=key_hash).exists():
        raise DomainError("invalid", "That key is already in use.", errors=[{"field": "key", "message": "in use"}])
    api_key = StoreApiKey.objects.create(
        store=store, name=name, prefix=raw_key[:8], key_hash=key_hash, created_by=created_by
    )
    return api_key, raw_key


@transaction.atomic
def api_key_revoke(*, api_key: StoreApiKey) -> StoreApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    # Forget the cached lookup now and again after commit, so no request that read the key
    # before the revocation committed can leave it cached.
    api_key_cache_forget(key_hashes=[api_key.key_hash])
    transaction.on_commit(lambda: api_key_cache_forget(key_hashes=[api_key.key_hash]))
    return api_key


def api_key_touch(*, api_key: StoreApiKey) -> bool:
    """Record use, at most once a minute per key, so a busy till does not write on every call.

    Answers whether it wrote (then the caller refreshes any cached copy of the key).
    """
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USED_RESOLUTION:
        StoreApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
        return True
    return False
