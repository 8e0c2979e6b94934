"""Write an Open Job Description job bundle (what ``deadline bundle submit`` takes) for a batch spec.

The bundle is a folder with:

- ``template.yaml`` -- ``specificationVersion: jobtemplate-2023-09`` with the
  ``TASK_CHUNKING`` extension; one step per shot whose task parameter
  ``Frame`` is ``CHUNK[INT]`` over the shot's source frames, cut into
  contiguous chunks of at most the shot's ``chunk`` frames (as
  :func:`unshutter.farm.plan.split` plans them); a job environment whose
  ``onEnter`` starts the session server (``unshutter farm session start``),
  so the model is loaded once per worker session, and whose ``onExit`` stops it.
  Each task runs ``unshutter farm chunk ... --frames {{Task.Param.Frame}}``.
- ``parameter_values.yaml`` -- the job parameter values (Deadline Cloud format).
- ``asset_references.yaml`` -- the files the override files name (mattes,
  labelme files), as job-attachment inputs (Deadline Cloud format).

Every file a task reads or writes is a ``PATH`` job parameter or an asset
reference, so Deadline Cloud job attachments upload and download it and path
mapping (job-attachment roots, storage profiles) finds it on any worker:

- ``Model``: the decomposer (``FILE``, ``IN``; empty: the model shipped with
  unshutter on the workers);
- shot folders: ``dataFlow IN`` for the plates, ``OUT`` for the renders, and
  the override files (``FILE``, ``IN``): one per distinct folder, or, for
  reels that would need more than OpenJD's 50 job parameters, one
  ``PlatesRoot`` and one ``RendersRoot`` over all shots;
- mattes and labelme files named inside override files: resolved when the
  bundle is written and listed in ``asset_references.yaml``. A task gets the
  override file as submitted (``{{RawParam...}}``) and the session's rules
  (``--path-mapping {{Session.PathMappingRulesFile}}``), and maps the file
  and every name in it (:mod:`unshutter.farm.pathmap`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from unshutter.errors import OverrideError
from unshutter.farm.plan import shot_range
from unshutter.farm.spec import BatchSpec, Shot, SpecError, _num, motion_arg, pass_args
from unshutter.guidance.motion_pass import MotionPass
from unshutter.io import atomic, sequence

SPEC_VERSION = "jobtemplate-2023-09"
STATE = "{{Session.WorkingDirectory}}/unshutter-session.json"
RULES = "{{Session.PathMappingRulesFile}}"
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


def _join(param: str, name: str, prefix: str = "Param") -> str:
    return f"{{{{{prefix}.{param}}}}}/{name}" if name else f"{{{{{prefix}.{param}}}}}"


# OpenJD 2023-09 allows at most 50 job parameters (without the FEATURE_BUNDLE_1 extension)
MAX_JOB_PARAMETERS = 50
_FIXED_PARAMETERS = 3  # UnshutterCommand, Model, Device
_KIND = {
    "in": ("IN", "DIRECTORY", "Input", "blurred plates of shot"),
    "out": ("OUT", "DIRECTORY", "Output", "slow-motion frames of shot"),
    "ov": ("IN", "FILE", "Overrides", "guidance override file of shot"),
    "mv": ("IN", "DIRECTORY", "MotionPass", "motion-vector pass of shot"),
}


class _PathParams:
    """PATH job parameters for the shots' files: one per distinct folder (and override file) and data flow.

    When those would pass OpenJD's limit of 50 job parameters (a long reel
    with a folder per shot), every input lives under one ``PlatesRoot``
    (``dataFlow IN``) and every output under one ``RendersRoot`` (``OUT``):
    their deepest common folders.
    """

    def __init__(self, spec: BatchSpec, bases: dict[str, str]) -> None:
        self.definitions: list[dict[str, Any]] = []
        self.values: dict[str, Any] = {}
        self._names: dict[tuple[str, str], str] = {}
        self._shots: dict[str, list[str]] = {}
        entries = []
        for shot in spec.shots:
            entries.append((shot, "in", _split_dir(shot.input)[0]))
            entries.append((shot, "out", _split_dir(shot.output)[0]))
            if shot.overrides:
                entries.append((shot, "ov", shot.overrides))
            if shot.motion_pass:
                entries.append((shot, "mv", _split_dir(shot.motion_pass)[0]))
        distinct = {(kind, path) for _s, kind, path in entries}
        self.roots: dict[str, str] | None = None
        if _FIXED_PARAMETERS + len(distinct) > MAX_JOB_PARAMETERS:
            ins = [path if kind != "ov" else str(Path(path).parent) for _s, kind, path in entries if kind != "out"]
            outs = [path for _s, kind, path in entries if kind == "out"]
            try:
                self.roots = {"in": os.path.commonpath(ins), "out": os.path.commonpath(outs)}
            except ValueError:  # different drives
                self.roots = {"in": "", "out": ""}
            for kind, root in self.roots.items():
                if not root or Path(root) == Path(Path(root).anchor):
                    what = "plates, override files and motion passes" if kind == "in" else "outputs"
                    raise SpecError(
                        f"{spec.path}: {len(spec.shots)} shots need {len(distinct)} folder parameters, "
                        f"more than an OpenJD job takes ({MAX_JOB_PARAMETERS}), and their {what} share "
                        "no folder to upload as one: split the spec into several jobs"
                    )
            self._define(
                "PlatesRoot",
                "IN",
                "DIRECTORY",
                self.roots["in"],
                f"Folder holding the plates (and override files) of all {len(spec.shots)} shots",
            )
            self._define(
                "RendersRoot",
                "OUT",
                "DIRECTORY",
                self.roots["out"],
                f"Folder holding the slow-motion frames of all {len(spec.shots)} shots",
            )
            return
        kinds: dict[str, str] = {}
        for shot, kind, path in entries:
            key = (kind, path)
            if key not in self._names:
                flow, obj, suffix, _what = _KIND[kind]
                self._names[key] = name = f"{bases[shot.name]}_{suffix}"
                kinds[name] = kind
                self._define(name, flow, obj, path, "")
            self._shots.setdefault(self._names[key], []).append(shot.name)
        for d in self.definitions:  # "Folder of the blurred plates of shots a, b"
            kind, names = kinds[d["name"]], self._shots[d["name"]]
            what = _KIND[kind][3] + ("s " if len(names) > 1 else " ") + ", ".join(names)
            d["description"] = (f"The {what}" if kind == "ov" else f"Folder of the {what}")[:2048]

    def _define(self, name: str, flow: str, obj: str, value: str, description: str) -> None:
        self.definitions.append(
            {"name": name, "type": "PATH", "objectType": obj, "dataFlow": flow, "description": description}
        )
        self.values[name] = value

    def ref(self, kind: str, path: str, prefix: str = "Param") -> str:
        """``path`` as a format string over its parameter (``{{Param.X}}/name``; ``prefix``
        ``RawParam``: the value as submitted, without path mapping)."""
        if self.roots is None:
            if kind == "ov":
                return _join(self._names[(kind, path)], "", prefix)
            folder, name = _split_dir(path)
            return _join(self._names[(kind, folder)], name, prefix)
        root = self.roots["out" if kind == "out" else "in"]
        rel = Path(path).relative_to(root).as_posix()
        return _join("RendersRoot" if kind == "out" else "PlatesRoot", "" if rel == "." else rel, prefix)


DECOMPOSER_ARGS = ("--model", "{{Param.Model}}", "--device", "{{Param.Device}}", "--threads", "{{Param.Threads}}")
"""How the session server and every chunk task get the job's decomposer: the same three
job parameters (a chunk without a session loads the model with them itself)."""


def _shot_step(shot: Shot, frames: tuple[int, int], paths: _PathParams) -> dict[str, Any]:
    args = [
        "farm",
        "chunk",
        paths.ref("in", shot.input),
        "-o",
        paths.ref("out", shot.output),
        "--factor",
        str(shot.factor),
        "--shutter",
        _num(shot.shutter),
        "--guidance",
        shot.guidance,
        "--timing",
        shot.timing,
        "--follow",
        _num(shot.follow),
    ]
    if shot.motion is not None:
        args += ["--motion", motion_arg(shot.motion)]
    if shot.motion_pass:
        args += ["--motion-pass", paths.ref("mv", shot.motion_pass), *pass_args(shot)]
    if shot.overrides:  # mapped by the task, with every matte and labelme file it names
        args += ["--overrides", paths.ref("ov", shot.overrides, "RawParam"), "--path-mapping", RULES]
    args += [
        *DECOMPOSER_ARGS,
        "--frames",
        "{{Task.Param.Frame}}",
        "--session",
        STATE,
        "--name",
        shot.name,
    ]
    a, b = frames
    return {
        "name": shot.name,
        "description": f"{shot.name}: source frames {a}-{b}, factor {shot.factor}, "
        f"at most {shot.chunk} frames per task",
        "parameterSpace": {
            "taskParameterDefinitions": [
                {
                    "name": "Frame",
                    "type": "CHUNK[INT]",
                    "range": f"{a}-{b}",
                    "chunks": {"defaultTaskCount": shot.chunk, "rangeConstraint": "CONTIGUOUS"},
                }
            ],
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


def build_template(
    spec: BatchSpec, command: str = "unshutter", ranges: dict[str, tuple[int, int]] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The job template and its parameter values.

    The shot folders and the model are PATH parameters without defaults
    (OpenJD only allows defaults inside the bundle; ``Model``'s is empty, the
    shipped model); their values are the spec's absolute paths. ``ranges``
    (shot -> frames) skips reading clips for their frame range.
    """
    params: list[dict[str, Any]] = [
        {
            "name": "UnshutterCommand",
            "type": "STRING",
            "minLength": 1,
            "description": "The unshutter executable on the workers (a name on PATH or an absolute path)",
            "default": command,
        },
        {
            "name": "Model",
            "type": "PATH",
            "objectType": "FILE",
            "dataFlow": "IN",
            "description": "Decomposer ONNX file, uploaded with the job (empty: the model shipped with "
            "unshutter on the workers)",
            "default": "",
        },
        {
            "name": "Device",
            "type": "STRING",
            "allowedValues": ["auto", "cpu", "cuda"],
            "description": "ONNX Runtime execution provider",
            "default": spec.device,
        },
        {
            "name": "Threads",
            "type": "INT",
            "minValue": 0,
            "description": "Threads per task for ONNX Runtime, OpenCV and the native kernels (0: all cores); "
            "give each of several tasks on one worker host a share",
            "default": spec.threads or 0,
        },
    ]
    values: dict[str, Any] = {
        "UnshutterCommand": command,
        "Model": spec.model or "",
        "Device": spec.device,
        "Threads": spec.threads or 0,
    }
    used: set[str] = {"UnshutterCommand", "Model", "Device", "Threads"}
    bases = {shot.name: _param_base(shot.name, used) for shot in spec.shots}
    paths = _PathParams(spec, bases)
    params += paths.definitions
    values.update(paths.values)
    steps = [_shot_step(shot, (ranges or {}).get(shot.name) or shot_range(shot), paths) for shot in spec.shots]
    session_args = ["--state", STATE, *DECOMPOSER_ARGS]
    template = {
        "specificationVersion": SPEC_VERSION,
        "extensions": ["TASK_CHUNKING"],
        "name": f"Unshutter {spec.name}"[:128],
        "description": f"Deblur to slow motion: {len(spec.shots)} shot(s) from batch spec {spec.path.name}",
        "parameterDefinitions": params,
        "jobEnvironments": [
            {
                "name": "UnshutterSession",
                "description": "Loads the decomposer once per worker session; every task of the session reuses it.",
                "script": {
                    "actions": {
                        "onEnter": {"command": CMD, "args": ["farm", "session", "start", *session_args]},
                        "onExit": {"command": CMD, "args": ["farm", "session", "stop", "--state", STATE]},
                    },
                },
            }
        ],
        "steps": steps,
    }
    return template, values


