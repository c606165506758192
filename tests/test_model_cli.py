"""`addax models list | check | add` as an operator types them, on small real ONNX models built here.

The graphs are tiny but real: a YOLOv5-shaped detector ``[1, 3, 64, 64] -> [1, N, 8]`` and a classifier
``[1, 3, 64, 64] -> [1, C]``. Downloads come from a local aiohttp server that can cut the first response
midway and that logs the Range header of every request.
"""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import sys
import tomllib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import pytest
from aiohttp import web
from onnx import TensorProto, helper, numpy_helper

from addax.models.deepfaune import DEEPFAUNE_CROPS, DEEPFAUNE_LABELS
from addax.models.manifest import load_manifest
from tests.service import environment

BOXES = 4000  # ~400 KB of weights: a download long enough to be cut in the middle


def graph(path: Path, *, outputs: list[int | str], size: int | str = 64) -> Path:
    """A real ONNX model: pixels averaged per channel, then one matrix to the output shape (sigmoid)."""
    width = int(np.prod([d for d in outputs[1:] if isinstance(d, int)]))
    weights = np.random.default_rng(len(outputs) + width).random((3, width), dtype=np.float32)
    image = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])
    result = helper.make_tensor_value_info("output", TensorProto.FLOAT, outputs)
    nodes = [
        helper.make_node("GlobalAveragePool", ["images"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"]),
        helper.make_node("MatMul", ["flat", "weights"], ["mixed"]),
        helper.make_node("Sigmoid", ["mixed"], ["scores"]),
        helper.make_node("Reshape", ["scores", "shape"], ["output"]),
    ]
    shape = np.array([-1, *outputs[1:]], dtype=np.int64)
    initializers = [numpy_helper.from_array(weights, "weights"), numpy_helper.from_array(shape, "shape")]
    model = helper.make_model(
        helper.make_graph(nodes, "test", [image], [result], initializers),
        opset_imports=[helper.make_opsetid("", 13)],
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def yolov5(path: Path, *, classes: int = 3, size: int | str = 64) -> Path:
    return graph(path, outputs=[1, BOXES, 5 + classes], size=size)


def classifier(path: Path, *, classes: int = 5) -> Path:
    return graph(path, outputs=[1, classes])


@dataclass
class Addax:
    home: Path

    @property
    def models(self) -> Path:
        return self.home / "models"

    async def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``addax models ARGS`` in ``home`` (no config.toml there), CPU only."""
        env = {
            **environment(),
            "ADDAX_MODELS_DIR": str(self.models),
            "ADDAX_MODELS_PROVIDERS": "CPUExecutionProvider",
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "addax",
            "models",
            *args,
            cwd=self.home,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
        assert process.returncode is not None
        return subprocess.CompletedProcess(list(args), process.returncode, stdout.decode(), stderr.decode())

    async def ok(self, *args: str) -> str:
        result = await self.run(*args)
        assert result.returncode == 0, result.stderr
        return result.stdout

    async def fails(self, *args: str) -> str:
        """The error line (the last on standard error, after any progress bar) of a command that must fail."""
        result = await self.run(*args)
        assert result.returncode == 1, result.stdout
        return result.stderr.strip().splitlines()[-1]

    def manifest(self, name: str) -> dict[str, object]:
        return tomllib.loads((self.models / f"{name}.toml").read_text(encoding="utf-8"))

    def installed(self) -> list[str]:
        return sorted(path.name for path in self.models.iterdir()) if self.models.exists() else []


@pytest.fixture
def addax(tmp_path: Path) -> Addax:
    return Addax(tmp_path)


# -- add from a local file ---------------------------------------------------------------------------


async def test_add_a_local_megadetector_writes_the_manifest_with_labels_categories_and_sha256(addax: Addax) -> None:
    model = yolov5(addax.home / "md_v5a.0.0.onnx")

    out = await addax.ok("add", str(model), "--family", "megadetector-v5", "--licence", "MIT")

    assert "installed md_v5a.0.0 (megadetector-v5): input 64, 3 labels (animal, person, vehicle)" in out
    assert "in use as the detector" in out
    assert addax.installed() == ["md_v5a.0.0.onnx", "md_v5a.0.0.toml"]
    assert (addax.models / "md_v5a.0.0.onnx").read_bytes() == model.read_bytes()
    manifest = addax.manifest("md_v5a.0.0")
    assert manifest == {
        "kind": "detector",
        "family": "megadetector-v5",
        "file": "md_v5a.0.0.onnx",
        "input_size": 64,
        "labels": ["animal", "person", "vehicle"],
        "licence": "MIT",
        "source": str(model),
        "sha256": hashlib.sha256(model.read_bytes()).hexdigest(),
        "categories": {"animal": "animal", "person": "person", "vehicle": "vehicle"},
    }

    again = await addax.fails("add", str(model), "--family", "megadetector-v5")
    assert (
        again
        == f"addax: {addax.models / 'md_v5a.0.0.toml'} already exists: choose another --name, or --force to replace it"
    )
    await addax.ok("add", str(model), "--family", "megadetector-v5", "--force")


async def test_a_classifier_takes_its_labels_from_a_file_and_a_dynamic_input_needs_a_size(addax: Addax) -> None:
    model = classifier(addax.home / "species.onnx", classes=3)
    labels = addax.home / "labels.txt"
    labels.write_text("Capreolus capreolus\nSus scrofa\n\nVulpes vulpes\n", encoding="utf-8")

    refused = await addax.fails("add", str(model), "--family", "classifier")
    assert refused == (
        f"addax: {model}: a classifier classifier needs its labels: --labels-file PATH, one per line in output "
        "order; not installed"
    )
    await addax.ok("add", str(model), "--family", "classifier", "--labels-file", str(labels))
    assert addax.manifest("species")["labels"] == ["Capreolus capreolus", "Sus scrofa", "Vulpes vulpes"]
    assert "categories" not in addax.manifest("species")

    dynamic = yolov5(addax.home / "dynamic.onnx", size="side")
    line = await addax.fails("add", str(dynamic), "--family", "megadetector-v5")
    assert "leaves the image size open: give it with --input-size N; not installed" in line
    await addax.ok("add", str(dynamic), "--family", "megadetector-v5", "--input-size", "1280")
    assert addax.manifest("dynamic")["input_size"] == 1280


async def test_a_deepfaune_classifier_gets_the_v15_labels_and_crop_preparation(addax: Addax) -> None:
    model = classifier(addax.home / "deepfaune.onnx", classes=len(DEEPFAUNE_LABELS))

    await addax.ok("add", str(model), "--family", "deepfaune", "--name", "deepfaune-v1.5")

    manifest = load_manifest(addax.models / "deepfaune-v1.5.toml")
    assert manifest.labels == DEEPFAUNE_LABELS
    assert manifest.crops == DEEPFAUNE_CROPS
    older = classifier(addax.home / "deepfaune-v1.3.onnx", classes=34)
    line = await addax.fails("add", str(older), "--family", "deepfaune")
    assert line == (
        f"addax: {older}: output shape [1, 34] does not fit family deepfaune with {len(DEEPFAUNE_LABELS)} labels "
        f"(expected [batch, classes], {len(DEEPFAUNE_LABELS)} wide); not installed"
    )


async def test_a_model_of_the_wrong_shape_for_its_family_is_refused_naming_the_file(addax: Addax) -> None:
    model = classifier(addax.home / "not-a-detector.onnx")

    line = await addax.fails("add", str(model), "--family", "megadetector-v5")

    assert line == (
        f"addax: {model}: output shape [1, 5] does not fit family megadetector-v5 with 3 labels "
        "(expected [batch, boxes, 5 + classes], 8 wide); not installed"
    )
    coco = yolov5(addax.home / "coco.onnx", classes=80)
    line = await addax.fails("add", str(coco), "--family", "megadetector-v5")
    assert line.startswith(f"addax: {coco}: output [1, {BOXES}, 85] means 80 classes for family megadetector-v5")
    assert addax.installed() == []


async def test_a_sha256_mismatch_is_refused_and_nothing_is_installed(addax: Addax) -> None:
    model = yolov5(addax.home / "md.onnx")
    actual = hashlib.sha256(model.read_bytes()).hexdigest()

    line = await addax.fails("add", str(model), "--family", "megadetector-v5", "--sha256", "ab" * 32)

    assert line == f"addax: {model}: sha256 is {actual}, expected {'ab' * 32}; not installed"
    assert addax.installed() == []  # no model, no manifest, no .part


# -- add from a URL ------------------------------------------------------------------------------------


@dataclass
class ModelServer:
    """Serves one file; can close the connection after half the body of its first answer, or ignore Range."""

    file: Path
    cut_first: bool = True
    ranges: bool = True
    requests: list[str | None] = field(default_factory=list)  # the Range header of each request

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request.headers.get("Range"))
        data = self.file.read_bytes()
        if self.cut_first and len(self.requests) == 1:
            response = web.StreamResponse(headers={"Content-Length": str(len(data))})
            await response.prepare(request)
            await response.write(data[: len(data) // 2])
            assert request.transport is not None
            request.transport.close()  # the connection drops midway
            return response
        if self.ranges:
            return web.FileResponse(self.file)  # aiohttp's own Range handling
        return web.Response(body=data)


Serve = Callable[[ModelServer], Awaitable[str]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Starts a ModelServer on a free port and gives its file's URL."""
    runners: list[web.AppRunner] = []

    async def start(server: ModelServer) -> str:
        app = web.Application()
        app.router.add_get("/{name}", server.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}/{server.file.name}"

    yield start
    for runner in runners:
        await runner.cleanup()


async def test_an_interrupted_download_resumes_from_the_part_with_a_range_request(addax: Addax, serve: Serve) -> None:
    model = yolov5(addax.home / "mdv1000.onnx")
    data = model.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    server = ModelServer(model)
    url = await serve(server)

    line = await addax.fails("add", url, "--family", "megadetector-v5", "--sha256", digest)

    part = addax.models / "mdv1000.onnx.part"
    assert line.startswith(f"addax: {url}: download stopped after {len(data) // 2} bytes (")
    assert line.endswith(f"run the same command again to continue from {part}")
    assert part.stat().st_size == len(data) // 2
    assert addax.installed() == ["mdv1000.onnx.part"]

    await addax.ok("add", url, "--family", "megadetector-v5", "--sha256", digest)

    assert server.requests == [None, f"bytes={len(data) // 2}-"]
    assert addax.installed() == ["mdv1000.onnx", "mdv1000.toml"]
    assert hashlib.sha256((addax.models / "mdv1000.onnx").read_bytes()).hexdigest() == digest
    assert addax.manifest("mdv1000")["sha256"] == digest
    assert addax.manifest("mdv1000")["source"] == url


async def test_a_server_without_range_support_restarts_the_download_cleanly(addax: Addax, serve: Serve) -> None:
    model = yolov5(addax.home / "md.onnx")
    data = model.read_bytes()
    server = ModelServer(model, ranges=False)
    url = await serve(server)

    assert "download stopped" in await addax.fails("add", url, "--family", "megadetector-v5")
    await addax.ok("add", url, "--family", "megadetector-v5")

    assert server.requests == [None, f"bytes={len(data) // 2}-"]  # asked to continue, got the whole file
    assert (addax.models / "md.onnx").read_bytes() == data
    assert addax.manifest("md")["sha256"] == hashlib.sha256(data).hexdigest()


async def test_a_downloaded_file_with_the_wrong_sha256_is_dropped(addax: Addax, serve: Serve) -> None:
    model = yolov5(addax.home / "md.onnx")
    url = await serve(ModelServer(model, cut_first=False))

    line = await addax.fails("add", url, "--family", "megadetector-v5", "--sha256", "0" * 64)

    assert line.startswith(f"addax: {url}: sha256 is ")
    assert addax.installed() == []  # not even the .part: a wrong file is not worth resuming


# -- list and check -----------------------------------------------------------------------------------


async def test_list_and_check_a_good_a_missing_and_a_broken_manifest(addax: Addax) -> None:
    await addax.ok("add", str(yolov5(addax.home / "good.onnx")), "--family", "megadetector-v5")
    (addax.models / "missing.toml").write_text(
        'kind = "detector"\nfamily = "megadetector-v5"\nfile = "missing.onnx"\ninput_size = 64\n'
        'labels = ["animal", "person", "vehicle"]\n',
        encoding="utf-8",
    )
    (addax.models / "broken.toml").write_text('kind = "detector"\nfamily = "megadetector-v9"\n', encoding="utf-8")

    listed, checked = await asyncio.gather(addax.run("list"), addax.run("check"))

    assert listed.returncode == 0, listed.stderr
    blocks = {block.split()[0]: block for block in listed.stdout.split("\n\n")}
    assert blocks["broken"] == (
        f"broken  BROKEN\n  {addax.models / 'broken.toml'}: family must be one of megadetector-v5, "
        "yolo-ultralytics (got 'megadetector-v9')"
    )
    assert blocks["missing"].startswith("missing  detector, megadetector-v5\n")
    assert f"  file      {addax.models / 'missing.onnx'} (MISSING)" in blocks["missing"]
    assert blocks["good"].splitlines() == [
        "good  detector, megadetector-v5  [active detector]",
        f"  file      {addax.models / 'good.onnx'} (found, {(addax.models / 'good.onnx').stat().st_size / 1e6:.1f} MB)",
        "  input     64 x 64",
        "  labels    3: animal, person, vehicle",
        "  provider  CPUExecutionProvider",
    ]
    assert "detector: good (megadetector-v5), the first detector by name; models.detector is empty" in listed.stdout

    assert checked.returncode == 1
    lines = checked.stdout.splitlines()
    assert f"broken: FAILED  {addax.models / 'broken.toml'}: family must be one of" in "\n".join(lines)
    assert f"missing: FAILED  {addax.models / 'missing.onnx'}: model file not found (manifest" in "\n".join(lines)
    (good,) = [line for line in lines if line.startswith("good: ")]
    assert good.startswith("good: ok  CPUExecutionProvider, ")
    assert good.endswith(f"input [1, 3, 64, 64] -> output [1, {BOXES}, 8]")
    assert checked.stderr.strip().splitlines()[-1] == "addax: 2 model(s) failed: broken, missing"


async def test_without_a_detector_list_and_check_say_how_to_install_one(addax: Addax) -> None:
    listed = await addax.ok("list")
    checked = await addax.ok("check")

    for out in (listed, checked):
        assert "detector: no detector configured: install one with `addax models add FILE_OR_URL" in out


async def test_check_fails_when_the_file_no_longer_matches_its_sha256(addax: Addax) -> None:
    await addax.ok("add", str(yolov5(addax.home / "md.onnx")), "--family", "megadetector-v5")
    graph(addax.models / "md.onnx", outputs=[1, 10, 8])  # replaced by another model that also fits

    result = await addax.run("check")

    assert result.returncode == 1
    assert f"md: FAILED  {addax.models / 'md.onnx'}: sha256 is " in result.stdout
