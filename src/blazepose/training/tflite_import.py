"""A .tflite graph -> a trainable Keras 3 model, one Keras layer per op, with the file's weights.

The flatbuffer is read with the ``tflite`` schema package (operators, their options, tensors, the graph's inputs
and outputs); weights come from LiteRT itself: the file is run once without its default delegate and with every
tensor preserved, so the outputs of DEQUANTIZE (float16 weights) and DENSIFY (sparse weights) read as the float32
arrays the graph computes with. Supported: the builtin ops of MediaPipe's pose models (``SUPPORTED``); any other
op is refused by name.

    read_graph(path)      -> Graph: ops in execution order, constants, inputs and outputs (names, shapes)
    build_keras(graph)    -> keras.Model: inputs and outputs in the file's order, named as in the file
    parity(path, model, batch) -> per output max |difference| against LiteRT, and the bound it must meet
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from blazepose._quiet import native_stderr_silenced
from blazepose._tensorflow import import_tensorflow
from blazepose.errors import BlazePoseError, require

import_tensorflow()
import keras  # noqa: E402
from keras import layers  # noqa: E402

from blazepose.data.download import sha256_file  # noqa: E402
from blazepose.mediapipe import NOTICE, RELEASED, write_config  # noqa: E402
from blazepose.models.imported import GRAPH, wrap_graph  # noqa: E402
from blazepose.models.tflite_layers import (  # noqa: E402
    FUSED_ACTIVATIONS,
    TFLiteAdd,
    TFLiteDepthToSpace,
    TFLitePad,
    TFLiteResizeBilinear,
)

# The ops a graph may hold; DEQUANTIZE and DENSIFY only on constants (they become the weights).
SUPPORTED = (
    "PAD",
    "DEQUANTIZE",
    "DENSIFY",
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "ADD",
    "MAX_POOL_2D",
    "RESIZE_BILINEAR",
    "RESHAPE",
    "LOGISTIC",
    "DEPTH_TO_SPACE",
    "CONCATENATION",
)
# TFLite TensorType -> NumPy dtype, for the types these graphs hold.
_DTYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 9: np.int8}
_PADDING = {0: "same", 1: "valid"}


@dataclass
class Op:
    name: str  # builtin name, e.g. CONV_2D
    inputs: list[int]  # tensor indices (-1: none)
    outputs: list[int]
    options: dict = field(default_factory=dict)


@dataclass
class Graph:
    path: Path
    ops: list[Op]
    constants: dict[int, np.ndarray]  # tensor index -> value (weights as the graph computes with them)
    tensor_names: list[str]
    tensor_shapes: list[tuple[int, ...]]
    inputs: list[int]
    outputs: list[int]

    def signature(self) -> dict:
        """Input and output names, shapes and dtypes, in the file's order."""

        def one(i):
            return {"name": self.tensor_names[i], "shape": list(self.tensor_shapes[i]), "dtype": "float32"}

        return {"inputs": [one(i) for i in self.inputs], "outputs": [one(i) for i in self.outputs]}


def _options(tfl, op, name: str) -> dict:
    """The op's builtin options as a dict of the fields the builder reads."""
    table = op.BuiltinOptions()
    if table is None:
        return {}

    def load(cls):
        o = cls()
        o.Init(table.Bytes, table.Pos)
        return o

    if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        o = load(tfl.Conv2DOptions if name == "CONV_2D" else tfl.DepthwiseConv2DOptions)
        out = {
            "padding": o.Padding(),
            "strides": (o.StrideH(), o.StrideW()),
            "dilation": (o.DilationHFactor(), o.DilationWFactor()),
            "activation": o.FusedActivationFunction(),
        }
        if name == "DEPTHWISE_CONV_2D":
            out["depth_multiplier"] = o.DepthMultiplier()
        return out
    if name == "MAX_POOL_2D":
        o = load(tfl.Pool2DOptions)
        return {
            "padding": o.Padding(),
            "strides": (o.StrideH(), o.StrideW()),
            "pool": (o.FilterHeight(), o.FilterWidth()),
            "activation": o.FusedActivationFunction(),
        }
    if name == "ADD":
        return {"activation": load(tfl.AddOptions).FusedActivationFunction()}
    if name == "CONCATENATION":
        o = load(tfl.ConcatenationOptions)
        return {"axis": o.Axis(), "activation": o.FusedActivationFunction()}
    if name == "RESIZE_BILINEAR":
        o = load(tfl.ResizeBilinearOptions)
        return {"align_corners": bool(o.AlignCorners()), "half_pixel_centers": bool(o.HalfPixelCenters())}
    if name == "DEPTH_TO_SPACE":
        return {"block_size": load(tfl.DepthToSpaceOptions).BlockSize()}
    return {}


