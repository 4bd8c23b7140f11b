"""An account's proxy URL: a validated model and the arguments Telethon's ``TelegramClient`` takes.

Accepted forms::

    socks5://[user:pass@]host:port      (socks5h:// is the same: Telethon always resolves remotely)
    socks4://[user@]host:port
    http://[user:pass@]host:port        (HTTP CONNECT)
    mtproxy://SECRET@host:port
    tg://proxy?server=…&port=…&secret=…  and  https://t.me/proxy?…   (Telegram's share links)
    tg://socks?server=…&port=…&user=…&pass=…  and  https://t.me/socks?…

Error messages never repeat the URL: it carries the password or the secret.
"""

from __future__ import annotations

import base64
import binascii
import importlib.util
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

_SHARE_HOSTS = frozenset({"t.me", "www.t.me", "telegram.me", "telegram.dog"})
_HOST_RE = re.compile(r"^[A-Za-z0-9._:\-]+$")
_HEX_RE = re.compile(r"^(?:[0-9a-fA-F]{2})+$")


class ProxyKind(StrEnum):
    SOCKS5 = "socks5"
    SOCKS4 = "socks4"
    HTTP = "http"
    MTPROXY = "mtproxy"


_SCHEMES = {
    "socks5": ProxyKind.SOCKS5,
    "socks5h": ProxyKind.SOCKS5,
    "socks4": ProxyKind.SOCKS4,
    "http": ProxyKind.HTTP,
    "mtproxy": ProxyKind.MTPROXY,
}


class ProxyUnsupportedError(RuntimeError):
    """The proxy cannot be used in this installation; connecting without it would leak our IP."""


@dataclass(frozen=True)
class TelethonProxyArgs:
    """``proxy=`` (and ``connection=`` for MTProxy) for ``TelegramClient``; repr hides secrets."""

    proxy: dict[str, Any] | tuple[str, int, str] = field(repr=False)
    connection: type[Any] | None = None

    def as_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"proxy": self.proxy}
        if self.connection is not None:
            kwargs["connection"] = self.connection
        return kwargs


class ProxyConfig(BaseModel):
    """A parsed proxy. ``password`` and ``secret`` are ``SecretStr``: repr and dumps hide them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ProxyKind
    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    secret: SecretStr | None = None  # MTProxy only: 16 bytes as 32 lowercase hex digits

    @model_validator(mode="after")
    def _fields_fit_kind(self) -> ProxyConfig:
        if self.kind is ProxyKind.MTPROXY:
            if self.secret is None:
                raise ValueError("an MTProxy needs a secret")
            if self.username is not None or self.password is not None:
                raise ValueError("an MTProxy takes a secret, not a username or password")
        elif self.secret is not None:
            raise ValueError(f"a {self.kind} proxy takes no MTProxy secret")
        if self.kind is ProxyKind.SOCKS4 and self.password is not None:
            raise ValueError("socks4 has a user id but no password")
        return self

    def redacted(self) -> str:
        """The proxy for logs: the password and the secret are never shown."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.kind is ProxyKind.MTPROXY:
            return f"mtproxy://***@{host}:{self.port}"
        auth = ""
        if self.username is not None:
            auth = self.username + (":***" if self.password is not None else "") + "@"
        elif self.password is not None:
            auth = ":***@"
        return f"{self.kind}://{auth}{host}:{self.port}"

    def failure_detail(self, error: BaseException) -> str:
        """Why connecting through this proxy failed, for logs and the account's history: the
        redacted proxy and the error, with any credential the error might echo masked."""
        text = f"{type(error).__name__}: {error}"
        for secret in (self.password, self.secret):
            if secret is not None and secret.get_secret_value():
                text = text.replace(secret.get_secret_value(), "***")
        return f"cannot connect through {self.redacted()} ({text})"

    def telethon_args(self) -> TelethonProxyArgs:
        if self.secret is not None:  # only an MTProxy has one (see the validator)
            # Imported here: Telethon takes half a second to import, and workers on the
            # sandbox (the demo, the tests) never need it.
            from telethon.network import ConnectionTcpMTProxyRandomizedIntermediate

            # Telethon strips a leading "dd"/"ee" from a hex secret, which would mangle a plain
            # secret that happens to start with those bytes; an explicit "dd" keeps all 16 bytes
            # and names the padded mode this connection class speaks.
            secret = "dd" + self.secret.get_secret_value()
            return TelethonProxyArgs(
                proxy=(self.host, self.port, secret),
                connection=ConnectionTcpMTProxyRandomizedIntermediate,
            )
        password = self.password.get_secret_value() if self.password is not None else None
        return TelethonProxyArgs(
            proxy={
                "proxy_type": self.kind.value,
                "addr": self.host,
                "port": self.port,
                "username": self.username,
                "password": password,
                "rdns": True,  # resolve Telegram's hosts at the proxy: no DNS leak from here
            }
        )


