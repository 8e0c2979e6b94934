"""The Open Job Description bundle: structure, ``openjd check``, ``openjd run`` == ``unshutter run``, kill + resume."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from tests.farm.helpers import OPENJD, UNSHUTTER, assert_same_images, images, make_clip, write_spec
from tests.limits import HANG
from unshutter.errors import OverrideError
from unshutter.farm import session
from unshutter.farm.dask_runner import _payload
from unshutter.farm.openjd import ASSET_REFERENCES, OPENJD_PARAMS, build_template, openjd_params, write_bundle
from unshutter.farm.plan import plan_shot
from unshutter.farm.spec import SpecError, from_dict, load_spec
from unshutter.io.image_file import read_image
from unshutter.node import NodeParams
from unshutter.pipeline import RunConfig, run


def _bundle(spec_path: Path, out: Path) -> Path:
    p = subprocess.run(
        [UNSHUTTER, "farm", "openjd", str(spec_path), "-o", str(out), "--command", UNSHUTTER],
        capture_output=True,
        text=True,
        timeout=HANG,
    )
    assert p.returncode == 0, p.stderr
    assert f"deadline bundle submit {out}" in p.stdout
    return out


def _openjd_run(bundle: Path, env: dict[str, str] | None = None, **kw: object) -> subprocess.Popen[str]:
    cmd = [OPENJD, "run", str(bundle / "template.yaml"), "-p", f"file://{bundle / OPENJD_PARAMS}"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, **kw)


def test_template_structure(spec_path: Path, tmp_path: Path) -> None:
    spec = load_spec(spec_path)
    template, values = build_template(spec, "unshutter", ranges={"pan": (1001, 1006), "tilt-b": (1001, 1006)})
    assert template["specificationVersion"] == "jobtemplate-2023-09"
    assert template["extensions"] == ["TASK_CHUNKING"]
    assert [s["name"] for s in template["steps"]] == ["pan", "tilt-b"]
    for step in template["steps"]:
        (param,) = step["parameterSpace"]["taskParameterDefinitions"]
        assert param == {
            "name": "Frame",
            "type": "CHUNK[INT]",
            "range": "1001-1006",
            "chunks": {"defaultTaskCount": 2, "rangeConstraint": "CONTIGUOUS"},
        }
        args = step["script"]["actions"]["onRun"]["args"]
        assert args[:2] == ["farm", "chunk"] and "{{Task.Param.Frame}}" in args
        assert args[args.index("--session") + 1] == "{{Session.WorkingDirectory}}/unshutter-session.json"
        assert args[args.index("--threads") + 1] == "{{Param.Threads}}"
    env = template["jobEnvironments"][0]["script"]["actions"]
    assert env["onEnter"]["args"][:3] == ["farm", "session", "start"]
    assert env["onEnter"]["args"][env["onEnter"]["args"].index("--threads") + 1] == "{{Param.Threads}}"
    assert env["onExit"]["args"][:3] == ["farm", "session", "stop"]
    params = {p["name"]: p for p in template["parameterDefinitions"]}
    assert params["pan_Input"]["dataFlow"] == "IN" and params["tilt_b_Output"]["dataFlow"] == "OUT"
    assert values["tilt_b_Output"] == str(tmp_path / "out" / "tilt-b")
    assert (params["Threads"]["type"], params["Threads"]["default"], values["Threads"]) == ("INT", 0, 0)  # all cores
    four = build_template(
        from_dict({**spec.raw, "threads": 4}, spec.path),
        "unshutter",
        ranges={"pan": (1001, 1006), "tilt-b": (1001, 1006)},
    )
    assert (
        four[1]["Threads"] == 4 and {p["name"]: p for p in four[0]["parameterDefinitions"]}["Threads"]["default"] == 4
    )

    tpath, vpath = write_bundle(spec, tmp_path / "bundle", "unshutter")
    assert yaml.safe_load(tpath.read_text()) == build_template(spec, "unshutter")[0]
    pv = yaml.safe_load(vpath.read_text())["parameterValues"]
    assert {"name": "pan_Input", "value": str(Path(spec.shots[0].input).parent)} in pv
    assert openjd_params(vpath) == yaml.safe_load((tmp_path / "bundle" / OPENJD_PARAMS).read_text())


def test_openjd_check_passes(spec_path: Path, tmp_path: Path) -> None:
    bundle = _bundle(spec_path, tmp_path / "bundle")
    p = subprocess.run([OPENJD, "check", str(bundle / "template.yaml")], capture_output=True, text=True, timeout=HANG)
    assert p.returncode == 0 and "passes validation" in p.stdout, p.stdout + p.stderr


@pytest.mark.slow
def test_openjd_run_two_shots_equals_unshutter_run(
    tmp_path: Path, farm_clips: dict[str, str], farm_model: str, reference: dict[str, Path]
) -> None:
    # chunk 4 over 6 frames: OpenJD runs 1001-1003 and 1004-1006 (balanced), not 1001-1004 and 1005-1006
    spec_path = write_spec(
        tmp_path / "reel.yaml", farm_clips, tmp_path / "out", farm_model, chunks={"pan": 4, "tilt-b": 2}
    )
    bundle = _bundle(spec_path, tmp_path / "bundle")
    t0 = time.monotonic()
    proc = _openjd_run(bundle)
    log, _ = proc.communicate(timeout=600)
    seconds = time.monotonic() - t0
    assert proc.returncode == 0, log[-3000:]
    assert "Chunks run: 5" in log and "Session ended successfully" in log
    # the model was loaded once for the whole session, and every task used the server
    assert log.count("loaded once in") == 1 and "rendering in this process" not in log
    assert log.count("unshutter session: stopped") == 1
    for shot in load_spec(spec_path).shots:
        assert_same_images(tmp_path / "out" / shot.name, reference[shot.name])
        # the tasks OpenJD ran are the chunks `unshutter farm check` and the Dask runner plan
        manifests = sorted(m.name for m in (tmp_path / "out" / shot.name).glob("*.json"))
        assert manifests == sorted(f"{shot.name}.unshutter.{c.label}.json" for c in plan_shot(shot))
    assert sorted(m.name for m in (tmp_path / "out" / "pan").glob("*.json")) == [
        "pan.unshutter.1001-1003.json",
        "pan.unshutter.1004-1006.json",
    ]
    print(f"openjd run: 2 shots, 5 chunks in {seconds:.1f} s")


def test_chunks_are_the_ones_openjd_makes(tmp_path: Path) -> None:
    """plan/split == OpenJD's own CONTIGUOUS chunking of the template's CHUNK[INT] range, for many sizes."""
    from openjd.model import StepParameterSpaceIterator, create_job, decode_job_template, preprocess_job_parameters

    cases = [(n, size) for n in (1, 2, 5, 6, 7, 10, 11, 23, 50) for size in (1, 2, 3, 4, 5, 7, 10, 16, 60)]
    shots = [
        {"name": f"s{i}", "input": f"in/s{i}.####.exr", "output": f"out/s{i}.####.exr", "factor": 2, "chunk": size}
        for i, (_n, size) in enumerate(cases)
    ]
    spec = from_dict({"shots": shots}, tmp_path / "reel.yaml")
    ranges = {f"s{i}": (1001, 1000 + n) for i, (n, _size) in enumerate(cases)}
    template, values = build_template(spec, "unshutter", ranges=ranges)
    tmpl = decode_job_template(template=template, supported_extensions=["TASK_CHUNKING"])
    params = preprocess_job_parameters(
        job_template=tmpl,
        job_parameter_values={k: str(v) for k, v in values.items()},
        job_template_dir=tmp_path,
        current_working_dir=tmp_path,
    )
    job = create_job(job_template=tmpl, job_parameter_values=params)
    for step, shot in zip(job.steps, spec.shots):
        openjd_chunks = [t["Frame"].value for t in StepParameterSpaceIterator(space=step.parameterSpace)]
        ours = [c.label for c in plan_shot(shot, ranges[shot.name])]
        assert ours == openjd_chunks, (shot.name, shot.chunk, ranges[shot.name])
        assert max(c.frames for c in plan_shot(shot, ranges[shot.name])) <= shot.chunk


def _descendants(pid: int) -> list[int]:
    """Processes whose parent chain leads to ``pid`` (from /proc), children first."""
    parents: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                parents[int(d.name)] = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parents.items() if pp == p]
        out += kids
        todo += kids
    return out[::-1]


@pytest.mark.slow
def test_killed_openjd_job_resumes_with_nothing_lost(
    spec_path: Path, tmp_path: Path, reference: dict[str, Path]
) -> None:
    bundle = _bundle(spec_path, tmp_path / "bundle")
    scratch = tmp_path / "sessions"  # OpenJD puts session folders (and our state file) under TMPDIR
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    proc = _openjd_run(bundle, env=env, start_new_session=True)
    out = tmp_path / "out" / "pan"
    deadline = time.monotonic() + 300
    while len(images(out)) < 7 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    assert proc.poll() is None, "the job finished before it could be killed"
    # a worker node dies: everything of this job gets SIGKILL, the session server too
    victims = _descendants(proc.pid) + [proc.pid]
    servers = [json.loads(p.read_text())["pid"] for p in scratch.rglob("unshutter-session.json")]
    for pid in victims + servers:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.communicate(timeout=HANG)
    partial = images(out)
    assert 0 < len(partial) < 18
    for name in partial:  # nothing half-written under an output name
        assert (out / name).read_bytes() == (reference["pan"] / name).read_bytes(), name
    # the farm runs the job again
    proc = _openjd_run(bundle, env=env)
    log, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, log[-3000:]
    assert "already complete" in log
    for shot in ("pan", "tilt-b"):
        assert_same_images(tmp_path / "out" / shot, reference[shot])
    for state in scratch.rglob("unshutter-session.json"):  # only the killed session's file is left
        pid = json.loads(state.read_text())["pid"]
        assert pid in servers
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_chunk_without_session_server_renders_in_process(
    tmp_path: Path, farm_clips: dict[str, str], farm_model: str, reference: dict[str, Path]
) -> None:
    """A task whose environment did not run (or whose server died) still renders its chunk."""
    out = tmp_path / "o"
    p = subprocess.run(
        [
            UNSHUTTER,
            "farm",
            "chunk",
            farm_clips["pan"],
            "-o",
            str(out / "pan.####.exr"),
            "--factor",
            "3",
            "--frames",
            "1001-1006",
            "--model",
            farm_model,
            "--session",
            str(tmp_path / "none.json"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr
    assert "rendering in this process" in p.stderr
    assert_same_images(out, reference["pan"])


@pytest.mark.slow
def test_session_server_loads_model_once_and_serves_chunks(
    tmp_path: Path, farm_clips: dict[str, str], farm_model: str, reference: dict[str, Path]
) -> None:
    state = tmp_path / "session" / "unshutter-session.json"
    p = subprocess.run(
        [
            UNSHUTTER,
            "farm",
            "session",
            "start",
            "--state",
            str(state),
            "--model",
            farm_model,
            "--idle-timeout",
            "120",
            "--threads",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr
    assert "loaded once" in p.stdout and oct(state.stat().st_mode & 0o777) == "0o600"
    # the server renders every chunk of the session: the task's thread budget is its own, read from the libraries
    assert json.loads(state.read_text())["threads"] == {"onnxruntime": 1, "opencv": 1, "openmp": 1}
    pid = json.loads(state.read_text())["pid"]
    try:
        out = tmp_path / "o"
        for frames in ("1005-1006", "1001-1002", "1003-1004"):
            q = subprocess.run(
                [
                    UNSHUTTER,
                    "farm",
                    "chunk",
                    farm_clips["pan"],
                    "-o",
                    str(out / "pan.####.exr"),
                    "--factor",
                    "3",
                    "--frames",
                    frames,
                    "--model",
                    farm_model,
                    "--session",
                    str(state),
                ],
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert q.returncode == 0, q.stderr
            assert "rendering in this process" not in q.stderr and f"chunk {frames} done" in q.stdout
        assert_same_images(out, reference["pan"])
        status = session.ping(state)
        assert status["pid"] == pid and status["served"] == 3 and status["authkey"] is None
        # errors come back with their exit code, and the server keeps serving
        q = subprocess.run(
            [
                UNSHUTTER,
                "farm",
                "chunk",
                str(tmp_path / "none.####.exr"),
                "-o",
                str(out),
                "--frames",
                "1-2",
                "--model",
                farm_model,
                "--session",
                str(state),
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert q.returncode == 3 and "none.####.exr" in q.stderr
        assert session.ping(state)["served"] == 4
    finally:
        p = subprocess.run(
            [UNSHUTTER, "farm", "session", "stop", "--state", str(state)], capture_output=True, text=True, timeout=HANG
        )
    assert p.returncode == 0 and "stopped" in p.stdout
    assert not state.exists()
    with pytest.raises(ProcessLookupError):
        for _ in range(100):
            os.kill(pid, 0)
            time.sleep(0.05)


def test_session_start_reports_model_error(tmp_path: Path) -> None:
    state = tmp_path / "s.json"
    p = subprocess.run(
        [UNSHUTTER, "farm", "session", "start", "--state", str(state), "--model", str(tmp_path / "missing.onnx")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert p.returncode == 5 and "missing.onnx" in p.stderr
    assert not state.exists()


def _decode(template: dict, values: dict, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The template as OpenJD reads it (what ``openjd check`` validates), made into a job with ``values``."""
    from openjd.model import create_job, decode_job_template, preprocess_job_parameters

    tmpl = decode_job_template(template=template, supported_extensions=["TASK_CHUNKING"])
    params = preprocess_job_parameters(
        job_template=tmpl,
        job_parameter_values={k: str(v) for k, v in values.items()},
        job_template_dir=tmp_path,
        current_working_dir=tmp_path,
    )
    return create_job(job_template=tmpl, job_parameter_values=params)


