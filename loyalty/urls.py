from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import views
from .health import healthz
from .problems import api_not_found

pos_api = [
    path("", include("earning.urls")),
    path("", include("ledger.urls")),
    path("", include("tiers.urls")),
    path("", include("rewards.urls")),
    path("", include("surveys.pos_urls")),
]

urlpatterns = [
    # First: the resolver tries patterns in order, and tills call far more often than people browse.
    path("api/v1/pos/", include(pos_api)),
    path("", views.home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("staff/", include("staff.urls")),
    path("portal/", include("portal.urls")),
    path("", include("notifications.urls")),
    path("", include("surveys.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Swagger UI's script served as a file of its own (no inline script); its stylesheet draws icons from
    # data: URIs, allowed on this page only.
    path("api/docs/", csp_update({"img-src": ["data:"]})(SpectacularSwaggerSplitView.as_view(url_name="api-schema")),
         name="api-docs"),
    path("admin/", admin.site.urls),
    # Unknown API paths answer problem+json even with DEBUG on, never an HTML page.
    re_path(r"^api/", api_not_found),
]

handler400 = "loyalty.problems.handler400"
handler403 = "loyalty.problems.handler403"
handler404 = "loyalty.problems.handler404"
handler500 = "loyalty.problems.handler500"
