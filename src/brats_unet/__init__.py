"""brats-unet: U-Net-family brain-tumour segmentation on BraTS multimodal MRI."""

from .version import __version__

__all__ = ["__version__"]
