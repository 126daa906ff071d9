"""Accuracy on digits under simulated IMC non-idealities (fixed seeds): it falls monotonically, within
Monte-Carlo error, as ADC bits drop 8 -> 2 and as programming noise grows; hardware-aware training beats
plain training of the same architecture after one day of drift on the PCM profile; Monte-Carlo repeats are
reproducible. The measured figures are printed (``pytest -s``)."""

from __future__ import annotations

import itertools
import math

import pytest

torch = pytest.importorskip("torch")

from nas_edge.analog import DAY, SECOND, AnalogConfig, HWAConfig, evaluate_analog, train_hwa  # noqa: E402
from nas_edge.evaluate import TrainConfig, load_data  # noqa: E402
from nas_edge.evaluate.train import train_and_evaluate  # noqa: E402
from nas_edge.spaces import create_space  # noqa: E402

pytestmark = pytest.mark.usefixtures("torch_one_thread")


TRAIN = TrainConfig(epochs=10, seed=0)
ONE_IMAGE = 1 / 360  # the validation split has 360 images


def _mbconv_arch():
    """Inverted-residual blocks: depthwise convolutions (9 weights per output) make it noise-sensitive."""
    space = create_space("cnn", input_shape=(1, 8, 8), num_classes=10)
    params = {"cnn_resolution": 8, "cnn_stem_width": 16}
    for i, width in enumerate((16, 32, 48)):
        params.update({f"cnn_s{i}_block": "mbconv", f"cnn_s{i}_depth": 1, f"cnn_s{i}_width": width,
                       f"cnn_s{i}_kernel": 3, f"cnn_s{i}_expand": 3, f"cnn_s{i}_se": False})
    return space, space.from_params(params)


@pytest.fixture(scope="module")
def data():
    return load_data("digits")


@pytest.fixture(scope="module")
def plain(data):
    space, arch = _mbconv_arch()
    torch.manual_seed(0)
    model = space.build(arch)
    res = train_and_evaluate(model, data, TRAIN)
    assert res.accuracy > 0.9
    return model


def _assert_monotone(points: list[tuple[object, float, float]]) -> None:
    """``(setting, mean, sem)`` from mild to harsh: no step up beyond two standard errors and one image."""
    for (s_a, m_a, e_a), (s_b, m_b, e_b) in itertools.pairwise(points):
        slack = 2 * math.hypot(e_a, e_b) + ONE_IMAGE
        assert m_b <= m_a + slack, f"accuracy rose from {m_a:.4f} ({s_a}) to {m_b:.4f} ({s_b})"


@pytest.mark.slow
def test_accuracy_falls_as_adc_bits_drop(data, plain):
    cfg = AnalogConfig.from_profile("pcm-aihwkit-14nm")
    points = []
    for bits in (8, 7, 6, 5, 4, 3, 2):
        res = evaluate_analog(plain, data, cfg.replace(adc_bits=bits), repeats=4, seed=0)
        points.append((f"{bits}-bit ADC", res.mean(), res.sem()))
    print("\nPCM, t = 1 s, ADC bits 8..2:", ", ".join(f"{s}: {m:.4f} ± {e:.4f}" for s, m, e in points))
    _assert_monotone(points)
    assert points[0][1] > 0.9 and points[-1][1] < points[0][1] - 0.5


@pytest.mark.slow
def test_accuracy_falls_as_programming_noise_grows(data, plain):
    cfg = AnalogConfig.from_profile("pcm-aihwkit-14nm").replace(
        programming_noise="gaussian", read_noise_sigma=0.0, drift_nu=0.0, drift_nu_std=0.0)
    points = []
    for sigma in (0.0, 0.02, 0.05, 0.1, 0.2):
        res = evaluate_analog(plain, data, cfg.replace(programming_sigma=sigma), repeats=4, seed=0)
        points.append((f"sigma {sigma}", res.mean(), res.sem()))
    print("\nprogramming noise (fraction of g_max):", ", ".join(f"{s}: {m:.4f} ± {e:.4f}" for s, m, e in points))
    _assert_monotone(points)
    assert points[0][1] > 0.9 and points[-1][1] < points[0][1] - 0.3


@pytest.mark.slow
def test_hardware_aware_training_beats_plain_training_after_a_day(data, plain):
    cfg = AnalogConfig.from_profile("pcm-aihwkit-14nm")
    space, arch = _mbconv_arch()
    torch.manual_seed(0)
    hwa_net, _ = train_hwa(space.build(arch), data, cfg, TRAIN, HWAConfig())
    times = (SECOND, DAY)
    p = evaluate_analog(plain, data, cfg, times=times, repeats=10, seed=0)
    h = evaluate_analog(hwa_net, data, cfg, times=times, repeats=10, seed=0)
    gain = h.mean(DAY) - p.mean(DAY)
    print(f"\nplain: {p}\nHWA:   {h}\ngain after 1 day: {100 * gain:+.2f} points "
          f"(± {100 * math.hypot(p.sem(DAY), h.sem(DAY)):.2f} standard error)")
    assert gain >= 0.02
    assert h.mean(DAY) > h.digital_accuracy - 0.05  # most of the drift loss is gone