def read_graph(path: str | Path) -> Graph:
    """The graph of a .tflite file: every op checked against ``SUPPORTED``, constants read through LiteRT."""
    tfl = require("tflite", "tflite")
    path = Path(path)
    try:
        buf = path.read_bytes()
    except OSError as exc:
        raise BlazePoseError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        if not tfl.Model.ModelBufferHasIdentifier(buf, 0):
            raise ValueError("no TFL3 identifier")
        model = tfl.Model.GetRootAsModel(buf, 0)
        if model.SubgraphsLength() != 1:
            raise BlazePoseError(f"{path}: expected one subgraph, found {model.SubgraphsLength()}")
        g = model.Subgraphs(0)
        names = [g.Tensors(i).Name().decode() for i in range(g.TensorsLength())]
        shapes = [tuple(int(v) for v in g.Tensors(i).ShapeAsNumpy()) for i in range(g.TensorsLength())]
        ops = []
        for i in range(g.OperatorsLength()):
            op = g.Operators(i)
            code = model.OperatorCodes(op.OpcodeIndex())
            number = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            name = "CUSTOM" if number == 32 else tfl.opcode2name(number)
            if name not in SUPPORTED:
                custom = f" {code.CustomCode().decode()!r}" if name == "CUSTOM" and code.CustomCode() else ""
                raise BlazePoseError(
                    f"{path}: unsupported TFLite op {name}{custom} (op {i}); supported: {', '.join(SUPPORTED)}"
                )
            ins = [int(v) for v in op.InputsAsNumpy()] if op.InputsLength() else []
            outs = [int(v) for v in op.OutputsAsNumpy()]
            ops.append(Op(name, ins, outs, _options(tfl, op, name)))
        inputs = [int(v) for v in g.InputsAsNumpy()]
        outputs = [int(v) for v in g.OutputsAsNumpy()]
        buffered = {
            i
            for i in range(g.TensorsLength())
            if model.Buffers(g.Tensors(i).Buffer()).DataLength() > 0 or g.Tensors(i).Sparsity() is not None
        }
        for i in inputs:
            if g.Tensors(i).Type() != 0:
                raise BlazePoseError(f"{path}: input {names[i]} is not float32 (quantized models are not supported)")
    except BlazePoseError:
        raise
    except Exception as exc:  # the flatbuffer readers raise anything from struct.error to IndexError
        raise BlazePoseError(f"{path} is not a TFLite model the schema reader can parse ({exc})") from None
    constant = set(buffered)
    for op in ops:  # weights computed from constants (DEQUANTIZE, DENSIFY) are constants too
        if op.inputs and all(i in constant for i in op.inputs if i >= 0):
            if op.name not in ("DEQUANTIZE", "DENSIFY"):
                raise BlazePoseError(f"{path}: op {op.name} computes on constants only; not supported")
            constant.update(op.outputs)
    values = _constant_values(path, constant, inputs, shapes)
    ops = [op for op in ops if op.name not in ("DEQUANTIZE", "DENSIFY")]
    return Graph(path, ops, values, names, shapes, inputs, outputs)


def _constant_values(path: Path, constant: set[int], inputs: list[int], shapes) -> dict[int, np.ndarray]:
    """Every constant tensor's value, read from LiteRT after one invoke without the default delegate (with it,
    densified weights read as zeros) and with every tensor preserved."""
    interp_mod = require("ai_edge_litert.interpreter", "ai-edge-litert")
    try:
        with native_stderr_silenced():
            interp = interp_mod.Interpreter(
                model_path=str(path),
                experimental_op_resolver_type=interp_mod.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
                experimental_preserve_all_tensors=True,
            )
            interp.allocate_tensors()
            for i in inputs:
                interp.set_tensor(i, np.zeros(shapes[i], np.float32))
            interp.invoke()
    except (ValueError, RuntimeError) as exc:
        raise BlazePoseError(f"{path} is not a TFLite model LiteRT can run: {exc}") from None
    return {i: np.array(interp.get_tensor(i)) for i in constant}


