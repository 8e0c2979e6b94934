"""Every ``unshutter ...`` command line quoted in README.md and docs/ parses with the current CLI.

The docs are read the way a user copies from them: each line of a ```sh,
```bash, ```shell or ```console block (``$ `` prompts and ``\\`` line
continuations understood, ``# comments`` dropped) and each inline code span,
whose program is ``unshutter`` (also ``.venv/bin/unshutter`` or ``python -m
unshutter``). Each is handed to the real argument parser
(:func:`unshutter.cli.main.build_parser`) without running the command, so a
renamed flag, a removed choice or a value of the wrong type in the docs fails
here. Synopsis lines with placeholders belong in ```text blocks, which are
not read.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from unshutter.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[2]
SHELL_LANGS = {"sh", "bash", "shell", "console", "shell-session"}
FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([\w-]*)")
INLINE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")


@dataclass(frozen=True)
class Quote:
    """One command line as a user would copy it from the docs.

    ``inline`` quotes (a code span in running text) may mention a command
    with only the options the sentence is about, so their missing required
    arguments are not an error; their options, choices and value types are.
    """

    file: str
    line: int
    text: str
    inline: bool = False

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.text}"


def doc_files(root: Path = ROOT) -> list[Path]:
    """README.md and every Markdown page under docs/."""
    files = [root / "README.md"]
    files += sorted((root / "docs").rglob("*.md")) if (root / "docs").is_dir() else []
    return [f for f in files if f.is_file()]


def _program_args(words: list[str]) -> list[str] | None:
    """The arguments after the ``unshutter`` program in ``words``, or None if it is another program."""
    if not words:
        return None
    if words[0].rsplit("/", 1)[-1] == "unshutter":
        return words[1:]
    if (
        len(words) >= 3
        and re.fullmatch(r"python(3(\.\d+)?)?", words[0].rsplit("/", 1)[-1])
        and words[1:3] == ["-m", "unshutter"]
    ):
        return words[3:]
    return None


def _split(text: str) -> list[str] | None:
    """Shell words of a line up to a ``#`` comment (a ``#`` inside a word, as in shot.####.exr, is kept)."""
    try:
        words = shlex.split(text)
    except ValueError:  # unbalanced quotes: not a shell line
        return None
    for i, word in enumerate(words):
        if word.startswith("#"):
            return words[:i]
    return words


def _shell_lines(lines: list[str], start: int) -> list[tuple[int, str]]:
    """(line number, command) of a shell block, continuations joined and prompts removed."""
    out: list[tuple[int, str]] = []
    pending, first = "", 0
    for i, raw in enumerate(lines, start):
        line = raw.strip()
        if line.startswith("$ "):
            line = line[2:]
        if not pending:
            first = i
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        out.append((first, pending + line))
        pending = ""
    if pending:
        out.append((first, pending))
    return out


def quotes(path: Path, root: Path = ROOT) -> list[Quote]:
    """Every ``unshutter`` command line quoted in one Markdown file."""
    rel = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
    text = path.read_text(encoding="utf-8").splitlines()
    found: list[Quote] = []
    i = 0
    while i < len(text):
        m = FENCE.match(text[i])
        if m:
            fence, lang = m.group(2), m.group(3).lower()
            j = i + 1
            while j < len(text) and not text[j].strip().startswith(fence[:3]):
                j += 1
            if lang in SHELL_LANGS:
                for n, cmd in _shell_lines(text[i + 1 : j], i + 2):
                    words = _split(cmd)
                    if words is not None and _program_args(words) is not None:
                        found.append(Quote(rel, n, cmd.strip()))
            i = j + 1
            continue
        for span in INLINE.findall(text[i]):
            words = _split(span)
            if words and _program_args(words):  # a bare `unshutter` names the program, not a command
                found.append(Quote(rel, i + 1, span.strip(), inline=True))
        i += 1
    return found


def _relaxed(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The same parser with nothing required (positionals optional), sub-parsers included."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            action.required = False
            for sub in set(action.choices.values()):
                _relaxed(sub)
        elif not action.option_strings and action.nargs is None:
            action.nargs = "?"
        else:
            action.required = False
    for group in parser._mutually_exclusive_groups:
        group.required = False
    return parser


def parse_error(quote: Quote) -> str | None:
    """The parser's complaint about a quoted command line, or None when it parses."""
    args = _program_args(_split(quote.text) or [])
    assert args is not None
    parser = _relaxed(build_parser()) if quote.inline else build_parser()
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            parser.parse_args(args)
    except SystemExit as exc:
        if exc.code not in (0, None):  # --help and --version exit 0
            return err.getvalue().strip().splitlines()[-1] if err.getvalue().strip() else f"exit {exc.code}"
    return None


ALL = [q for f in doc_files() for q in quotes(f)]


def test_the_docs_quote_commands() -> None:
    """The scan finds the commands (a broken scanner would pass every other test vacuously)."""
    assert len(ALL) >= 20, [str(q) for q in ALL]
    subcommands = {(_program_args(_split(q.text) or []) or [""])[0] for q in ALL}
    assert {"run", "demo", "timeline", "farm", "blender"} <= subcommands


@pytest.mark.parametrize("quote", ALL, ids=str)
def test_quoted_command_parses(quote: Quote) -> None:
    error = parse_error(quote)
    assert error is None, f"{quote}\n  {error}"


def test_a_drifted_command_is_caught(tmp_path: Path) -> None:
    """A flag that does not exist, a wrong value type and a bad choice are each reported with their line."""
    page = tmp_path / "docs" / "page.md"
    page.parent.mkdir()
    page.write_text(
        "Run `unshutter run shot.####.exr -o out/ --factor 4` first.\n\n"
        "```sh\n"
        "$ unshutter run shot.####.exr -o out/ \\\n"
        "    --speed 4            # no such flag\n"
        "unshutter run clip.mov -o out/ --factor four\n"
        ".venv/bin/unshutter run clip.mov -o out/ --guidance sideways\n"
        "ls out/   # not ours\n"
        "```\n\n"
        "```text\n"
        "unshutter run INPUT -o OUTPUT --factor N   (synopsis, not read)\n"
        "```\n",
        encoding="utf-8",
    )
    found = quotes(page, tmp_path)
    assert [(q.line, q.text.split()[0]) for q in found] == [
        (1, "unshutter"),
        (4, "unshutter"),
        (6, "unshutter"),
        (7, ".venv/bin/unshutter"),
    ]
    errors = [parse_error(q) for q in found]
    assert errors[0] is None
    assert "--speed" in (errors[1] or "")
    assert "four" in (errors[2] or "")
    assert "sideways" in (errors[3] or "")
