"""The add-on's engine module (pure Python, no bpy), its installers and ``unshutter blender``."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
import tomllib
import zipfile
from pathlib import Path

import pytest

import unshutter
from tests.hosts.media import png_sequence
from unshutter.cli.main import main
from unshutter.hosts import blender

VENV_EXE = str(Path(sys.executable).parent / "unshutter")


def _load_engine():
    spec = importlib.util.spec_from_file_location("unshutter_blender_engine", blender.SOURCE / "engine.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


engine = _load_engine()


def test_sequence_from_strip_files() -> None:
    seq = engine.sequence_from_files("/clips", ["shot_v2.1001.exr", "shot_v2.1002.exr", "shot_v2.1003.exr"])
    assert (seq.prefix, seq.padding, seq.suffix, seq.first, seq.last) == ("shot_v2.", 4, ".exr", 1001, 1003)
    assert seq.spec == "/clips/shot_v2.%04d.exr" and seq.output_spec("/o") == "/o/shot_v2.####.exr"
    assert engine.sequence_from_files("/c", ["a_007.png", "a_008.png"]).padding == 3
    dash = engine.sequence_from_files("/c", ["pan-1001.png", "pan-1002.png"])
    assert (dash.prefix, dash.first, dash.padding) == ("pan-", 1001, 4)
    with pytest.raises(engine.EngineError, match="not consecutive"):
        engine.sequence_from_files("/c", ["a.1001.png", "a.1003.png"])
    with pytest.raises(engine.EngineError, match="no frame number"):
        engine.sequence_from_files("/c", ["still.png"])
    with pytest.raises(engine.EngineError, match="not part of the sequence"):
        engine.sequence_from_files("/c", ["a.1001.png", "b.1002.png"])


def test_command_and_output_files() -> None:
    cmd = engine.build_command(
        "/x/unshutter",
        "/c/a.%04d.png",
        "/o/a.####.png",
        factor=3,
        guidance="left",
        reverse=True,
        overrides="/c/ov.yaml",
        shutter=180.0,
        frames=(1002, 1004),
    )
    assert cmd[:5] == ["/x/unshutter", "run", "/c/a.%04d.png", "-o", "/o/a.####.png"]
    for flag in ("--json", "--reverse", "--quiet"):
        assert flag in cmd
    assert cmd[cmd.index("--frames") + 1] == "1002-1004" and cmd[cmd.index("--shutter") + 1] == "180.0"
    assert cmd[cmd.index("--overrides") + 1] == "/c/ov.yaml" and cmd[cmd.index("--guidance") + 1] == "left"
    assert "--threads" not in cmd  # the engine's default: all cores
    assert cmd[cmd.index("--timing") + 1] == "even" and cmd[cmd.index("--follow") + 1] == "1.25"  # the defaults
    cmd = engine.build_command("u", "i", "o", factor=2, threads=3, timing="exposure", follow=0.30000001192092896)
    assert cmd[cmd.index("--threads") + 1] == "3"
    assert cmd[cmd.index("--timing") + 1] == "exposure"
    assert cmd[cmd.index("--follow") + 1] == "0.3"  # Blender's single-precision 0.3, as the artist typed it
    assert "--motion" not in cmd
    cmd = engine.build_command("u", "i", "o", factor=2, motion=(40.0, -2.5))
    assert cmd[cmd.index("--motion") + 1] == "40.0,-2.5"
    with pytest.raises(engine.EngineError, match="timing 'smooth'"):
        engine.build_command("u", "i", "o", factor=2, timing="smooth")
    with pytest.raises(engine.EngineError):
        engine.build_command("u", "i", "o", factor=2, guidance="sideways")
    files = engine.output_files("/o/a.####.png", {1002: [1004, 1005], 1001: [1001, 1002]})
    assert files == ["/o/a.1001.png", "/o/a.1002.png", "/o/a.1004.png", "/o/a.1005.png"]


def test_engine_discovery_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fake(p: Path) -> str:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("#!/bin/sh\n")
        p.chmod(0o755)
        return str(p)

    pref, env, rec = (
        fake(tmp_path / "pref" / "unshutter"),
        fake(tmp_path / "env" / "unshutter"),
        fake(tmp_path / "rec" / "unshutter"),
    )
    on_path, venv = fake(tmp_path / "path" / "unshutter"), fake(tmp_path / "proj" / ".venv" / "bin" / "unshutter")
    record = tmp_path / "engine.json"
    monkeypatch.setattr(engine, "RECORD", record)
    monkeypatch.setenv("PATH", str(tmp_path / "path"))
    monkeypatch.setenv(engine.ENV_VAR, env)
    record.write_text(json.dumps({"executable": rec}))
    assert engine.find_executable(pref) == (pref, "preference")
    assert engine.find_executable(str(tmp_path / "pref"))[0] == pref  # a folder holding it is fine too
    assert engine.find_executable(str(tmp_path / "nope"))[0] is None  # a wrong preference is not silently replaced
    assert engine.find_executable() == (env, engine.ENV_VAR)
    monkeypatch.delenv(engine.ENV_VAR)
    assert engine.find_executable() == (rec, "recorded at install")
    record.unlink()
    assert engine.find_executable() == (on_path, "PATH")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.chdir(tmp_path / "proj")
    assert engine.find_executable() == (venv, ".venv")
    (tmp_path / "blend" / "shots").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "blend")
    assert engine.find_executable(blend_dir=str(tmp_path / "proj" / "sub"))[0] == venv


def test_engine_run_success_and_failure(tmp_path: Path) -> None:
    png_sequence(tmp_path / "in", "s", 1001, 4)
    out = tmp_path / "out"
    run = engine.EngineRun(
        engine.build_command(
            VENV_EXE, str(tmp_path / "in" / "s.%04d.png"), str(out / "s.####.png"), factor=2, frames=(1002, 1003)
        ),
        str(out),
    )
    run.start()
    seen = []
    run.wait(on_event=seen.append)
    assert run.failure() is None and run.done is not None
    assert [e["event"] for e in seen] == ["start", "frame", "frame", "done"]
    files = engine.output_files(str(out / "s.####.png"), run.frame_outputs)
    assert [Path(f).name for f in files] == ["s.1003.png", "s.1004.png", "s.1005.png", "s.1006.png"]
    assert all(Path(f).is_file() for f in files)

    (tmp_path / "in" / "s.1003.png").write_bytes(b"broken")
    bad = engine.EngineRun(
        engine.build_command(
            VENV_EXE, str(tmp_path / "in" / "s.%04d.png"), str(tmp_path / "o2" / "s.####.png"), factor=2
        ),
        str(tmp_path / "o2"),
    )
    bad.start()
    bad.wait()
    assert bad.proc.returncode != 0 and "s.1003.png" in bad.failure()
    missing = engine.EngineRun([str(tmp_path / "no-such-engine")], str(tmp_path / "o3"))
    with pytest.raises(engine.EngineError, match="cannot start the engine"):
        missing.start()


def test_cancel_kills_engine_and_leaves_no_frames(tmp_path: Path) -> None:
    png_sequence(tmp_path / "in", "s", 1001, 60)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("not ours")
    run = engine.EngineRun(
        engine.build_command(VENV_EXE, str(tmp_path / "in" / "s.%04d.png"), str(out / "s.####.png"), factor=7), str(out)
    )
    run.start()
    deadline = time.monotonic() + 120
    while not run.frame_outputs and time.monotonic() < deadline:
        run.poll()
        time.sleep(0.01)
    assert run.frame_outputs, "the engine produced no frame"
    removed = run.cancel()
    assert run.proc.returncode is not None and run.proc.returncode < 0  # killed, not finished
    assert removed and sorted(os.listdir(out)) == ["keep.txt"]


def test_install_and_zip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("BLENDER_USER_SCRIPTS", str(tmp_path / "env_scripts"))
    assert main(["blender", "install"]) == 0
    dest = tmp_path / "env_scripts" / "addons" / "unshutter_blender"
    assert (dest / "__init__.py").is_file() and (dest / "operators.py").is_file()
    assert json.loads((dest / "engine.json").read_text())["executable"]
    assert main(["blender", "install", "--scripts-dir", str(tmp_path / "s2")]) == 0
    assert (tmp_path / "s2" / "addons" / "unshutter_blender" / "panel.py").is_file()
    assert not (dest / blender.MANIFEST).exists()  # a legacy add-on: Blender 4.2+ would take it for an extension
    assert main(["blender", "zip", "-o", str(tmp_path / "addon.zip")]) == 0  # the older name of "package"
    monkeypatch.chdir(tmp_path)
    assert main(["blender", "package"]) == 0
    for path in (tmp_path / "addon.zip", tmp_path / "unshutter_blender.zip"):
        zf = zipfile.ZipFile(path)
        names = zf.namelist()
        assert {
            "unshutter_blender/__init__.py",
            "unshutter_blender/engine.py",
            "unshutter_blender/preferences.py",
            "unshutter_blender/engine.json",
            "unshutter_blender/blender_manifest.toml",
        } <= set(names)
        assert not any("__pycache__" in n for n in names)
        toml = tomllib.loads(zf.read("unshutter_blender/blender_manifest.toml").decode())
        assert (toml["id"], toml["version"], toml["type"]) == ("unshutter_blender", unshutter.__version__, "add-on")
        # the legacy add-on's own version (Blender 3.x shows bl_info) is the same
        assert (
            f'"version": {tuple(int(x) for x in unshutter.__version__.split("."))}'
            in zf.read("unshutter_blender/__init__.py").decode()
        )
    assert "installed unshutter_blender" in capsys.readouterr().out


def test_cancel_removes_only_claims_nobody_holds(tmp_path: Path, claim_holder) -> None:
    """A killed engine cannot withdraw its claim on its frames; the cancel does, and keeps live runs' claims."""
    from unshutter.io.claim import CLAIM_DIR

    live = claim_holder(tmp_path, "other.#.png", (1, 5))
    killed = claim_holder(tmp_path, "s.#.png", (1, 7))  # started after the live one: nothing swept it
    killed.kill()
    killed.wait()
    assert len(os.listdir(tmp_path / CLAIM_DIR)) == 2
    engine._remove_dead_claims(str(tmp_path))
    left = os.listdir(tmp_path / CLAIM_DIR)
    assert len(left) == 1 and '"other.#.png"' in (tmp_path / CLAIM_DIR / left[0]).read_text()
    live.kill()
    live.wait()
    engine._remove_dead_claims(str(tmp_path))
    assert not (tmp_path / CLAIM_DIR).exists()


def test_makefile_installs_the_tested_blenders() -> None:
    """``make blender-bpy`` installs exactly the bpy versions the add-on's tests run in."""
    from tests.hosts import blenders

    makefile = (Path(__file__).parents[2] / "Makefile").read_text()
    line = next(x for x in makefile.splitlines() if x.startswith("BPY_VERSIONS"))
    assert tuple(line.split(":=")[1].split()) == blenders.BPY_VERSIONS


def test_the_folder_key_leaves_out_a_parameter_at_its_legacy_default() -> None:
    """Strips run before ``motion_pass_units`` existed find their folders again at px; ndc is another folder."""
    before = {"input": "/c/a.%04d.exr", "frames": [1, 9], "factor": 4, "motion_pass": "/v/a.####.exr"}
    assert engine.settings_key({**before, "motion_pass_units": "px"}) == engine.settings_key(before)
    assert engine.settings_key({**before, "motion_pass_units": "ndc"}) != engine.settings_key(before)
