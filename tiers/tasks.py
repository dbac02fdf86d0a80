from celery import shared_task

from programs.models import Program

from .services import tier_recalculate_program as recalculate


@shared_task(name="tiers.tasks.tier_recalculate_program", acks_late=True)
def tier_recalculate_program(program_id: str) -> dict:
    """Nightly: recompute every member's tier in the program (set-based; safe to repeat or overlap)."""
    program = Program.objects.get(pk=program_id)
    result = recalculate(program=program)
    return {"program": str(program.pk), "upgrades": result.upgrades, "downgrades": result.downgrades,
            "updated": result.updated, "batches": result.batches}
