"""A batch spec's ``motion`` reaches every task: run arguments, OpenJD template, Dask payload."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from unshutter.farm.spec import SpecError, load_spec

from tests.farm.helpers import one_shot_spec


def test_motion_reaches_the_run_arguments(tmp_path: Path) -> None:
    shot = load_spec(one_shot_spec(tmp_path, motion=[40, -2.5])).shots[0]
    assert shot.motion == (40.0, -2.5) and shot.params().motion == (40.0, -2.5)
    args = shot.run_args()
    assert args[args.index("--motion") + 1] == "40,-2.5"
    assert "--motion" not in load_spec(one_shot_spec(tmp_path)).shots[0].run_args()


@pytest.mark.parametrize("bad", [[40], "40,0", [1e9, 0], ["a", 0]])
def test_bad_motion_names_the_shot_and_field(tmp_path: Path, bad: object) -> None:
    with pytest.raises(SpecError, match=r"shot 'car' \(shots\[0\]\)\.motion"):
        load_spec(one_shot_spec(tmp_path, motion=bad))


def test_openjd_template_carries_motion(tmp_path: Path, farm_clips: dict[str, str]) -> None:
    from unshutter.farm.openjd import build_template

    spec = load_spec(one_shot_spec(tmp_path, input=farm_clips["pan"], motion=[12, 0]))
    template, _ = build_template(spec)
    text = yaml.safe_dump(template)
    assert "--motion" in text and "12,0" in text
