"""The prompt map (models/prompt_map.py): boxes and clicks drawn into SAM2's mask-prompt channel
for models trained with it, saved in the config, and off for every SAM2 checkpoint."""

from __future__ import annotations

import torch

from napari_ruac.models import load_model, save_ruac_checkpoint
from napari_ruac.models.prompt_map import draw_prompt_map


def test_box_inside_positive_outside_negative_and_clicks_as_disks():
    points = torch.tensor([[[16.0, 32.0], [47.0, 63.0], [100.0, 100.0], [8.0, 8.0]]])
    labels = torch.tensor([[2, 3, 1, 0]], dtype=torch.int32)
    out = draw_prompt_map(points, labels, image_size=128, map_size=32)  # 4 model px per map pixel
    assert out.shape == (1, 1, 32, 32)
    m = out[0, 0]
    assert m[10, 6] == 1 and m[12, 10] == 1          # inside the box (rows 32–63, columns 16–47)
    assert m[5, 20] == -1 and m[20, 2] == -1         # outside
    assert m[25, 25] == 2                             # the positive click at (100, 100)
    assert m[2, 2] == -2                              # the negative click at (8, 8)
    assert (m == 2).sum() < 20 and (m == -2).sum() < 20


def test_no_box_leaves_zero_background_and_padding_draws_nothing():
    points = torch.tensor([[[64.0, 64.0], [0.0, 0.0]]])
    labels = torch.tensor([[1, -1]], dtype=torch.int32)
    m = draw_prompt_map(points, labels, 128, 32)[0, 0]
    assert set(m.unique().tolist()) == {0.0, 2.0}
    assert m[16, 16] == 2 and m[0, 0] == 0


def test_model_flag_changes_the_dense_embedding_and_round_trips(tiny_model, tmp_path):
    box = torch.tensor([[40.0, 50.0, 120.0, 140.0]])
    assert not tiny_model.info.prompt_map  # SAM2 checkpoints never use it
    sparse, dense = tiny_model.encode_prompts(boxes=box)
    sparse_map, dense_map = tiny_model.encode_prompts(boxes=box, prompt_map=True)
    assert torch.equal(sparse, sparse_map)  # the sparse tokens are SAM2's
    assert not torch.allclose(dense, dense_map)
    # an explicit mask prompt wins over the map
    given = torch.zeros(1, 1, 64, 64)
    _, dense_given = tiny_model.encode_prompts(boxes=box, mask_input=given, prompt_map=True)
    _, dense_plain = tiny_model.encode_prompts(boxes=box, mask_input=given)
    assert torch.equal(dense_given, dense_plain)

    tiny_model.info.prompt_map = True
    try:
        _, config_path = save_ruac_checkpoint(tiny_model, tmp_path / "mapped")
        copy = load_model(config_path, device="cpu")
    finally:
        tiny_model.info.prompt_map = False
    assert copy.info.prompt_map and copy.config()["prompt_map"] is True
    assert torch.allclose(copy.encode_prompts(boxes=box)[1], dense_map, atol=1e-6)
