"""Celery entry points of the staff dashboard: a CSV import's dry run and the import, each one service call
(retries on transient database errors come from the project's task base class, ``loyalty.celery.Task``)."""

from celery import shared_task

from .data.importing import import_job_check, import_job_run
from .escalations import overdue_cases_escalate

# A 200,000-row file on a slow, busy machine can outlast the project's default 25 minutes. A run cut short, or
# handed to a second worker after the broker's visibility timeout, is safe: chunks commit under the job's lock.
SOFT_LIMIT = 2 * 60 * 60
HARD_LIMIT = SOFT_LIMIT + 5 * 60


@shared_task(name="staff.tasks.import_check", acks_late=True, soft_time_limit=SOFT_LIMIT, time_limit=HARD_LIMIT)
def import_check(job_id: int) -> None:
    import_job_check(job_id=job_id)


@shared_task(name="staff.tasks.import_run", acks_late=True, soft_time_limit=SOFT_LIMIT, time_limit=HARD_LIMIT)
def import_run(job_id: int) -> None:
    import_job_run(job_id=job_id)


@shared_task(name="staff.tasks.escalate_overdue_cases", acks_late=True)
def escalate_overdue_cases() -> int:
    """Hourly: email each program's managers the survey follow-up cases that became overdue (each once)."""
    return overdue_cases_escalate()
