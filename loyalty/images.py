"""Serving a stored image (a program's logo, a reward's picture) to the pages that show it.

Media files have no public URL: each area answers for the images it may show, through this one function.
"""

import mimetypes

from django.http import FileResponse, Http404

SERVED_TYPES = {"image/png", "image/jpeg", "image/webp", "image/gif"}


def image_response(field_file, *, cache_control: str = "private, max-age=300") -> FileResponse:
    """A stored image, or 404 when there is none (or its file has gone)."""
    if not field_file or not field_file.name:
        raise Http404("No image.")
    content_type = mimetypes.guess_type(field_file.name)[0]
    if content_type not in SERVED_TYPES:
        # only raster types a browser cannot run script from, whatever the admin let through
        raise Http404("No image.")
    try:
        handle = field_file.storage.open(field_file.name, "rb")
    except FileNotFoundError as error:
        raise Http404("No image.") from error
    response = FileResponse(handle, content_type=content_type)
    response["Cache-Control"] = cache_control
    return response