class _Dumper(yaml.SafeDumper):
    """Block-style YAML that keeps key order."""


def _dump(doc: Any) -> str:
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=120)


def override_inputs(shot: Shot, frames: tuple[int, int]) -> list[str]:
    """The files ``shot``'s override file names that its tasks read, as absolute paths.

    Its labelme files, and each region's matte and own motion pass on every
    frame of ``frames`` where the region is active (a sequence: one file per
    frame). Raises OverrideError, naming the shot, for one missing on such a
    frame: the task rendering that frame would fail the same way. The override file is
    the one :attr:`Shot.loaded_overrides` already read and validated.
    """
    ov = shot.loaded_overrides
    if ov is None:
        return []
    where = f"shot {shot.name!r}.overrides"
    files = dict.fromkeys(os.path.normpath(f) for f in ov.labelme_files)  # ordered, no repeats
    for region in ov.regions:
        own_pass = region.motion_pass if isinstance(region.motion_pass, MotionPass) else None
        for frame in range(frames[0], frames[1] + 1):
            if not region.active(frame):
                continue
            named = [(region.matte_path(frame), "matte"), (own_pass.path(frame) if own_pass else None, "motion pass")]
            for path, what in named:
                if path is None:
                    continue
                if not path.is_file():
                    raise OverrideError(
                        f"{where}: {path}: {what} for region {region.name or '?'} missing at frame {frame}"
                    )
                files[os.path.normpath(path)] = None
    return list(files)


