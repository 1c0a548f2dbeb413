"""summarize: parameters, MACs and receptive fields checked against independent numbers."""

import os
import re
import shutil
import subprocess
import sys

import keras
import pytest

import kcnn
from conftest import check_totals, count_trainable
from kcnn.analysis import summarize
from kcnn.cli import main

# Shapes, counts and fields only: no model here is run (random initial values: conftest.py).
pytestmark = pytest.mark.usefixtures("zero_initializers")


def rows_by_name(summary):
    return {row["name"]: row for row in summary}


TORCHVISION_GFLOPS = {  # torchvision model docs, 224×224, one image
    "resnet18": 1.81, "resnet34": 3.66, "resnet50": 4.09, "resnet101": 7.80,
    "resnet152": 11.51, "vgg11": 7.61, "vgg13": 11.31, "vgg16": 15.47, "vgg19": 19.63,
    "alexnet": 0.71, "googlenet": 1.50,
}


# --- 1. totals equal the sum of trainable weights, for every registered model ---------

# `check_totals` (tests/conftest.py) runs on every sweep case at its small size (tests/models/test_sweep.py,
# which builds each model once for all its checks) and on every default build at full size
# (tests/models/test_param_counts.py, which also pins summarize's MACs to the record).


# --- 2. MACs against torchvision's published GFLOPS (which count MACs) ----------------

@pytest.mark.parametrize("name", sorted(TORCHVISION_GFLOPS))
def test_macs_match_torchvision_within_one_percent(name):
    # The record's MACs are summarize's at the default build (test_param_counts checks
    # that on the full-size model); torchvision's GoogLeNet is a variant: built here.
    if name == "googlenet":
        model = kcnn.models.get_model(name, batch_norm=True, branch3_kernel_size=3)
        summary = summarize(model)
        check_totals(name, model, summary)
        macs = summary.totals["macs"]
    else:
        macs = kcnn.models.model_info(name).macs
    gmacs = macs / 1e9
    print(f"{name}: {gmacs:.4f} GMACs vs torchvision {TORCHVISION_GFLOPS[name]}")
    assert gmacs == pytest.approx(TORCHVISION_GFLOPS[name], rel=0.01)


