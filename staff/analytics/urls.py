"""Analytics pages under /staff/analytics/: each reads the daily rollups (``analytics.selectors``), never the
ledger, draws a chart with the table behind it, and offers every table as CSV."""

from django.urls import path

from . import accounting, behaviour, common, risk, simulator

urlpatterns = [
    path("", common.analytics_home, name="analytics"),
    path("refresh/", common.refresh_today, name="analytics-refresh"),
    path("behaviour/", behaviour.behaviour_page, name="analytics-behaviour"),
    path("behaviour/<slug:table>.csv", behaviour.behaviour_csv, name="analytics-behaviour-csv"),
    path("at-risk/", risk.risk_page, name="analytics-risk"),
    path("at-risk/<slug:table>.csv", risk.risk_csv, name="analytics-risk-csv"),
    path("at-risk/bonus/", risk.risk_bonus, name="analytics-risk-bonus"),
    path("points/", accounting.accounting_page, name="analytics-points"),
    path("points/<slug:table>.csv", accounting.accounting_csv, name="analytics-points-csv"),
    path("simulator/", simulator.simulator_page, name="analytics-simulator"),
    path("simulator/run/", simulator.simulator_start, name="analytics-simulator-start"),
    path("simulator/runs/<int:run_id>/status/", simulator.simulator_status, name="analytics-simulator-status"),
    path("simulator/<slug:table>.csv", simulator.simulator_csv, name="analytics-simulator-csv"),
]
