"""Lines → the tree of steps, reporting every error and recovering at the next line."""

from __future__ import annotations

from dataclasses import dataclass, field

from scripts.scenario.durations import DurationError, parse_duration, parse_range
from scripts.scenario.errors import ErrorList
from scripts.scenario.flow import check_flow
from scripts.scenario.header import parse_roles, parse_vars
from scripts.scenario.lexer import (
    BadLine,
    HeaderLine,
    KeywordLine,
    SayLine,
    SourceLine,
    classify,
    source_lines,
)
from scripts.scenario.program import Lead, Listen, Say, Scene, Step, Stop, Wait, flatten
from scripts.scenario.says import SayOptions, parse_options
from scripts.scenario.text import Text
from scripts.scenario.textparse import TextScope, parse_text
from scripts.scenario.when import ClauseDraft, parse_when

MAX_SOURCE_BYTES = 64 * 1024
MAX_STEPS = 2000
MAX_LISTEN_DEPTH = 8
MAX_MESSAGE = 4096  # Telegram's limits, in characters
MAX_CAPTION = 1024


@dataclass(slots=True)
class _ListenFrame:
    line: int
    column: int
    timeout: float
    clauses: list[ClauseDraft] = field(default_factory=list)


@dataclass(slots=True)
class _Header:
    title: str | None = None
    roles: list[str] = field(default_factory=list)
    variables: dict[str, str | None] = field(default_factory=dict)
    seen: dict[str, int] = field(default_factory=dict)  # header name → its line


