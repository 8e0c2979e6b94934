"""Path mapping inside a farm task: the rules file OpenJD writes, mapped as OpenJD maps, override files' names."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath, PureWindowsPath

import cv2
import numpy as np
import pytest

from unshutter.errors import OverrideError, ParameterError
from unshutter.farm.pathmap import Locator, PathMapping
from unshutter.guidance.overrides import load_overrides

RULES = [
    {"source_path_format": "POSIX", "source_path": "/mnt/show", "destination_path": "/sess/root0"},
    {"source_path_format": "POSIX", "source_path": "/mnt/show/mattes", "destination_path": "/sess/root1"},
    {"source_path_format": "windows", "source_path": "X:\\Projects", "destination_path": "/mnt/projects"},
    {"source_path_format": "URI", "source_path": "s3://bucket/prefix", "destination_path": "/sess/s3"},
]
PATHS = [
    "/mnt/show/plates/a.####.exr",
    "/mnt/show/mattes/car.0001.png",
    "/mnt/show",
    "/mnt/showreel/a.exr",
    "/mnt/other/a.exr",
    "X:\\Projects\\ProjectA\\ov\\car.yaml",
    "x:/projects/ProjectA/m.%04d.png",
    "Y:\\Projects\\a.exr",
    "relative/a.exr",
    "/mnt/show/../x.exr",
    "",
]


def _openjd_map(rules: list[dict[str, str]], path: str) -> str:
    """What an OpenJD session does to a PATH parameter value with these rules (openjd-sessions itself)."""
    from openjd.sessions import PathMappingRule

    parsed = sorted((PathMappingRule.from_dict(r) for r in rules), key=lambda r: -r._source_path_component_count())
    for rule in parsed:
        changed, result = rule.apply(path=path)
        if changed:
            return result
    return path


@pytest.mark.parametrize("path", PATHS)
def test_rules_map_paths_as_openjd_sessions_does(path: str) -> None:
    ours = PathMapping.from_dict({"version": "pathmapping-1.0", "path_mapping_rules": RULES})
    assert ours.map(path) == _openjd_map(RULES, path)


def test_rules_file_as_an_openjd_session_writes_it(tmp_path: Path) -> None:
    empty = tmp_path / "none.json"
    empty.write_text("{}")  # a session without rules
    assert PathMapping.load(empty).rules == ()
    assert PathMapping.load(empty).map("/mnt/show/a.exr") == "/mnt/show/a.exr"
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"version": "pathmapping-1.0", "path_mapping_rules": RULES}))
    assert PathMapping.load(rules).map("/mnt/show/mattes/m.png") == "/sess/root1/m.png"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"version": "pathmapping-9", "path_mapping_rules": []}))
    with pytest.raises(ParameterError, match="bad.json: not a pathmapping-1.0 document"):
        PathMapping.load(bad)
    with pytest.raises(ParameterError, match="missing.json: cannot read"):
        PathMapping.load(tmp_path / "missing.json")


def test_locator_resolves_against_the_submitted_file_then_maps() -> None:
    mapping = PathMapping.from_dict({"version": "pathmapping-1.0", "path_mapping_rules": RULES})
    posix = Locator("/mnt/show/ov/car.yaml", mapping)
    assert posix.overrides == "/sess/root0/ov/car.yaml"
    assert posix("../mattes/car.####.png") == "/sess/root1/car.####.png"  # another root than the file's
    assert posix("/mnt/show/mattes/car.####.png") == "/sess/root1/car.####.png"
    assert posix("/elsewhere/shape.json") == "/elsewhere/shape.json"  # no rule: as written
    windows = Locator("X:\\Projects\\A\\ov\\car.yaml", mapping)  # written on Windows, read on Linux
    assert windows.overrides == "/mnt/projects/A/ov/car.yaml"
    assert windows("mattes\\car.####.png") == "/mnt/projects/A/ov/mattes/car.####.png"
    assert windows("X:/Projects/B/shape.json") == "/mnt/projects/B/shape.json"
    # without rules a relative name is relative to the file, as plain load_overrides resolves it
    local = Locator("/mnt/show/ov/car.yaml", PathMapping())
    assert local("m/car.####.png") == str(PurePosixPath("/mnt/show/ov/m/car.####.png"))
    assert str(PureWindowsPath(windows.origin).parent) == "X:\\Projects\\A\\ov"


def test_override_file_names_read_where_the_rules_map_them(tmp_path: Path) -> None:
    """A worker has the submitter's files elsewhere: load_overrides(locate=...) reads labelme and mattes there."""
    submitted, worker = tmp_path / "submitter" / "show", tmp_path / "worker" / "root0"
    (worker / "ov").mkdir(parents=True)
    (worker / "shapes").mkdir()
    (worker / "shapes" / "car.json").write_text(
        json.dumps({"shapes": [{"label": "left", "points": [[1, 1], [8, 1], [8, 8]], "shape_type": "polygon"}]})
    )
    matte = np.zeros((12, 16), np.uint8)
    matte[:, 8:] = 255
    cv2.imwrite(str(worker / "ov" / "car.0001.png"), matte)
    doc = {
        "regions": [
            {"name": "poly", "direction": "left", "labelme": "../shapes/car.json"},
            {"name": "matte", "direction": "up", "matte": str(submitted / "ov" / "car.####.png")},
        ]
    }
    (worker / "ov" / "car.yaml").write_text(json.dumps(doc))
    rules = {
        "version": "pathmapping-1.0",
        "path_mapping_rules": [
            {"source_path_format": "POSIX", "source_path": str(submitted), "destination_path": str(worker)}
        ],
    }
    locate = Locator(str(submitted / "ov" / "car.yaml"), PathMapping.from_dict(rules))
    ov = load_overrides(locate.overrides, locate)
    assert ov.labelme_files == [str(worker / "shapes" / "car.json")]
    assert ov.regions[1].matte == str(worker / "ov" / "car.####.png")
    mask = ov.regions[1].mask(1, 12, 16)
    assert mask[:, 8:].all() and not mask[:, :8].any()
    # read without the rules, the absolute matte name is the submitter's, which is not on the worker
    plain = load_overrides(locate.overrides)
    with pytest.raises(OverrideError, match="matte for region matte missing at frame 1"):
        plain.regions[1].mask(1, 12, 16)
