"""Output numbering: a + (f - a) * N + k from the clip's first frame, the lookahead below 360 degrees."""

from __future__ import annotations

from fractions import Fraction

import pytest

from unshutter.render.numbering import numbering, output_frame


def test_sub_frame_k_of_frame_f_follows_the_contract() -> None:
    num = numbering(1001, 1010, None, 4)
    assert num.outputs(1001) == [1001, 1002, 1003, 1004]
    assert num.outputs(1003) == [1009, 1010, 1011, 1012]
    assert num.span() == (1001, 1040) and num.clip_last() == 1040
    assert num.all_outputs() == list(range(1001, 1041))
    assert output_frame(1001, 1003, 4, 2) == 1011


@pytest.mark.parametrize("factor", [1, 3, 7])
def test_a_chunk_numbers_its_outputs_as_the_whole_clip_does(factor: int) -> None:
    whole = numbering(1001, 1012, None, factor)
    chunks = [numbering(1001, 1012, r, factor) for r in [(1001, 1004), (1005, 1005), (1006, 1012)]]
    assert [o for c in chunks for o in c.all_outputs()] == whole.all_outputs()
    assert {f: o for c in chunks for f, o in c.frame_map().items()} == whole.frame_map()
    assert chunks[1].span() == (1001 + 4 * factor, 1001 + 5 * factor - 1)


def test_a_clip_from_zero_and_the_padding_bound() -> None:
    num = numbering(0, 7, (2, 3), 5)
    assert num.frames == range(2, 4) and num.span() == (10, 19)
    assert num.clip_end() == 40  # the first number after the clip's: file names are padded to its width
    assert len(str(numbering(1, 9999, None, 1).clip_end())) == 5


def test_lookahead_only_when_waiting_and_inside_the_clip() -> None:
    assert numbering(1001, 1010, (1001, 1005), 4, waits=True).lookahead == 1006
    assert numbering(1001, 1010, (1006, 1010), 4, waits=True).lookahead is None  # the clip's last frame
    assert numbering(1001, 1010, (1001, 1005), 4, waits=False).lookahead is None
    assert numbering(1001, 1010, None, 4, waits=True).ahead == 2
    assert numbering(1001, 1010, None, 4).ahead == 1


def test_output_rate_is_carried() -> None:
    assert numbering(1, 2, None, 3, rate=Fraction(72)).rate == 72


def test_decomposed_frames_are_the_range_with_its_neighbours_inside_the_clip() -> None:
    assert numbering(1001, 1010, (1003, 1005), 4, waits=True, behind=True).decomposed() == [
        1002,
        1003,
        1004,
        1005,
        1006,
    ]
    assert numbering(1001, 1010, (1001, 1010), 4, waits=True, behind=True).decomposed() == list(range(1001, 1011))
    assert numbering(1001, 1010, (1003, 1005), 4, waits=True).decomposed() == [1003, 1004, 1005, 1006]
    assert numbering(1001, 1010, (1003, 1005), 4).decomposed() == [1003, 1004, 1005]
