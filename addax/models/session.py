"""Opening an ONNX model: the execution provider, the shape check against its family, batched runs.

``open_model`` fails with a :class:`ModelError` naming the file when it is missing, corrupt, or of the wrong
shape for its family, so the operator reads one clear line instead of an onnxruntime traceback.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import onnxruntime as ort

from addax.models.detectors import OUTPUT_COLUMNS
from addax.models.manifest import Manifest

log = logging.getLogger("addax.models")

GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")
CPU = "CPUExecutionProvider"


class ModelError(RuntimeError):
    """A model that cannot be used, naming its file."""


def choose_providers(requested: Sequence[str], available: Sequence[str]) -> list[str]:
    """The requested providers this onnxruntime has, in order, always ending with the CPU.

    TensorRT is put first whenever CUDA is asked for and the TensorRT provider is present.
    """
    wanted = list(requested)
    if "CUDAExecutionProvider" in wanted and "TensorrtExecutionProvider" not in wanted:
        wanted.insert(wanted.index("CUDAExecutionProvider"), "TensorrtExecutionProvider")
    chosen = [p for p in wanted if p in available and p != CPU]
    return [*chosen, CPU]


@dataclass(frozen=True, slots=True)
class InputSpec:
    name: str
    batch: int | None  # None: any batch size
    channels_last: bool  # NHWC (some TensorFlow exports, SpeciesNet) rather than NCHW
    size: int


class OnnxModel:
    """One onnxruntime session; ``run`` is thread-safe (onnxruntime allows concurrent runs of a session)."""

    def __init__(self, manifest: Manifest, session: ort.InferenceSession) -> None:
        self.manifest = manifest
        self.session = session
        self.provider: str = session.get_providers()[0]
        self.input = _input_spec(manifest, session)
        self.output_name = session.get_outputs()[0].name

    def run(self, batch: np.ndarray) -> np.ndarray:
        """The first output for a batch (``[B, ...]``), in pieces when the model takes a fixed batch size."""
        if self.input.channels_last and batch.shape[1] == 3:
            batch = batch.transpose(0, 2, 3, 1)
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        fixed = self.input.batch
        if fixed is None or fixed == len(batch):
            return np.asarray(self.session.run([self.output_name], {self.input.name: batch})[0])
        if fixed != 1:
            raise ModelError(f"{self.manifest.file}: takes batches of exactly {fixed} images")
        outputs = [
            self.session.run([self.output_name], {self.input.name: batch[i : i + 1]})[0] for i in range(len(batch))
        ]
        return np.concatenate(outputs)

    @property
    def max_batch(self) -> int | None:
        return self.input.batch


def open_model(manifest: Manifest, providers: Sequence[str], *, threads: int = 0) -> OnnxModel:
    """Load and check a model; ``threads`` = 0 lets onnxruntime use every core."""
    path = manifest.file
    if not path.is_file():
        raise ModelError(f"{path}: model file not found (manifest {manifest.path})")
    available = ort.get_available_providers()
    chosen = choose_providers(providers, available)
    if any(p in GPU_PROVIDERS for p in chosen):
        _load_gpu_libraries()
    missing_gpu = [p for p in providers if p in GPU_PROVIDERS and p not in available]
    if missing_gpu:
        log.warning(
            "GPU provider not available, running on the CPU",
            extra={"model": manifest.name, "requested": list(providers), "available": available},
        )
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    if not any(p in GPU_PROVIDERS for p in chosen):
        # onnxruntime's idle threads spin after each run, taking the cores that decoding and the derived images
        # need between batches: 13 % more CPU per image in bench/pipeline.py.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        session = ort.InferenceSession(os.fspath(path), sess_options=options, providers=chosen)
    except Exception as error:  # onnxruntime raises its own exception types for bad files
        raise ModelError(f"{path}: not a usable ONNX model ({type(error).__name__}: {error})") from None
    model = OnnxModel(manifest, session)
    check_output(manifest, session)
    log.info(
        "model loaded",
        extra={"model": manifest.name, "family": manifest.family, "provider": model.provider, "file": str(path)},
    )
    return model


@functools.cache
def _load_gpu_libraries() -> None:
    """CUDA and cuDNN from NVIDIA's wheels (the gpu extra), loaded once before the first GPU session.

    Without it onnxruntime-gpu finds them only in the system's library path, and falls back to the CPU.
    """
    preload = getattr(ort, "preload_dlls", None)  # onnxruntime >= 1.21
    if preload is None:
        return
    try:
        preload()
    except Exception as error:  # a missing directory or library: the session then says what it lacks
        log.warning("could not preload the CUDA libraries", extra={"error": str(error)})


def _input_spec(manifest: Manifest, session: ort.InferenceSession) -> InputSpec:
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise ModelError(f"{manifest.file}: expected one image input, the model has {len(inputs)}")
    shape = list(inputs[0].shape)
    if len(shape) != 4:
        raise ModelError(f"{manifest.file}: input {inputs[0].name} has shape {shape}, expected [batch, 3, H, W]")
    channels_last = shape[3] == 3 and shape[1] != 3
    channels, height, width = (shape[3], shape[1], shape[2]) if channels_last else (shape[1], shape[2], shape[3])
    if channels != 3:
        raise ModelError(f"{manifest.file}: input shape {shape} does not take RGB images")
    size = manifest.input_size
    for side in (height, width):
        if isinstance(side, int) and side != size:
            raise ModelError(
                f"{manifest.file}: input shape {shape} does not match input_size = {size} of {manifest.path}"
            )
    batch = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else None
    return InputSpec(name=inputs[0].name, batch=batch, channels_last=channels_last, size=size)


def check_output(manifest: Manifest, session: ort.InferenceSession) -> None:
    """The first output's shape must fit the family and the number of labels."""
    shape = list(session.get_outputs()[0].shape)
    classes = len(manifest.labels)
    if manifest.kind == "detector":
        width = OUTPUT_COLUMNS[manifest.family](classes)
        position = 2 if manifest.family == "megadetector-v5" else 1
        fits = len(shape) == 3 and (not isinstance(shape[position], int) or shape[position] == width)
        layout = "[batch, boxes, 5 + classes]" if position == 2 else "[batch, 4 + classes, boxes]"
    else:
        fits = len(shape) == 2 and (not isinstance(shape[1], int) or shape[1] == classes)
        layout, width = "[batch, classes]", classes
    if not fits:
        raise ModelError(
            f"{manifest.file}: output shape {shape} does not fit family {manifest.family} "
            f"with {classes} labels (expected {layout}, {width} wide)"
        )
