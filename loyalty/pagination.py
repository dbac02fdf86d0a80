from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    """``{"count", "next", "previous", "results"}``, as the POS contract lists pages."""

    page_size_query_param = "page_size"
    max_page_size = 200
