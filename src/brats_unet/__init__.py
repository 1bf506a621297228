"""brats-unet: U-Net-family brain-tumour segmentation on BraTS multimodal MRI."""

__version__ = "0.1.0"
