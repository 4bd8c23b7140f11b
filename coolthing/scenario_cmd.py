"""`coolthing scenario check|simulate FILE`: try a scene offline (no database, no services).

Registered in ``coolthing/cli.py`` as ``app.add_typer(scenario_app, name="scenario")``. The
scenario package is imported inside the commands, so ``coolthing --help`` stays instant.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from scripts.scenario import Scene, TimelineEntry

scenario_app = typer.Typer(no_args_is_help=True, help="Write and try scenes for scripts mode.")
_TEXT_WIDTH = 60


def _read(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        typer.echo(f"{file}: cannot read it: {exc}", err=True)
        raise typer.Exit(2) from None


def _scene_or_exit(file: Path) -> Scene:
    from scripts.scenario import check_scene

    scene, errors = check_scene(_read(file))
    for error in errors:
        typer.echo(f"{file}:{error.line}:{error.column}: {error.message}")
    if scene is None:
        raise typer.Exit(1)
    return scene


@scenario_app.command("check")
def check(file: Annotated[Path, typer.Argument(help="the scene's text file")]) -> None:
    """Print every error as FILE:LINE:COL: message; exit 1 if there is any."""
    scene = _scene_or_exit(file)
    lines = sum(1 for _ in scene.lines())
    typer.echo(f"{file}: ok: {lines} lines for {', '.join(scene.roles)}")


def _pairs(values: list[str], option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values:
        name, equals, given = value.partition("=")
        if not equals or not name.strip():
            typer.echo(f"{option} takes NAME=VALUE, not {value!r}", err=True)
            raise typer.Exit(2)
        pairs[name.strip().lower()] = given.strip()
    return pairs


@scenario_app.command("simulate")
def simulate(
    file: Annotated[Path, typer.Argument(help="the scene's text file")],
    seed: Annotated[int, typer.Option(help="the same seed gives the same timeline")],
    cast: Annotated[list[str] | None, typer.Option(help="ROLE=ACCOUNT, once per role")] = None,
    var: Annotated[list[str] | None, typer.Option(help="NAME=VALUE, once per variable")] = None,
) -> None:
    """Print one concrete timeline and the problems found; exit 1 if there are problems."""
    from scripts.scenario import simulate as run_simulation

    scene = _scene_or_exit(file)
    timeline = run_simulation(
        scene,
        seed=seed,
        cast=_pairs(cast or [], "--cast"),
        variables=_pairs(var or [], "--var"),
    )
    for row in format_table([_cells(entry) for entry in timeline.entries]):
        typer.echo(row)
    typer.echo(f"ends at +{_clock(timeline.duration)}")
    for problem in timeline.problems:
        typer.echo(f"problem: {problem}")
    if timeline.problems:
        raise typer.Exit(1)


def _clock(seconds: float) -> str:
    whole = timedelta(seconds=int(seconds))
    return f"{whole}.{int(seconds * 10) % 10}"


def _short(text: str) -> str:
    flat = text.replace("\n", " ⏎ ")
    return flat if len(flat) <= _TEXT_WIDTH else flat[: _TEXT_WIDTH - 1] + "…"


def _cells(entry: TimelineEntry) -> list[str]:
    at = f"+{_clock(entry.at)}"
    if entry.kind == "say":
        who = f"{entry.role} (@{entry.account})"
        typing = f"typing {entry.typing:.1f}s" if entry.typing else "no typing"
        return [at, who, typing, f'"{_short(entry.text or "")}"', entry.detail]
    if entry.kind == "heard":
        return [at, f"{entry.account} (member)", "", f'"{_short(entry.text or "")}"', entry.detail]
    return [at, entry.kind, "", "", entry.detail]


def format_table(rows: list[list[str]]) -> list[str]:
    """Columns padded to their widest cell, two spaces apart, trailing spaces dropped."""
    if not rows:
        return []
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