def _activation(code: int, op: Op, path: Path) -> str | None:
    if code not in FUSED_ACTIVATIONS:
        raise BlazePoseError(f"{path}: {op.name} with fused activation {code} is not supported")
    return FUSED_ACTIVATIONS[code]


def _layer_name(graph: Graph, op: Op) -> str:
    """A Keras-safe layer name from the op's output tensor name (unique: tensor names are)."""
    base = graph.tensor_names[op.outputs[0]].split(";")[0]
    clean = "".join(c if c.isalnum() or c in "_-" else "_" for c in base).strip("_") or "op"
    return f"{clean[:60]}_{op.outputs[0]}"


def build_keras(graph: Graph, name: str = GRAPH) -> keras.Model:
    """The graph as a Keras functional model (batch size free), one layer per op, weights assigned."""
    path = graph.path
    tensors = {}
    model_inputs = []
    for i in graph.inputs:
        shape = graph.tensor_shapes[i][1:]
        x = keras.Input(shape=shape, name=graph.tensor_names[i])
        tensors[i] = x
        model_inputs.append(x)
    consts = graph.constants
    for op in graph.ops:
        o, lname = op.options, _layer_name(graph, op)
        data_in = [i for i in op.inputs if i >= 0 and i not in consts]
        if op.name == "CONV_2D" or op.name == "DEPTHWISE_CONV_2D":
            weight = consts[op.inputs[1]]
            bias = consts[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
            kw = dict(
                strides=o["strides"],
                padding=_PADDING[o["padding"]],
                dilation_rate=o["dilation"],
                activation=_activation(o["activation"], op, path),
                use_bias=bias is not None,
                name=lname,
            )
            if op.name == "CONV_2D":  # (O, kh, kw, I) -> (kh, kw, I, O)
                layer = layers.Conv2D(weight.shape[0], weight.shape[1:3], **kw)
                kernel = np.transpose(weight, (1, 2, 3, 0))
            else:  # (1, kh, kw, C x M) -> (kh, kw, C, M)
                mult = o["depth_multiplier"] or 1
                channels = weight.shape[3] // mult
                layer = layers.DepthwiseConv2D(weight.shape[1:3], depth_multiplier=mult, **kw)
                kernel = weight[0].reshape(*weight.shape[1:3], channels, mult)
            y = layer(tensors[op.inputs[0]])
            layer.set_weights([kernel] if bias is None else [kernel, bias])
        elif op.name == "PAD":
            pads = consts[op.inputs[1]].astype(int)
            if pads.shape != (4, 2) or pads[0].any():
                raise BlazePoseError(f"{path}: PAD with paddings {pads.tolist()} is not supported (NHWC only)")
            y = TFLitePad((pads[1], pads[2]), pads[3], name=lname)(tensors[op.inputs[0]])
        elif op.name == "ADD":
            operands = [tensors[i] if i in tensors else keras.ops.convert_to_tensor(consts[i]) for i in op.inputs]
            if len(data_in) != 2:
                raise BlazePoseError(f"{path}: ADD of a constant is not supported")
            y = TFLiteAdd(_activation(o["activation"], op, path), name=lname)(operands)
        elif op.name == "MAX_POOL_2D":
            if _activation(o["activation"], op, path):
                raise BlazePoseError(f"{path}: MAX_POOL_2D with a fused activation is not supported")
            y = layers.MaxPooling2D(o["pool"], o["strides"], _PADDING[o["padding"]], name=lname)(tensors[op.inputs[0]])
        elif op.name == "RESIZE_BILINEAR":
            size = consts[op.inputs[1]].astype(int)
            y = TFLiteResizeBilinear(size, o["align_corners"], o["half_pixel_centers"], name=lname)(
                tensors[op.inputs[0]]
            )
        elif op.name == "RESHAPE":  # to the output tensor's own shape, less the batch
            target = graph.tensor_shapes[op.outputs[0]]
            y = layers.Reshape(tuple(int(v) for v in target[1:]), name=lname)(tensors[op.inputs[0]])
        elif op.name == "LOGISTIC":
            y = layers.Activation("sigmoid", name=lname)(tensors[op.inputs[0]])
        elif op.name == "DEPTH_TO_SPACE":
            y = TFLiteDepthToSpace(o["block_size"], name=lname)(tensors[op.inputs[0]])
        elif op.name == "CONCATENATION":
            axis = o["axis"]
            rank = len(graph.tensor_shapes[op.outputs[0]])
            y = layers.Concatenate(axis=axis if axis < 0 else axis - rank, name=lname)([tensors[i] for i in op.inputs])
            act = _activation(o["activation"], op, path)
            if act:
                y = layers.Activation(act, name=f"{lname}_act")(y)
        else:  # read_graph refuses these already
            raise BlazePoseError(f"{path}: unsupported TFLite op {op.name}")
        tensors[op.outputs[0]] = y
    outputs = []
    for i in graph.outputs:
        if i not in tensors:
            raise BlazePoseError(f"{path}: output {graph.tensor_names[i]} is not computed from the input")
        outputs.append(tensors[i])
    return keras.Model(model_inputs, outputs, name=name)


def run_tflite(path: str | Path, batch: np.ndarray) -> list[np.ndarray]:
    """The original file in LiteRT's reference kernels (no default delegate), one image per invoke: each output
    stacked over the batch, in the file's output order. The reference, not XNNPACK: LiteRT's two kernel sets
    differ from each other by up to 1.7e-4 x the largest value on these files' segmentation output, more than
    the parity bound allows."""
    interp_mod = require("ai_edge_litert.interpreter", "ai-edge-litert")
    with native_stderr_silenced():
        interp = interp_mod.Interpreter(
            model_path=str(path),
            experimental_op_resolver_type=interp_mod.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        )
        interp.allocate_tensors()
    inp = interp.get_input_details()[0]["index"]
    outs = [o["index"] for o in interp.get_output_details()]
    results = []
    for image in np.asarray(batch, np.float32):
        interp.set_tensor(inp, image[None])
        interp.invoke()
        results.append([interp.get_tensor(i)[0].copy() for i in outs])
    return [np.stack([r[k] for r in results]) for k in range(len(outs))]


# Parity bound per output: max |Keras - LiteRT| <= TOLERANCE x (1 + max |LiteRT value|). The landmark models'
# segmentation logits (output 2, up to about 1700) are ill-conditioned: every op of ours agrees with LiteRT's to
# 1e-5 given the same inputs, yet float32 rounding in a different order grows to 4e-4 there (LiteRT's own XNNPACK
# kernels differ from its reference kernels by 1.7e-4), so that output is held to SEGMENTATION_TOLERANCE.
TOLERANCE = 1e-4
SEGMENTATION_TOLERANCE = 1e-3


def parity(path: str | Path, model: keras.Model, batch: np.ndarray, task: str = "landmarks") -> list[dict]:
    """Per output (the file's order): max |Keras - LiteRT| on `batch` (in the model's input range), the bound it
    must meet, and whether it does."""
    reference = run_tflite(path, batch)
    ours = model.predict_on_batch(np.asarray(batch, np.float32))
    ours = ours if isinstance(ours, list | tuple) else [ours]
    out = []
    for k, (a, b) in enumerate(zip(ours, reference, strict=True)):
        a = np.asarray(a)
        b = b.reshape(a.shape)
        tol = SEGMENTATION_TOLERANCE if task == "landmarks" and k == 2 else TOLERANCE
        diff, bound = float(np.max(np.abs(a - b))), tol * (1.0 + float(np.max(np.abs(b))))
        out.append({"max_abs_difference": diff, "bound": bound, "ok": diff <= bound})
    return out


# What a MediaPipe pose graph looks like: input shape and output shapes, in the file's order.
SIGNATURES = {
    "landmarks": ((1, 256, 256, 3), ((1, 195), (1, 1), (1, 256, 256, 1), (1, 64, 64, 39), (1, 117))),
    "detector": ((1, 224, 224, 3), ((1, 2254, 12), (1, 2254, 1))),
}
# Parameters of the released landmark graphs: a landmark file that is none of them (one exported back after
# fine-tuning) is named after the nearest.
_PARAMS = {"mediapipe-lite": 1_363_089, "mediapipe-full": 3_169_489, "mediapipe-heavy": 13_751_073}


def pose_task(graph: Graph) -> str:
    """ "landmarks" or "detector": which MediaPipe pose graph `graph` is; anything else is refused."""
    got = (
        tuple(graph.tensor_shapes[i] for i in graph.inputs),
        tuple(graph.tensor_shapes[i] for i in graph.outputs),
    )
    for task, (inp, outs) in SIGNATURES.items():
        if got == ((inp,), outs):
            return task
    inputs = ", ".join(str(list(s)) for s in got[0])
    outputs = ", ".join(str(list(s)) for s in got[1])
    raise BlazePoseError(
        f"{graph.path} is not a MediaPipe pose model: input {inputs}, outputs {outputs}; expected a landmark model "
        "(input [1, 256, 256, 3], 5 outputs, the first [1, 195]) or the pose detector (input [1, 224, 224, 3], "
        "outputs [1, 2254, 12] and [1, 2254, 1])"
    )


def released_name(path: Path, task: str, params: int) -> tuple[str, bool]:
    """The MediaPipe name of a file (by its sha256) and whether it is the released file itself; a landmark file
    that is not one is named after the released graph nearest in parameters."""
    digest = sha256_file(path)
    for name, model in RELEASED.items():
        if model.sha256 == digest:
            return name, True
    if task == "detector":
        return "mediapipe-detector", False
    return min(_PARAMS, key=lambda n: abs(_PARAMS[n] - params)), False


def parity_inputs(size: int, n: int = 4, seed: int = 0) -> np.ndarray:
    """`n` images (0..255) for the import's own parity check: noise and smooth gradients."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 255, size, dtype=np.float32)
    images = [rng.uniform(0, 255, (size, size, 3)).astype(np.float32) for _ in range(n // 2)]
    xs, ys = np.meshgrid(ramp, ramp)
    images += [np.stack([xs, ys, 255 - xs], -1)] * (n - n // 2)
    return np.stack(images)


def import_model(path: str | Path, output: str | Path) -> dict:
    """Import a MediaPipe pose .tflite into `output`/<stem>.keras (the network of models/imported.py), with the
    config beside it (<stem>.toml) and a record (<stem>.json: source, sha256, signature, parity). The import is
    checked against LiteRT on a few images and refused when an output is off by more than the bound."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise BlazePoseError(f"{path} does not exist (expected a MediaPipe pose .tflite)")
    graph = read_graph(path)
    task = pose_task(graph)
    model = build_keras(graph)
    name, released = released_name(path, task, model.count_params())
    scale = 255.0 if task == "landmarks" else 127.5
    batch = parity_inputs(graph.tensor_shapes[graph.inputs[0]][1]) / scale - (0.0 if task == "landmarks" else 1.0)
    checks = parity(path, model, batch, task)
    signature = graph.signature()
    for out, check in zip(signature["outputs"], checks, strict=True):
        if not check["ok"]:
            raise BlazePoseError(
                f"{path}: the rebuilt graph's output {out['name']} differs from LiteRT's by "
                f"{check['max_abs_difference']:.3g} (bound {check['bound']:.3g})"
            )
    net = wrap_graph(model, task, name)
    out_dir = Path(output).expanduser()
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = path.stem
    keras_path = out_dir / f"{stem}.keras"
    tmp = out_dir / f".{stem}.tmp.keras"
    net.save(tmp)
    tmp.replace(keras_path)
    write_config(name, keras_path.with_suffix(".toml"))
    record = {
        "imported": name,
        "source": str(path.resolve()),
        "sha256": sha256_file(path),
        "released_file": released,
        "task": task,
        "parameters": int(model.count_params()),
        "signature": signature,
        "parity": {o["name"]: c for o, c in zip(signature["outputs"], checks, strict=True)},
        "licence": NOTICE,
    }
    keras_path.with_suffix(".json").write_text(json.dumps(record, indent=1), encoding="utf-8")
    return {"model": str(keras_path), **record}
