from datetime import date

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from loyalty.errors import DomainError
from loyalty.events import announce
from programs.models import Program, Store

from .identifiers import card_number_generate, phone_to_e164, referral_code_generate
from .models import Member
from .signals import member_anonymised, member_enrolled

GENERATION_ATTEMPTS = 8


def _member_exists_error(program: Program, email: str, phone: str | None) -> DomainError | None:
    if Member.objects.filter(program=program, email__lower=email.lower()).exists():
        return DomainError("member_exists", "A member with this email is already enrolled in the program.",
                           title="Member exists")
    if phone and Member.objects.filter(program=program, phone=phone).exists():
        return DomainError("member_exists", "A member with this phone number is already enrolled in the program.",
                           title="Member exists")
    return None


def member_phone_normalize(*, program: Program, phone: str) -> str:
    e164 = phone_to_e164(phone, program.default_phone_region)
    if e164 is None:
        raise DomainError.invalid("phone", "Enter a phone number in international form, e.g. +4915112345678.")
    return e164


@transaction.atomic
def member_enrol(
    *,
    program: Program,
    email: str,
    first_name: str = "",
    last_name: str = "",
    phone: str | None = None,
    birth_date: date | None = None,
    referral_code: str | None = None,
    marketing_opt_in: bool = False,
    language: str = "",
    store: Store | None = None,
    consent_source: str = "",
) -> Member:
    email = email.strip()
    phone = member_phone_normalize(program=program, phone=phone) if phone else None
    if birth_date is not None and birth_date > timezone.localdate():
        raise DomainError.invalid("birth_date", "A birth date cannot be in the future.")

    referrer = None
    if referral_code:
        referrer = Member.objects.filter(program=program, referral_code=referral_code.strip().upper()).first()
        if referrer is None:
            raise DomainError.invalid("referral_code", "No member of this program has this referral code.")

    if error := _member_exists_error(program, email, phone):
        raise error

    now = timezone.now()
    for _ in range(GENERATION_ATTEMPTS):
        member = Member(
            program=program, email=email, phone=phone, first_name=first_name.strip(), last_name=last_name.strip(),
            birth_date=birth_date, language=language, referred_by=referrer, marketing_opt_in=marketing_opt_in,
            marketing_opt_in_at=now if marketing_opt_in else None,
            marketing_opt_in_source=_consent_source(consent_source) if marketing_opt_in and consent_source else "",
            enrolled_at=now, enrolled_store=store,
            card_number=card_number_generate(), referral_code=referral_code_generate(),
        )
        try:
            with transaction.atomic():
                member.save(force_insert=True)
        except IntegrityError:
            # Either a concurrent enrolment took this email/phone first, or a generated
            # number collided; only the first is the caller's problem.
            if error := _member_exists_error(program, email, phone):
                raise error from None
            continue
        break
    else:  # pragma: no cover - 10^14 card numbers make this practically unreachable
        raise RuntimeError("Could not allocate a unique card number")

    member_enrolled.send(sender=Member, member=member)  # the ledger opens the account, earning grants a bonus
    announce(program=program, type="member.enrolled", member=member, key=str(member.pk), payload={})
    return member


def member_username(*, program: Program, email: str) -> str:
    """A member's login name: logins are per program, so one email may sign in to several programs."""
    return f"{program.slug}:{email.strip().lower()}"


@transaction.atomic
def member_login_create(*, member: Member, password: str) -> Member:
    """Give ``member`` a sign-in for the portal of their program (they have none yet)."""
    if member.user_id is not None:
        raise DomainError.invalid("email", "This member can already sign in.")
    member.user = get_user_model().objects.create_user(
        username=member_username(program=member.program, email=member.email), email=member.email,
        password=password, first_name=member.first_name, last_name=member.last_name)
    member.save(update_fields=["user"])
    return member


def _login_taken(*, program: Program, email: str) -> bool:
    return get_user_model().objects.filter(username=member_username(program=program, email=email)).exists()


