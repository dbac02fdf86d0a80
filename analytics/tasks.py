"""Celery entry points of analytics: each calls one service."""

from celery import shared_task

from programs.models import Program

from .services import rollup_recent


@shared_task(name="analytics.tasks.rollup_program", acks_late=True)
def rollup_program(program_id: str) -> dict:
    """Nightly, per program (``loyalty.for_each_program``): yesterday and today rolled up and checked."""
    program = Program.objects.filter(pk=program_id).first()
    if program is None:
        return {"skipped": "no such program"}
    run = rollup_recent(program=program)
    return {"rows": run.rows, "seconds": run.seconds, "drift": run.drift}
