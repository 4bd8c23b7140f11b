"""Every kind of mistake an admin can make in a scene: reported at its line and column, all at
once, and the scene refused."""

from __future__ import annotations

import pytest

from scripts.scenario import check_scene

HEADER = "roles: host, guest\nvars: product, link = https://x.io\n"


def errors_of(source: str) -> list[tuple[int, int, str]]:
    scene, errors = check_scene(source)
    assert scene is None, "a scene with errors must be refused"
    return [(e.line, e.column, e.message) for e in errors]


def only_error(body: str, header: str = HEADER) -> tuple[int, int, str]:
    [error] = errors_of(header + body)
    return error


@pytest.mark.parametrize(
    ("body", "line", "column", "message"),
    [
        ("  bob: hi\n", 3, 3, "unknown role 'bob': the roles are host, guest"),
        ("host: hi\ntitle: late\n", 4, 8, "`title:` belongs in the header, before the first step"),
        ("host [colour red]: hi\n", 3, 7, "unknown option 'colour red'"),
        ("host [id a, id b]: hi\n", 3, 13, "option 'id' is given twice"),
        ("host [photo a.png, sticker b.webp]: hi\n", 3, 7, "a photo or a sticker, not both"),
        ("host [photo http://a.io/x.png]: hi\n", 3, 13, "use an https:// link"),
        ("host [photo my file]: hi\n", 3, 13, "an https:// link or a file name"),
        ("host:\n", 3, 6, "the line says nothing"),
        ("host [id a]: hi\nguest [id a]: ho\n", 4, 11, "id 'a' is already used at line 3"),
        ("host [reply q]: hi\n", 3, 13, "no line has id 'q'"),
        ("host [reply q]: hi\nguest [id q]: ho\n", 3, 13, "line 'q' comes later (line 4)"),
        ("host [reply member]: hi\n", 3, 13, "`reply member` quotes the message a `when` heard"),
        ("host: hi {member}\n", 3, 10, "{member} is the member a `when` heard"),
        ("lead Sales\n", 3, 1, "`lead` hands over the member a `when` heard"),
        ("wait 5\nhost: ok\n", 3, 6, "5 needs a unit: write 5s, 5m or 5h"),
        (
            "wait 40-20s\nhost: ok\n",
            3,
            6,
            "the pause runs from 40s to 20s: write the shorter one first",
        ),
        ("wait 25h\nhost: ok\n", 3, 6, "25h is too long: at most 24h"),
        ("wait 1m 30s\nhost: ok\n", 3, 8, "no spaces inside a duration"),
        ("wait 30s1m\nhost: ok\n", 3, 9, "from hours down to ms"),
        ("wait 2s!\nhost: ok\n", 3, 8, "unexpected '!' in a duration"),
        ("wait\nhost: ok\n", 3, 5, "a duration is missing"),
        ("listen 0s\nend\n", 3, 8, "a listen needs a timeout above 0"),
        ("listen 1-2m\nend\n", 3, 8, "a listen takes one timeout, not a range"),
        ("host: hi\n  listen 5m\n  when silent\n", 4, 3, "listen at line 4 has no end"),
        ("when anything\nhost: ok\n", 3, 1, "`when` belongs inside a `listen … end` block"),
        ("end\nhost: ok\n", 3, 1, "`end` without a `listen` to close"),
        ("stop now\n", 3, 6, "`stop` stands alone on its line"),
        ("listen 1m\n host: hi\nend\n", 4, 2, "the steps inside a listen belong to a `when`"),
        (
            "listen 1m\nwhen anything\nwhen anything\nend\n",
            5,
            1,
            "a listen has one `when anything`",
        ),
        ("listen 1m\nwhen silent\nwhen silent\nend\n", 5, 1, "a listen has one `when silent`"),
        (
            'listen 1m\nwhen anything\nwhen "price"\nend\n',
            5,
            1,
            "unreachable: `when anything` at line 4 already takes every message",
        ),
        ('listen 1m\nwhen "price", "$$"\nend\n', 4, 15, "keyword '$$' has no letters"),
        ('listen 1m\nwhen "price\nend\n', 4, 6, "this quote is never closed"),
        ('listen 1m\nwhen "a" "b"\nend\n', 4, 9, "separate the keywords with commas"),
        ("listen 1m\nwhen price\nend\n", 4, 6, 'a `when` is followed by "words"'),
        ("listen 1m\nwhen keywords\nend\n", 4, 14, "`when keywords` needs a keyword set's name"),
        ("listen 1m\nwhen silent\n lead Sales\nend\n", 5, 2, "`lead` hands over the member"),
        ("listen 1m\nwhen silent\n host [reply member]: x\nend\n", 5, 14, "`reply member`"),
        ("stop\nhost: hi\n", 4, 1, "unreachable: the scene stops at line 3"),
        (
            "listen 1m\nwhen anything\n stop\nwhen silent\n stop\nend\n  host: hi\n",
            9,
            3,
            "unreachable: every branch of the listen at line 3 stops",
        ),
        ("host [typing 2m]: hi\n", 3, 14, '"typing…" shows for at most 1m'),
        (
            "host: " + "x" * 4000 + "{ab|" + "y" * 100 + "}\n",
            3,
            7,
            "this line can be 4,100 characters long; Telegram takes at most 4,096 in a message",
        ),
        (
            "host [photo a.png]: {product}" + "x" * 1025 + "\n",
            3,
            21,
            "this line can be 1,025 characters long; Telegram takes at most 1,024 in a photo's",
        ),
        ("host: {Hi|} {|\\n}\n", 3, 7, "this line can come out empty (its variations have"),
        ("host: {Hi|Hello\n", 3, 7, "this { is never closed"),
        ("host: Hi}\n", 3, 9, "this } closes nothing"),
        ("host: {}\n", 3, 7, "a variation needs two or more options separated by |"),
        ("host: {hi there}\n", 3, 7, "a variation needs two or more options"),
        ("host: {!product}\n", 3, 7, "a variation needs two or more options"),
        ("host: {prodct}\n", 3, 7, "unknown variable {prodct}: declared variables: link, product"),
        ("host: a\\tb\n", 3, 8, r"a \ must be followed by {, }, |, \ or n"),
        ("host: " + "{a|" * 17 + "b" + "}" * 17 + "\n", 3, 55, "variations nest at most 16 deep"),
    ],
)
def test_each_mistake_is_reported_at_its_position(
    body: str, line: int, column: int, message: str
) -> None:
    found = only_error(body)
    assert found[:2] == (line, column), found
    assert message in found[2]


