"""The web UI for finance staff (``learnerledger serve``): server-rendered pages and a JSON API
over the same library functions as the command line. See ``docs/web.md``."""

from learnerledger.web.app import create_app
from learnerledger.web.auth import Users
from learnerledger.web.frame import COOKIE, CSRF_FIELD, NAV

__all__ = ["COOKIE", "CSRF_FIELD", "NAV", "Users", "create_app"]