def asset_references(spec: BatchSpec, ranges: dict[str, tuple[int, int]]) -> dict[str, Any]:
    """``asset_references.yaml``: the files named inside the shots' override files, as inputs.

    Deadline Cloud job attachments upload them with the PATH parameters and
    add a path mapping rule for each of their root folders.
    """
    files = {f for shot in spec.shots for f in override_inputs(shot, ranges[shot.name])}
    return {
        "assetReferences": {
            "inputs": {"filenames": sorted(files), "directories": []},
            "outputs": {"directories": []},
            "referencedPaths": [],
        }
    }


OPENJD_PARAMS = "openjd_parameters.yaml"
ASSET_REFERENCES = "asset_references.yaml"


def write_bundle(
    spec: BatchSpec,
    bundle_dir: str | Path,
    command: str = "unshutter",
    ranges: dict[str, tuple[int, int]] | None = None,
) -> tuple[Path, Path]:
    """Write the bundle into ``bundle_dir``; returns the paths of template.yaml and parameter_values.yaml.

    Besides those two, ``openjd_parameters.yaml`` holds the same values as the
    KEY: VALUE map that ``openjd run -p file://...`` reads, and
    ``asset_references.yaml`` the files named inside override files (see
    :func:`asset_references`).
    """
    out = Path(bundle_dir)
    ranges = {shot.name: (ranges or {}).get(shot.name) or shot_range(shot) for shot in spec.shots}
    template, values = build_template(spec, command, ranges)
    assets = asset_references(spec, ranges)
    out.mkdir(parents=True, exist_ok=True)  # only once the spec and its override files validated
    header = f"# Open Job Description job bundle written by `unshutter farm openjd` from {spec.path}\n"
    tpath, vpath = out / "template.yaml", out / "parameter_values.yaml"
    atomic.write_text(tpath, header + _dump(template))
    atomic.write_text(vpath, header + _dump({"parameterValues": [{"name": k, "value": v} for k, v in values.items()]}))
    atomic.write_text(
        out / OPENJD_PARAMS, f"# for: openjd run template.yaml -p file://{OPENJD_PARAMS}\n" + _dump(values)
    )
    atomic.write_text(out / ASSET_REFERENCES, header + _dump(assets))
    return tpath, vpath


def openjd_params(values_file: Path) -> dict[str, Any]:
    """``parameter_values.yaml`` (Deadline format) as the KEY: VALUE map ``openjd run -p file://`` takes."""
    doc = yaml.safe_load(values_file.read_text(encoding="utf-8"))
    return {v["name"]: v["value"] for v in doc.get("parameterValues", []) if ":" not in v["name"]}
