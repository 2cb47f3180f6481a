"""SAM2's task loss against independent references, and UAA's dual stop-gradient routing."""

from __future__ import annotations

import math

import pytest
import torch
from torchvision.ops import sigmoid_focal_loss

from ruac_training.losses import TaskLossWeights, dice_loss, focal_loss, task_loss, uaa_loss, uaa_terms


def test_focal_loss_matches_torchvision():
    torch.manual_seed(0)
    logits = torch.randn(3, 2, 8, 8) * 3
    target = (torch.rand(3, 2, 8, 8) > 0.6).float()
    ours = focal_loss(logits, target, 0.25, 2.0)
    reference = sigmoid_focal_loss(logits, target, alpha=0.25, gamma=2.0, reduction="none").flatten(2).mean(-1)
    torch.testing.assert_close(ours, reference)


def test_dice_loss_values():
    logits = torch.full((1, 1, 4, 4), 20.0)  # probability ≈ 1 everywhere
    target = torch.zeros(1, 1, 4, 4)
    target[..., :2, :] = 1  # 8 of 16 pixels
    expected = 1 - (2 * 8 + 1) / (16 + 8 + 1)
    assert dice_loss(logits, target).item() == pytest.approx(expected, abs=1e-5)


def test_task_loss_trains_the_best_candidate_and_supervises_iou():
    target = torch.zeros(1, 8, 8)
    target[0, 2:6, 2:6] = 1
    good = torch.where(target > 0, 8.0, -8.0)[0]
    logits = torch.stack([-good, good, torch.zeros(8, 8)])[None].requires_grad_()  # candidate 1 is right
    predicted_iou = torch.tensor([[0.3, 0.9, 0.5]], requires_grad=True)
    weights = TaskLossWeights(supervise_all_iou=False)
    total, parts, best = task_loss(logits, predicted_iou, torch.tensor([4.0]), target, weights)
    assert best.tolist() == [1]
    total.backward()
    assert logits.grad[0, 0].abs().sum() == 0 and logits.grad[0, 2].abs().sum() == 0  # only the best one learns
    assert parts["iou"].item() == pytest.approx((0.9 - 1.0) ** 2, abs=1e-6)
    assert predicted_iou.grad[0, 1] < 0 and predicted_iou.grad[0, 0] == 0  # pushed up towards the true IoU 1
    all_iou = task_loss(logits.detach(), predicted_iou.detach(), torch.tensor([4.0]), target, TaskLossWeights())[1]["iou"]
    true_iou = torch.tensor([0.0, 1.0, 0.0])  # -good: no overlap; zeros: nothing predicted
    assert abs(all_iou.item() - ((torch.tensor([0.3, 0.9, 0.5]) - true_iou) ** 2).mean().item()) < 1e-6


def test_uaa_stop_gradients_route_as_method_says():
    error = torch.tensor([0.0, 0.2, 0.9, 1.0], requires_grad=True)
    uncertainty = torch.tensor([0.1, 0.5, 0.3, 0.8], requires_grad=True)
    l_e, l_u = uaa_terms(error, uncertainty)
    grad_e_of_le, grad_u_of_le = torch.autograd.grad(l_e.sum(), (error, uncertainty), allow_unused=True)
    grad_e_of_lu, grad_u_of_lu = torch.autograd.grad(l_u.sum(), (error, uncertainty), allow_unused=True)
    assert grad_u_of_le is None or torch.all(grad_u_of_le == 0)  # L_e cannot move u
    assert grad_e_of_lu is None or torch.all(grad_e_of_lu == 0)  # L_u cannot move e
    u, e = uncertainty.detach(), error.detach()
    torch.testing.assert_close(grad_e_of_le, torch.exp(-u) - torch.exp(u))
    torch.testing.assert_close(grad_u_of_lu, -e * torch.exp(-u) + (1 - e) * torch.exp(u))
    # descent on L_u raises u where the error is high and lowers it where there is none
    assert grad_u_of_lu[3] < 0 and grad_u_of_lu[0] > 0


