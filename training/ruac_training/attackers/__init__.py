"""The two attackers of RUAC's min-max game and the Gradient Reversal Layer between them and the model."""

from .deformation import DeformationAdversary, DeformationOutput, warp
from .graph import GraphRule, adjacency, distance_transform, normalise, region_owner
from .grl import GradientReversal, reverse_gradient
from .style import StyleAdversary, StyleOutput, adain, region_statistics

__all__ = [
    "DeformationAdversary",
    "DeformationOutput",
    "GradientReversal",
    "GraphRule",
    "StyleAdversary",
    "StyleOutput",
    "adain",
    "adjacency",
    "distance_transform",
    "normalise",
    "region_owner",
    "region_statistics",
    "reverse_gradient",
    "warp",
]
