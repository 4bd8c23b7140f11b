"""Links, e-mail addresses and @mentions a campaign did not give (manager.guardrails.links)."""

from __future__ import annotations

import pytest

from manager.guardrails.findings import Route
from manager.guardrails.links import link_findings
from manager.guardrails.policy import OutputPolicy

POLICY = OutputPolicy(
    allowed_link_hosts=frozenset({"WebStudio.example", "t.me"}),
    allowed_mentions=frozenset({"@webdev_chat", "webstudio_pm"}),
    allowed_emails=frozenset({"Hello@WebStudio.example"}),
)
STRICT = OutputPolicy(allowed_link_hosts=frozenset({"webstudio.example"}))


def checks(text: str, policy: OutputPolicy = POLICY) -> list[str]:
    return [f.check for f in link_findings(text, policy)]


def reasons(text: str, policy: OutputPolicy = POLICY) -> list[str]:
    return [f.reason for f in link_findings(text, policy)]


def test_an_off_list_link_names_its_host_and_goes_to_a_person() -> None:
    (finding,) = link_findings("Details: https://evil.click/offer?id=1", POLICY)
    assert finding.check == "link.off_list"
    assert finding.reason == "link to evil.click is not on the campaign's list"
    assert finding.route is Route.PERSON


def test_the_real_host_of_a_url_with_user_info_is_checked() -> None:
    assert reasons("https://webstudio.example@evil.com/x") == [
        "link to evil.com is not on the campaign's list"
    ]


@pytest.mark.parametrize(
    ("text", "host"),
    [
        ("see www.evil.org", "www.evil.org"),
        ("http://192.168.1.10:8080/admin", "192.168.1.10"),
        ("hxxps://evil[.]click/x", "evil.click"),
        ("ftp://files.evil.net/a.zip", "files.evil.net"),
    ],
)
def test_urls_and_www_links_are_found(text: str, host: str) -> None:
    assert reasons(text) == [f"link to {host} is not on the campaign's list"]


@pytest.mark.parametrize(
    "text", ["tg://resolve?domain=evil_bot", "t.me/evil_bot", "telegram.me/evil_bot"]
)
def test_telegram_links_are_links_to_t_me(text: str) -> None:
    assert reasons(text, STRICT) == ["link to t.me is not on the campaign's list"]
    assert checks(text, POLICY) == []  # this campaign allows t.me


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("go to evil.click now", "evil.click"),
        ("Наш сайт: сайт.рф", "сайт.рф (xn--80aswg.xn--p1ai)"),
        ("xn--80aswg.xn--p1ai", "xn--80aswg.xn--p1ai"),
        ("shop.evil.co.uk/sale", "shop.evil.co.uk"),
        ("EVIL.CLICK", "evil.click"),
        ("(evil.store)", "evil.store"),
    ],
)
def test_bare_domains_are_links_by_their_public_suffix(text: str, shown: str) -> None:
    assert reasons(text) == [f"link to {shown} is not on the campaign's list"]


@pytest.mark.parametrize(
    "text",
    [
        "evil . click",
        "evil[.]click",
        "evil(.)click",
        "evil(dot)click",
        "evil [dot] click",
        "evil dot click",
        "evil DOT click",
        "evil．click",
        "evil。click",
        "evil . click / brief",
        "evil\u200b.click",
        "evil.clіck",  # a Cyrillic і in the suffix
    ],
)
def test_disguised_dots_still_make_a_link(text: str) -> None:
    assert checks(text) == ["link.off_list"]
    assert "evil.cl" in reasons(text)[0]


def test_a_dot_spelled_out_in_russian_makes_a_link() -> None:
    assert reasons("пишите на evil точка ru") == ["link to evil.ru is not on the campaign's list"]


def test_a_dot_spelled_out_between_latin_names_is_a_link_whatever_the_suffix() -> None:
    assert reasons("evil dot example") == ["link to evil.example is not on the campaign's list"]


def test_a_look_alike_letter_in_a_host_is_reported_as_written_and_in_punycode() -> None:
    (reason,) = reasons("еvil.click")  # a Cyrillic е
    assert reason == "link to еvil.click (xn--vil-qdd.click) is not on the campaign's list"
    (lookalike,) = reasons("https://webstudіo.example/cases")  # not the allowed host
    assert "xn--" in lookalike


