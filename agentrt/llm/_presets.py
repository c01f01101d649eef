"""A real LLM in one line: ``OpenAI(...)``, ``Anthropic(...)`` and the URL form.

Each builds the :class:`ProviderConfig` you would otherwise write out, and
:func:`pool_config` turns whatever ``Runtime(llm=...)`` was given into a
:class:`PoolConfig`::

    Runtime(llm=OpenAI(base_url="http://127.0.0.1:8000/v1", model="llama-3.1-8b"))
    Runtime(llm=OpenAI(api_key=os.environ["OPENAI_API_KEY"], model="gpt-4o-mini"))
    Runtime(llm=Anthropic(api_key_env="ANTHROPIC_API_KEY", model="claude-3-5-haiku-latest"))
    Runtime(llm="openai://api.openai.com/v1?model=gpt-4o-mini&api_key_env=OPENAI_API_KEY")
    Runtime(llm="openai+http://127.0.0.1:8000/v1?model=llama-3.1-8b")

The URL form: ``SCHEME://HOST[:PORT][/PATH]?model=NAME[&api_key_env=VAR][&name=N]
[&max_concurrency=N]``.

- ``SCHEME``: ``openai`` or ``anthropic`` speak HTTPS; ``openai+http`` /
  ``anthropic+http`` plain HTTP (a local server), ``openai+https`` / ``anthropic+https``
  HTTPS spelled out. ``mock`` (``"mock://"``, optional ``?model=``) is the in-process
  provider.
- ``model`` is required (except for ``mock``): it becomes the provider's
  ``default_model``, the model of agents whose class names none.
- The key never goes in a URL (URLs end up in logs and shell history): name its
  variable with ``api_key_env=``, or use ``OpenAI(api_key=...)``. A URL with a password,
  or an ``api_key=`` parameter, is refused.

Failures: a bad URL, an unknown scheme or parameter, a missing model, a value of the
wrong type all raise :class:`agentrt.errors.ConfigError` naming what was wrong (with
any secret in the URL masked).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from agentrt._secret import Secret
from agentrt.errors import ConfigError
from agentrt.llm._config import PoolConfig, ProviderConfig, ProviderKind

__all__ = ["Anthropic", "OpenAI", "from_url", "pool_config"]

_OPENAI_URL = "https://api.openai.com/v1"
_ANTHROPIC_URL = "https://api.anthropic.com/v1"
# scheme -> (provider kind, HTTP scheme)
_SCHEMES: dict[str, tuple[ProviderKind, str]] = {
    "openai": ("openai", "https"),
    "openai+https": ("openai", "https"),
    "openai+http": ("openai", "http"),
    "anthropic": ("anthropic", "https"),
    "anthropic+https": ("anthropic", "https"),
    "anthropic+http": ("anthropic", "http"),
}
_PARAMS = frozenset({"model", "api_key_env", "name", "max_concurrency"})


def OpenAI(
    *,
    model: str,
    base_url: str = _OPENAI_URL,
    api_key: str | Secret | None = None,
    api_key_env: str | None = None,
    name: str = "openai",
    **settings: Any,
) -> ProviderConfig:
    """An OpenAI-compatible provider (OpenAI, vLLM, llama.cpp, Ollama, LiteLLM...).

    ``model``: the default model of agents whose class names none. ``base_url``
    (default ``https://api.openai.com/v1``): the API root, ``/chat/completions`` is
    appended. ``api_key``: the key itself, held as a :class:`Secret` (never printed);
    or ``api_key_env``: the variable holding it; neither: no key. ``settings``: any other
    :class:`ProviderConfig` field (``max_concurrency``, ``rpm``, ``timeout_s``...).
    Raises ``ConfigError`` naming a bad value.

    Example: ``Runtime(llm=OpenAI(base_url="http://127.0.0.1:8000/v1", model="llama"))``
    """
    return _provider("openai", model, base_url, api_key, api_key_env, name, settings)


def Anthropic(
    *,
    model: str,
    base_url: str = _ANTHROPIC_URL,
    api_key: str | Secret | None = None,
    api_key_env: str | None = None,
    name: str = "anthropic",
    **settings: Any,
) -> ProviderConfig:
    """An Anthropic Messages API provider; arguments as :func:`OpenAI` (``base_url``
    default ``https://api.anthropic.com/v1``, ``/messages`` appended).

    Example: ``Runtime(llm=Anthropic(api_key_env="ANTHROPIC_API_KEY", model="claude-x"))``
    """
    return _provider("anthropic", model, base_url, api_key, api_key_env, name, settings)


def _provider(
    kind: ProviderKind,
    model: str,
    base_url: str,
    api_key: str | Secret | None,
    api_key_env: str | None,
    name: str,
    settings: dict[str, Any],
) -> ProviderConfig:
    if not isinstance(model, str) or not model.strip():
        raise ConfigError(f"providers[{name}].model", f"must name a model, got {model!r}")
    if not isinstance(base_url, str):
        raise ConfigError(f"providers[{name}].base_url", f"must be a URL, got {base_url!r}")
    for key in ("kind", "base_urls", "default_model"):
        if key in settings:
            raise ConfigError(f"providers[{name}].{key}", "is set by this constructor")
    try:
        return ProviderConfig(
            name=name,
            kind=kind,
            base_urls=(base_url.rstrip("/"),),
            api_key=api_key,
            api_key_env=api_key_env,
            default_model=model,
            **settings,
        )
    except TypeError as exc:  # an unknown settings keyword
        raise ConfigError(f"providers[{name}]", str(exc)) from None


def from_url(url: str) -> ProviderConfig:
    """The provider a URL names (see the module docs for the form); ``ConfigError``
    names the scheme, parameter or value at fault."""
    if not isinstance(url, str) or "://" not in url:
        raise ConfigError(
            "llm", f"expected a URL such as 'openai://host/v1?model=NAME', got {url!r}"
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError("llm", f"not a valid URL {url!r}: {exc}") from None
    scheme = parts.scheme.lower()
    params = _params(parts.query)
    if scheme == "mock":
        return ProviderConfig(name="mock", kind="mock", default_model=params.get("model"))
    if scheme not in _SCHEMES:
        known = ", ".join([*_SCHEMES, "mock"])
        raise ConfigError("llm", f"unknown scheme {parts.scheme!r} in {url!r}; known: {known}")
    if parts.password is not None or parts.username is not None:
        raise ConfigError("llm", "a key does not go in the URL: use api_key_env=VAR or api_key=")
    if not parts.hostname:
        raise ConfigError("llm", f"the URL {url!r} names no host")
    kind, http = _SCHEMES[scheme]
    if "model" not in params:
        raise ConfigError("llm", f"the URL {url!r} names no model: add ?model=NAME")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    base = f"{http}://{host}{'' if port is None else f':{port}'}{parts.path}"
    settings: dict[str, Any] = {}
    if "max_concurrency" in params:
        settings["max_concurrency"] = _int("max_concurrency", params["max_concurrency"])
    build = OpenAI if kind == "openai" else Anthropic
    return build(
        model=params["model"],
        base_url=base,
        api_key_env=params.get("api_key_env"),
        name=params.get("name", kind),
        **settings,
    )


def _params(query: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key not in _PARAMS:
            hint = " (the key never goes in a URL: use api_key_env=VAR)" if "key" in key else ""
            raise ConfigError(
                "llm", f"unknown URL parameter {key!r}{hint}; known: {sorted(_PARAMS)}"
            )
        if key in params:
            raise ConfigError("llm", f"URL parameter {key!r} given twice")
        if not value:
            raise ConfigError("llm", f"URL parameter {key!r} is empty")
        params[key] = value
    return params


def _int(key: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ConfigError(
            "llm", f"URL parameter {key!r} must be an integer, got {value!r}"
        ) from None


def pool_config(llm: object) -> PoolConfig:
    """The pool ``Runtime(llm=...)`` stands for: a URL (``str``), a ``ProviderConfig``
    (from :func:`OpenAI`/:func:`Anthropic`), a sequence of them (failover in that order)
    or a ``PoolConfig`` as it is. Anything else raises ``ConfigError``."""
    if isinstance(llm, PoolConfig):
        return llm
    if isinstance(llm, str):
        return PoolConfig(providers=(from_url(llm),))
    if isinstance(llm, ProviderConfig):
        return PoolConfig(providers=(llm,))
    if isinstance(llm, Sequence) and llm and all(isinstance(p, ProviderConfig | str) for p in llm):
        return PoolConfig(
            providers=tuple(p if isinstance(p, ProviderConfig) else from_url(p) for p in llm)
        )
    raise ConfigError(
        "llm",
        "expected a URL, agentrt.OpenAI(...)/Anthropic(...), a list of them or a PoolConfig, "
        f"got {type(llm).__name__}",
    )
