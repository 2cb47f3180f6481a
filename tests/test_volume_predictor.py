"""VolumePredictor: parity with SAM2's video predictor, prompts, cancellation, bounded memory."""

import numpy as np
import pytest
import torch

from napari_ruac.core.boxes import tight_box
from napari_ruac import ImagePredictor, VolumePredictor
from napari_ruac.inference import ImageError, PromptError
from napari_ruac.core.intensity import to_unit_rgb
from napari_ruac.models.preprocess import to_model_input
from napari_ruac.inference.volume_tracking import ObjectTrack
from napari_ruac.models.sam2_build import build_sam2_from_config


def moving_blob_volume(slices=6, size=160, shift=3):
    """A bright disc that drifts and shrinks through z; returns (volume uint8, labels)."""
    yy, xx = np.mgrid[:size, :size]
    rng = np.random.default_rng(0)
    volume = np.zeros((slices, size, size), np.uint8)
    labels = np.zeros((slices, size, size), np.int32)
    for z in range(slices):
        r = 30 - 2 * z
        disc = (yy - 70 - shift * z) ** 2 + (xx - 80) ** 2 <= r**2
        labels[z][disc] = 1
        image = 40 + 160 * disc + rng.normal(0, 8, disc.shape)
        volume[z] = np.clip(image, 0, 255)
    return volume, labels


def test_matches_sam2_video_predictor_exactly(fitted, monkeypatch):
    import sam2.sam2_video_predictor as video_module

    volume, labels = moving_blob_volume(slices=5)
    prompt_z = 2
    ours = VolumePredictor(fitted, method="sam2").segment(volume, {prompt_z: dict(box=tight_box(labels[prompt_z]))})

    reference = build_sam2_from_config(fitted.info.sam2_config, video=True)
    reference.load_state_dict(fitted.sam2.state_dict())
    frames = torch.cat([to_model_input(to_unit_rgb(s[..., None], (0.0, 255.0)), 256) for s in volume])
    # only the test feeds SAM2's reference predictor from memory instead of a JPEG folder
    monkeypatch.setattr(video_module, "load_video_frames", lambda *a, **k: (frames, *volume.shape[1:]))
    state = reference.init_state("in-memory")
    reference.add_new_points_or_box(state, prompt_z, 1, box=np.array(tight_box(labels[prompt_z])))
    expected = {}
    for reverse in (False, True):
        for z, _, masks in reference.propagate_in_video(state, reverse=reverse):
            expected[z] = masks[0, 0].numpy() > 0
    assert sorted(expected) == list(range(5))
    for z in range(5):
        assert np.array_equal(ours.mask[z], expected[z]), z
    assert ours.complete and ours.mask[0].sum() > 0 and ours.mask[4].sum() > 0


def test_segments_a_volume_with_uncertainty_at_the_boundary(fitted):
    # the analytic map (ruac): the fixture fits only the chosen mask token, so its other hypotheses are noise.
    # the fixture's decoder is fitted but its memory attention is random, so every slice is
    # prompted here: the per-slice maps of the volume path must then be as good as in 2D
    volume, labels = moving_blob_volume(slices=4)
    result = VolumePredictor(fitted, method="ruac").segment(volume, {z: dict(box=tight_box(labels[z])) for z in range(4)})
    assert result.uncertainty.dtype == np.float32 and result.uncertainty.shape == volume.shape
    for z in range(4):
        truth = labels[z] == 1
        iou = (result.mask[z] & truth).sum() / (result.mask[z] | truth).sum()
        assert iou > 0.8, (z, iou)
        edge = truth ^ np.roll(truth, 2, axis=0)
        assert result.uncertainty[z][edge].mean() > 5 * result.uncertainty[z][~edge].mean()
    assert all(s["prompted"] for s in result.slice_scores)


def test_prompted_slices_are_all_used_and_match_single_image_prediction(fitted):
    volume, labels = moving_blob_volume(slices=5)
    prompts = {1: dict(box=tight_box(labels[1])), 3: dict(points=[[80, 79]], labels=[1])}
    result = VolumePredictor(fitted, method="sam2").segment(volume, prompts)
    prompted = {s["z"] for s in result.slice_scores if s["prompted"]}
    assert prompted == {1, 3}
    image = ImagePredictor(fitted, method="sam2")
    image.set_image(volume[1])
    assert np.array_equal(result.mask[1], image.predict(box=tight_box(labels[1]), multimask=False).mask)