def _resolved_args(step: dict, values: dict) -> list[str]:
    """A step's onRun args with the job parameters filled in (without path mapping: RawParam == Param)."""
    out = []
    for arg in step["script"]["actions"]["onRun"]["args"]:
        for name, value in values.items():
            arg = arg.replace(f"{{{{Param.{name}}}}}", str(value)).replace(f"{{{{RawParam.{name}}}}}", str(value))
        out.append(arg)
    return out


def _reel(tmp_path: Path, n: int, overrides_every: int = 0) -> Path:
    """A reel with a plates and a renders folder per shot, like most pipelines lay them out."""
    shots = []
    for i in range(n):
        shot = {
            "name": f"sh{i:03d}0",
            "input": f"plates/sh{i:03d}0/sh{i:03d}0.####.exr",
            "output": f"renders/sh{i:03d}0/sh{i:03d}0.####.exr",
            "factor": 2,
            "chunk": 4,
        }
        if overrides_every and i % overrides_every == 0:
            shot["overrides"] = f"plates/overrides/sh{i:03d}0.yaml"
        shots.append(shot)
    path = tmp_path / "reel.yaml"
    path.write_text(yaml.safe_dump({"shots": shots}))
    return path


@pytest.mark.parametrize(
    "n, overrides_every, mode",
    [(2, 1, "folders"), (15, 1, "folders"), (16, 1, "roots"), (40, 3, "roots"), (120, 0, "roots")],
)
def test_long_reels_fit_openjds_parameter_limit(tmp_path: Path, n: int, overrides_every: int, mode: str) -> None:
    """OpenJD takes at most 50 job parameters: past that, one plates root and one renders root for all shots."""
    spec = load_spec(_reel(tmp_path, n, overrides_every))
    template, values = build_template(spec, "unshutter", ranges={s.name: (1001, 1010) for s in spec.shots})
    job = _decode(template, values, tmp_path)  # raises when the template is invalid
    assert len(job.steps) == n and len(template["parameterDefinitions"]) <= 50
    paths = {p["name"]: p for p in template["parameterDefinitions"] if p["type"] == "PATH" and p["name"] != "Model"}
    if mode == "roots":
        assert set(paths) == {"PlatesRoot", "RendersRoot"}
        assert (paths["PlatesRoot"]["dataFlow"], paths["RendersRoot"]["dataFlow"]) == ("IN", "OUT")
        assert values["PlatesRoot"] == str(tmp_path / "plates") and values["RendersRoot"] == str(tmp_path / "renders")
    else:
        assert len(paths) == 2 * n + len([s for s in spec.shots if s.overrides])
    for step, shot in zip(template["steps"], spec.shots):
        args = _resolved_args(step, values)
        assert args[2] == shot.input and args[args.index("-o") + 1] == shot.output
        if shot.overrides:
            assert args[args.index("--overrides") + 1] == shot.overrides
        else:
            assert "--overrides" not in args


