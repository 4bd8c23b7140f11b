"""What Telegram makes of an ``<a href>``: a user mention, a checked link, or nothing.

Ported from tdlib (``LinkManager::check_link_impl``, ``get_link_user_id`` and ``parse_url``):
Telegram normalises a link before it stores it — the scheme is added when missing, the host
lower-cased, a path of at least "/" — so ``https://example.com`` comes back as
``https://example.com/``. A link it cannot check is dropped, the text stays.
"""

from __future__ import annotations

from dataclasses import dataclass

_URL_PART_EXTRA = frozenset(".-_!$,~*'();&+=")
_HEX = frozenset("0123456789abcdefABCDEF")
_SPACE = frozenset(" \t\r\n\v\0")
_TG_HOST_EXTRA = frozenset("-_")


class LinkRefused(Exception):
    """Telegram's reason for refusing a link ("Wrong HTTP URL", "Unsupported URL protocol" ...)."""


@dataclass(frozen=True, slots=True)
class _Url:
    scheme: str
    userinfo: str
    host: str
    port: int  # 0 when none was given
    is_ipv6: bool
    query: str  # the path, query and fragment; starts with "/"

    def text(self) -> str:
        userinfo = f"{self.userinfo}@" if self.userinfo else ""
        port = f":{self.port}" if self.port else ""
        return f"{self.scheme}://{userinfo}{self.host}{port}{self.query}"


def link_user_id(url: str) -> int | None:
    """``tg://user?id=N`` (any case, ``tg:user/?id=N`` too) names a user: a text_mention."""
    rest = url.lower()
    if not rest.startswith("tg:"):
        return None
    rest = rest[3:].removeprefix("//")
    if not rest.startswith("user") or (len(rest) > 4 and rest[4] not in "/?#"):
        return None
    rest = rest[4:].removeprefix("/")
    if not rest.startswith("?"):
        return None
    for parameter in rest[1:].split("#")[0].split("&"):
        key, _, value = parameter.partition("=")
        if key == "id":
            number = value[1:] if value.startswith("-") else value
            return int(value) if number.isascii() and number.isdigit() else None
    return None


def checked_link(link: str) -> str | None:
    """The link as Telegram stores it in a text_link, or None when Telegram would drop it."""
    try:
        return check_link(link)
    except LinkRefused:
        return None


def check_link(link: str) -> str:
    """The link as Telegram stores it, or LinkRefused with tdlib's reason."""
    scheme = next((s for s in ("tg", "ton", "tonsite") if link.lower().startswith(f"{s}:")), None)
    if scheme is None:
        url = _parse(link)
        if "." not in url.host and not url.is_ipv6:
            raise LinkRefused("Wrong HTTP URL")
        return url.text()
    link = link[len(scheme) + 1 :].removeprefix("//")
    url = _parse(link)
    wrong = link.lower().startswith("http://") or url.scheme == "https"
    if wrong or url.userinfo or url.port or url.is_ipv6:
        raise LinkRefused("Wrong tg URL" if scheme == "tg" else "Wrong ton URL")
    allowed = _TG_HOST_EXTRA | ({"."} if scheme == "tonsite" else frozenset())
    if any(not (c.isascii() and c.isalnum()) and c not in allowed for c in url.host):
        raise LinkRefused("Unallowed characters in URL host")
    query = url.query[1:] if url.query.startswith("/?") else url.query
    return f"{scheme}://{url.host}{query}"


def _parse(url: str) -> _Url:
    """tdlib's parse_url: ``[scheme://][userinfo@]host[:port][/path?query#fragment]``."""
    head = _till(url, ":/?#@[]")
    scheme, rest = "http", url
    if url[len(head) :].startswith("://"):
        scheme = head.lower()
        if scheme not in ("http", "https"):
            raise LinkRefused("Unsupported URL protocol")
        rest = url[len(head) + 3 :]
    authority = _till(rest, "/?#")
    query = rest[len(authority) :]
    userinfo_host, port = _split_port(authority)
    userinfo, _, host = userinfo_host.rpartition("@")
    is_ipv6 = host.startswith("[") and host.endswith("]") and len(host) > 1
    if not host:
        raise LinkRefused("URL host is empty")
    if host == ".":
        raise LinkRefused("Host is invalid")
    host = host.lower()
    if is_ipv6:
        if any(c not in "0123456789abcdef:." for c in host[1:-1]):
            raise LinkRefused("Wrong IPv6 URL host")
    else:
        _check_part(host, "host", allow_colon=False)
        _check_part(userinfo, "userinfo", allow_colon=True)
    return _Url(scheme, userinfo, host, port, is_ipv6, _query(query))


def _till(text: str, stops: str) -> str:
    end = next((i for i, c in enumerate(text) if c in stops), len(text))
    return text[:end]


def _split_port(authority: str) -> tuple[str, int]:
    """The part before ``:port`` and the port (0 when absent); a bad port is refused."""
    index = len(authority) - 1
    while index > 0 and authority[index] not in ":]@":
        index -= 1
    if index <= 0 or authority[index] != ":":
        return authority, 0
    raw = authority[index + 1 :].lstrip("0") or "0"
    port = int(raw) if raw.isascii() and raw.isdigit() else -1
    if port <= 0 or port > 65535:
        raise LinkRefused("Wrong port number specified in the URL")
    return authority[:index], port


def _query(query: str) -> str:
    query = query.rstrip("".join(_SPACE)) or "/"
    if not query.startswith("/"):
        query = "/" + query
    return "".join(f"%{ord(c):02X}" if ord(c) <= 0x20 else c for c in query)


def _check_part(part: str, name: str, *, allow_colon: bool) -> None:
    i = 0
    while i < len(part):
        char = part[i]
        if char == "%":
            if len(part) > i + 2 and part[i + 1] in _HEX and part[i + 2] in _HEX:
                i += 3
                continue
            raise LinkRefused(f"Wrong percent-encoded symbol in URL {name}")
        allowed = (char.isascii() and char.isalnum()) or char in _URL_PART_EXTRA
        if not (allowed or (allow_colon and char == ":") or ord(char) >= 128):
            raise LinkRefused(f"Disallowed character in URL {name}")
        i += 1
