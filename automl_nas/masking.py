"""Credentials hidden in URLs and in any text that quotes one: the one masking function.

Storage URLs (``postgresql://user:pw@host/db``), MLflow tracking URIs (``https://user:token@host``)
and error messages that quote them pass through :func:`mask_uri` before they reach an MLflow
param or tag, a log line, a printed error or a pickled estimator.

A module of its own at the top of the package, outside the layers, standard library only: the
estimator, tracking, distributed and the command line all import this one function, and the
command line's usage errors (masked too: argparse echoes unknown arguments) need no import of
the engine's torch.
"""

from __future__ import annotations

import re

__all__ = ["MASK", "mask_uri"]

#: What a hidden credential reads as (SQLAlchemy's own ``URL`` repr uses the same).
MASK = "***"

# scheme://user:password@ - the password runs to the LAST '@' of the token (SQLAlchemy and
# urllib3 read a raw '@' in a password differently; masking to the last one hides it either
# way), so a token that only looks like a URL with a port and an '@' later is masked too.
_USERINFO = re.compile(
    r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/?#@\s'\"<>]*):(?P<secret>[^\s'\"<>]+)@"
)
# key=value pairs whose key names a secret, in a query string (?password=..&token=..) or a
# libpq keyword/value string (host=h password=...).
_KEY = (
    r"[\w.\-]*(?:password|passwd|pwd|passphrase|secret|token|api[_\-]?key|access[_\-]?key"
    r"|credential|signature)[\w.\-]*|key|sig"
)
_PAIR = re.compile(
    rf"(?P<head>(?<![^?&;\s,])(?:{_KEY})\s*=\s*)(?P<secret>[^&#\s'\"<>;,]+)", re.IGNORECASE
)


def mask_uri(text: str) -> str:
    """``text`` (a URL, or any text quoting URLs) with every credential replaced by ``***``.

    Hides the password of ``scheme://user:password@host`` (any scheme, driver suffixes such
    as ``postgresql+psycopg2`` included; the user name stays) and the value of every
    ``key=value`` pair whose key names a secret (``password``, ``token``, ``secret``,
    ``api_key``, ``access_key``, ``signature``, ``key``, ...), in a query string or a libpq
    keyword string. Text without credentials comes back unchanged.

    Example:
        >>> mask_uri("postgresql+psycopg2://bob:s3cr3t@db:5432/hpo?sslmode=require&password=x")
        'postgresql+psycopg2://bob:***@db:5432/hpo?sslmode=require&password=***'
        >>> mask_uri("sqlite:///search.db")
        'sqlite:///search.db'
    """
    text = _USERINFO.sub(rf"\g<head>:{MASK}@", str(text))
    return _PAIR.sub(rf"\g<head>{MASK}", text)
