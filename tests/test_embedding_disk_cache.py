"""The on-disk embedding cache (issue 17, §4): reused across sessions, keyed by data, model and
intensity window, recomputed with a message on a mismatch, crash-safe and bounded."""

from __future__ import annotations

import numpy as np
import pytest

from napari_ruac.inference import DiskEmbeddings, EmbeddingCache, VolumePredictor
from napari_ruac.inference.embedding_cache import default_memory_bytes, disk_cache
from napari_ruac.io import write_image
from napari_ruac.segmentation import iter_embed, run_segmentation

pytestmark = pytest.mark.usefixtures("one_torch_thread")
PROMPT = {1: dict(box=[10, 10, 40, 40])}


@pytest.fixture
def volume():
    rng = np.random.default_rng(0)
    stack = rng.normal(50, 10, (4, 64, 64)).astype(np.float32)
    stack[:, 15:40, 15:40] += 100
    return stack


def _cache(path, model, volume, window=None, messages=None, **kwargs):
    log = messages.append if messages is not None else None
    return disk_cache(path, "v", model, volume, window, volume=True, log=log, **kwargs)


def test_a_second_session_reads_every_slice_from_disk_and_gets_the_same_result(tmp_path, tiny_model, volume):
    reference = VolumePredictor(tiny_model).segment(volume, PROMPT)
    first = _cache(tmp_path, tiny_model, volume)
    assert list(first.disk.precompute())[-1] == (4, 4) and first.disk.complete
    second = _cache(tmp_path, tiny_model, volume)  # a new session: nothing in memory
    result = VolumePredictor(tiny_model, cache=second, tracking="memory").segment(volume, PROMPT)
    assert second.disk.reads == 4 and second.misses == 0
    np.testing.assert_array_equal(result.mask, reference.mask)
    np.testing.assert_allclose(result.uncertainty, reference.uncertainty, atol=1e-5)


def test_another_window_model_or_volume_is_recomputed_with_a_message(tmp_path, tiny_model, volume):
    from napari_ruac.models import load_model

    list(_cache(tmp_path, tiny_model, volume).disk.precompute())
    messages = []
    other_window = _cache(tmp_path, tiny_model, volume, window=(0.0, 500.0), messages=messages)
    assert messages and "computed for another window: recomputing" in messages[0]
    assert other_window.disk.store.done == []  # nothing of the old window is reused
    list(other_window.disk.precompute())
    messages.clear()
    changed = volume.copy()
    changed[2, 5, 5] += 1.0
    _cache(tmp_path, tiny_model, changed, window=(0.0, 500.0), messages=messages)
    assert "another data" in messages[0]
    messages.clear()
    micro = _cache(tmp_path, load_model("ruac-micro", device="cpu"), changed, window=(0.0, 500.0), messages=messages)
    assert "another model" in messages[0] and micro.disk.store.done == []


def test_a_half_written_or_damaged_slice_is_never_trusted(tmp_path, tiny_model, volume):
    cache = _cache(tmp_path, tiny_model, volume)
    list(cache.disk.precompute())
    store = cache.disk.store
    (store.path / "done" / "1").unlink()  # a crash after the chunks, before the marker
    chunk = store.path / "image_embed" / "c" / "2" / "0" / "0" / "0"
    chunk.write_bytes(chunk.read_bytes()[:100])  # a truncated chunk of a finished slice
    again = _cache(tmp_path, tiny_model, volume)
    assert again.disk.store.done == [0, 2, 3]
    keys = {z: key for key, z in again.disk._slice_of.items()}
    assert again.disk.get(keys[1]) is None and again.disk.get(keys[2]) is None
    assert again.disk.store.done == [0, 3]  # the damaged slice was forgotten, to be recomputed
    list(again.disk.precompute())
    assert again.disk.complete and again.disk.get(keys[2]) is not None


def test_the_disk_cache_is_bounded_and_memory_by_a_share_of_ram(tmp_path, tiny_model, volume):
    probe = _cache(tmp_path / "probe", tiny_model, volume)
    list(probe.disk.precompute())
    per_slice = probe.disk.store.nbytes // 4
    messages = []
    small = _cache(tmp_path / "small", tiny_model, volume, messages=messages, max_bytes=2 * per_slice + 10)
    list(small.disk.precompute())
    assert small.disk.store.done == [0, 1] and small.disk.store.nbytes <= 2 * per_slice + 10
    assert len(messages) == 1 and "size limit" in messages[0]
    assert EmbeddingCache().max_bytes == default_memory_bytes() and 0 < default_memory_bytes() < 64 << 40


def test_embed_then_segment_from_the_cache_folder(tmp_path, tiny_model, volume):
    path = write_image(tmp_path / "stack.nii.gz", volume, kind="image")
    events = list(iter_embed(path, tiny_model, tmp_path / "cache"))
    assert events[-1] == tmp_path / "cache" / "stack.zarr" and events[-2].done == events[-2].total == 4
    plain = run_segmentation(path, tiny_model, {1: PROMPT[1]}, out_dir=tmp_path / "plain", method="sam2")
    cached = run_segmentation(path, tiny_model, {1: PROMPT[1]}, out_dir=tmp_path / "cached", method="sam2",
                              cache_dir=tmp_path / "cache")  # fmt: skip
    assert cached.stats["voxels"] == plain.stats["voxels"]
    assert isinstance(DiskEmbeddings, type)