def test_shots_sharing_a_folder_share_its_parameter(tmp_path: Path) -> None:
    spec = from_dict(
        {
            "shots": [
                {"name": "a", "input": "plates/a.####.exr", "output": "renders/a.####.exr", "factor": 2},
                {"name": "b", "input": "plates/b.####.exr", "output": "renders/b.####.exr", "factor": 2},
                {"name": "c", "input": "other/c.####.exr", "output": "renders/c.####.exr", "factor": 2},
            ]
        },
        tmp_path / "reel.yaml",
    )
    template, values = build_template(spec, "unshutter", ranges={s: (1, 4) for s in "abc"})
    paths = {
        p["name"]: p["description"]
        for p in template["parameterDefinitions"]
        if p["type"] == "PATH" and p["name"] != "Model"
    }
    assert paths == {
        "a_Input": "Folder of the blurred plates of shots a, b",
        "a_Output": "Folder of the slow-motion frames of shots a, b, c",
        "c_Input": "Folder of the blurred plates of shot c",
    }
    for step, shot in zip(template["steps"], spec.shots):
        args = _resolved_args(step, values)
        assert args[2] == shot.input and args[args.index("-o") + 1] == shot.output


def test_reel_without_a_common_root_past_the_limit_is_refused(tmp_path: Path) -> None:
    shots = [
        {"name": f"s{i}", "input": f"/vol{i}/plates/s{i}.####.exr", "output": f"/out/s{i}/s{i}.####.exr", "factor": 2}
        for i in range(30)
    ]
    spec = from_dict({"shots": shots}, tmp_path / "reel.yaml")
    with pytest.raises(SpecError, match="more than an OpenJD job takes .50.*split the spec"):
        build_template(spec, "unshutter", ranges={s["name"]: (1, 4) for s in shots})