def test_macs_of_each_layer_kind_by_hand():
    inputs = keras.Input((8, 8, 4))
    x = kcnn.layers.ConvBlock(6, 3, groups=2, batch_norm=True, name="grouped")(inputs)
    x = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", name="dw")(x)
    x = keras.layers.SeparableConv2D(5, 3, strides=2, padding="same", name="sep")(x)
    x = keras.layers.Conv2DTranspose(3, 4, strides=2, padding="same", name="up")(x)
    x = kcnn.layers.LocallyConnected2D(2, 3, name="lc")(x)
    x = keras.layers.Dense(7, name="dense")(x)
    summary = summarize(keras.Model(inputs, x))
    macs = {row["name"]: row["macs"] for row in summary}
    assert macs["grouped"] == 8 * 8 * 6 * 3 * 3 * (4 // 2)        # out · k² · C_in / groups
    assert macs["dw"] == 8 * 8 * 6 * 2 * 3 * 3                     # out · C · mult · k²
    assert macs["sep"] == 4 * 4 * 12 * 3 * 3 + 4 * 4 * 12 * 5      # depthwise + pointwise
    assert macs["up"] == 4 * 4 * 5 * 4 * 4 * 3                     # in · C_in · k² · C_out
    assert macs["lc"] == 6 * 6 * 2 * 3 * 3 * 3                     # out · k² · C_in
    assert macs["dense"] == 6 * 6 * 2 * 7                          # per position
    assert summary.totals["macs"] == sum(macs.values())


def test_inception_1x1_reductions_by_hand():
    # inception (3a) at 28×28×192: 64 | 96→128 | 16→32 (5×5) | pool→32.
    inputs = keras.Input((28, 28, 192))
    block = kcnn.layers.InceptionBlock(64, 96, 128, 16, 32, 32, branch3_kernel_size=5)
    summary = summarize(keras.Model(inputs, block(inputs)))
    hw = 28 * 28
    expected = hw * (192 * 64 + 192 * 96 + 9 * 96 * 128 + 192 * 16 + 25 * 16 * 32 + 192 * 32)
    assert summary[0]["macs"] == expected == 128_049_152
    assert len(summary) == 1 and summary[0]["type"] == "InceptionBlock"


# --- 3. receptive fields against hand computations ------------------------------------

def test_receptive_fields_single_path_vgg16():
    # 3×3 convolutions ("same", stride 1) add 2·jump; 2×2/2 pools add 1·jump and double it.
    # block1: 3, 5 → pool 6 (jump 2) | block2: 10, 14 → 16 (4) | block3: 24, 32, 40 → 44 (8)
    # block4: 60, 76, 92 → 100 (16) | block5: 132, 164, 196 → 212 (32)
    # fc1 sees the 7×7 map: 212 + 6·32 = 404. Starts: a 2×2 pool moves the first centre
    # by half the incoming jump: 0.5, 1.5, 3.5, 7.5, 15.5; then 15.5 + 3·32 = 111.5.
    summary = rows_by_name(summarize(kcnn.models.vgg16()))
    expected = {
        "block1_conv1": (3, 1, 0), "block1_conv2": (5, 1, 0), "block1_pool": (6, 2, 0.5),
        "block2_conv2": (14, 2, 0.5), "block2_pool": (16, 4, 1.5),
        "block3_conv3": (40, 4, 1.5), "block3_pool": (44, 8, 3.5),
        "block4_conv3": (92, 8, 3.5), "block4_pool": (100, 16, 7.5),
        "block5_conv1": (132, 16, 7.5), "block5_conv3": (196, 16, 7.5),
        "block5_pool": (212, 32, 15.5), "fc1": (404, 32, 111.5), "predictions": (404, 32, 111.5),
    }
    for name, (rf, jump, start) in expected.items():
        row = summary[name]
        assert (row["receptive_field"], row["jump"], row["start"]) == (
            (rf, rf), (jump, jump), (start, start)), name


def test_receptive_fields_single_path_lenet5():
    # c1 5×5: 5 | s2 2×2/2: 6, jump 2 | c3 5×5: 6 + 4·2 = 14 | s4: 16, jump 4 | whole 5×5 map:
    # 16 + 4·4 = 32, start (0 + 4)/2 = 2 → 2.5 → 6.5 → 7.5 → 7.5 + 2·4 = 15.5.
    rows = rows_by_name(summarize(kcnn.models.lenet5()))
    got = {n: (r["receptive_field"][0], r["jump"][0], r["start"][0]) for n, r in rows.items()}
    assert got["c1"] == (5, 1, 2) and got["s2"] == (6, 2, 2.5) and got["c3"] == (14, 2, 6.5)
    assert got["s4"] == (16, 4, 7.5) and got["f5"] == (32, 4, 15.5)


def test_receptive_fields_with_residual_additions_resnet20():
    # stem 3×3: 3. Each basic block: two 3×3 convs; the shortcut is shorter and centred on
    # the same pixel, so the union is the conv path. Stage 1 (jump 1): +4 per block → 7, 11,
    # 15. Stage 2: strided conv1 (pad 1, centre kept) 15 + 2 = 17, conv2 17 + 2·2 = 21;
    # blocks 2, 3: +2·(2·2) → 29, 37. Stage 3: 37 + 2·2 = 41, 41 + 2·4 = 49; +16 → 65, 81.
    # Global pooling over 8×8: 81 + 7·4 = 109, start 0 + 3.5·4 = 14.
    rows = rows_by_name(summarize(kcnn.models.resnet20()))
    expected = {"stem_conv": 3, "stage1_block1": 7, "stage1_block3": 15,
                "stage2_block1": 21, "stage2_block2": 29, "stage2_block3": 37,
                "stage3_block1": 49, "stage3_block3": 81, "gap": 109}
    assert {n: rows[n]["receptive_field"][0] for n in expected} == expected
    assert rows["stage2_block1"]["jump"] == (2, 2) and rows["stage3_block3"]["jump"] == (4, 4)
    assert rows["gap"]["start"] == (14, 14)


@pytest.mark.parametrize("branch3_kernel_size, rf_3a, rf_3b", [(5, 59, 91), (3, 43, 59)])
def test_receptive_fields_with_inception_branches_googlenet(branch3_kernel_size, rf_3a, rf_3b):
    # conv1 7×7/2 (pad 3): 7, jump 2, start 0. pool1 3×3/2 "same" on 112 pads 0 before:
    # 7 + 2·2 = 11, jump 4, start 2. conv2 3×3: 11 + 2·4 = 19. pool2: 19 + 2·4 = 27, jump 8,
    # start 6. Inception: the widest branch wins: 5×5 adds 4·8 = 32, 3×3 adds 2·8 = 16
    # (the pool branch, 3×3 stride 1, also 16): 3a 27 + 32 = 59 (or 43), 3b 91 (or 59).
    # pool3 3×3/2 adds 2·8: 107 (or 75), jump 16, start 6 + 8 = 14.
    rows = rows_by_name(summarize(kcnn.models.googlenet(
        branch3_kernel_size=branch3_kernel_size, batch_norm=branch3_kernel_size == 3)))
    got = {n: (r["receptive_field"][0], r["jump"][0], r["start"][0]) for n, r in rows.items()}
    assert got["conv1"] == (7, 2, 0) and got["pool1"] == (11, 4, 2)
    assert got["conv2"] == (19, 4, 2) and got["pool2"] == (27, 8, 6)
    assert got["inception_3a"] == (rf_3a, 8, 6) and got["inception_3b"] == (rf_3b, 8, 6)
    assert got["pool_3b"] == (rf_3b + 16, 16, 14)


def test_union_of_misaligned_branches():
    # Two 1-pixel fields, at pixel 0 and pixel 2: the sum sees pixels 0..2 (3 wide, centre 1),
    # which the longest path alone (1) would miss.
    inputs = keras.Input((8, 8, 1))
    a = keras.layers.Cropping2D(((0, 2), (0, 2)))(inputs)
    b = keras.layers.Cropping2D(((2, 0), (2, 0)))(inputs)
    summary = summarize(keras.Model(inputs, keras.layers.Add()([a, b])))
    assert summary[-1]["receptive_field"] == (3, 3) and summary[-1]["start"] == (1, 1)


# --- composite layers, unknown layers, bad input ---------------------------------------

@keras.saving.register_keras_serializable(package="kcnn_tests")
class Mystery(keras.layers.Layer):
    """A layer whose op the counter does not know (einsum)."""

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], 3))

    def call(self, x):
        return keras.ops.einsum("bhwc,cd->bhwd", x, self.w)


