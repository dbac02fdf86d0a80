"""The JSON parser of every API request body."""

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, answering a document nested too deeply to decode as malformed (``400 invalid``).

    The standard library's decoder takes a stack frame per level of nesting and raises ``RecursionError``, which
    DRF does not catch (it turns ``ValueError`` only into a parse error), near the interpreter's recursion limit:
    a body of a thousand ``[`` answered 500. A document that does decode holds nothing deeper than the validated
    bodies keep (every nested field is declared, free-form attributes are flat).
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