# ------------------------------------------------------------------ files the farm uploads and path-maps
def _path_params(template: dict) -> dict[str, tuple[str, str]]:
    return {
        p["name"]: (p["objectType"], p["dataFlow"]) for p in template["parameterDefinitions"] if p["type"] == "PATH"
    }


def test_model_is_a_path_parameter_with_the_shipped_model_as_default(spec_path: Path, tmp_path: Path) -> None:
    """Deadline Cloud uploads and path-maps PATH parameters with a dataFlow only: the model is one (FILE, IN)."""
    from unshutter.cli.main import build_parser

    spec = load_spec(spec_path)
    ranges = {"pan": (1001, 1006), "tilt-b": (1001, 1006)}
    template, values = build_template(spec, "unshutter", ranges=ranges)
    model = next(p for p in template["parameterDefinitions"] if p["name"] == "Model")
    assert (model["type"], model["objectType"], model["dataFlow"], model["default"]) == ("PATH", "FILE", "IN", "")
    assert values["Model"] == spec.model
    # plates in, renders out, override files in
    assert _path_params(template) == {
        "Model": ("FILE", "IN"),
        "pan_Input": ("DIRECTORY", "IN"),
        "pan_Output": ("DIRECTORY", "OUT"),
        "tilt_b_Input": ("DIRECTORY", "IN"),
        "tilt_b_Output": ("DIRECTORY", "OUT"),
    }
    job = _decode(template, values, tmp_path)  # openjd-model: valid, and a PATH value the session maps
    assert job.parameters["Model"].type.name == "PATH" and job.parameters["Model"].value == spec.model
    # no Model value: the default stays empty (not made relative to the bundle), and the tasks get --model ""
    job = _decode(template, {k: v for k, v in values.items() if k != "Model"}, tmp_path)
    assert job.parameters["Model"].value == ""
    step_args = _resolved_args(template["steps"][0], {**values, "Model": ""})
    assert step_args[step_args.index("--model") + 1] == ""
    parser = build_parser()
    for argv in (
        ["farm", "session", "start", "--state", "s.json", "--model", ""],
        ["farm", "chunk", "in.####.exr", "-o", "out", "--frames", "1-2", "--model", ""],
    ):
        assert not parser.parse_args(argv).model  # '' -> None: the shipped model
    # a spec without a model: the same default in the bundle and on Dask
    no_model = from_dict({k: v for k, v in yaml.safe_load(spec_path.read_text()).items() if k != "model"}, spec_path)
    template, values = build_template(no_model, "unshutter", ranges=ranges)
    assert values["Model"] == "" and _decode(template, values, tmp_path).parameters["Model"].value == ""
    assert _payload(plan_shot(no_model.shots[0], ranges["pan"])[0], no_model, None)["model"] is None


