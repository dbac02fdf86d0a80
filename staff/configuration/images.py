"""Images staff upload (a program's logo, a reward's picture): checked, re-encoded, and shown back to staff.

An upload is opened with Pillow and written out again: what is stored is a plain image of a known
type and bounded size, without the metadata (camera, location) or trailing bytes the file came with.
"""

import io
import uuid

from django import forms
from django.core.files.base import ContentFile
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 2 * 1024 * 1024
MAX_PIXELS = 40_000_000  # far below Pillow's decompression-bomb limit, far above any logo
MAX_SIDE = 1600  # what is kept: enough for a retina card, small enough for a list of thumbnails
FORMATS = {"PNG": ("png", {"optimize": True}), "JPEG": ("jpg", {"quality": 88}), "WEBP": ("webp", {"quality": 88})}


class UploadedImageField(forms.ImageField):
    default_error_messages = {
        **forms.ImageField.default_error_messages,
        "invalid_image": "This file is not an image we can read: upload a PNG, JPEG or WebP image.",
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", "PNG, JPEG or WebP, up to 2 MB.")
        kwargs.setdefault("widget", forms.FileInput(attrs={"accept": "image/png,image/jpeg,image/webp"}))
        super().__init__(**kwargs)

    def to_python(self, data):
        if data not in self.empty_values and getattr(data, "size", 0) > MAX_BYTES:
            # before Pillow reads it at all
            raise forms.ValidationError(f"The image is {data.size / 1024 / 1024:.1f} MB; the most is 2 MB.")
        upload = super().to_python(data)
        if upload is None:
            return None
        kind = upload.image.format
        if kind not in FORMATS:
            raise forms.ValidationError(f"{kind or 'This'} images are not accepted: upload a PNG, JPEG or WebP image.")
        width, height = upload.image.size
        if width * height > MAX_PIXELS:
            raise forms.ValidationError(f"The image is {width} × {height} pixels; make it smaller than 40 megapixels.")
        return _reencoded(upload, kind)


def _reencoded(upload, kind: str) -> ContentFile:
    extension, options = FORMATS[kind]
    upload.seek(0)
    try:
        with Image.open(upload) as source:
            image = ImageOps.exif_transpose(source)
            image.thumbnail((MAX_SIDE, MAX_SIDE))
            if kind == "JPEG" and image.mode not in ("RGB", "L"):
                image = image.convert("RGB")
            out = io.BytesIO()
            image.save(out, format=kind, **options)
    except (OSError, UnidentifiedImageError, ValueError) as error:
        raise forms.ValidationError("This image could not be read: upload another PNG, JPEG or WebP file.") from error
    return ContentFile(out.getvalue(), name=f"{uuid.uuid4().hex}.{extension}")