def test_iterating_yields_progress_and_stopping_cancels(tiny_model):
    volume, labels = moving_blob_volume(slices=5)
    predictor = VolumePredictor(tiny_model, method="sam2")
    seen = []
    for item in predictor.iter_segment(volume, {2: dict(box=tight_box(labels[2]))}):
        seen.append((item.z, item.done, item.total))
        if len(seen) == 2:
            break
    assert seen[0] == (2, 1, 5) and seen[1][1:] == (2, 5)
    calls = []
    partial = predictor.segment(volume, {2: dict(box=tight_box(labels[2]))}, progress=lambda d, t: calls.append(d) or d < 3)
    assert not partial.complete and calls == [1, 2, 3]
    done = {s["z"] for s in partial.slice_scores}
    assert len(done) == 3
    for z in set(range(5)) - done:  # unfinished slices stay empty, never half-written
        assert not partial.mask[z].any() and not partial.uncertainty[z].any()


def test_two_objects_are_tracked_separately_and_assembled_without_overlap(fitted):
    size = 160
    yy, xx = np.mgrid[:size, :size]
    a = (yy - 50) ** 2 + (xx - 50) ** 2 <= 22**2
    b = (yy - 110) ** 2 + (xx - 110) ** 2 <= 22**2
    image = np.clip(40 + 160 * (a | b) + np.random.default_rng(1).normal(0, 6, a.shape), 0, 255).astype(np.uint8)
    volume = np.stack([image] * 3)
    objects = {5: {1: dict(box=tight_box(a))}, 9: {1: dict(box=tight_box(b))}}
    predictor = VolumePredictor(fitted, method="sam2")
    per_object = {(r.object_id, r.z): r for r in predictor.iter_segment_objects(volume, objects)}
    assert len(per_object) == 6
    result = predictor.segment_objects(volume, objects)
    assert set(np.unique(result.labels)) <= {0, 5, 9}
    # each object on its prompted slice is what a single-image prediction of its box gives
    single = ImagePredictor(fitted, method="sam2")
    single.set_image(image)
    for oid, mask in ((5, a), (9, b)):
        assert np.array_equal(per_object[(oid, 1)].mask, single.predict(box=tight_box(mask), multimask=False).mask)
    # a voxel belongs to the more probable object among those that claim it
    for z in range(3):
        ra, rb = per_object[(5, z)], per_object[(9, z)]
        claimed = ra.mask | rb.mask
        winner = np.where(rb.probability > ra.probability, 9, 5)
        winner = np.where(ra.mask & ~rb.mask, 5, np.where(rb.mask & ~ra.mask, 9, winner))
        assert np.array_equal(result.labels[z][claimed], winner[claimed])
        assert not result.labels[z][~claimed].any()
        assert np.allclose(result.uncertainty[z], np.maximum(ra.uncertainty, rb.uncertainty))


def test_memory_bank_stays_bounded():
    track = ObjectTrack(prompts={10: {}})
    window = 16
    for z in range(11, 200):
        track.output_dict["non_cond_frame_outputs"][z] = {}
        track.prune(z, reverse=False, window=window)
    kept = track.output_dict["non_cond_frame_outputs"]
    assert len(kept) <= 2 * window + 1
    assert set(range(11, 11 + window)) <= set(kept)  # what the backward pass will read
    assert set(range(199 - window, 200)) <= set(kept)  # what the next forward slices read


def test_bad_volumes_and_prompts(tiny_model):
    predictor = VolumePredictor(tiny_model)
    with pytest.raises(ImageError, match="ImagePredictor"):
        predictor.segment(np.zeros((64, 64)), {0: dict(box=[0, 0, 5, 5])})
    with pytest.raises(ImageError, match="constant"):  # no object to find: said before any prompt is read
        predictor.segment(np.zeros((3, 64, 64), np.float32), {0: dict(box=[0, 0, 5, 5])})
    volume = np.random.default_rng(0).random((3, 64, 64)).astype(np.float32)
    with pytest.raises(PromptError, match="outside the volume"):
        predictor.segment(volume, {5: dict(box=[0, 0, 5, 5])})
    with pytest.raises(PromptError, match="box"):
        predictor.segment(volume, {0: dict(circle=3)})
    volume[1, 2, 3] = np.nan
    with pytest.raises(ImageError, match="NaN"):
        predictor.segment(volume, {0: dict(box=[0, 0, 5, 5])})
    with pytest.raises(PromptError, match="no objects"):
        list(predictor.iter_segment_objects(np.random.default_rng(1).random((2, 32, 32)), {}))