def _overrides_shot(root: Path, clip: str, matte_frames: range = range(1001, 1007)) -> Path:
    """A shot whose override file names a labelme file (relative) and a matte sequence (absolute)."""
    (root / "shapes").mkdir(parents=True)
    (root / "shapes" / "car.json").write_text(
        json.dumps(
            {"shapes": [{"label": "up", "points": [[4, 4], [30, 4], [30, 40], [4, 40]], "shape_type": "polygon"}]}
        )
    )
    (root / "mattes").mkdir()
    matte = np.zeros((48, 64), np.uint8)
    matte[:, 40:] = 255
    for f in matte_frames:
        cv2.imwrite(str(root / "mattes" / f"car.{f}.png"), matte)
    (root / "ov").mkdir()
    (root / "ov" / "car.yaml").write_text(
        yaml.safe_dump(
            {
                "regions": [
                    {"name": "shape", "direction": "up", "labelme": "../shapes/car.json"},
                    {
                        "name": "truck",
                        "direction": "left",
                        "frames": "1002-1005",
                        "matte": str(root / "mattes" / "car.####.png"),
                    },
                ]
            }
        )
    )
    spec = {
        "name": "worker",
        "model": "models/decomposer.onnx",
        "chunk": 3,
        "shots": [
            {
                "name": "car",
                "input": clip,
                "output": "renders/car/car.####.exr",
                "factor": 2,
                "overrides": "ov/car.yaml",
            }
        ],
    }
    (root / "reel.yaml").write_text(yaml.safe_dump(spec))
    return root / "reel.yaml"


