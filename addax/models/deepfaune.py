"""DeepFaune (CNRS, https://www.deepfaune.cnrs.fr): its classes, their scientific names, and how it crops.

Taken from DeepFaune's own code (``classifTools.py`` and ``detectTools.py``, CeCILL licence; the same values are
in Pytorch-Wildlife's ``DeepFauneClassifierV15``):

- v1.5 is a ViT-L/16 DINOv3 backbone (``vit_large_patch16_dinov3.lvd1689m``) fine-tuned at 224 x 224 on 40
  classes, listed here in its output order (``txt_animalclasses['en']``). Earlier releases differ: v1.3 (ViT-L/14
  DINOv2, 182 x 182) had 34 classes and v1.4 38 (no mongoose, no arctic fox): a manifest for those lists its own
  labels; the scientific names below still apply to every name they share.
- ``cropSquareCVtoPIL``: the detector's box is made square by widening its shorter side by
  ``int((long - short) / 2)`` on each side, then cut at the photo's edges (so a box at the border gives a
  rectangle, "as square as possible"), and the crop is resized to 224 x 224 with a bicubic filter on the PIL
  image (``transforms.Resize(..., BICUBIC)``: Pillow's resampling) and normalised with ImageNet's mean and std.
- The network's head gives logits; DeepFaune applies the softmax itself, so an ONNX export of the network outputs
  logits (``outputs = "logits"``). The separate bird head (8 bird groups on the class token) is not part of it.

DeepFaune's class names are common names and some are groups (mustelid, lagomorph, micromammal, bird), so the
scientific name is the group's taxon where one fits and the class name otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping

from addax.models.manifest import CropPreparation

DEEPFAUNE_INPUT_SIZE = 224

DEEPFAUNE_CROPS = CropPreparation(
    resize="squash",
    mean=(0.485, 0.456, 0.406),
    std=(0.229, 0.224, 0.225),
    outputs="logits",
    crop_padding=0.0,
)

#: DeepFaune class name -> scientific name (species, or the genus/family/order/class the class stands for).
DEEPFAUNE_SCIENTIFIC: Mapping[str, str] = {
    "bison": "Bison bonasus",
    "badger": "Meles meles",
    "ibex": "Capra ibex",
    "beaver": "Castor",
    "red deer": "Cervus elaphus",
    "golden jackal": "Canis aureus",
    "chamois": "Rupicapra",
    "cat": "Felis",
    "goat": "Capra hircus",
    "roe deer": "Capreolus capreolus",
    "dog": "Canis familiaris",
    "raccoon dog": "Nyctereutes procyonoides",
    "fallow deer": "Dama dama",
    "squirrel": "Sciurus",
    "moose": "Alces alces",
    "equid": "Equidae",
    "genet": "Genetta genetta",
    "wolverine": "Gulo gulo",
    "hedgehog": "Erinaceus",
    "lagomorph": "Lagomorpha",
    "wolf": "Canis lupus",
    "otter": "Lutra lutra",
    "lynx": "Lynx lynx",
    "mongoose": "Herpestidae",
    "marmot": "Marmota marmota",
    "micromammal": "micromammal",
    "mouflon": "Ovis orientalis",
    "sheep": "Ovis aries",
    "mustelid": "Mustelidae",
    "bird": "Aves",
    "bear": "Ursus arctos",
    "porcupine": "Hystrix cristata",
    "nutria": "Myocastor coypus",
    "muskrat": "Ondatra zibethicus",
    "raccoon": "Procyon lotor",
    "fox": "Vulpes vulpes",
    "arctic fox": "Vulpes lagopus",
    "reindeer": "Rangifer tarandus",
    "wild boar": "Sus scrofa",
    "cow": "Bos taurus",
    # names of earlier releases
    "equide": "Equidae",
    "mustelide": "Mustelidae",
}

#: DeepFaune v1.5's classes in the network's output order: the ``labels`` of a ``family = "deepfaune"`` manifest.
DEEPFAUNE_LABELS: tuple[str, ...] = (
    "bison", "badger", "ibex", "beaver", "red deer", "golden jackal", "chamois", "cat", "goat", "roe deer",
    "dog", "raccoon dog", "fallow deer", "squirrel", "moose", "equid", "genet", "wolverine", "hedgehog",
    "lagomorph", "wolf", "otter", "lynx", "mongoose", "marmot", "micromammal", "mouflon", "sheep", "mustelid",
    "bird", "bear", "porcupine", "nutria", "muskrat", "raccoon", "fox", "arctic fox", "reindeer", "wild boar",
    "cow",
)  # fmt: skip


def square_crop_box(box: tuple[float, float, float, float], width: int, height: int) -> tuple[int, int, int, int]:
    """DeepFaune's ``cropSquareCVtoPIL`` on pixel corners ``(x1, y1, x2, y2)``: ``(left, top, right, bottom)``.

    The shorter side grows by ``int((long - short) / 2)`` on each side; the result is cut at the photo's edges
    with ``int()`` as DeepFaune slices its array. An empty result is widened to one pixel inside the photo.
    """
    x1, y1, x2, y2 = box
    box_width, box_height = x2 - x1, y2 - y1
    if box_width > box_height:
        grow = int((box_width - box_height) / 2)
        y1, y2 = y1 - grow, y2 + grow
    elif box_height > box_width:
        grow = int((box_height - box_width) / 2)
        x1, x2 = x1 - grow, x2 + grow
    left, right = max(0, int(x1)), min(int(x2), width)
    top, bottom = max(0, int(y1)), min(int(y2), height)
    left, top = min(left, width - 1), min(top, height - 1)
    return left, top, max(right, left + 1), max(bottom, top + 1)