class SceneBuilder:
    """Feeds on classified lines; ``scene()`` gives the scene, or None if ``errors`` has any."""

    def __init__(self, errors: ErrorList) -> None:
        self.errors = errors
        self.header = _Header()
        self.root: list[Step] = []
        self.listens: list[_ListenFrame] = []
        self.step_count = 0
        self.columns: dict[int, int] = {}  # a step's line → its column, for the flow's errors
        self.reply_columns: dict[int, int] = {}
        self.ids: dict[str, int] = {}  # id → line that defines it
        self.keyword_sets: dict[str, None] = {}  # ordered sets
        self.campaigns: dict[str, None] = {}

    def feed(self, line: SourceLine) -> None:
        statement = classify(line)
        if isinstance(statement, BadLine):
            self.errors.add(line.number, statement.column, statement.reason)
        elif isinstance(statement, HeaderLine):
            self._header_line(statement, line.number)
        elif isinstance(statement, SayLine):
            self._say(statement, line.number)
        else:
            self._keyword(statement, line)

    def _header_line(self, statement: HeaderLine, number: int) -> None:
        name, value = statement.name, statement.value
        if self.step_count:
            self.errors.add(
                number, value.column, f"`{name}:` belongs in the header, before the first step"
            )
            return
        if name in self.header.seen:
            first = self.header.seen[name]
            self.errors.add(number, 1, f"`{name}:` is given twice (first at line {first})")
            return
        self.header.seen[name] = number
        if name == "title":
            self.header.title = value.text or None
        elif name == "roles":
            self.header.roles = parse_roles(value, number, self.errors)
        else:
            self.header.variables = parse_vars(value, number, self.errors)

    def _scope(self) -> TextScope:
        return TextScope(self.header.variables.keys(), self._hears())

    def _hears(self) -> bool:
        return any(frame.clauses and frame.clauses[-1].hears for frame in self.listens)

    def _say(self, statement: SayLine, number: int) -> None:
        role = statement.role
        roles = self.header.roles
        if "roles" in self.header.seen and roles and role.text.lower() not in roles:
            self.errors.add(
                number,
                role.column,
                f"unknown role {role.text!r}: the roles are {', '.join(roles)}",
            )
        options = parse_options(statement.options, number, self.errors)
        text = parse_text(
            statement.text.text,
            line=number,
            column=statement.text.column,
            scope=self._scope(),
            errors=self.errors,
        )
        media = options.photo is not None or options.sticker is not None
        if not statement.text.text and not media:
            self.errors.add(number, statement.text.column, "the line says nothing: write its text")
        elif text.can_be_blank() and not media and not self._errors_on(number):
            self.errors.add(
                number,
                statement.text.column,
                "this line can come out empty (its variations have empty options): "
                "give it some text outside the braces",
            )
        _check_length(text, options.photo is not None, number, statement.text.column, self.errors)
        self._check_labels(options, number)
        if options.reply is not None:
            self.reply_columns[number] = options.reply_column
        say = Say(
            role=role.text.lower(),
            text=text,
            line=number,
            column=role.column,
            id=options.id,
            reply=options.reply,
            photo=options.photo,
            sticker=options.sticker,
            typing=options.typing,
            typing_off=options.typing_off,
        )
        self._add(say, number, role.column)

    def _errors_on(self, number: int) -> bool:
        return self.errors.has_line(number)

    def _check_labels(self, options: SayOptions, number: int) -> None:
        id_ = options.id
        if id_ is not None:
            if id_ in self.ids:
                self.errors.add(
                    number, options.id_column, f"id {id_!r} is already used at line {self.ids[id_]}"
                )
            else:
                self.ids[id_] = number
        if options.reply == "member" and not self._hears():
            self.errors.add(
                number,
                options.reply_column,
                "`reply member` quotes the message a `when` heard: use it only in the steps "
                "of a when clause that heard someone (not `when silent`)",
            )

    def _keyword(self, statement: KeywordLine, line: SourceLine) -> None:
        keyword, argument, number = statement.keyword, statement.argument, line.number
        if keyword == "wait":
            try:
                low, high = parse_range(argument.text)
            except DurationError as exc:
                self.errors.add(number, argument.column + exc.offset, exc.reason)
            else:
                self._add(Wait(low, high, number), number, line.column)
        elif keyword == "listen":
            self._listen(argument.text, argument.column, line)
        elif keyword == "when":
            self._when(statement, line)
        elif keyword == "end":
            self._end(statement, line)
        elif keyword == "stop":
            self._no_argument(statement, number)
            self._add(Stop(number), number, line.column)
        else:
            self._lead(argument.text, argument.column, line)

    def _no_argument(self, statement: KeywordLine, number: int) -> None:
        if statement.argument.text:
            self.errors.add(
                number,
                statement.argument.column,
                f"`{statement.keyword}` stands alone on its line",
            )

    def _listen(self, text: str, column: int, line: SourceLine) -> None:
        timeout = 0.0
        if "-" in text:
            self.errors.add(line.number, column, "a listen takes one timeout, not a range: 5m")
            text = text.partition("-")[2].strip()
        try:
            timeout = parse_duration(text)
        except DurationError as exc:
            self.errors.add(line.number, column + exc.offset, exc.reason)
        else:
            if timeout <= 0:
                self.errors.add(line.number, column, "a listen needs a timeout above 0, e.g. 5m")
        if self.listens and not self.listens[-1].clauses:
            self.errors.add(
                line.number,
                line.column,
                "the steps inside a listen belong to a `when` clause: write `when …` first",
            )
        if len(self.listens) >= MAX_LISTEN_DEPTH:
            self.errors.add(
                line.number, line.column, f"listens nest at most {MAX_LISTEN_DEPTH} deep"
            )
        self._count_step(line.number, line.column)
        self.listens.append(_ListenFrame(line.number, line.column, timeout))

    def _when(self, statement: KeywordLine, line: SourceLine) -> None:
        if not self.listens:
            self.errors.add(
                line.number, line.column, "`when` belongs inside a `listen … end` block"
            )
            return
        frame = self.listens[-1]
        draft = parse_when(statement.argument, line.number, line.column, frame.clauses, self.errors)
        frame.clauses.append(draft)
        if draft.keyword_set is not None:
            self.keyword_sets[draft.keyword_set] = None

    def _end(self, statement: KeywordLine, line: SourceLine) -> None:
        self._no_argument(statement, line.number)
        if not self.listens:
            self.errors.add(line.number, line.column, "`end` without a `listen` to close")
            return
        frame = self.listens.pop()
        clauses = tuple(draft.clause() for draft in frame.clauses)
        self._block().append(Listen(frame.timeout, clauses, frame.line))

    def _lead(self, campaign: str, column: int, line: SourceLine) -> None:
        name = campaign.strip('"').strip()
        if not name:
            self.errors.add(line.number, column, "`lead` needs a campaign's name: `lead Outreach`")
        elif len(name) > 64:
            self.errors.add(line.number, column, "a campaign's name is at most 64 characters")
        if not self._hears():
            self.errors.add(
                line.number,
                line.column,
                "`lead` hands over the member a `when` heard: use it only in the steps of a "
                "when clause that heard someone (not `when silent`)",
            )
        self.campaigns[name] = None
        self._add(Lead(name, line.number), line.number, line.column)

    def _block(self) -> list[Step]:
        if self.listens:
            frame = self.listens[-1]
            if frame.clauses:
                return frame.clauses[-1].steps
        return self.root

    def _count_step(self, number: int, column: int) -> bool:
        self.step_count += 1
        self.columns[number] = column
        if self.step_count == MAX_STEPS + 1:
            self.errors.add(number, column, f"a scene has at most {MAX_STEPS:,} steps")
        return self.step_count <= MAX_STEPS

    def _add(self, step: Step, number: int, column: int) -> None:
        if self.listens and not self.listens[-1].clauses:
            self.errors.add(
                number,
                column,
                "the steps inside a listen belong to a `when` clause: write `when …` first",
            )
            return
        if self._count_step(number, column):
            self._block().append(step)

    def scene(self) -> Scene | None:
        for frame in self.listens:
            self.errors.add(frame.line, frame.column, f"listen at line {frame.line} has no end")
        if "roles" not in self.header.seen:
            self.errors.add(1, 1, "the roles are not declared: start with `roles: host, guest`")
        if not self.step_count:
            after_header = max(self.header.seen.values(), default=0) + 1
            self.errors.add(
                after_header, 1, "the scene has no steps: write a line like `host: Hello everyone!`"
            )
        check_flow(
            self.root, self.ids, self.columns, self.reply_columns, self.header.roles, self.errors
        )
        if self.errors:
            return None
        steps = tuple(self.root)
        return Scene(
            title=self.header.title,
            roles=tuple(self.header.roles),
            variables=dict(self.header.variables),
            steps=steps,
            keyword_sets=tuple(self.keyword_sets),
            campaigns=tuple(self.campaigns),
            program=flatten(steps),
        )


def _check_length(text: Text, caption: bool, number: int, column: int, errors: ErrorList) -> None:
    limit = MAX_CAPTION if caption else MAX_MESSAGE
    longest = text.longest()
    if longest > limit:
        what = "a photo's caption" if caption else "a message"
        errors.add(
            number,
            column,
            f"this line can be {longest:,} characters long; Telegram takes at most {limit:,} "
            f"in {what}",
        )


def build_scene(source: str, errors: ErrorList) -> Scene | None:
    size = len(source.encode("utf-8", "replace"))
    if size > MAX_SOURCE_BYTES:
        errors.add(1, 1, f"the scene is {size / 1024:.0f} KiB: at most 64 KiB")
        return None
    builder = SceneBuilder(errors)
    for line in source_lines(source):
        builder.feed(line)
    return builder.scene()
