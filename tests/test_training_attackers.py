"""The attackers and the Gradient Reversal Layer: bounds, what they change, and gradient signs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from ruac_training.attackers import (
    DeformationAdversary, GradientReversal, GraphRule, StyleAdversary, adjacency, distance_transform, region_owner,
    reverse_gradient, warp,
)
from ruac_training.attackers.style import region_statistics


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _scene(size: int = 64):
    """Batch of 2 images with 3 object slots: two overlapping squares + a far disc; slot 3 empty in image 2."""
    masks = torch.zeros(2, 3, size, size)
    masks[:, 0, 8:30, 8:30] = 1
    masks[:, 1, 20:40, 20:40] = 1
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    masks[0, 2] = (((yy - 50) ** 2 + (xx - 50) ** 2) < 36).float()
    valid = torch.tensor([[True, True, True], [True, True, False]])
    torch.manual_seed(0)
    image = torch.randn(2, 3, size, size)
    features = torch.randn(2, 32, size // 16, size // 16)
    return image, masks, valid, features


# ---- GRL ------------------------------------------------------------------------------------
def test_grl_is_identity_forward_and_negates_scaled_gradient():
    x = torch.randn(5, requires_grad=True)
    y = reverse_gradient(x, 0.3)
    assert torch.equal(y, x)
    (y * torch.arange(5.0)).sum().backward()
    assert torch.allclose(x.grad, -0.3 * torch.arange(5.0))
    x.grad = None
    (GradientReversal(2.0)(x) ** 2).sum().backward()
    assert torch.allclose(x.grad, -2.0 * 2 * x.detach())


# ---- object graph ------------------------------------------------------------------------------
def test_distance_transform_matches_scipy():
    rng = np.random.default_rng(3)
    masks = rng.random((2, 20, 24)) < 0.03
    ours = distance_transform(torch.from_numpy(masks)).numpy()
    for m, d in zip(masks, ours):
        np.testing.assert_allclose(d, ndimage.distance_transform_edt(~m), atol=1e-4)


def test_region_owner_gives_overlap_to_the_smaller_object():
    _, masks, valid, _ = _scene()
    owner = region_owner(masks, valid)
    assert owner[0, 25, 25] == 2  # in both squares: square 1 (20² px) is smaller than square 0 (22² px)
    assert owner[0, 35, 35] == 2 and owner[0, 10, 10] == 1 and owner[0, 0, 63] == 0
    assert owner[0, 50, 50] == 3 and owner[1, 50, 50] == 0  # invalid slot owns nothing


def test_adjacency_edges_follow_the_rule():
    _, masks, valid, _ = _scene()
    features = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [1.0, 0.1]], [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]])
    rule = GraphRule(resolution=64, distance_threshold=0.5, distance_max=0.5)
    adj = adjacency(masks, valid, features, rule)
    assert adj.shape == (2, 4, 4)
    assert torch.allclose(adj.diagonal(dim1=1, dim2=2), torch.ones(2, 4))  # self-loops
    assert torch.allclose(adj[0, 0, 1:], torch.full((3,), 0.5))  # background edges
    assert adj[1, 0, 3] == 0 and adj[1, 3, 1] == 0  # the empty slot is disconnected
    inter, union = 10 * 10, 22 * 22 + 20 * 20 - 100
    # squares overlap: IoU + proximity 1 (distance 0), features orthogonal (no semantic edge)
    assert adj[0, 1, 2].item() == pytest.approx(inter / union + 1.0, abs=1e-5)
    # square 0 and the disc: similar features (cos > 0.5) + proximity from the exact set distance (scipy)
    cos = float(torch.nn.functional.cosine_similarity(features[0, 0], features[0, 2], dim=0))
    gap = ndimage.distance_transform_edt(masks[0, 0].numpy() == 0)[masks[0, 2].numpy() > 0].min() / np.hypot(64, 64)
    assert 0 < gap < 0.5
    assert adj[0, 1, 3].item() == pytest.approx(cos + 1 - gap / 0.5, abs=1e-5)
    # square 1 and the disc: similarity below τ_sim, so only proximity
    gap = ndimage.distance_transform_edt(masks[0, 1].numpy() == 0)[masks[0, 2].numpy() > 0].min() / np.hypot(64, 64)
    assert adj[0, 2, 3].item() == pytest.approx(max(0.0, 1 - gap / 0.5), abs=1e-5)
    assert torch.equal(adj, adj.transpose(1, 2))


# ---- style -----------------------------------------------------------------------------------
def _style(**kwargs) -> StyleAdversary:
    torch.manual_seed(1)
    attacker = StyleAdversary(feature_dim=32, hidden=16, graph_resolution=32, **kwargs)
    torch.nn.init.normal_(attacker.out.weight, std=3.0)  # far from identity, tanh saturating
    torch.nn.init.normal_(attacker.out.bias, std=3.0)
    return attacker


def test_style_starts_as_identity():
    image, masks, valid, features = _scene()
    out = StyleAdversary(feature_dim=32, hidden=16)(image, masks, valid, features)
    assert torch.allclose(out.image, image, atol=1e-5)


def test_style_parameters_stay_in_their_bounds_and_apply_per_region():
    image, masks, valid, features = _scene()
    out = _style()(image, masks, valid, features)
    assert 0.8 <= out.mean_scale.min() and out.mean_scale.max() <= 1.2
    assert out.shift.abs().max() <= 0.3
    assert 0.5 <= out.std_scale.min() and out.std_scale.max() <= 1.5
    assert (out.std_scale - 1).abs().max() > 0.1  # it does restyle
    mean, _, _ = region_statistics(image, out.owner, 4)
    for b in range(2):
        for node in range(4):
            region = out.owner[b] == node
            if not region.any():
                continue
            for c in range(3):
                x = image[b, c][region]
                expected = (x - mean[b, node, c]) * out.std_scale[b, node, c] + mean[b, node, c] * out.mean_scale[b, node, c] + out.shift[b, node, c]
                assert torch.allclose(out.image[b, c][region], expected, atol=1e-5)


def test_style_without_background_leaves_background_pixels_alone():
    image, masks, valid, features = _scene()
    out = _style(background=False)(image, masks, valid, features)
    background = out.owner == 0
    changed = (out.image - image).abs().amax(dim=1)
    assert changed[background].max() < 1e-5
    assert changed[~background].min() > 1e-4


def test_shared_channels_keep_a_grey_image_grey():
    image, masks, valid, features = _scene()
    grey = image[:, :1].expand(-1, 3, -1, -1).contiguous()
    out = _style(shared_channels=True)(grey, masks, valid, features)
    assert torch.allclose(out.image[:, 0], out.image[:, 1], atol=1e-5)


# ---- deformation -------------------------------------------------------------------------------
def test_deformation_offsets_are_bounded_smooth_and_object_centred():
    image, masks, valid, _ = _scene()
    attacker = DeformationAdversary(feature_dim=32, epsilon=0.15)
    raw = torch.randn(2, 2, 4, 4) * 20  # saturating raw field at the feature resolution
    offsets = attacker.offsets(raw, masks, valid, 64)
    stride = 64 / 4
    assert offsets.abs().max() <= 2 * 0.15 * stride + 1e-5  # |raw offset| ≤ ε, centring at most doubles it
    assert offsets.abs().max() > 0.1 * stride
    objects = ((masks > 0) & valid[:, :, None, None]).any(1, keepdim=True).float()
    centre = (offsets * objects).flatten(2).sum(-1) / objects.flatten(2).sum(-1)
    assert centre.abs().max() < 1e-4
    # smooth: neighbouring pixels differ by at most the slope of a bilinear upsampled field
    assert (offsets[..., 1:] - offsets[..., :-1]).abs().max() <= 2 * 0.15 + 1e-5


def test_warp_moves_a_planted_marker_with_its_mask():
    size = 64
    mask = torch.zeros(1, 1, size, size)
    mask[..., 20:36, 24:40] = 1
    image = mask.expand(-1, 3, -1, -1).clone()  # the marker is exactly the object
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    offsets = torch.stack([4 * torch.sin(yy / 10.0), 3 * torch.cos(xx / 12.0)])[None].float()  # smooth, non-uniform
    warped_image, warped_mask = warp(image, mask, offsets)
    moved = warped_image[:, 0] > 0.5
    assert torch.equal(moved, warped_mask[:, 0] > 0)
    assert (moved != (mask[:, 0] > 0)).sum() > 20  # it did move
    # reference: output(p) = input(p + offset(p)) for a pixel well inside
    y, x = 10, 30
    dx, dy = offsets[0, 0, y, x], offsets[0, 1, y, x]
    assert warped_mask[0, 0, y, x] == mask[0, 0, int(torch.round(y + dy)), int(torch.round(x + dx))]


def test_deformation_starts_as_identity_and_keeps_image_and_masks_aligned():
    image, masks, valid, features = _scene()
    attacker = DeformationAdversary(feature_dim=32, hidden=8)
    out = attacker(image, masks, valid, features)
    assert torch.allclose(out.image, image, atol=1e-4) and torch.equal(out.masks, masks)
    torch.manual_seed(0)
    torch.nn.init.normal_(attacker.net[-1].weight, std=5.0)
    marker = masks[:, :1].expand(-1, 3, -1, -1).clone()
    out = attacker(marker, masks, valid, features)
    assert out.offsets.abs().max() > 0.5
    assert torch.equal(out.image[:, 0] > 0.5, out.masks[:, 0] > 0)
