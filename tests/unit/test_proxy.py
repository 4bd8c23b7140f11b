"""Proxy URLs → model → the arguments Telethon's TelegramClient takes; secrets never leak."""

from __future__ import annotations

import base64

import pytest
from pydantic import SecretStr
from telethon.network import ConnectionTcpMTProxyRandomizedIntermediate
from telethon.network.connection.tcpintermediate import RandomizedIntermediatePacketCodec
from telethon.network.connection.tcpmtproxy import MTProxyIO, TcpMTProxy

from bots.proxy import (
    ProxyConfig,
    ProxyKind,
    ProxyUnsupportedError,
    ensure_proxy_supported,
    parse_proxy_url,
)

SECRET = "0123456789abcdef0123456789abcdef"


def test_socks5_with_credentials_becomes_telethon_proxy_dict() -> None:
    config = parse_proxy_url("socks5://alice:s3cr%40t@proxy.example.com:1080")

    assert config.kind is ProxyKind.SOCKS5
    assert config.telethon_args().as_kwargs() == {
        "proxy": {
            "proxy_type": "socks5",
            "addr": "proxy.example.com",
            "port": 1080,
            "username": "alice",
            "password": "s3cr@t",
            "rdns": True,
        }
    }


def test_socks5h_is_socks5_because_telethon_always_resolves_remotely() -> None:
    assert parse_proxy_url("socks5h://10.0.0.1:9050").kind is ProxyKind.SOCKS5


def test_socks4_and_http_without_credentials() -> None:
    socks4 = parse_proxy_url("socks4://user7@1.2.3.4:1080").telethon_args().proxy
    http = parse_proxy_url("http://1.2.3.4:3128").telethon_args().proxy

    assert isinstance(socks4, dict) and isinstance(http, dict)
    assert (socks4["proxy_type"], socks4["username"], socks4["password"]) == (
        "socks4",
        "user7",
        None,
    )
    assert (http["proxy_type"], http["username"], http["password"]) == ("http", None, None)


def test_ipv6_host_is_unbracketed_for_telethon_and_bracketed_in_logs() -> None:
    config = parse_proxy_url("socks5://[2001:db8::1]:1080")

    assert config.host == "2001:db8::1"
    assert config.redacted() == "socks5://[2001:db8::1]:1080"


def test_mtproxy_uses_randomized_intermediate_connection_and_host_port_secret_tuple() -> None:
    kwargs = parse_proxy_url(f"mtproxy://{SECRET}@mt.example.com:443").telethon_args().as_kwargs()

    assert kwargs["connection"] is ConnectionTcpMTProxyRandomizedIntermediate
    assert kwargs["proxy"] == ("mt.example.com", 443, "dd" + SECRET)


@pytest.mark.parametrize("first_byte", ["dd", "ee"])
def test_plain_mtproxy_secret_starting_with_dd_or_ee_reaches_telethon_as_16_bytes(
    first_byte: str,
) -> None:
    secret = first_byte + SECRET[2:]
    host, port, telethon_secret = parse_proxy_url(f"mtproxy://{secret}@h:443").telethon_args().proxy

    assert TcpMTProxy.normalize_secret(telethon_secret) == bytes.fromhex(secret)


def test_mtproxy_secret_is_accepted_by_telethons_handshake() -> None:
    _, _, secret = parse_proxy_url(f"mtproxy://{SECRET}@h:443").telethon_args().proxy
    # The same call Telethon makes when it opens the connection; raises on a bad secret.
    MTProxyIO.init_header(TcpMTProxy.normalize_secret(secret), 2, RandomizedIntermediatePacketCodec)


@pytest.mark.parametrize(
    "secret",
    [
        "dd" + SECRET,
        SECRET.upper(),
        base64.urlsafe_b64encode(bytes.fromhex(SECRET)).decode().rstrip("="),
        base64.b64encode(bytes.fromhex("dd" + SECRET)).decode(),
    ],
    ids=["dd-prefixed", "upper-hex", "urlsafe-base64", "base64-dd"],
)
def test_mtproxy_secret_forms_normalise_to_32_hex_digits(secret: str) -> None:
    config = parse_proxy_url(f"mtproxy://{secret}@h:443")

    assert config.secret is not None and config.secret.get_secret_value() == SECRET


