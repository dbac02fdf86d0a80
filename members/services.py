from datetime import date

from django.db import IntegrityError, transaction
from django.utils import timezone

from loyalty.errors import DomainError
from loyalty.events import announce
from programs.models import Program, Store

from .identifiers import card_number_generate, phone_to_e164, referral_code_generate
from .models import Member
from .signals import member_enrolled

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
    language: str = "en",
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


@transaction.atomic
def member_consent_set(*, member: Member, marketing_opt_in: bool) -> Member:
    if member.marketing_opt_in != marketing_opt_in:
        member.marketing_opt_in = marketing_opt_in
        member.marketing_opt_in_at = timezone.now()
        member.save(update_fields=["marketing_opt_in", "marketing_opt_in_at"])
    return member


@transaction.atomic
def member_status_set(*, member: Member, status: str) -> Member:
    if status not in Member.Status.values:
        raise DomainError.invalid("status", f"Status must be one of {', '.join(Member.Status.values)}.")
    if member.status != status:
        member.status = status
        member.save(update_fields=["status"])
    return member
