"""Visual encoders behind one interface and a registry by name (see issue 4).

``encoders.load("default-carracing")`` gives the shipped pretrained CNN;
``encoders.load("resnet18", weights=PATH)`` the ImageNet route; ``encoders.load(PATH)``
a checkpoint written by ``scripts/pretrain_encoder.py``. Every encoder maps
preprocessed uint8 frame stacks ``(N, C, H, W)`` to float features ``(N, D)`` and
carries an :class:`EncoderSpec`.
"""

from encoders.base import Encoder, EncoderError, EncoderSpec
from encoders.registry import available, default_for, load

__all__ = ["Encoder", "EncoderError", "EncoderSpec", "available", "default_for", "load"]
