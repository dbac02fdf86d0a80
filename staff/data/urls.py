from django.urls import path

from . import audit, exports, imports, reports

urlpatterns = [
    path("imports/", imports.import_list, name="imports"),
    path("imports/samples/<slug:kind>.csv", imports.import_sample, name="import-sample"),
    path("imports/<int:pk>/", imports.import_detail, name="import-detail"),
    path("imports/<int:pk>/progress/", imports.import_progress, name="import-progress"),
    path("imports/<int:pk>/start/", imports.import_start, name="import-start"),
    path("imports/<int:pk>/errors.csv", imports.import_errors, name="import-errors"),
    path("reports/", reports.report_page, name="reports"),
    path("reports/liability.csv", reports.liability_csv, name="report-liability-csv"),
    path("reports/liability-daily.csv", reports.liability_daily_csv, name="report-liability-daily-csv"),
    path("reports/expiry.csv", reports.expiry_csv, name="report-expiry-csv"),
    path("reports/nps.csv", reports.nps_csv, name="report-nps-csv"),
    path("exports/members.csv", exports.members_csv, name="export-members"),
    path("exports/ledger.csv", exports.ledger_csv, name="export-ledger"),
    path("audit/", audit.audit_log, name="audit"),
    path("audit/export.csv", audit.audit_csv, name="audit-csv"),
]
