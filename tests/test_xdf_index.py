"""The reading-side index decodes what other recorders write: implicit stamps, as LabRecorder may."""
from __future__ import annotations

import struct

import numpy as np
import pyxdf
from xdf_samples import stream_info_xml

from acquisition.xdf_format import (
    MAGIC,
    TAG_SAMPLES,
    chunk,
    file_header_chunk,
    stream_header_chunk,
    varlen,
)
from acquisition.xdf_index import ChunkReader, build_index


def implicit_chunk(stream_id: int, first: float, values: list, fmt: str) -> bytes:
    """A Samples chunk whose first stamp is explicit and the rest implied by the nominal rate."""
    body = struct.pack("<I", stream_id) + varlen(len(values))
    for i, sample in enumerate(values):
        body += struct.pack("<Bd", 8, first) if i == 0 else b"\x00"
        if fmt == "string":
            for text in sample:
                raw = text.encode()
                body += varlen(len(raw)) + raw
        else:
            body += np.asarray(sample, dtype="<f4").tobytes()
    return chunk(TAG_SAMPLES, body)


def test_implicit_stamps_decode_like_pyxdf(tmp_path):
    path = tmp_path / "implicit.xdf"
    numbers = [[float(i), -float(i)] for i in range(10)]
    words = [["a"], ["bb"], ["ccc"]]
    path.write_bytes(MAGIC + file_header_chunk()
                     + stream_header_chunk(1, stream_info_xml("Num", "EEG", 2, 100.0, "float32", "num"))
                     + stream_header_chunk(2, stream_info_xml("Txt", "Markers", 1, 10.0, "string", "txt"))
                     + implicit_chunk(1, 5.0, numbers, "float32") + implicit_chunk(2, 7.0, words, "string"))
    index = build_index(path)
    with ChunkReader(path) as reader:
        stamps, values = reader.decode(index.streams[1], 0)
        word_stamps, word_values = reader.decode(index.streams[2], 0)
    loaded = {s["info"]["name"][0]: s for s in pyxdf.load_xdf(str(path), synchronize_clocks=False,
                                                             dejitter_timestamps=False)[0]}
    np.testing.assert_allclose(stamps, 5.0 + np.arange(10) / 100.0)
    np.testing.assert_allclose(stamps, loaded["Num"]["time_stamps"])
    np.testing.assert_array_equal(values, np.asarray(numbers, dtype=np.float32))
    np.testing.assert_allclose(word_stamps, [7.0, 7.1, 7.2])
    assert [list(v) for v in word_values] == words == [list(v) for v in loaded["Txt"]["time_series"]]