@pytest.mark.parametrize(
    "url",
    [
        f"tg://proxy?server=mt.example.com&port=443&secret={SECRET}",
        f"https://t.me/proxy?server=mt.example.com&port=443&secret=dd{SECRET}",
    ],
)
def test_telegram_proxy_share_links_are_mtproxies(url: str) -> None:
    config = parse_proxy_url(url)

    assert (config.kind, config.host, config.port) == (ProxyKind.MTPROXY, "mt.example.com", 443)


def test_telegram_socks_share_link_is_socks5_with_credentials() -> None:
    config = parse_proxy_url("tg://socks?server=1.2.3.4&port=1080&user=bob&pass=pw")

    assert (config.kind, config.username) == (ProxyKind.SOCKS5, "bob")
    assert config.password is not None and config.password.get_secret_value() == "pw"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("socks5://alice:hunter2@h.example:1080", "socks5://alice:***@h.example:1080"),
        ("http://h.example:3128", "http://h.example:3128"),
        (f"mtproxy://{SECRET}@h.example:443", "mtproxy://***@h.example:443"),
    ],
)
def test_redacted_form_shows_where_but_never_the_password_or_secret(
    url: str, expected: str
) -> None:
    config = parse_proxy_url(url)

    assert config.redacted() == expected
    for shown in (config.redacted(), repr(config), str(config), config.model_dump_json()):
        assert "hunter2" not in shown and SECRET not in shown
    assert "hunter2" not in repr(config.telethon_args())


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "proxy URL is empty"),
        ("ftp://u:hunter2@h:21", "unknown proxy scheme 'ftp'"),
        ("https://u:hunter2@h:443", "unknown proxy scheme 'https'"),
        ("h.example:1080", "unknown proxy scheme"),
        ("socks5://u:hunter2@h.example", "no port"),
        ("socks5://u:hunter2@h.example:0", "between 1 and 65535"),
        ("socks5://u:hunter2@h.example:99999", "between 1 and 65535"),
        ("socks5://u:hunter2@h.example:port", "between 1 and 65535"),
        ("socks5://u:hunter2@:1080", "no host"),
        ("socks5://u:hunter2@h.example:1080/path", "nothing after"),
        ("socks4://u:hunter2@h.example:1080", "no password"),
        ("mtproxy://h.example:443", "needs the secret"),
        ("mtproxy://hunter2hunter2@h.example:443", "bad MTProxy secret"),
        ("mtproxy://abcd@h.example:443", "bad MTProxy secret"),
        ("mtproxy://ee" + SECRET + "676f6f676c652e636f6d@h:443", "fake-TLS"),
        ("tg://proxy?server=h&port=443", "missing 'secret'"),
        ("tg://proxy?port=443&secret=" + SECRET, "missing 'server'"),
        ("tg://proxy?server=h&port=x&secret=" + SECRET, "between 1 and 65535"),
        ("tg://resolve?domain=durov", "not a proxy link"),
    ],
)
def test_bad_proxy_urls_say_what_is_wrong_without_echoing_secrets(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        parse_proxy_url(url)

    assert "hunter2" not in str(caught.value)


def test_socks_proxy_is_refused_when_python_socks_is_missing_instead_of_going_direct() -> None:
    config = parse_proxy_url("socks5://h:1080")

    with pytest.raises(ProxyUnsupportedError, match="python-socks"):
        ensure_proxy_supported(config, socks_available=False)
    ensure_proxy_supported(config, socks_available=True)


def test_mtproxy_needs_no_socks_library() -> None:
    ensure_proxy_supported(parse_proxy_url(f"mtproxy://{SECRET}@h:443"), socks_available=False)


def test_model_rejects_a_secret_on_a_socks_proxy() -> None:
    with pytest.raises(ValueError, match="no MTProxy secret"):
        ProxyConfig(kind=ProxyKind.SOCKS5, host="h", port=1, secret=SecretStr(SECRET))
