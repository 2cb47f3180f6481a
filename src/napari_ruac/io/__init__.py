"""Reading and writing images and volumes with their geometry (NIfTI, TIFF/OME-TIFF, PNG/JPEG, npy).

``read_image`` gives an ``ImageData`` in our axis order ((Z,) Y, X[, C]) with spacing and affine;
``write_image(path, result, like=image)`` writes a mask or uncertainty map that lines up with it.
"""

from .atomic import atomic_path
from .folders import OutputFolderError, check_output_folder, output_folder
from .image_data import ImageData, ImageReadError, ImageWriteError
from .images import default_suffix, format_of, output_path, read_image, write_image
from .overlay import overlay_png

__all__ = [
    "ImageData",
    "ImageReadError",
    "ImageWriteError",
    "OutputFolderError",
    "atomic_path",
    "check_output_folder",
    "default_suffix",
    "format_of",
    "output_folder",
    "output_path",
    "overlay_png",
    "read_image",
    "write_image",
]