def parse_proxy_url(url: str) -> ProxyConfig:
    """Parse one of the accepted forms; ``ValueError`` says what is wrong, never echoing secrets."""
    text = url.strip()
    if not text:
        raise ValueError("proxy URL is empty")
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme == "tg" or (scheme in ("http", "https") and parts.hostname in _SHARE_HOSTS):
        return _from_share_link(parts)
    kind = _SCHEMES.get(scheme)
    if kind is None:
        expected = "socks5, socks4, http, mtproxy, tg"
        shown = scheme or "(none)"
        raise ValueError(f"unknown proxy scheme {shown!r}; expected one of {expected}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("proxy URL must be scheme://[credentials@]host:port with nothing after")
    host, port = _host_port(parts)
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if kind is ProxyKind.MTPROXY:
        if not user or password is not None:
            raise ValueError(
                "MTProxy URL needs the secret before the host: mtproxy://SECRET@host:port"
            )
        return ProxyConfig(kind=kind, host=host, port=port, secret=SecretStr(_mtproxy_secret(user)))
    return ProxyConfig(
        kind=kind,
        host=host,
        port=port,
        username=user,
        password=SecretStr(password) if password is not None else None,
    )


def ensure_proxy_supported(config: ProxyConfig, *, socks_available: bool | None = None) -> None:
    """Refuse SOCKS/HTTP proxies when python-socks is missing.

    Without it Telethon only warns "proxy argument will be ignored" and connects directly, which
    exposes the server's address and ties every account on it together.
    """
    if config.kind is ProxyKind.MTPROXY:
        return  # MTProxy is Telethon's own transport and needs no extra package
    if socks_available is None:
        socks_available = importlib.util.find_spec("python_socks") is not None
    if not socks_available:
        raise ProxyUnsupportedError(
            f"a {config.kind} proxy needs the python-socks package, which is not installed; "
            "refusing to connect without the proxy"
        )


def _host_port(parts: SplitResult) -> tuple[str, int]:
    host = parts.hostname
    if not host:
        raise ValueError("proxy URL has no host")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("proxy port must be a number between 1 and 65535") from None
    if port is None:
        raise ValueError("proxy URL has no port (expected host:port)")
    return host, _valid_port(port)


def _valid_port(port: int) -> int:
    if not 1 <= port <= 65535:
        raise ValueError("proxy port must be a number between 1 and 65535")
    return port


def _from_share_link(parts: SplitResult) -> ProxyConfig:
    """``tg://proxy?…`` / ``t.me/proxy?…`` (MTProxy) and ``tg://socks?…`` / ``t.me/socks?…``."""
    kind_name = (parts.netloc if parts.scheme.lower() == "tg" else parts.path.strip("/")).lower()
    if kind_name not in ("proxy", "socks"):
        raise ValueError("Telegram link is not a proxy link (expected tg://proxy or tg://socks)")
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    host = _required(query, "server", kind_name)
    if not _HOST_RE.match(host):
        raise ValueError(f"{kind_name} link has an invalid server")
    port_text = _required(query, "port", kind_name)
    if not port_text.isdigit():
        raise ValueError("proxy port must be a number between 1 and 65535")
    port = _valid_port(int(port_text))
    if kind_name == "proxy":
        secret = _mtproxy_secret(_required(query, "secret", kind_name))
        return ProxyConfig(kind=ProxyKind.MTPROXY, host=host, port=port, secret=SecretStr(secret))
    password = query.get("pass")
    return ProxyConfig(
        kind=ProxyKind.SOCKS5,
        host=host,
        port=port,
        username=query.get("user"),
        password=SecretStr(password) if password is not None else None,
    )


def _required(query: dict[str, str], key: str, kind_name: str) -> str:
    value = query.get(key, "").strip()
    if not value:
        raise ValueError(f"tg://{kind_name} link is missing {key!r}")
    return value


def _mtproxy_secret(raw: str) -> str:
    """Normalise an MTProxy secret (hex or base64, plain or dd-prefixed) to 32 hex digits."""
    data = _secret_bytes(raw.strip())
    if len(data) == 16:
        return data.hex()
    if len(data) == 17 and data[0] == 0xDD:
        return data[1:].hex()
    if len(data) > 17 and data[0] == 0xEE:
        raise ValueError("fake-TLS MTProxy secrets (ee…) are not supported by Telethon")
    raise ValueError(
        "bad MTProxy secret: expected 16 bytes (32 hex digits), optionally dd-prefixed"
    )


def _secret_bytes(raw: str) -> bytes:
    if _HEX_RE.match(raw):
        return bytes.fromhex(raw)
    padded = raw + "=" * (-len(raw) % 4)
    try:
        return base64.b64decode(padded, altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("bad MTProxy secret: it is neither hex nor base64") from None