@transaction.atomic
def member_login_claim(*, member: Member, email: str, password: str) -> Member:
    """A member enrolled at the till (no login) takes their card online: a login with ``password``, by a link
    sent to ``email``. Reaching that link proves the address is theirs, so it counts as confirmed."""
    member = Member.objects.select_for_update().select_related("program").get(pk=member.pk)
    if member.email.lower() != email.strip().lower():
        raise DomainError.invalid("email", "The member's email has changed since the link was sent.")
    if member.user_id is not None or _login_taken(program=member.program, email=member.email):
        raise DomainError("login_exists", "This member can already sign in.", status=409, title="Login exists")
    member_login_create(member=member, password=password)
    return _email_confirmed(member)


@transaction.atomic
def member_password_set(*, member: Member, password: str) -> Member:
    """A new password for the member's login, by a link sent to their email (which thereby counts as
    confirmed). The login's other sessions end: Django checks each session against the password hash."""
    member = Member.objects.select_for_update(of=("self",)).select_related("user").get(pk=member.pk)
    if member.user is None:
        raise DomainError.invalid("password", "This member has no login yet.")
    member.user.set_password(password)
    member.user.save(update_fields=["password"])
    return _email_confirmed(member)


@transaction.atomic
def member_email_verify(*, member: Member, email: str) -> Member:
    """Record that ``email`` — still the member's address — is theirs (they opened the link sent to it).
    Confirming again keeps the first moment."""
    member = Member.objects.select_for_update().get(pk=member.pk)
    if member.email.lower() != email.strip().lower():
        raise DomainError.invalid("email", "The member's email has changed since the link was sent.")
    return _email_confirmed(member)


def _email_confirmed(member: Member) -> Member:
    if member.email_verified_at is None:
        member.email_verified_at = timezone.now()
        member.save(update_fields=["email_verified_at"])
    return member


# Where a member gave or withdrew marketing consent: at the till (the POS API), in the portal, through the
# program's staff, in an import of members, or by the unsubscribe link of an email.
CONSENT_SOURCES = ("pos", "portal", "staff", "import", "email")


def _consent_source(source: str) -> str:
    if source not in CONSENT_SOURCES:
        raise ValueError(f"consent source must be one of {', '.join(CONSENT_SOURCES)}, not {source!r}")
    return source


@transaction.atomic
def member_consent_set(*, member: Member, marketing_opt_in: bool, source: str) -> Member:
    """Give or withdraw marketing consent, recording when and where (``CONSENT_SOURCES``). Saying the same again
    changes nothing: the record keeps when the member first said it."""
    source = _consent_source(source)
    if member.marketing_opt_in != marketing_opt_in:
        member.marketing_opt_in = marketing_opt_in
        member.marketing_opt_in_at = timezone.now()
        member.marketing_opt_in_source = source
        member.save(update_fields=["marketing_opt_in", "marketing_opt_in_at", "marketing_opt_in_source"])
    return member


EARLIEST_BIRTH_DATE = date(1900, 1, 1)


def _birth_date_checked(member: Member, birth_date: date | None, *, set_once: bool) -> date | None:
    if birth_date is not None and birth_date > timezone.localdate():
        raise DomainError.invalid("birth_date", "A birth date cannot be in the future.")
    if birth_date is not None and birth_date < EARLIEST_BIRTH_DATE:
        raise DomainError.invalid("birth_date", "Enter a birth date after 1900.")
    if set_once and member.birth_date is not None and birth_date != member.birth_date:
        # A birthday bonus is paid on the date: a member who could move it could be paid twice a year.
        raise DomainError("birth_date_locked", "The birth date is set; only the program's staff can change it.",
                          errors=[{"field": "birth_date", "message": "The birth date can be set only once."}])
    return birth_date


