"""Importing members and historical purchases at /staff/imports/: upload, dry run, import, with progress.

Each step is a page of its own that reads without JavaScript; with it, the progress bar of a running job
refreshes itself (htmx polling a fragment) and the page reloads once the job has finished.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from kombu.exceptions import OperationalError as BrokerUnavailable

from ..access import staff_object, staff_view
from ..models import ImportJob
from ..tasks import import_check, import_run
from .csvfiles import FileProblem, csv_response
from .importing import (
    MAX_BYTES,
    MAX_ROWS,
    MembersFile,
    PurchasesFile,
    import_file_size_check,
    import_job_create,
    import_job_start,
    import_job_unqueue,
    import_jobs_of_file,
)

ERRORS_SHOWN = 200
WORKING = {ImportJob.Status.CHECKING, ImportJob.Status.QUEUED, ImportJob.Status.RUNNING}
SAMPLES = {
    ImportJob.Kind.MEMBERS: ("email,first_name,last_name,phone,birth_date,language,marketing_opt_in\n"
                             "ada@example.com,Ada,Lovelace,+4915112345678,1990-12-10,en,yes\n"
                             "grace@example.com,Grace,Hopper,,,de,no\n"),
    ImportJob.Kind.PURCHASES: ("external_id,store,card_number,total,occurred_at\n"
                               "R-2024-0001,DEMO-001,9000000000000019,24.90,2024-11-02\n"
                               "R-2024-0002,DEMO-001,9000000000000027,8.50,2024-11-03 17:45\n"),
}


class ImportUploadForm(forms.Form):
    kind = forms.ChoiceField(label="What the file holds", choices=ImportJob.Kind.choices,
                             initial=ImportJob.Kind.MEMBERS)
    file = forms.FileField(label="CSV file", help_text=f"UTF-8, one header row, up to {MAX_ROWS:,} rows "
                                                       f"and {MAX_BYTES // (1024 * 1024)} MB.")


def _job(request, pk) -> ImportJob:
    return staff_object(request, ImportJob.objects.select_related("program", "created_by", "started_by"),
                        "import.run", pk=pk)


def _job_url(job: ImportJob) -> str:
    return reverse("staff:import-detail", args=[job.pk])


def _queue(task, job: ImportJob) -> bool:
    """Hand the job to the workers (run here and now when there is no broker); False when the broker is down."""
    try:
        task.delay(job.pk)
    except BrokerUnavailable:
        return False
    return True


@require_http_methods(["GET", "HEAD", "POST"])
@staff_view("import.run")
def import_list(request):
    program = request.staff.program
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            import_file_size_check(size=upload.size)  # before the file is read into memory
            job = import_job_create(program=program, kind=form.cleaned_data["kind"],
                                    file_name=upload.name.replace("\x00", ""), content=upload.read(),
                                    actor=request.user)
        except FileProblem as problem:
            form.add_error("file", str(problem))
        else:
            if not _queue(import_check, job):
                job.delete()
                form.add_error(None, "The background workers cannot be reached just now. Try again in a minute.")
            else:
                return HttpResponseRedirect(_job_url(job))
    jobs = ImportJob.objects.filter(program=program).select_related("created_by").defer("content")[:20]
    return render(request, "staff/data/imports.html", {
        "form": form, "jobs": jobs, "member_columns": MembersFile.optional,
        "purchase_columns": PurchasesFile.required, "max_rows": MAX_ROWS,
    }, status=400 if form.errors else 200)


def _progress(job: ImportJob) -> dict:
    total = max(job.total_rows, 1)
    return {"job": job, "working": job.status in WORKING, "percent": min(100, round(100 * job.processed_rows / total))}


@require_safe
@staff_view("import.run", record=True)
def import_detail(request, pk: int):
    job = _job(request, pk)
    earlier = [j for j in import_jobs_of_file(program=job.program, file_sha256=job.file_sha256, exclude=job.pk)
               .defer("content")[:5] if j.status == ImportJob.Status.DONE]
    errors = _errors(job)
    seconds = rate = None
    if job.finished_at and job.started_at:
        elapsed = max((job.finished_at - job.started_at).total_seconds(), 0.001)
        seconds, rate = round(elapsed, 1), round(job.processed_rows / elapsed)
    return render(request, "staff/data/import_detail.html", {
        **_progress(job), "dry_run": job.dry_run, "earlier": earlier, "ran": job.started_at is not None,
        "errors": errors[:ERRORS_SHOWN], "more_errors": max(0, len(errors) - ERRORS_SHOWN),
        "seconds": seconds, "rate": rate,
    })


def _errors(job: ImportJob) -> list[dict]:
    """The rows in error: the import's once it has started, else the dry run's."""
    return job.errors if job.started_at is not None else job.dry_run.get("errors", [])


@require_safe
@staff_view("import.run", record=True)
def import_progress(request, pk: int):
    """The progress fragment htmx polls; once the job has left the working states the page reloads whole."""
    job = _job(request, pk)
    response = render(request, "staff/data/_import_progress.html", _progress(job))
    if job.status not in WORKING and request.headers.get("HX-Request"):
        response["HX-Refresh"] = "true"
    return response


@require_POST
@staff_view("import.run", record=True)
def import_start(request, pk: int):
    job = _job(request, pk)
    if import_job_start(job=job, actor=request.user):
        if not _queue(import_run, job):
            import_job_unqueue(job=job)
            messages.error(request, "The background workers cannot be reached just now. Try again in a minute.")
    elif job.status == ImportJob.Status.CHECKED:
        messages.error(request, "This import could not be started. Reload the page and try again.")
    else:
        messages.info(request, "This file's import has been started already.")
    return HttpResponseRedirect(_job_url(job))


@require_safe
@staff_view("import.run", record=True)
def import_errors(request, pk: int):
    """The rows that could not be imported (of the import once it ran, else of the dry run), as CSV."""
    job = _job(request, pk)
    return csv_response(f"import-{job.pk}-errors.csv", ["line", "column", "message"],
                        ([error["line"], error["column"], error["message"]] for error in _errors(job)))


@require_safe
@staff_view("import.run")
def import_sample(request, kind: str):
    if kind not in SAMPLES:
        raise Http404("No such sample.")
    response = HttpResponse(SAMPLES[kind], content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{kind}-sample.csv"'
    return response
