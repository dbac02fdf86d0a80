from django.urls import path

from . import apis

urlpatterns = [
    path("purchases/", apis.PurchaseCreateApi.as_view(), name="pos-purchase-create"),
    path("purchases/preview/", apis.PurchasePreviewApi.as_view(), name="pos-purchase-preview"),
    path("purchases/batch/", apis.PurchaseBatchApi.as_view(), name="pos-purchase-batch"),
    path("returns/", apis.ReturnCreateApi.as_view(), name="pos-return-create"),
    path("events/", apis.EventCreateApi.as_view(), name="pos-event-create"),
]
