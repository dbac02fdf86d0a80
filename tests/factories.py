import factory

from members.models import Member
from members.services import member_enrol
from programs.models import Program, Store
from programs.services import api_key_create


class ProgramFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Program

    slug = factory.Sequence(lambda n: f"program-{n}")
    name = factory.Sequence(lambda n: f"Program {n}")
    currency = "EUR"
    points_per_unit = 1
    pending_days = 0
    expiry_days = 365
    default_phone_region = "DE"


class StoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Store

    program = factory.SubFactory(ProgramFactory)
    code = factory.Sequence(lambda n: f"STORE-{n:03d}")
    name = factory.Sequence(lambda n: f"Store {n}")


class MemberFactory(factory.Factory):
    """Members are created through enrolment, as in production, so each has its account."""

    class Meta:
        model = Member

    program = factory.SubFactory(ProgramFactory)
    email = factory.Sequence(lambda n: f"member{n}@example.com")
    first_name = "Test"
    last_name = factory.Sequence(lambda n: f"Member{n}")

    @classmethod
    def _create(cls, model_class, **kwargs):
        status = kwargs.pop("status", None)
        member = member_enrol(**kwargs)
        if status:
            member.status = status
            member.save(update_fields=["status"])
        return member


def api_key_for(store: Store, raw_key: str | None = None) -> str:
    _, raw = api_key_create(store=store, name="test", raw_key=raw_key)
    return raw
