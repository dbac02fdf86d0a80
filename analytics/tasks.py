"""Celery entry points of analytics: each calls one service."""

from celery import shared_task

from programs.models import Program

from .models import SimulationRun
from .services import rollup_recent
from .simulator import simulation_execute


@shared_task(name="analytics.tasks.rollup_program", acks_late=True)
def rollup_program(program_id: str) -> dict:
    """Nightly, per program (``loyalty.for_each_program``): yesterday and today rolled up and checked."""
    program = Program.objects.filter(pk=program_id).first()
    if program is None:
        return {"skipped": "no such program"}
    run = rollup_recent(program=program)
    return {"rows": run.rows, "seconds": run.seconds, "drift": run.drift}


@shared_task(name="analytics.tasks.simulation_run", acks_late=True)
def simulation_run(run_id: int) -> dict:
    """An earn-rate simulation asked for on the simulator page: the replay of its year, its figures stored."""
    run = SimulationRun.objects.select_related("program").filter(pk=run_id).first()
    if run is None:
        return {"skipped": "no such run"}
    run = simulation_execute(run=run)
    return {"status": run.status, "seconds": run.figures.get("seconds")}
