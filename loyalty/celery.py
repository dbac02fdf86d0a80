"""The Celery app. Settings (broker, JSON only, ``acks_late``, time limits, the beat schedule) come from
``loyalty.settings`` under ``CELERY_*``; the task base class below adds what every task shares."""

import importlib
import os

from celery import Celery
from celery import Task as BaseTask
from django.db import InterfaceError, OperationalError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty.settings")


class Task(BaseTask):
    """Every task retries transient database errors (a dropped connection, a deadlock, a failover) with
    exponential backoff; tasks are idempotent, so a retry after a partial run is safe."""

    autoretry_for = (OperationalError, InterfaceError)
    retry_backoff = True
    retry_backoff_max = 600
    retry_jitter = True
    max_retries = 5


app = Celery("loyalty", task_cls=f"{__name__}:Task")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="loyalty.for_each_program", acks_late=True)
def for_each_program(task_name: str) -> int:
    """Send ``task_name`` once per program, with the program's id (how beat runs per-program nightly work)."""
    from programs.models import Program

    # Only the task's own module: a worker has it already, an eager caller may not. Not the loader's
    # import_default_modules, which sets Django up again in a worker process, replacing the logging the
    # worker redirected, so that process logged nothing more, errors included.
    importlib.import_module(task_name.rpartition(".")[0])
    task = app.tasks[task_name]
    program_ids = [str(pk) for pk in Program.objects.order_by("pk").values_list("pk", flat=True)]
    for program_id in program_ids:
        task.delay(program_id)
    return len(program_ids)
