"""Property tests: generated valid scenes parse and simulate; any one-character edit of a valid
scene gives a scene or errors with positions inside the text, never an exception."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scripts.scenario import JumpTo, ListenAt, Scene, check_scene, simulate

FAST = settings(max_examples=70, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ROLES = ["host", "guest", "expert", "Co-host", "dj_2"]
VARIABLES = ["product", "link", "city"]
WORDS = ["price", "how much", "cost", "дорого", "demo", "sign up", "hello"]
DURATIONS = ["20s", "2m", "1h", "1m30s", "1.5s", "500ms", "20-90s", "30s-2m", "1-2m", "0s"]
LITERAL = st.text(
    alphabet=st.characters(
        codec="utf-8",
        categories=["L", "N", "P", "Zs", "So"],
        exclude_characters="{}|\\\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029",
    ),
    max_size=12,
)
MEDIA = st.sampled_from(["photo https://example.com/a.png", "sticker hi.webp", "photo b.jpg"])


@dataclass
class Writer:
    """Builds one valid scene as text, tracking what the language requires."""

    draw: Any
    roles: list[str]
    variables: list[str]
    lines: list[str] = field(default_factory=list)
    counter: int = 0
    steps: int = 0

    def unique(self) -> str:
        self.counter += 1
        return f"u{self.counter}"

    def put(self, depth: int, text: str) -> None:
        indent = " " * self.draw(st.integers(0, 3)) if depth else ""
        if self.draw(st.integers(0, 9)) == 0:
            self.lines.append(self.draw(st.sampled_from(["", "// a note", "   "])))
        self.lines.append(indent + "  " * depth + text)

    def text(self, heard: bool, depth: int = 0) -> str:
        parts = [self.draw(st.sampled_from(["Hi", "Ok", "So", "Yes", "Well"]))]
        for _ in range(self.draw(st.integers(0, 3))):
            parts.append(self.part(heard, depth))
        return "".join(parts)

    def part(self, heard: bool, depth: int) -> str:
        names = self.variables + (["member"] if heard else [])
        kinds = (
            ["literal", "escape"] + (["var"] if names else []) + (["choice"] if depth < 3 else [])
        )
        kind = self.draw(st.sampled_from(kinds))
        if kind == "literal":
            return str(self.draw(LITERAL))
        if kind == "escape":
            return str(self.draw(st.sampled_from([r"\{", r"\}", r"\|", r"\\", r"\n"])))
        if kind == "var":
            return "{" + str(self.draw(st.sampled_from(names))) + "}"
        mark = self.draw(st.sampled_from(["", "~", "!"]))
        count = self.draw(st.integers(2, 4))
        options = [self.option(heard, depth + 1) for _ in range(count)]
        if mark == "!":
            # each `{!…}` its own (a unique option), so a run never uses one up
            options[0] += self.unique()
        return "{" + str(mark) + "|".join(options) + "}"

    def option(self, heard: bool, depth: int) -> str:
        if self.draw(st.booleans()):
            return ""
        return "".join(self.part(heard, depth) for _ in range(self.draw(st.integers(1, 2))))

    def say(self, depth: int, heard: bool, sent: frozenset[str]) -> frozenset[str]:
        role = self.draw(st.sampled_from(self.roles))
        options: list[str] = []
        if self.draw(st.booleans()):
            label = self.unique()
            options.append(f"id {label}")
            sent = sent | {label}
        replies = sorted(sent - {options[0][3:]} if options else sent) + (
            ["member"] if heard else []
        )
        if replies and self.draw(st.booleans()):
            options.append("reply " + self.draw(st.sampled_from(replies)))
        media = self.draw(st.booleans())
        if media:
            options.append(self.draw(MEDIA))
        if self.draw(st.booleans()):
            options.append(self.draw(st.sampled_from(["typing off", "typing 2s", "typing 500ms"])))
        text = "" if media and self.draw(st.booleans()) else self.text(heard)
        head = f"{role} [{', '.join(options)}]" if options else role
        self.put(depth, f"{head}: {text}")
        return sent

    def block(self, depth: int, heard: bool, sent: frozenset[str]) -> frozenset[str] | None:
        """Steps of one block; the ids sent on every path, or None when every path stops."""
        for _ in range(self.draw(st.integers(1, 4))):
            self.steps += 1
            kind = self.draw(st.sampled_from(["say", "say", "wait", "listen"]))
            if kind == "say":
                sent = self.say(depth, heard, sent)
            elif kind == "wait":
                self.put(depth, "wait " + self.draw(st.sampled_from(DURATIONS)))
            elif depth < 3:
                after = self.listen(depth, heard, sent)
                if after is None:
                    return None
                sent = after
        if heard and self.draw(st.integers(0, 4)) == 0:
            self.put(depth, "lead Outreach")
        if depth and self.draw(st.integers(0, 3)) == 0:
            self.put(depth, "stop")
            return None
        return sent

    def listen(self, depth: int, heard: bool, sent: frozenset[str]) -> frozenset[str] | None:
        self.put(depth, "listen " + self.draw(st.sampled_from(["30s", "5m", "1h", "2m30s"])))
        kinds = self.draw(
            st.lists(st.sampled_from(["words", "keywords", "anything", "silent"]), max_size=4)
        )
        kinds = [k for k in kinds if k in ("words", "keywords")] + [
            k for k in ("anything", "silent") if k in kinds
        ]
        outcomes: list[frozenset[str]] = [] if "silent" in kinds else [sent]
        for kind in kinds:
            if kind == "words":
                chosen = self.draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=3))
                self.put(depth, "  when " + ", ".join(f'"{w}"' for w in chosen))
            elif kind == "keywords":
                self.put(depth, "  when keywords pricing")
            else:
                self.put(depth, f"  when {kind}")
            after = self.block(depth + 1, heard or kind != "silent", sent)
            if after is not None:
                outcomes.append(after)
        self.put(depth, "end")
        return frozenset.intersection(*outcomes) if outcomes else None


@st.composite
def scenes(draw: Any) -> str:
    roles = draw(st.lists(st.sampled_from(ROLES), min_size=1, max_size=4, unique=True))
    variables = draw(st.lists(st.sampled_from(VARIABLES), max_size=3, unique=True))
    writer = Writer(draw, roles, variables)
    if draw(st.booleans()):
        writer.lines.append("title: " + draw(st.sampled_from(["Q&A", "Quiz night", "Welcome"])))
    writer.lines.append("roles: " + ", ".join(roles))
    if variables:
        declared = [
            v + draw(st.sampled_from(["", " = CoolThing", " = https://x.io/a"])) for v in variables
        ]
        writer.lines.append("vars: " + ", ".join(declared))
    writer.block(0, False, frozenset())
    return "\n".join(writer.lines) + ("\n" if draw(st.booleans()) else "")


def full_cast(roles: tuple[str, ...]) -> dict[str, str]:
    return {role: f"acct_{role}" for role in roles}


@FAST
@given(scenes(), st.integers(0, 2**32))
def test_generated_valid_scenes_parse_and_simulate_within_the_budget_only(
    source: str, seed: int
) -> None:
    scene, errors = check_scene(source)
    assert errors == [], source
    assert scene is not None
    assert_program_is_well_formed(scene)
    values = dict.fromkeys(scene.variables, "value")
    timeline = simulate(scene, seed=seed, cast=full_cast(scene.roles), variables=values)
    assert [p for p in timeline.problems if "the budget is" not in p] == []
    assert all(b.at >= a.at for a, b in zip(timeline.entries, timeline.entries[1:], strict=False))


def assert_program_is_well_formed(scene: Scene) -> None:
    """Each listen's clause blocks lie between it and its `after`, and every jump leaves a
    block for the `after` of a listen that encloses it."""
    program = scene.program
    afters = set()
    for pc, instr in enumerate(program):
        if isinstance(instr, ListenAt):
            starts = [start for _, start in instr.branches]
            starts += [instr.silent] if instr.silent is not None else []
            assert all(pc < start <= instr.after for start in starts)
            assert instr.after <= len(program)
            afters.add(instr.after)
    for pc, instr in enumerate(program):
        if isinstance(instr, JumpTo):
            assert instr.target in afters and instr.target > pc


MUTANTS = st.sampled_from(list('{}|\\[]:,"-!~ \nax1é/')) | st.characters(codec="utf-8")


@FAST
@given(scenes(), st.data())
def test_any_one_character_edit_gives_a_scene_or_errors_inside_the_text(
    source: str, data: st.DataObject
) -> None:
    at = data.draw(st.integers(0, len(source)))
    how = data.draw(st.sampled_from(["insert", "delete", "replace"]))
    char = data.draw(MUTANTS)
    if how == "insert":
        mutant = source[:at] + char + source[at:]
    elif how == "delete":
        mutant = source[:at] + source[at + 1 :]
    else:
        mutant = source[:at] + char + source[at + 1 :]
    scene, errors = check_scene(mutant)
    lines = mutant.split("\n")
    for error in errors:
        assert 1 <= error.line <= len(lines) + 1, (mutant, error)
        assert error.column >= 1, (mutant, error)
        if error.line <= len(lines):  # a column just past the end points at what is missing
            assert error.column <= len(lines[error.line - 1]) + 1, (mutant, error)
        assert error.message
    if scene is None:
        assert errors
    else:
        assert errors == []
        values = dict.fromkeys(scene.variables, "v")
        simulate(scene, seed=1, cast=full_cast(scene.roles), variables=values)
