from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class StaffConfig(AppConfig):
    default = True  # the app's own config; the admin's below is named in INSTALLED_APPS
    name = "staff"
    verbose_name = "Staff dashboard"


class AdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with the staff admin site (``staff.admin_site``) as its default site."""

    default = False
    default_site = "staff.admin_site.StaffAdminSite"
