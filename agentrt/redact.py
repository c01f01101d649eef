"""One redaction helper for every config, report, log line and error message.

Secrets reach agentrt in a few shapes, and each has one rule here:

- **URL credentials**: ``redis://:PASSWORD@host``, ``rediss://user:PASSWORD@host``,
  ``https://user:KEY@host/v1`` → the password becomes ``***`` (the user name stays, it
  is how you tell two configs apart). Query parameters that carry secrets
  (``?password=``, ``token``, ``access_token``, ``api_key``, ``apikey``, ``key``,
  ``secret``, ``auth``, ``sig``, ``signature``) → ``***``.
- **Bearer tokens** in text (``Authorization: Bearer abc``) → ``Bearer ***``.
- **Fields named like a secret** (``password``, ``token``, ``secret``, ``api_key``,
  ``authorization``, ``credentials``, ``auth``...; a name ending in ``_env`` is the
  *name* of a variable, not a secret) → ``***`` when they hold text.
- **Masked values** (:class:`Masked`, the base of :class:`agentrt._secret.Secret`, e.g.
  an API key given in code) → ``***``, whatever their name; their own ``repr``, ``str``
  and ``format`` give ``***`` too.
- **Headers**: the value of a header whose name looks secret (``Authorization``,
  ``X-Api-Key``, ``Cookie``, anything with ``token``/``secret``/``key``/``auth``) → ``***``.

:func:`redact_text` scrubs free text (log lines, exception messages, HTML);
:func:`redact_url` one URL; :func:`redacted` a whole tree (dataclasses, mappings, lists;
strings are scrubbed with :func:`redact_text`, secret-named fields masked) for reports and
``config show``; :func:`config_repr` is the ``__repr__`` of config dataclasses that hold a
URL or a secret. Redaction only ever removes: a redacted value is never parsed back.

Example::

    >>> redact_url("redis://:s3cret@cache:6379/0")
    'redis://:***@cache:6379/0'
    >>> redacted({"redis_url": "redis://u:pw@h/0", "api_key": "sk-1", "max_tokens": 5})
    {'redis_url': 'redis://u:***@h/0', 'api_key': '***', 'max_tokens': 5}
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "MASK",
    "Masked",
    "config_repr",
    "is_secret_name",
    "redact_text",
    "redact_url",
    "redacted",
]

MASK = "***"
"""What a secret is replaced with."""


class Masked:
    """Base of values that never show: ``repr`` is ``ClassName('***')``, ``str`` and
    ``format`` are ``***``, and :func:`redacted` masks them whatever their name."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return format(MASK, spec)


# scheme://user:password@ - the password runs to the last "@" before whitespace or a quote,
# as URL parsers split the authority on its last "@".
_CREDENTIALS = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@'\"<>]*:)[^\s'\"<>]*@")
_QUERY_SECRET = re.compile(
    r"(?P<head>[?&;](?:password|passwd|pwd|pass|token|access_token|refresh_token|api_key|"
    r"apikey|key|secret|client_secret|auth|sig|signature)=)[^&;#\s'\"<>]*",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?P<head>\b(?:Bearer|Basic|Token)\s+)[A-Za-z0-9._~+/=\-]{4,}", re.I)
_SECRET_NAME = re.compile(
    r"(?:^|[_\-.])(?:password|passwd|passphrase|secret|token|api[_\-]?key|apikey|auth|"
    r"authorization|credentials?|cookie|private[_\-]?key|access[_\-]?key|session)(?:$|[_\-.])",
    re.IGNORECASE,
)
_SECRET_HEADER = re.compile(r"auth|token|secret|key|cookie|session|password", re.IGNORECASE)


def redact_url(url: str) -> str:
    """``url`` with its password and secret query parameters replaced by ``***``."""
    return redact_text(url)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with URL passwords, secret query parameters and bearer tokens masked, and
    every non-empty string of ``secrets`` (e.g. an API key read from the environment)
    replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    if "://" in text:
        text = _CREDENTIALS.sub(rf"\g<head>{MASK}@", text)
    if "=" in text:
        text = _QUERY_SECRET.sub(rf"\g<head>{MASK}", text)
    return _BEARER.sub(rf"\g<head>{MASK}", text)


def is_secret_name(name: str) -> bool:
    """Whether a field or key called ``name`` holds a secret (``redis_password``,
    ``api_key``, ``auth_token``); names ending in ``_env`` name a variable and are not."""
    return not name.lower().endswith("_env") and _SECRET_NAME.search(name) is not None


def redacted(value: Any, name: str = "") -> Any:
    """A copy of ``value`` safe to print, log or write in a report: dataclasses become
    dicts, mappings and sequences are walked, text is scrubbed with :func:`redact_text`,
    text under a secret-looking ``name`` (field, key or header) and every
    :class:`Masked` value become ``***``."""
    if isinstance(value, Masked):
        return MASK
    if isinstance(value, str):
        if name and is_secret_name(name):
            return MASK if value else value
        return redact_text(value)
    if isinstance(value, bytes | bytearray):
        return MASK if name and is_secret_name(name) else value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: redacted(getattr(value, f.name), f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        headers = name.lower().endswith("headers")
        return {k: _entry(k, v, headers) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        out = [redacted(v, name) for v in value]
        return out if isinstance(value, list) else type(value)(out)
    return value


def _entry(key: Any, value: Any, headers: bool) -> Any:
    if headers and isinstance(key, str) and _SECRET_HEADER.search(key):
        return MASK if value else value
    return redacted(value, key if isinstance(key, str) else "")


def config_repr(obj: Any) -> str:
    """A dataclass's ``repr`` with :func:`redacted` field values (for configs that hold a
    URL, a header map or a secret): ``StoreConfig(kind='redis', url='redis://:***@h/0')``."""
    parts = [
        f"{f.name}={redacted(getattr(obj, f.name), f.name)!r}"
        for f in dataclasses.fields(obj)
        if f.repr
    ]
    return f"{type(obj).__name__}({', '.join(parts)})"
