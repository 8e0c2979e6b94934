"""The reference pages name every option, OFX parameter and schema key the code has.

A flag added to the CLI, a parameter added to the OpenFX plugin or a key
added to a JSON schema without a line in docs/reference/ fails here, with
the names that are missing.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator

from tests.docs.test_commands import ROOT
from unshutter.cli.main import build_parser

REF = ROOT / "docs" / "reference"


def _subparsers(
    parser: argparse.ArgumentParser, path: str = "unshutter"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _subparsers(sub, f"{path} {name}")


def test_every_cli_option_is_in_the_cli_reference() -> None:
    text = (REF / "cli.md").read_text(encoding="utf-8")
    missing = []
    for path, parser in _subparsers(build_parser()):
        for action in parser._actions:
            longs = [o for o in action.option_strings if o.startswith("--") and o != "--help"]
            if longs and not any(re.search(rf"`[^`\n]*{re.escape(o)}\b", text) for o in longs):
                missing.append(f"{path} {longs[0]}")
    assert not missing, f"not in docs/reference/cli.md: {missing}"


def test_every_ofx_parameter_is_in_the_ofx_reference() -> None:
    source = (ROOT / "ofx_bridge" / "src" / "plugin.cpp").read_text(encoding="utf-8")
    ids = re.findall(r'constexpr const char\s*\*\s*kParam\w+(?<!Label)(?<!Hint)\s*=\s*"(\w+)";', source)
    assert len(ids) >= 10
    text = (REF / "ofx.md").read_text(encoding="utf-8")
    missing = [i for i in ids if f"`{i}`" not in text]
    assert not missing, f"OFX parameters not in docs/reference/ofx.md: {missing}"


def _keys(schema: object) -> set[str]:
    """Every property name anywhere in a JSON schema."""
    found: set[str] = set()
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "properties" and isinstance(value, dict):
                found |= set(value)
            found |= _keys(value)
    elif isinstance(schema, list):
        for item in schema:
            found |= _keys(item)
    return found


def _in_code(word: str, text: str) -> bool:
    """``word`` appears as a word inside some inline code span of ``text``."""
    return re.search(rf"`[^`\n]*\b{re.escape(word)}\b[^`\n]*`", text) is not None


def test_every_schema_key_is_in_the_files_reference() -> None:
    text = (REF / "files.md").read_text(encoding="utf-8")
    missing = []
    for name in ("overrides", "batch"):
        schema = json.loads(
            (ROOT / "plugin" / "unshutter" / "schemas" / f"{name}.schema.json").read_text(encoding="utf-8")
        )
        missing += [f"{name}: {k}" for k in sorted(_keys(schema)) if not _in_code(k, text)]
    assert not missing, f"schema keys not in docs/reference/files.md: {missing}"