@transaction.atomic
def member_profile_update(
    *,
    member: Member,
    first_name: str,
    last_name: str,
    phone: str | None,
    language: str,
    birth_date: date | None,
    birth_date_set_once: bool = False,
) -> Member:
    """Change a member's own details. ``phone`` is normalised (empty: none) and must be the member's alone in the
    program; ``language`` is ``""`` (the browser's choice) or one of the site's languages. With
    ``birth_date_set_once`` (the program pays birthday bonuses) a birth date may be given once, never changed."""
    member = Member.objects.select_for_update().get(pk=member.pk)
    first_name, last_name = (first_name or "").strip(), (last_name or "").strip()
    for field, value in (("first_name", first_name), ("last_name", last_name)):
        if len(value) > 100:
            raise DomainError.invalid(field, "Use at most 100 characters.")
    phone = (phone or "").strip()
    phone = member_phone_normalize(program=member.program, phone=phone) if phone else None
    if phone and Member.objects.filter(program_id=member.program_id, phone=phone).exclude(pk=member.pk).exists():
        raise DomainError("member_exists", "Another member of the program has this phone number.",
                          errors=[{"field": "phone", "message": "Another member has this phone number."}])
    if language not in {"", *(code for code, _ in settings.LANGUAGES)}:
        raise DomainError.invalid("language", "Choose one of the languages offered.")
    birth_date = _birth_date_checked(member, birth_date, set_once=birth_date_set_once)

    member.first_name, member.last_name, member.phone = first_name, last_name, phone
    member.birth_date, member.language = birth_date, language
    try:
        with transaction.atomic():
            member.save(update_fields=["first_name", "last_name", "phone", "birth_date", "language"])
    except IntegrityError:  # a concurrent update took the phone number between the check and the save
        raise DomainError("member_exists", "Another member of the program has this phone number.",
                          errors=[{"field": "phone", "message": "Another member has this phone number."}]) from None
    if member.user_id is not None:
        # The login's copy of the name: the password checks compare a new password with it.
        get_user_model().objects.filter(pk=member.user_id).update(first_name=first_name[:150],
                                                                    last_name=last_name[:150])
    return member


# An anonymised member keeps their row (the ledger's entries point at it) but nothing that names them.
# Addresses under the reserved .invalid domain (RFC 2606) can belong to nobody, so a wiped member keeps
# the unique email the table requires and is told apart from every real member by it.
ANONYMISED_EMAIL_DOMAIN = "anonymised.invalid"


def member_is_anonymised(member: Member) -> bool:
    return member.email.endswith("@" + ANONYMISED_EMAIL_DOMAIN)


@transaction.atomic
def member_anonymise(*, member: Member) -> Member:
    """Wipe what identifies a member, at their request; the account and its ledger entries stay.

    The card number and referral code become values no lookup accepts (a card number is 16 digits,
    a referral code upper case), so the card stops working at the till; the member is suspended, so
    nothing earns or redeems through the id either; their portal login is deleted, with the sign-in records
    that name it, so their old password signs in nobody. Running it again changes nothing.
    """
    member = Member.objects.select_for_update().get(pk=member.pk)
    if member_is_anonymised(member):
        return member
    wiped = member.pk.hex
    member.email = f"member-{wiped}@{ANONYMISED_EMAIL_DOMAIN}"
    member.card_number = "x" + wiped[:15]
    member.referral_code = "x" + wiped[:15]
    member.first_name = member.last_name = ""
    member.phone = None
    member.birth_date = None
    member.marketing_opt_in, member.marketing_opt_in_at, member.marketing_opt_in_source = False, timezone.now(), ""
    member.language = ""
    member.status = Member.Status.SUSPENDED
    login, member.user = member.user, None
    member.save()
    if login is not None:
        _login_forget(login)
    member_anonymised.send(sender=Member, member=member)  # notifications drop what they hold of the person
    return member


def _login_forget(login) -> None:
    """Delete a member's login with the sign-in records that name it (its username carries the email); a staff
    login that was also linked to the member is only unlinked."""
    if login.is_staff or login.is_superuser:
        return
    for record in (AccessAttempt, AccessFailureLog, AccessLog):
        record.objects.filter(username=login.get_username()).delete()
    login.delete()


@transaction.atomic
def member_status_set(*, member: Member, status: str) -> Member:
    if status not in Member.Status.values:
        raise DomainError.invalid("status", f"Status must be one of {', '.join(Member.Status.values)}.")
    if status == Member.Status.ACTIVE and member_is_anonymised(member):
        raise DomainError.invalid("status", "An anonymised member cannot be reactivated.")
    if member.status != status:
        member.status = status
        member.save(update_fields=["status"])
    return member
