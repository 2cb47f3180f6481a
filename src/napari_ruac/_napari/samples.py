"""napari sample data: the generated nuclei stack, the 2D nuclei image and the CT phantom,
each as an image layer (with physical scale) plus its ground-truth labels."""

from __future__ import annotations

from ..samples import SampleVolume, ct_phantom, nuclei_image, nuclei_stack


def sample_layers(sample: SampleVolume) -> list[tuple]:
    """[(image, kwargs, "image"), (labels, kwargs, "labels")] on the sample's geometry."""
    metadata = {"affine": sample.affine, "spacing": sample.spacing, "unit": sample.unit, "description": sample.description}
    image_kwargs = {"name": sample.name, "scale": sample.spacing, "metadata": dict(metadata)}
    if sample.window is not None:
        image_kwargs["contrast_limits"] = tuple(sample.window)
    label_kwargs = {"name": f"{sample.name} ground truth", "scale": sample.spacing, "metadata": dict(metadata),
                    "opacity": 0.4, "visible": False}  # fmt: skip
    return [(sample.image, image_kwargs, "image"), (sample.labels, label_kwargs, "labels")]


def nuclei_stack_sample() -> list[tuple]:
    """3D fluorescence nuclei (z spacing 4× the in-plane spacing)."""
    return sample_layers(nuclei_stack(seed=0))


def nuclei_image_sample() -> list[tuple]:
    """2D fluorescence nuclei."""
    return sample_layers(nuclei_image(seed=0))


def ct_phantom_sample() -> list[tuple]:
    """CT torso phantom in Hounsfield units, shown with a soft-tissue window."""
    return sample_layers(ct_phantom(seed=0))
