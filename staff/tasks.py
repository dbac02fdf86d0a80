"""Celery entry points of the staff dashboard: a CSV import's dry run and the import, each one service call
(retries on transient database errors come from the project's task base class, ``loyalty.celery.Task``)."""

from celery import shared_task

from .data.importing import import_job_check, import_job_run


@shared_task(name="staff.tasks.import_check", acks_late=True)
def import_check(job_id: int) -> None:
    import_job_check(job_id=job_id)


@shared_task(name="staff.tasks.import_run", acks_late=True)
def import_run(job_id: int) -> None:
    import_job_run(job_id=job_id)
