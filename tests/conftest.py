"""Shared fixtures: small synthetic blurred clips made with the real sample renderer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from unshutter import kernels
from unshutter.sample import render_clip, write_exr_sequence


# The slow cases, in one place: `make test-fast` (pytest -m "not slow") leaves them out to stay
# under three minutes on a 2-core machine; `make test` runs them. Whole end-to-end modules (real
# Blender, the OFX host, farm clusters and chunk kills, disks that fill, the benchmark), and single
# tests that took 8 s or more (about 2 s on a quiet machine; measured with --durations=0 on the
# shared machine, 2026-12-06; five more at 17:20 that day, when make test-fast took 6 min 15 s wall at load
# average 12, 156 s of CPU). A test may also carry @pytest.mark.slow itself.
SLOW_MODULES = (
    "tests/hosts/test_blender_addon.py",
    "tests/ofx/test_ofx_bridge.py",
    "tests/farm/test_chunks.py",
    "tests/farm/test_dask.py",
    "tests/bench/test_quality.py",
    "tests/robustness/test_disk_full.py",
)
SLOW_TESTS = (  # path::function, all its parameter cases
    "tests/bench/test_runs.py::test_scores_the_truth_as_perfect_and_the_identity_as_still",
    "tests/bench/test_speed.py::test_speed_bench_times_the_run_loop_by_stage_against_a_baseline",
    "tests/cli/test_cli.py::test_errors_are_one_line_with_exit_codes",
    "tests/cli/test_cli.py::test_preview_written",
    "tests/cli/test_cli.py::test_run_json_progress",
    "tests/cli/test_cli.py::test_run_refuses_to_write_over_its_plates",
    "tests/decomposer/test_model.py::test_motion_estimator_only_acts_without_guided_motion",
    "tests/decomposer/test_model.py::test_onnx_export_matches_torch",
    "tests/decomposer/test_model.py::test_output_shape_for_any_size",
    "tests/decomposer/test_model.py::test_split_export_refuses_a_network_that_estimates_its_motion",
    "tests/decomposer/test_runtime.py::test_split_contract_runs_what_the_whole_graph_did",
    "tests/decomposer/test_runtime.py::test_tiled_matches_untiled",
    "tests/farm/test_openjd.py::test_chunk_without_session_server_renders_in_process",
    "tests/farm/test_openjd.py::test_openjd_check_passes",
    "tests/guidance/test_override_files_hostile.py::test_many_small_regions_scale",
    "tests/hosts/test_blender_engine.py::test_engine_run_success_and_failure",
    "tests/io/test_formats.py::test_format_round_trip",
    "tests/io/test_image_file.py::test_write_past_the_size_limit_fails_and_leaves_nothing",
    "tests/io/test_image_file.py::test_write_within_the_size_limit_succeeds",
    "tests/io/test_movie.py::test_movie_in_sequence_out",
    "tests/io/test_movie.py::test_movie_out",
    "tests/ofx/test_worker.py::test_colorspace_decodes_encodes_and_keys_the_cache",
    "tests/ofx/test_worker.py::test_edited_override_file_is_not_served_from_cache",
    "tests/ofx/test_worker.py::test_gap_outputs_are_interpolated_like_the_cli_and_each_frame_decomposed_once",
    "tests/ofx/test_worker.py::test_hello_and_one_decomposition_per_source_frame",
    "tests/ofx/test_worker.py::test_worker_publishes_tile_progress_and_an_aborted_frame_is_never_done",
    "tests/robustness/test_cli_edges.py::test_rerun_at_a_lower_factor_warns_about_the_old_frames",
    "tests/robustness/test_names.py::test_longest_legal_name_is_written",
    "tests/robustness/test_pixels.py::test_highlights_at_the_top_of_the_range_never_become_inf",
    "tests/robustness/test_pixels_properties.py::test_run_gives_a_valid_output_or_one_line",
    "tests/robustness/test_signals.py::test_signal_stops_the_run_cleanly",
    "tests/robustness/test_special_files.py::test_special_file_as_a_frame_is_refused",
    "tests/test_node.py::test_draft_and_full_shapes_and_reblur",
    "tests/test_pipeline.py::test_edited_matte_or_labelme_file_redoes_the_frames_it_decides",
    "tests/test_pipeline.py::test_ocio_config_is_compared_by_what_it_computes",
    "tests/test_pipeline.py::test_rerun_redoes_outputs_of_other_settings_or_changed_plates",
    "tests/test_pipeline.py::test_touched_plate_is_kept_changed_plate_redoes_its_frames",
    "tests/test_threads.py::test_threads_bound_every_library_in_the_engine_process",
    "tests/timeline/test_otio_roundtrip.py::test_resolve_timeline_round_trip",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path, _, name = item.nodeid.partition("::")
        if path in SLOW_MODULES or f"{path}::{name.split('[')[0]}" in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)


def textured_photo(h: int = 160, w: int = 260, seed: int = 0) -> np.ndarray:
    """A deterministic photo-like linear image with edges and texture. Shape: -> [h, w, 3]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    for _ in range(40):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        r = rng.uniform(4, 22)
        col = rng.uniform(0.05, 1.0, 3).astype(np.float32)
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = col
    img += 0.15 * (np.sin(xx / 3.0) * np.cos(yy / 5.0))[..., None]
    return kernels.srgb_decode(np.clip(img, 0.0, 1.0).astype(np.float32))


@pytest.fixture(scope="session")
def hdr_clip(tmp_path_factory: pytest.TempPathFactory) -> str:
    """6 frames, 96x64, EXR half from 1001, values up to ~3 (HDR), panning right."""
    folder = tmp_path_factory.mktemp("hdr")
    frames = render_clip(textured_photo(), 6, 96, 64, speed=5.0, curve=0.3, samples=12, gain=3.0)
    return write_exr_sequence(folder, "shot", frames, 1001)


@pytest.fixture()
def fresh_hdr_clip(tmp_path: Path) -> str:
    frames = render_clip(textured_photo(), 6, 96, 64, speed=5.0, curve=0.3, samples=12, gain=3.0)
    return write_exr_sequence(tmp_path / "in", "shot", frames, 1001)


@pytest.fixture()
def claim_holder():  # noqa: ANN201
    """Start another process that claims output frames (``unshutter.io.claim``) and holds them until killed.

    ``hold(folder, name, span)`` returns the process once its claim is in place
    (span None: the whole file); every holder is killed at the end of the test.
    """
    import subprocess
    import sys

    procs: list[subprocess.Popen] = []

    def hold(folder: Path, name: str, span: tuple[int, int] | None) -> subprocess.Popen:
        code = (
            "import time\nfrom pathlib import Path\nfrom unshutter.io.claim import claim\n"
            f"with claim(Path({str(folder)!r}), {name!r}, {span!r}, 'out'):\n"
            "    print('held', flush=True)\n    time.sleep(300)\n"
        )
        p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        procs.append(p)
        assert p.stdout is not None and p.stdout.readline().strip() == "held"
        return p

    yield hold
    for p in procs:
        p.kill()
        p.wait()