class TwoConvs(keras.layers.Layer):
    """A user's composite layer, with no rule of its own."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.a = keras.layers.Conv2D(4, 3, padding="same")
        self.b = keras.layers.Conv2D(4, 3, padding="same")

    def build(self, input_shape):
        self.a.build(input_shape)
        self.b.build(input_shape[:-1] + (4,))

    def call(self, x):
        return keras.ops.relu(self.b(self.a(x))) + x[..., :1]


def test_composite_layer_is_one_row_with_inner_macs_and_field():
    inputs = keras.Input((6, 6, 2))
    summary = summarize(keras.Model(inputs, TwoConvs(name="two")(inputs)))
    assert len(summary) == 1
    row = summary[0]
    assert row["macs"] == 6 * 6 * 4 * 9 * 2 + 6 * 6 * 4 * 9 * 4
    assert row["receptive_field"] == (5, 5) and row["params"] == (18 * 4 + 4) + (36 * 4 + 4)


def test_nested_model_is_looked_inside():
    inner_in = keras.Input((8, 8, 3))
    inner = keras.Model(inner_in, keras.layers.Conv2D(2, 3)(inner_in), name="inner")
    inputs = keras.Input((8, 8, 3))
    summary = summarize(keras.Model(inputs, keras.layers.MaxPooling2D()(inner(inputs))))
    assert summary[0]["name"] == "inner" and summary[0]["macs"] == 6 * 6 * 2 * 27
    assert summary[1]["receptive_field"] == (4, 4)


def test_unknown_op_is_marked_uncounted_not_zero():
    inputs = keras.Input((4, 4, 2))
    x = keras.layers.Conv2D(2, 3)(inputs)
    summary = summarize(keras.Model(inputs, Mystery(name="mystery")(x)))
    row = rows_by_name(summary)["mystery"]
    assert row["macs"] is None and row["receptive_field"] is None
    assert summary.totals["uncounted"] == ("mystery/einsum",)
    assert summary.totals["macs"] == 2 * 2 * 2 * 9 * 2  # the conv alone: a lower bound
    text = str(summary)
    assert "Not counted" in text and "mystery/einsum" in text and " ? " in text + " "


def test_unknown_input_size_reports_what_does_not_depend_on_it():
    from kcnn.convert import to_fully_convolutional
    model = to_fully_convolutional(kcnn.models.lenet5())   # input (None, None, 1)
    summary = summarize(model)
    assert summary.totals["params"] == 61_706 and summary.totals["macs"] is None
    assert summary.totals["input_shape"] == (None, None, 1)
    last = summary[-1]
    assert last["output_shape"] == (None, None, None, 10) and last["macs"] is None
    # Valid convolutions and pools: the field does not depend on the size.
    assert (last["receptive_field"], last["jump"], last["start"]) == ((32, 32), (4, 4),
                                                                     (15.5, 15.5))
    assert "output shapes and MACs depend on the input size" in str(summary)
    # At one size, everything: 40×40 → c1 36², s2 18², c3 14², s4 7², f5 (5×5) 3², f6 3².
    summary = summarize(model, input_shape=(40, 40, 1))
    assert summary[-1]["output_shape"] == (None, 3, 3, 10)
    assert summary[-1]["receptive_field"] == (32, 32)  # the dense head as convolution: same
    assert summary.totals["macs"] == (36 * 36 * 6 * 25 + 14 * 14 * 16 * 25 * 6
                                      + 9 * 120 * 25 * 16 + 9 * 84 * 120 + 9 * 10 * 84)
    with pytest.raises(ValueError, match="does not fit"):
        summarize(kcnn.models.lenet5(), input_shape=(40, 40, 1))
    with pytest.raises(ValueError, match="positive ints"):
        summarize(model, input_shape=(40, -1, 1))
    with pytest.raises(ValueError, match="keras.Model"):
        summarize(keras.layers.Dense(3))


def test_same_padding_at_an_unknown_size_keeps_the_field_size_not_its_start():
    # googlenet's 3×3/2 "same" pools pad 0 before an even size, 1 before an odd one, so
    # at an unknown size the start after them is unknown, but the field's size and jump are
    # those of any known size (hand numbers: test_receptive_fields_with_inception_...).
    from kcnn.analysis._rules import _same_pad_before
    from kcnn.analysis.arithmetic import same_padding
    for kernel, stride, known in ((3, 2, None), (1, 2, 0), (3, 1, 1), (5, 1, 2),
                                  (7, 4, None), (2, 2, 0)):
        pads = {same_padding(n, kernel, stride)[0] for n in range(1, 40)}
        got = _same_pad_before(None, kernel, stride, 1)
        if known is None:
            assert len(pads) > 1 and type(got).__name__ == "Unknown", (kernel, stride)
        else:
            assert pads == {known} and got == known, (kernel, stride)
    any_size = rows_by_name(summarize(kcnn.models.googlenet(
        include_top=False, input_shape=(None, None, 3))))
    assert any_size["conv1"]["start"] == (0, 0)          # explicit padding: known
    assert any_size["pool1"]["start"] == (None, None)    # "same" and strided: unknown
    for size in (64, 65):
        sized = rows_by_name(summarize(kcnn.models.googlenet(
            include_top=False, input_shape=(size, size, 3))))
        for name, row in any_size.items():
            assert (row["receptive_field"], row["jump"]) == (
                sized[name]["receptive_field"], sized[name]["jump"]), (name, size)
    assert any_size["inception_3b"]["receptive_field"] == (91, 91)
    assert any_size["inception_5b"]["macs"] is None and any_size["inception_5b"]["params"]


def test_rows_are_plain_data_and_the_table_is_aligned():
    summary = summarize(kcnn.models.lenet5())
    assert isinstance(summary, list) and all(isinstance(r, dict) for r in summary)
    assert set(summary[0]) >= {"name", "type", "output_shape", "params", "non_trainable",
                               "macs", "receptive_field", "jump", "start"}
    lines = str(summary).splitlines()
    table = [l for l in lines if l.startswith(("c1 ", "s2 ", "f5 "))]
    assert len(table) == 3 and len({l.index("Conv2D") if "Conv2D" in l else
                                     l.index("AveragePooling2D") if "Pool" in l else
                                     l.index("Dense") for l in table}) == 1
    assert "Trainable params: 61,706" in str(summary)


# --- 7. the command line ----------------------------------------------------------------

def test_cli_summary_in_process(capsys):
    assert main(["summary", "lenet5", "--input-shape", "36,36,1"]) == 0
    out = capsys.readouterr().out
    assert "predictions" in out and "Output receptive field: 36 pixels" in out
    assert main(["summary", "lenet5", "--input-shape", "8,8,1"]) == 2
    assert "minimum height and width for this architecture is 16" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["summary", "lenet5", "--input-shape", "36,36"])
    # Any size: what depends on it is '?', the fields are there; a dense head refuses it.
    assert main(["summary", "resnet20", "--input-shape", "None,None,3"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^stage3_block3 +ResidualBlock +\?×\?×64 .* 81 +4 +0$", out, re.M)
    assert "output shapes and MACs depend on the input size" in out
    assert main(["summary", "vgg11", "--input-shape", "None,None,3"]) == 2
    assert "but the dense head (include_top=True" in capsys.readouterr().err


@pytest.mark.slow
def test_kcnn_summary_googlenet_in_a_fresh_process():
    command = shutil.which("kcnn", path=sys.prefix + "/bin")
    args = [command] if command else [sys.executable, "-m", "kcnn.cli"]
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    proc = subprocess.run([*args, "summary", "googlenet"], capture_output=True, text=True,
                          timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # No TensorFlow start-up log (abseil's banner, "I0000 ..." records, the cuInit error).
    assert not re.search(r"^(WARNING: All log messages before absl|[IWEF]\d{4} )",
                         proc.stderr, re.M), proc.stderr
    assert "inception_5b" in proc.stdout and "InceptionBlock" in proc.stdout
    assert "Trainable params: 6,998,552" in proc.stdout  # googlenet() defaults: the paper's


def test_sequential_and_subclassed_models():
    seq = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3),
                            keras.layers.MaxPooling2D(), keras.layers.Flatten(),
                            keras.layers.Dense(2)])
    summary = summarize(seq)
    assert [r["name"] for r in summary] == ["conv2d", "max_pooling2d", "flatten", "dense"]
    assert summary.totals["macs"] == 14 * 14 * 4 * 27 + 196 * 2
    assert summary[-1]["receptive_field"] == (16, 16)   # 4 + (7 − 1)·2

    class Sub(keras.Model):
        def __init__(self):
            super().__init__()
            self.conv = keras.layers.Conv2D(4, 3)
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(keras.ops.mean(self.conv(x), axis=(1, 2)))

    model = Sub()
    model(keras.ops.zeros((1, 8, 8, 3)))
    with pytest.raises(ValueError, match="input_shape"):
        summarize(model)
    summary = summarize(model, input_shape=(8, 8, 3))
    assert summary.totals["params"] == count_trainable(model) == 122
    assert summary.totals["macs"] == 6 * 6 * 4 * 27 + 4 * 2
    assert summary[-1]["receptive_field"] == (8, 8)     # the mean sees the whole 6×6 map