def test_monte_carlo_repeats_are_reproducible_and_distinct(data):
    """Same seed, same numbers; repeats differ from each other (noise is really drawn per chip); a noise-free
    configuration runs once."""
    space, arch = _mbconv_arch()
    torch.manual_seed(0)
    model = space.build(arch)
    cfg = AnalogConfig.from_profile("pcm-aihwkit-14nm").replace(adc_bits=6)
    a = evaluate_analog(model, data, cfg, times=(SECOND, DAY), repeats=3, seed=5)
    b = evaluate_analog(model, data, cfg, times=(SECOND, DAY), repeats=3, seed=5)
    assert (a.accuracies == b.accuracies).all() and a.accuracies.shape == (3, 2)
    logits = []
    from nas_edge.analog import calibrate, convert_to_analog, drift_to, program
    from nas_edge.analog.evaluate import tensors

    xt, _, xv, _ = tensors(data)
    net = convert_to_analog(model, cfg).eval()
    calibrate(net, xt[:256])
    for seed in (0, 1):
        program(net, torch.Generator().manual_seed(seed))
        drift_to(net, DAY)
        with torch.no_grad():
            logits.append(net(xv[:64]))
    assert not torch.allclose(logits[0], logits[1])
    ideal = evaluate_analog(model, data, cfg.ideal(), repeats=5)
    assert ideal.repeats == 1 and ideal.std() == 0.0
    assert ideal.mean() == pytest.approx(ideal.digital_accuracy, abs=ONE_IMAGE)
    with pytest.raises(KeyError, match="no accuracy at t = 3600"):
        a.mean(3600.0)


def test_hwa_forward_draws_fresh_noise_and_passes_gradients_straight_through():
    from nas_edge.analog import AnalogLinear, set_hwa

    torch.manual_seed(0)
    x = torch.randn(16, 24)
    pcm = AnalogConfig.from_profile("pcm-aihwkit-14nm")
    lin = AnalogLinear(24, 5, config=pcm)
    set_hwa(lin, HWAConfig(), torch.Generator().manual_seed(0))
    lin.train()
    y1, y2 = lin(x), lin(x)
    assert not torch.allclose(y1, y2)  # a new chip every step
    y1.sum().backward()
    # straight-through: d sum(y) / dW is that of a linear layer, whatever noise was drawn
    torch.testing.assert_close(lin.weight.grad, x.sum(0).expand(5, 24).contiguous())
    # programmed without noise, the devices realise the weight rounded to the 8-bit grid
    lin.program_(noise=False)
    w = lin.weight.detach()
    err = (lin.effective_weight() - w).abs() / w.abs().amax(dim=1, keepdim=True)
    assert 0 < float(err.max()) <= 0.5 / 127 + 1e-6
    # without noise, drift and quantisation the hardware-aware forward is the digital one
    quiet = AnalogLinear(24, 5, config=pcm.replace(quantize_weights=False, noise_scale=0.0, drift_nu_std=0.0))
    quiet.load_state_dict(lin.state_dict())
    set_hwa(quiet, HWAConfig(drift=False))
    quiet.train()
    torch.testing.assert_close(quiet(x), torch.nn.functional.linear(x, lin.weight, lin.bias))
    # with the converters in the loop the forward is quantised (5-bit ADC) but gradients stay straight
    conv = AnalogLinear(24, 5, config=pcm.replace(adc_bits=5))
    conv.load_state_dict(lin.state_dict())
    set_hwa(conv, HWAConfig(converters=True), torch.Generator().manual_seed(1))
    conv.train()
    y = conv(x)
    y.sum().backward()
    torch.testing.assert_close(conv.weight.grad, x.sum(0).expand(5, 24).contiguous())
    assert not torch.allclose(y, torch.nn.functional.linear(x, lin.weight, lin.bias), atol=1e-3)


def test_train_hwa_leaves_a_digital_network_with_shared_parameters(data):
    from nas_edge.analog import analog_layers

    space, arch = _mbconv_arch()
    torch.manual_seed(0)
    model = space.build(arch)
    net, res = train_hwa(model, data, AnalogConfig.from_profile("pcm-aihwkit-14nm"),
                         TrainConfig(epochs=1, max_train_samples=128, batch_size=64))
    layers = list(analog_layers(net))
    assert net is model and layers and len(res.history) == 1
    assert all(layer.hwa is None and layer.mode == "digital" for layer in layers)
    assert set(net.state_dict()) == set(space.build(arch).state_dict())  # same keys: loadable either way