def test_uaa_is_lowest_when_uncertainty_follows_error():
    error = torch.tensor([0.0, 0.0, 1.0, 1.0])
    aligned = uaa_loss(error, torch.tensor([0.0, 0.0, 1.0, 1.0]))
    flipped = uaa_loss(error, torch.tensor([1.0, 1.0, 0.0, 0.0]))
    uniform = uaa_loss(error, torch.full((4,), 0.5))
    assert aligned < uniform < flipped
    # the u that minimises L_u grows with the error (no uniform collapse): u* = ½·log(e / (1 − e))
    grid = torch.linspace(0, 1, 1001)
    best = [grid[torch.argmin(uaa_terms(torch.full_like(grid, e), grid)[1])].item() for e in (0.6, 0.75, 0.85)]
    assert best[0] < best[1] < best[2]
    assert abs(best[1] - 0.5 * math.log(0.75 / 0.25)) < 2e-3


def test_uaa_error_side_forms_differ_in_the_sign_of_the_error_gradient():
    """'paper': dL_e/de = e^-u − e^u ≤ 0 (pushes towards errors where uncertain); 'confident': e^-u > 0."""
    for form, sign in (("paper", -1.0), ("confident", 1.0)):
        error = torch.full((4,), 0.3, requires_grad=True)
        uncertainty = torch.tensor([0.1, 0.4, 0.7, 1.0])
        l_e, _ = uaa_terms(error, uncertainty, form)
        l_e.sum().backward()
        expected = torch.exp(-uncertainty) - (torch.exp(uncertainty) if form == "paper" else 0)
        torch.testing.assert_close(error.grad, expected)
        assert torch.all(torch.sign(error.grad) == sign)


def test_uaa_rejects_an_unknown_error_form():
    with pytest.raises(ValueError, match="error_form"):
        uaa_loss(torch.zeros(3), torch.zeros(3), "both")


def test_loosened_boxes_only_grow_and_stay_in_the_image():
    from ruac_training.prompts import loosened_boxes

    boxes = torch.tensor([[10.0, 20.0, 30.0, 60.0], [0.0, 0.0, 64.0, 64.0]])
    out = loosened_boxes(boxes, 64, 0.25, torch.Generator().manual_seed(0))
    assert torch.all(out[:, :2] <= boxes[:, :2]) and torch.all(out[:, 2:] >= boxes[:, 2:])
    assert torch.all(out >= 0) and torch.all(out <= 64)
    side = torch.tensor([20.0, 40.0, 20.0, 40.0])
    assert torch.all((out[0] - boxes[0]).abs() <= 0.25 * side + 1e-6)
    assert (out[0] != boxes[0]).any()  # it does loosen


def test_box_loose_fraction_leaves_a_share_of_the_boxes_tight():
    from ruac_training.prompts import initial_prompts, mask_boxes

    masks = torch.zeros(200, 64, 64, dtype=torch.bool)
    masks[:, 20:40, 10:30] = True
    tight = mask_boxes(masks)[0]

    def loose_share(fraction):
        groups = initial_prompts(masks, 1.0, 0.0, 20, torch.Generator().manual_seed(1), box_loose=0.3,
                                 box_loose_fraction=fraction)
        corners = groups[0].points.reshape(-1, 4)
        return (corners != tight).any(dim=1).float().mean().item()

    assert loose_share(1.0) == 1.0
    assert loose_share(0.0) == 0.0
    assert 0.35 < loose_share(0.5) < 0.65


def test_box_loose_px_gives_every_object_the_same_slack_in_pixels():
    from ruac_training.prompts import initial_prompts, mask_boxes

    masks = torch.zeros(400, 128, 128, dtype=torch.bool)
    masks[:200, 60:68, 60:68] = True  # small objects (8 px)
    masks[200:, 10:118, 10:118] = True  # large objects (108 px)
    tight = mask_boxes(masks)
    groups = initial_prompts(masks, 1.0, 0.0, 20, torch.Generator().manual_seed(2), box_loose_px=6.0)
    corners = groups[0].points.reshape(-1, 4)[torch.argsort(groups[0].rows)]
    grow = (corners - tight) * torch.tensor([-1.0, -1.0, 1.0, 1.0])
    assert torch.all(grow >= 0) and torch.all(grow <= 6.0 + 1e-6)
    small, large = grow[:200].mean().item(), grow[200:].mean().item()
    assert 2.0 < small < 4.0 and 2.0 < large < 4.0  # the same pixels, whatever the object's size
