"""Write an Open Job Description job bundle (what ``deadline bundle submit`` takes) for a batch spec.

The bundle is a folder with:

- ``template.yaml`` -- ``specificationVersion: jobtemplate-2023-09`` with the
  ``TASK_CHUNKING`` extension; one step per shot whose task parameter
  ``Frame`` is ``CHUNK[INT]`` over the shot's source frames, cut into
  contiguous chunks of the shot's ``chunk`` size; a job environment whose
  ``onEnter`` starts the session server (``unshutter farm session start``),
  so the model is loaded once per worker session, and whose ``onExit`` stops it.
  Each task runs ``unshutter farm chunk ... --frames {{Task.Param.Frame}}``.
- ``parameter_values.yaml`` -- the job parameter values (Deadline Cloud format).

Shot folders are ``PATH`` job parameters (``dataFlow IN`` for the plates,
``OUT`` for the renders), so Deadline Cloud job attachments upload the plates
and download the renders, and path mapping works across operating systems.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from unshutter.farm.plan import shot_range
from unshutter.farm.spec import BatchSpec, Shot, _num
from unshutter.io import atomic, sequence

SPEC_VERSION = "jobtemplate-2023-09"
STATE = "{{Session.WorkingDirectory}}/unshutter-session.json"
CMD = "{{Param.UnshutterCommand}}"


def _param_base(name: str, used: set[str]) -> str:
    """A job-parameter prefix for a shot: letters, digits and '_' (the OpenJD identifier rule)."""
    base = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if not re.match(r"[A-Za-z_]", base):
        base = "Shot_" + base
    cand, i = base, 2
    while cand in used:
        cand, i = f"{base}_{i}", i + 1
    used.add(cand)
    return cand


def _split_dir(spec_path: str) -> tuple[str, str]:
    """``/plates/a.####.exr`` -> (``/plates``, ``a.####.exr``); a folder -> (folder, "")."""
    p = Path(spec_path)
    if sequence.is_sequence_spec(spec_path) or p.suffix:
        return str(p.parent), p.name
    return str(p), ""


def _join(param: str, name: str) -> str:
    return f"{{{{Param.{param}}}}}/{name}" if name else f"{{{{Param.{param}}}}}"


def _shot_step(shot: Shot, base: str, frames: tuple[int, int], params: list[dict[str, Any]],
               values: dict[str, Any]) -> dict[str, Any]:
    in_dir, in_name = _split_dir(shot.input)
    out_dir, out_name = _split_dir(shot.output)
    params.append({"name": f"{base}_Input", "type": "PATH", "objectType": "DIRECTORY", "dataFlow": "IN",
                   "description": f"Folder of shot {shot.name}'s blurred plates ({in_name or 'the clip'})"})
    params.append({"name": f"{base}_Output", "type": "PATH", "objectType": "DIRECTORY", "dataFlow": "OUT",
                   "description": f"Folder for shot {shot.name}'s slow-motion frames"})
    values[f"{base}_Input"], values[f"{base}_Output"] = in_dir, out_dir
    args = ["farm", "chunk", _join(f"{base}_Input", in_name), "-o", _join(f"{base}_Output", out_name),
            "--factor", str(shot.factor), "--shutter", _num(shot.shutter), "--guidance", shot.guidance]
    if shot.overrides:
        params.append({"name": f"{base}_Overrides", "type": "PATH", "objectType": "FILE", "dataFlow": "IN",
                       "description": f"Guidance override file of shot {shot.name}"})
        values[f"{base}_Overrides"] = shot.overrides
        args += ["--overrides", f"{{{{Param.{base}_Overrides}}}}"]
    args += ["--model", "{{Param.Model}}", "--device", "{{Param.Device}}",
             "--frames", "{{Task.Param.Frame}}", "--session", STATE, "--name", shot.name]
    a, b = frames
    return {
        "name": shot.name,
        "description": f"{shot.name}: source frames {a}-{b}, factor {shot.factor}, {shot.chunk} frames per task",
        "parameterSpace": {
            "taskParameterDefinitions": [{
                "name": "Frame",
                "type": "CHUNK[INT]",
                "range": f"{a}-{b}",
                "chunks": {"defaultTaskCount": shot.chunk, "rangeConstraint": "CONTIGUOUS"},
            }],
        },
        "script": {
            "actions": {
                "onRun": {
                    "command": CMD,
                    "args": args,
                    # SIGTERM first: the chunk deletes its temporary file and exits 143; SIGKILL after 30 s
                    "cancelation": {"mode": "NOTIFY_THEN_TERMINATE", "notifyPeriodInSeconds": 30},
                },
            },
        },
    }


