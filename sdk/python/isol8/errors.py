"""Exceptions: each carries the server's own error text and the HTTP status."""
from __future__ import annotations

from typing import Any, Optional


class Isol8Error(Exception):
    """Any failure talking to isol8: .status is the HTTP status (None when the server was not
    reached or did not answer HTTP), .error the server's {"error": ...} text when it sent one."""

    def __init__(self, message: str, status: Optional[int] = None, error: Optional[str] = None,
                 body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.body = body


class BadRequest(Isol8Error):
    """400: a malformed request (the error names the field)."""


class AuthenticationError(Isol8Error):
    """401: no key, or a key the server does not know."""


class PermissionDenied(Isol8Error):
    """403: the key's tenant policy refuses the request."""


class NotFound(Isol8Error):
    """404: no such session (of this key) or file."""


class TooLarge(Isol8Error):
    """413: body over the server's limit."""


class RateLimited(Isol8Error):
    """429: too many runs at once; retry later."""


class ServerError(Isol8Error):
    """5xx: isol8, isol8d or the engine failed."""


_BY_STATUS = {400: BadRequest, 401: AuthenticationError, 403: PermissionDenied, 404: NotFound,
              413: TooLarge, 429: RateLimited}


def error_for(status: int, error: Optional[str], body: Any, prefix: str) -> Isol8Error:
    cls = _BY_STATUS.get(status, ServerError if status >= 500 else Isol8Error)
    return cls("%s: %s" % (prefix, error or "HTTP %d" % status), status=status, error=error, body=body)
