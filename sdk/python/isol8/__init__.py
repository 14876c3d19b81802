"""isol8: run untrusted code in sandboxes through an `isol8 serve` HTTP server.

    from isol8 import RemoteIsol8
    with RemoteIsol8("http://127.0.0.1:3000", "my-key") as box:
        print(box.execute(code="print(6 * 7)", runtime="python").stdout)
"""
from .client import Isol8, RemoteIsol8
from .errors import (AuthenticationError, BadRequest, Isol8Error, NotFound, PermissionDenied, RateLimited,
                     ServerError, TooLarge)
from .types import ExecutionRequest, ExecutionResult, SessionInfo, StreamEvent

__version__ = "0.1.0"
__all__ = ["Isol8", "RemoteIsol8", "ExecutionRequest", "ExecutionResult", "StreamEvent", "SessionInfo",
           "Isol8Error", "BadRequest", "AuthenticationError", "PermissionDenied", "NotFound", "TooLarge",
           "RateLimited", "ServerError"]
