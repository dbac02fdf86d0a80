"""The staff dashboard at /staff/: one sub-area per domain, each with its own urls."""

from django.urls import include, path

from . import accounts

app_name = "staff"

urlpatterns = [
    path("login/", accounts.StaffLoginView.as_view(), name="login"),
    path("login/code/", accounts.sign_in_code, name="login-code"),
    path("logout/", accounts.StaffLogoutView.as_view(), name="logout"),
    path("account/", accounts.account, name="account"),
    path("account/two-factor/start/", accounts.two_factor_start, name="two-factor-start"),
    path("account/two-factor/cancel/", accounts.two_factor_cancel, name="two-factor-cancel"),
    path("account/two-factor/confirm/", accounts.two_factor_confirm, name="two-factor-confirm"),
    path("account/two-factor/remove/", accounts.two_factor_remove, name="two-factor-remove"),
    path("program/", accounts.program_switch, name="program-switch"),
    path("", include("staff.dashboard.urls")),
    path("", include("staff.members.urls")),
    path("", include("staff.adjustments.urls")),
    path("settings/", include("staff.configuration.urls")),
    path("", include("staff.data.urls")),
    path("surveys/", include("staff.surveys.urls")),
    path("analytics/", include("staff.analytics.urls")),
]