def test_files_named_in_override_files_are_bundle_inputs(tmp_path: Path, farm_clips: dict[str, str]) -> None:
    root = tmp_path / "studio"
    spec = load_spec(_overrides_shot(root, farm_clips["pan"], range(999, 1010)))
    tpath, _ = write_bundle(spec, tmp_path / "bundle", "unshutter")
    refs = yaml.safe_load((tmp_path / "bundle" / ASSET_REFERENCES).read_text())["assetReferences"]
    # the labelme file, and the matte on each frame of the shot (1001-1006) where its region is active
    assert refs["inputs"]["filenames"] == sorted(
        [str(root / "shapes" / "car.json")] + [str(root / "mattes" / f"car.{f}.png") for f in range(1002, 1006)]
    )
    assert refs["inputs"]["directories"] == [] and refs["outputs"] == {"directories": []}
    template = yaml.safe_load(tpath.read_text())
    assert _path_params(template)["car_Overrides"] == ("FILE", "IN")
    args = template["steps"][0]["script"]["actions"]["onRun"]["args"]
    # the task maps the file as submitted, and every name in it, with the session's rules
    assert args[args.index("--overrides") + 1] == "{{RawParam.car_Overrides}}"
    assert args[args.index("--path-mapping") + 1] == "{{Session.PathMappingRulesFile}}"
    _decode(template, openjd_params(tmp_path / "bundle" / "parameter_values.yaml"), tmp_path)
    p = subprocess.run([OPENJD, "check", str(tpath)], capture_output=True, text=True, timeout=HANG)
    assert p.returncode == 0 and "passes validation" in p.stdout, p.stdout + p.stderr
    unshutter = [sys.executable, "-m", "unshutter", "farm", "check", str(spec.path)]
    p = subprocess.run(unshutter, capture_output=True, text=True, timeout=HANG)
    assert p.returncode == 0 and "car: frames 1001-1006" in p.stdout and "5 file(s) named by its overrides" in p.stdout
    # a matte missing on a frame its region needs fails when the bundle is written, naming shot and file
    (root / "mattes" / "car.1004.png").unlink()
    with pytest.raises(OverrideError, match=r"shot 'car'.overrides: .*car.1004.png: matte for region truck missing"):
        write_bundle(spec, tmp_path / "bundle2", "unshutter")
    # and `farm check` finds it before anything is submitted: one line, non-zero exit
    p = subprocess.run(unshutter, capture_output=True, text=True, timeout=HANG)
    assert p.returncode == 4 and p.stderr.strip().count("\n") == 0  # 4: bad overrides
    assert "shot 'car'.overrides" in p.stderr and "car.1004.png: matte for region truck missing" in p.stderr


