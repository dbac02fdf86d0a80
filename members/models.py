import uuid

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Concat, Lower

from programs.models import Program


def member_search_name():
    """``lower(first_name || ' ' || last_name)``: what staff search matches names against, and what its trigram
    index holds (the query must use this very expression for the index to serve it)."""
    return Lower(Concat("first_name", Value(" "), "last_name"))


class Member(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="members")
    card_number = models.CharField(max_length=16)
    email = models.EmailField(max_length=254)
    phone = models.CharField(max_length=16, null=True, blank=True, help_text="E.164, e.g. +4915112345678")
    first_name = models.CharField(max_length=100, blank=True, default="")
    last_name = models.CharField(max_length=100, blank=True, default="")
    birth_date = models.DateField(null=True, blank=True)
    language = models.CharField(
        max_length=8, blank=True, default="", choices=settings.LANGUAGES,
        help_text="The member's own choice; empty until they choose, when pages follow the browser.",
    )
    referral_code = models.CharField(max_length=16)
    referred_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="referrals"
    )
    marketing_opt_in = models.BooleanField(default=False)
    marketing_opt_in_at = models.DateTimeField(
        null=True, blank=True, help_text="When consent was last given or withdrawn."
    )
    # db_default too: bulk writers outside the ORM (imports, benchmarks) name only the columns they know.
    marketing_opt_in_source = models.CharField(
        max_length=32, blank=True, default="", db_default="",
        help_text="Where consent was last given or withdrawn: pos, portal, staff, import.",
    )
    email_verified_at = models.DateTimeField(
        null=True, blank=True, help_text="When the member confirmed the email address by its link.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    enrolled_at = models.DateTimeField(db_index=True)
    enrolled_store = models.ForeignKey(
        "programs.Store", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="member"
    )

    class Meta:
        ordering = ["-enrolled_at"]
        constraints = [
            models.UniqueConstraint(fields=["program", "card_number"], name="member_card_unique_in_program"),
            models.UniqueConstraint("program", Lower("email"), name="member_email_unique_in_program"),
            models.UniqueConstraint(
                fields=["program", "phone"], condition=Q(phone__isnull=False), name="member_phone_unique_in_program"
            ),
            models.UniqueConstraint(
                fields=["program", "referral_code"], name="member_referral_code_unique_in_program"
            ),
            models.CheckConstraint(condition=Q(status__in=["active", "suspended"]), name="member_status_valid"),
        ]
        indexes = [
            # Staff search (members.selectors.member_search) at a million members: words of the name by
            # trigram, the email and the card number by prefix. text_pattern_ops serves LIKE 'abc%' whatever
            # the database's collation (the unique indexes above only do under "C").
            GinIndex(OpClass(member_search_name(), name="gin_trgm_ops"), name="member_name_trgm_idx"),
            models.Index(F("program"), OpClass(Lower("email"), name="text_pattern_ops"),
                         name="member_email_prefix_idx"),
            models.Index(F("program"), OpClass("card_number", name="text_pattern_ops"),
                         name="member_card_prefix_idx"),
        ]

    def __str__(self):
        return f"{self.full_name or self.email} ({self.card_number})"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def is_suspended(self) -> bool:
        return self.status == self.Status.SUSPENDED
