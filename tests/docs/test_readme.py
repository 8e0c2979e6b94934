"""The README stays short and keeps the two commands CI and new users rely on."""

from __future__ import annotations

from tests.docs.test_commands import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_is_at_most_1500_words() -> None:
    """Details belong in docs/: a README read in under ten minutes."""
    words = len(README.split())
    assert words <= 1500, f"README.md has {words} words; move details to a docs/ page"


def test_readme_keeps_the_two_commands() -> None:
    """`make demo` and `make test` as the first shell block, each saying what it does (.ci/run runs `make test`)."""
    block = README.split("```sh\n", 1)[1].split("```", 1)[0]
    lines = [line for line in block.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert [line.split("#")[0].strip() for line in lines] == ["make demo", "make test"]
    assert all("#" in line for line in lines), "each command says what it does"