def _count_override_loads(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Calls of the real override loader by file, through every unshutter module that holds it."""
    import unshutter.guidance.overrides as overrides_module

    real = overrides_module.load_overrides
    counts: Counter[str] = Counter()

    def counted(path, locate=None):  # type: ignore[no-untyped-def]
        counts[str(path)] += 1
        return real(path, locate)

    for mod in list(sys.modules.values()):
        if getattr(mod, "__name__", "").startswith("unshutter") and getattr(mod, "load_overrides", None) is real:
            monkeypatch.setattr(mod, "load_overrides", counted)
    return counts


def test_check_and_openjd_read_each_override_file_once(
    tmp_path: Path, farm_clips: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from unshutter.cli.main import main

    root = tmp_path / "studio"
    spec_path = _overrides_shot(root, farm_clips["pan"])
    doc = yaml.safe_load(spec_path.read_text())
    (root / "ov" / "bridge.yaml").write_text(yaml.safe_dump({"direction": "left"}))
    doc["shots"].append(
        {
            "name": "bridge",
            "input": farm_clips["tilt-b"],
            "output": "renders/bridge/b.####.exr",
            "factor": 2,
            "overrides": "ov/bridge.yaml",
        }
    )
    spec_path.write_text(yaml.safe_dump(doc))
    once = {str(root / "ov" / "car.yaml"): 1, str(root / "ov" / "bridge.yaml"): 1}
    counts = _count_override_loads(monkeypatch)
    assert main(["farm", "check", str(spec_path)]) == 0
    assert counts == once
    out = capsys.readouterr().out
    assert "car: frames 1001-1006" in out and "5 file(s) named by its overrides, all present" in out
    assert "bridge: frames 1001-1006" in out
    counts.clear()
    assert main(["farm", "openjd", str(spec_path), "-o", str(tmp_path / "bundle")]) == 0
    assert counts == once
    refs = yaml.safe_load((tmp_path / "bundle" / ASSET_REFERENCES).read_text())["assetReferences"]
    assert refs["inputs"]["filenames"] == sorted(
        [str(root / "shapes" / "car.json")] + [str(root / "mattes" / f"car.{f}.png") for f in range(1002, 1006)]
    )
    # a bad override file is still found, naming the shot, with the exit code of bad overrides
    (root / "ov" / "bridge.yaml").write_text(yaml.safe_dump({"direction": "sideways"}))
    assert main(["farm", "check", str(spec_path)]) == 4
    assert "shot 'bridge'.overrides: " in capsys.readouterr().err


def _pixels(folder: Path) -> dict[str, np.ndarray]:
    return {name: read_image(folder / name)[0] for name in images(folder)}


@pytest.mark.slow
def test_openjd_run_on_a_worker_that_maps_every_path(
    tmp_path: Path, farm_clips: dict[str, str], farm_model: str
) -> None:
    """The job's files are elsewhere on the worker (job attachments, another OS): the session's path mapping
    rules find the plates, the model, the override file and the mattes and labelme file it names."""
    studio = tmp_path / "studio"
    clip = make_clip(studio / "plates", 1, 4.0)
    (studio / "models").mkdir(parents=True)
    shutil.copyfile(farm_model, studio / "models" / "decomposer.onnx")
    spec_path = _overrides_shot(studio, clip)
    spec = load_spec(spec_path)
    ref = tmp_path / "ref"
    shot = spec.shots[0]
    run(
        RunConfig(
            shot.input, str(ref / "car.####.exr"), NodeParams(factor=2, overrides=shot.overrides), model=spec.model
        )
    )
    bundle = _bundle(spec_path, tmp_path / "bundle")
    # the worker: the studio's files under two roots, none at the submitter's paths
    worker = tmp_path / "worker"
    worker.mkdir()
    shutil.move(str(studio / "mattes"), str(worker / "root1"))
    shutil.move(str(studio), str(worker / "root0"))
    rules = {
        "version": "pathmapping-1.0",
        "path_mapping_rules": [
            {"source_path_format": "POSIX", "source_path": str(studio), "destination_path": str(worker / "root0")},
            {
                "source_path_format": "POSIX",
                "source_path": str(studio / "mattes"),
                "destination_path": str(worker / "root1"),
            },
        ],
    }
    (tmp_path / "rules.json").write_text(json.dumps(rules))
    proc = subprocess.run(
        [
            OPENJD,
            "run",
            str(bundle / "template.yaml"),
            "-p",
            f"file://{bundle / OPENJD_PARAMS}",
            "--path-mapping-rules",
            f"file://{tmp_path / 'rules.json'}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert "Session ended successfully" in log and "rendering in this process" not in log
    out = worker / "root0" / "renders" / "car"
    got, want = _pixels(out), _pixels(ref)
    assert sorted(got) == sorted(want) == [f"car.{f}.exr" for f in range(1001, 1013)]
    for name in want:  # the signature follows the plates' bytes, not their paths: the very same files
        assert np.array_equal(got[name], want[name]), name
        assert (out / name).read_bytes() == (ref / name).read_bytes(), name
    guidance: dict[str, str] = {}
    for m in out.glob("*.json"):
        guidance.update(json.loads(m.read_text())["guidance"])
    want_guidance = json.loads(next(ref.glob("*.json")).read_text())["guidance"]
    assert guidance == want_guidance
    assert "region:shape" in guidance["1001"] and "region:truck" not in guidance["1001"]
    assert "region:truck" in guidance["1003"]