@pytest.mark.parametrize(
    ("header", "line", "column", "message"),
    [
        ("host: hi\n", 1, 1, "the roles are not declared"),
        ("roles:\nhost: hi\n", 1, 7, "`roles:` needs a role at least"),
        ("roles: host, Host\nhost: hi\n", 1, 14, "role 'host' is declared twice"),
        ("roles: host, wait\nhost: hi\n", 1, 14, "'wait' is a word of the language"),
        ("roles: host, 2nd\nhost: hi\n", 1, 14, "'2nd' cannot be a role name"),
        (
            "roles: host\nroles: guest\nhost: hi\n",
            2,
            1,
            "`roles:` is given twice (first at line 1)",
        ),
        ("roles: host\nvars: member\nhost: hi\n", 2, 7, "{member} is built in"),
        ("roles: host\nvars: a, a = 2\nhost: hi\n", 2, 10, "variable 'a' is declared twice"),
        ("roles: host\n// nothing yet\n", 2, 1, "the scene has no steps"),
        ("", 1, 1, "the roles are not declared"),
    ],
)
def test_header_mistakes_are_reported_at_their_position(
    header: str, line: int, column: int, message: str
) -> None:
    found = errors_of(header)[0]
    assert found[:2] == (line, column), found
    assert message in found[2]


def test_a_reply_to_a_line_sent_only_in_another_branch_may_not_have_been_sent() -> None:
    body = (
        'listen 1m\n when "price"\n  host [id offer]: $10\n when silent\n  guest: hm\nend\n'
        "guest [reply offer]: ok\n"
    )
    assert only_error(body) == (9, 14, "line 'offer' may not have been sent before this line")


def test_a_reply_to_a_line_sent_on_every_path_is_fine() -> None:
    body = (
        "listen 1m\n when anything\n  host [id offer]: $10\n when silent\n  guest [id offer2]: x\n"
        "  stop\nend\nguest [reply offer]: ok\n"
    )
    scene, errors = check_scene(HEADER + body)
    assert errors == [] and scene is not None


def test_listens_nest_at_most_eight_deep() -> None:
    opening = "".join("listen 1m\nwhen anything\n" for _ in range(9))
    source = HEADER + opening + "host: deep\n" + "end\n" * 9
    assert errors_of(source) == [(19, 1, "listens nest at most 8 deep")]


def test_every_error_is_reported_at_once_in_position_order() -> None:
    source = HEADER + "bob: {hi\nwait 5\n\nend\nhost [reply x]: {nope}\n"
    assert errors_of(source) == [
        (3, 1, "unknown role 'bob': the roles are host, guest"),
        (3, 6, r"this { is never closed (write \{ for a brace)"),
        (4, 6, "5 needs a unit: write 5s, 5m or 5h"),
        (6, 1, "`end` without a `listen` to close"),
        (7, 13, "no line has id 'x'"),
        (7, 17, "unknown variable {nope}: declared variables: link, product (add it to `vars:`)"),
    ]


def test_more_than_a_hundred_errors_end_with_a_count_of_the_rest() -> None:
    source = "roles: host\n" + "bob: hi\n" * 130
    errors = errors_of(source)
    assert len(errors) == 101
    assert errors[99][:2] == (101, 1)
    assert errors[100] == (102, 1, "… and 30 more errors from here on")


def test_a_source_over_64_kib_is_refused_without_reading_it() -> None:
    source = "roles: host\n" + "host: " + "a" * 70_000 + "\n"
    assert errors_of(source) == [(1, 1, "the scene is 68 KiB: at most 64 KiB")]


def test_a_scene_over_two_thousand_steps_is_refused_at_the_first_step_too_many() -> None:
    source = "roles: host\n" + "wait 1s\n" * 2001
    assert errors_of(source) == [(2002, 1, "a scene has at most 2,000 steps")]
