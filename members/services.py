from datetime import date

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
            marketing_opt_in_at=now if marketing_opt_in else None, enrolled_at=now, enrolled_store=store,
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


@transaction.atomic
def member_consent_set(*, member: Member, marketing_opt_in: bool) -> Member:
    if member.marketing_opt_in != marketing_opt_in:
        member.marketing_opt_in = marketing_opt_in
        member.marketing_opt_in_at = timezone.now()
        member.save(update_fields=["marketing_opt_in", "marketing_opt_in_at"])
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
    nothing earns or redeems through the id either; their portal login is deleted. Running it again
    changes nothing.
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
    member.marketing_opt_in, member.marketing_opt_in_at = False, timezone.now()
    member.status = Member.Status.SUSPENDED
    login, member.user = member.user, None
    member.save()
    if login is not None and not (login.is_staff or login.is_superuser):
        login.delete()
    member_anonymised.send(sender=Member, member=member)  # notifications drop what they hold of the person
    return member


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
