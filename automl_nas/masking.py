"""Credentials hidden in URLs and in any text that quotes one: the one masking function, and
the string that shows itself masked (:class:`MaskedRepr`) for estimator parameters.

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
from typing import Any

__all__ = ["MASK", "MaskedRepr", "MaskedReprParam", "mask_uri"]

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


class MaskedRepr(str):
    """A string whose ``repr`` has its credentials masked (:func:`mask_uri`); its value,
    ``str()``, comparisons and every string operation are the string's own.

    scikit-learn shows an estimator's parameters through ``repr``: its text repr (nested in a
    Pipeline or a grid search too) and the parameter table of its HTML display. A URL held
    as a MaskedRepr is shown masked in all of them, while ``get_params``, ``clone`` and
    ``set_params`` carry the real URL.

    Example:
        >>> url = MaskedRepr("postgresql://bob:s3cr3t@db/hpo")
        >>> repr(url), url == "postgresql://bob:s3cr3t@db/hpo"
        ("'postgresql://bob:***@db/hpo'", True)
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(mask_uri(str(self)))


class MaskedReprParam:
    """An estimator's constructor parameter (a class attribute named as the parameter) that
    keeps a string holding a credential as a :class:`MaskedRepr`, however it is set:
    ``__init__``, ``set_params`` or ``clone``. Other values are kept as given.

    The value lives in the instance's ``__dict__`` under the parameter's name, where
    ``vars()``, pickling and scikit-learn's checks look for it. A string without credentials
    stays the very object given; one with credentials comes back equal to it, not identical.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        try:
            return obj.__dict__[self.name]
        except KeyError:
            raise AttributeError(self.name) from None

    def __set__(self, obj: Any, value: Any) -> None:
        if isinstance(value, str) and not isinstance(value, MaskedRepr) and mask_uri(value) != value:
            value = MaskedRepr(value)
        obj.__dict__[self.name] = value