def build_template(spec: BatchSpec, command: str = "unshutter",
                   ranges: dict[str, tuple[int, int]] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The job template and its parameter values.

    The shot folders are PATH parameters without defaults (OpenJD only allows
    defaults inside the bundle); their values are the spec's absolute paths.
    ``ranges`` (shot -> frames) skips reading clips for their frame range.
    """
    params: list[dict[str, Any]] = [
        {"name": "UnshutterCommand", "type": "STRING", "minLength": 1,
         "description": "The unshutter executable on the workers (a name on PATH or an absolute path)",
         "default": command},
        {"name": "Model", "type": "STRING",
         "description": "Decomposer ONNX file on the workers (empty: the model shipped with unshutter)",
         "default": spec.model or ""},
        {"name": "Device", "type": "STRING", "allowedValues": ["auto", "cpu", "cuda"],
         "description": "ONNX Runtime execution provider", "default": spec.device},
    ]
    values: dict[str, Any] = {"UnshutterCommand": command, "Model": spec.model or "", "Device": spec.device}
    steps = []
    used: set[str] = {"UnshutterCommand", "Model", "Device"}
    for shot in spec.shots:
        frames = (ranges or {}).get(shot.name) or shot_range(shot)
        steps.append(_shot_step(shot, _param_base(shot.name, used), frames, params, values))
    session_args = ["--state", STATE, "--model", "{{Param.Model}}", "--device", "{{Param.Device}}"]
    template = {
        "specificationVersion": SPEC_VERSION,
        "extensions": ["TASK_CHUNKING"],
        "name": f"Unshutter {spec.name}"[:128],
        "description": f"Deblur to slow motion: {len(spec.shots)} shot(s) from batch spec {spec.path.name}",
        "parameterDefinitions": params,
        "jobEnvironments": [{
            "name": "UnshutterSession",
            "description": "Loads the decomposer once per worker session; every task of the session reuses it.",
            "script": {
                "actions": {
                    "onEnter": {"command": CMD, "args": ["farm", "session", "start", *session_args]},
                    "onExit": {"command": CMD, "args": ["farm", "session", "stop", "--state", STATE]},
                },
            },
        }],
        "steps": steps,
    }
    return template, values


class _Dumper(yaml.SafeDumper):
    """Block-style YAML that keeps key order."""


def _dump(doc: Any) -> str:
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=120)


OPENJD_PARAMS = "openjd_parameters.yaml"


def write_bundle(spec: BatchSpec, bundle_dir: str | Path, command: str = "unshutter",
                 ranges: dict[str, tuple[int, int]] | None = None) -> tuple[Path, Path]:
    """Write the bundle into ``bundle_dir``; returns the paths of template.yaml and parameter_values.yaml.

    Besides those two, ``openjd_parameters.yaml`` holds the same values as the
    KEY: VALUE map that ``openjd run -p file://...`` reads.
    """
    out = Path(bundle_dir)
    out.mkdir(parents=True, exist_ok=True)
    template, values = build_template(spec, command, ranges)
    header = f"# Open Job Description job bundle written by `unshutter farm openjd` from {spec.path}\n"
    tpath, vpath = out / "template.yaml", out / "parameter_values.yaml"
    atomic.write_text(tpath, header + _dump(template))
    atomic.write_text(vpath, header + _dump({"parameterValues": [{"name": k, "value": v} for k, v in values.items()]}))
    atomic.write_text(out / OPENJD_PARAMS, f"# for: openjd run template.yaml -p file://{OPENJD_PARAMS}\n" + _dump(values))
    return tpath, vpath


def openjd_params(values_file: Path) -> dict[str, Any]:
    """``parameter_values.yaml`` (Deadline format) as the KEY: VALUE map ``openjd run -p file://`` takes."""
    doc = yaml.safe_load(values_file.read_text(encoding="utf-8"))
    return {v["name"]: v["value"] for v in doc.get("parameterValues", []) if ":" not in v["name"]}
