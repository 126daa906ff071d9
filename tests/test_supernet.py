"""Supernets cover their spaces: every architecture is a subnet whose parameters are named and shaped as in
``space.build(arch)`` and are slices of the shared weights; subnets run as the space's module; kernels and
attention widths are shared as OFA and AutoFormer share them; hardware-aware training injects the same
device noise as ``nas_edge.analog``; scoring recalibrates batch norms and reports the extracted subnet's
accuracy."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from nas_edge.analog import AnalogConfig, HWAConfig, convert_to_analog, set_hwa  # noqa: E402
from nas_edge.evaluate import from_arrays, load_data  # noqa: E402
from nas_edge.evaluate.train import accuracy  # noqa: E402
from nas_edge.spaces import create_space  # noqa: E402
from nas_edge.supernet import SupernetError, SupernetScorer, build_supernet, recalibrate_bn  # noqa: E402

pytestmark = pytest.mark.usefixtures("torch_one_thread")

SMALL_CNN = {"stages": 2, "max_depth": 2, "stem_widths": (4, 8), "widths": ((4, 8), (8, 12)), "resolutions": (8, 12)}
SMALL_VIT = {"embed_dims": (8, 16), "heads": (1, 2, 4), "mlp_ratios": (1, 2), "max_depth": 2}
SPACES = {
    "cnn": ("cnn", {"input_shape": (1, 8, 8), "num_classes": 10}),
    "vit": ("transformer", {"input_shape": (1, 8, 8), "num_classes": 10}),
    "tokens": ("transformer", {"input_shape": (12,), "num_classes": 10, "vocab_size": 16}),
    "cnn-small": ("cnn", {"input_shape": (1, 8, 8), "num_classes": 10, **SMALL_CNN}),
    "vit-small": ("transformer", {"input_shape": (2, 8, 8), "num_classes": 3, **SMALL_VIT}),
    "tokens-small": ("transformer", {"input_shape": (12,), "num_classes": 4, "vocab_size": 7, **SMALL_VIT}),
}


@pytest.fixture(scope="module")
def supernets() -> dict:
    out = {}
    for key, (name, kw) in SPACES.items():
        torch.manual_seed(0)
        out[key] = build_supernet(create_space(name, **kw))
    return out


def _inputs(space, n: int = 6) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    if getattr(space, "vocab_size", None) is not None:
        return torch.randint(0, space.vocab_size, (n, *space.input_shape), generator=g)
    return torch.randn((n, *space.input_shape), generator=g)


@settings(max_examples=30)
@given(seed=st.integers(0, 2**32 - 1), key=st.sampled_from(["cnn", "vit", "tokens"]))
def test_every_architecture_of_the_default_spaces_is_a_subnet(supernets, seed, key):
    sn = supernets[key]
    arch = sn.space.sample(seed)
    state = sn.subnet_state(arch)
    with torch.device("meta"):
        built = dict(sn.space.build(arch).named_parameters())
    assert set(state) == set(built)
    for name, p in built.items():
        assert state[name].shape == p.shape, name


@settings(max_examples=25)
@given(seed=st.integers(0, 2**32 - 1), key=st.sampled_from(["cnn-small", "vit-small", "tokens-small"]))
def test_a_subnet_runs_as_the_space_module_with_the_inherited_weights(supernets, seed, key):
    sn = supernets[key]
    arch = sn.space.sample(seed)
    module = sn.extract(arch)
    assert type(module) is type(sn.space.build(arch))
    x = _inputs(sn.space)
    sn.train()
    module.train()  # batch statistics on both sides
    with torch.no_grad():
        torch.testing.assert_close(sn(x, arch), module(x), rtol=1e-5, atol=1e-5)
    # the extracted weights are copies: training the subnet leaves the supernet alone
    before = {k: v.clone() for k, v in sn.state_dict().items()}
    next(module.parameters()).data.add_(1.0)
    assert all(torch.equal(before[k], v) for k, v in sn.state_dict().items())


def test_subnets_inherit_the_first_channels_and_gradients_reach_only_them(supernets):
    sn = supernets["cnn-small"]
    rng = np.random.default_rng(0)
    arch = sn.smallest(rng)
    big = sn.largest(rng)
    state = sn.subnet_state(arch)
    w = arch.stem_width
    assert torch.equal(state["stem.0.weight"], sn.stem.conv.weight[:w])
    assert torch.equal(sn.subnet_state(big)["stem.0.weight"], sn.stem.conv.weight)
    sn.zero_grad()
    sn.train()
    sn(_inputs(sn.space), arch).sum().backward()
    grad = sn.stem.conv.weight.grad
    assert grad[:w].abs().sum() > 0 and torch.all(grad[w:] == 0)
    sn.zero_grad()


def test_largest_and_smallest_take_the_extreme_sizes_and_any_alternative(supernets):
    sn = supernets["cnn"]
    space = sn.space
    blocks = set()
    for seed in range(12):
        big, small = sn.largest(np.random.default_rng(seed)), sn.smallest(np.random.default_rng(seed))
        assert big.resolution == max(space.resolutions) and small.resolution == min(space.resolutions)
        for i, (b, s) in enumerate(zip(big.stages, small.stages, strict=True)):
            assert (b.depth, b.width, b.kernel, b.expand, b.se) == (space.max_depth, max(space.widths[i]), 7, 6, True)
            assert (s.depth, s.width, s.kernel, s.expand, s.se) == (1, min(space.widths[i]), 3, 1, False)
            blocks.add(b.block)
    assert blocks == {"mbconv", "dense", "residual"}
    vit = supernets["vit"]
    patches = {vit.largest(np.random.default_rng(s)).patch_size for s in range(12)}
    assert patches == set(vit.space.patch_sizes)  # a choice, not a size
    big = vit.largest(np.random.default_rng(0))
    assert (big.embed_dim, big.depth, big.mlp_ratio) == (max(vit.space.embed_dims), vit.space.max_depth, 4)


def test_smaller_kernels_are_transformed_centres_of_the_largest(supernets):
    sn = supernets["cnn-small"]
    conv = sn.stages[0][0]["dense"].conv.conv
    w7 = conv.weight_for(4, 4, 7)
    torch.testing.assert_close(conv.weight_for(4, 4, 5), w7[..., 1:6, 1:6])  # identity transforms at the start
    torch.testing.assert_close(conv.weight_for(4, 4, 3), w7[..., 2:5, 2:5])
    with torch.no_grad():
        conv.transforms["3"].copy_(torch.flip(torch.eye(9), dims=[0]))  # a learned transform is applied
    try:
        torch.testing.assert_close(conv.weight_for(4, 4, 3), torch.flip(w7[..., 2:5, 2:5], dims=[-2, -1]))
    finally:
        with torch.no_grad():
            conv.transforms["3"].copy_(torch.eye(9))


def test_attention_widths_are_entangled(supernets):
    sn = supernets["vit-small"]
    arch = dataclasses.replace(sn.space.sample(0), embed_dim=8, heads=2)
    qkv = sn.subnet_state(arch)["blocks.0.attn.qkv.weight"]
    full = sn.blocks[0].qkv.weight  # rows: 16 queries, 16 keys, 16 values
    for part in range(3):
        assert torch.equal(qkv[8 * part:8 * (part + 1)], full[16 * part:16 * part + 8, :8])


def test_hardware_aware_forward_draws_the_noise_of_nas_edge_analog(supernets):
    """The supernet's noisy training forward equals ``nas_edge.analog``'s hardware-aware forward of the
    extracted subnet with the same generator: the device model is reused, not copied."""
    sn = supernets["cnn-small"]
    cfg = AnalogConfig.from_profile("pcm-aihwkit-14nm")
    hwa = HWAConfig()
    arch = sn.space.sample(3)
    x = _inputs(sn.space)
    analog = convert_to_analog(sn.extract(arch), cfg)
    set_hwa(analog, hwa, torch.Generator().manual_seed(5))
    analog.train()
    sn.train()
    sn.set_hwa(cfg, hwa)
    try:
        sn.hwa_generator = torch.Generator().manual_seed(5)
        noisy = sn(x, arch)
        torch.testing.assert_close(noisy, analog(x), rtol=1e-4, atol=1e-4)
        clean = sn.eval()(x, arch)  # no noise outside training
        assert not torch.allclose(noisy, clean, atol=1e-3)
        sn.train()
        sn.zero_grad()
        sn(x, arch).square().mean().backward()  # straight-through: the shared weights get gradients
        assert sn.stem.conv.weight.grad.abs().sum() > 0
    finally:
        sn.set_hwa(None)
        sn.zero_grad()


def test_recalibration_sets_the_statistics_of_the_inputs():
    space = create_space("cnn", input_shape=(1, 8, 8), num_classes=10, **SMALL_CNN)
    torch.manual_seed(0)
    model = space.build(space.sample(1))
    x = _inputs(space, 64)
    recalibrate_bn(model, x, batch_size=64)
    assert not model.training
    with torch.no_grad():
        eval_out = model(x)
        model.train()
        train_out = model(x)  # batch statistics of the same inputs
    torch.testing.assert_close(eval_out, train_out, rtol=2e-2, atol=2e-2)  # unbiased vs biased variance


@pytest.fixture(scope="module")
def tiny_data():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 96)
    x = rng.normal(size=(96, 1, 8, 8)).astype(np.float32) + y[:, None, None, None] * 0.1
    return from_arrays("tiny", x[:64], y[:64], x[64:], y[64:])


def test_the_scorer_scores_the_recalibrated_extracted_subnet(supernets, tiny_data):
    sn = supernets["cnn-small"]
    scorer = SupernetScorer(sn, device="cpu", calibration_samples=32)
    arch = sn.space.sample(7)
    scores = scorer(arch, tiny_data)
    assert set(scores) == {"accuracy"}
    model = scorer.subnet(arch, tiny_data)
    xv = torch.from_numpy((tiny_data.x_val - tiny_data.x_train.mean()) / tiny_data.x_train.std()).float()
    assert scores["accuracy"] == accuracy(model, xv, torch.from_numpy(tiny_data.y_val))
    running = [m.running_var for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert running and all(not torch.all(v == 1) for v in running)  # recalibrated, not fresh
    values, record = scorer.score(arch, tiny_data, profile="pcm-aihwkit-14nm",
                                     analog_objectives=("analog_accuracy",), analog={"repeats": 1})
    assert 0 <= values["analog_accuracy"] <= 1 and values["accuracy"] == scores["accuracy"]
    assert record["mode"] == "supernet" and record["analog"]["repeats"] == 1


def test_the_scorer_refuses_foreign_architectures_and_data(supernets, tiny_data):
    scorer = SupernetScorer(supernets["cnn-small"], device="cpu")
    other = create_space("cnn", input_shape=(1, 8, 8), num_classes=10).sample(0)  # widths outside the small space
    with pytest.raises(SupernetError, match="not a subnet"):
        scorer(other, tiny_data)
    with pytest.raises(SupernetError, match="does not fit"):
        scorer(supernets["cnn-small"].space.sample(0), load_data("listops"))