@pytest.mark.parametrize(
    "text",
    [
        "Кейсы: https://webstudio.example/cases",
        "https://WWW.WebStudio.example/cases?utm=dm",
        "blog.webstudio.example/post",
        "Look at webstudio.example/cases",
        "Написать в Telegram: t.me/webstudio_pm",
    ],
)
def test_allowed_hosts_and_their_subdomains_pass(text: str) -> None:
    assert checks(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "We use Python, Django, React, Vue.js, Node.js and 1C-Bitrix.",
        "Next.js или Nuxt.js, бэкенд на ASP.NET или Socket.io",
        "Т.е. сделаем всё, и т.д., и т.п.",
        "Бюджет 1.5 млн, версия 2.0, созвон 01.12.2026 в 15.30",
        "Ваша точка зрения важна, точка роста — SEO.",
        "Thanks.See you soon . Bye",
        "Спасибо.Со своей стороны всё сделаем",
    ],
)
def test_names_that_only_look_like_domains_are_not_links(text: str) -> None:
    assert checks(text) == []


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("write to ivan@evil.com", "ivan@evil.com"),
        ("ivan at evil dot com", "ivan@evil.com"),
        ("ivan (at) evil.com", "ivan@evil.com"),
        ("ivan [at] evil [dot] com", "ivan@evil.com"),
        ("ivan собака evil.ru", "ivan@evil.ru"),
        ("IVAN@EVIL.COM", "ivan@evil.com"),
    ],
)
def test_off_list_email_addresses_are_contacts_for_a_person(text: str, address: str) -> None:
    assert checks(text) == ["contact.email"]
    assert reasons(text) == [f"e-mail address {address} is not one of the campaign's contacts"]


def test_the_campaigns_own_email_passes_and_at_in_a_sentence_is_no_address() -> None:
    assert checks("Пишите на hello@webstudio.example, ответим сегодня.") == []
    assert checks("Let's meet at 5.30 at the office.") == []


def test_an_off_list_mention_is_a_contact_for_a_person() -> None:
    (finding,) = link_findings("Пишите моему коллеге @evil_support_ru", POLICY)
    assert finding.check == "contact.mention"
    assert finding.reason == "mention of @evil_support_ru is not one of the campaign's contacts"
    assert finding.route is Route.PERSON


def test_allowed_mentions_pass_in_any_case_and_short_handles_are_no_mentions() -> None:
    assert checks("Увидел ваш пост в @WebDev_Chat, пишите @webstudio_pm") == []
    assert checks("ping @dev or @1abc") == []  # under 5 characters, or not starting with a letter


def test_a_mention_with_a_look_alike_letter_is_not_the_allowed_one() -> None:
    assert checks("пишите @wеbstudio_pm") == ["contact.mention"]  # a Cyrillic е


def test_a_markdown_link_reports_the_host_without_the_brackets() -> None:
    assert reasons("[click](https://evil.click) or (see https://evil.store/a)") == [
        "link to evil.click is not on the campaign's list",
        "link to evil.store is not on the campaign's list",
    ]


def test_a_domain_after_an_at_sign_is_still_a_link() -> None:
    assert checks("@evil.click") == ["link.off_list"]


@pytest.mark.parametrize(
    "text",
    [
        "Здравствуйте, Олег! Увидел ваше сообщение в @webdev_chat. Делаем сайты и веб-сервисы под "
        "ключ за 2–4 недели, с поддержкой после запуска. Кейсы: https://webstudio.example/cases — "
        "актуально? Если удобнее, пишите на hello@webstudio.example или @webstudio_pm.",
        "Hi Anna, saw your post in @webdev_chat. We build web apps with Python/Django and React "
        "(Node.js for the real-time parts). A few cases: webstudio.example/cases. "
        "A 15-minute call on 01.12.2026 at 15:00?",
    ],
)
def test_legitimate_sales_messages_pass(text: str) -> None:
    assert link_findings(text, POLICY) == []
