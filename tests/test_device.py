"""``--device``: one rule for every command that trains or evaluates; a device that is not there is refused
with one message; CPU training takes the same path as before (no autocast, no gradient scaling)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from nas_edge.evaluate import TrainConfig, load_data, train_and_evaluate  # noqa: E402
from nas_edge.evaluate.device import (  # noqa: E402
    DeviceError,
    amp_dtype,
    autocast,
    generator,
    grad_scaler,
    resolve_device,
)
from nas_edge.spaces import create_space  # noqa: E402


def test_auto_is_cuda_when_there_is_one_else_the_cpu():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected and resolve_device(None).type == expected
    assert resolve_device("cpu") == torch.device("cpu") and resolve_device(" CPU ") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize(("spec", "message"), [
    ("cuda", "--device cuda: CUDA is not available"),
    ("cuda:1", "--device cuda:1: CUDA is not available"),
    ("gpu", "unknown device 'gpu'"),
    ("cpu:0", "unknown device 'cpu:0'"),
])
def test_absent_or_unknown_devices_are_refused(spec, message):
    with pytest.raises(DeviceError, match=message.replace("(", r"\(")):
        resolve_device(spec)


def test_mps_is_refused_where_there_is_no_metal():
    if hasattr(torch.backends, "mps") and torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")
    with pytest.raises(DeviceError, match="MPS"):
        resolve_device("mps")


def test_mixed_precision_only_on_cuda():
    cpu = torch.device("cpu")
    assert amp_dtype(cpu) is None and not grad_scaler(cpu).is_enabled()
    with autocast(cpu):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32
    g1, g2 = generator(cpu, 3), generator(cpu, 3)
    assert torch.equal(torch.rand(4, generator=g1), torch.rand(4, generator=g2))


def test_training_on_a_missing_device_is_refused_and_on_the_cpu_leaves_the_model_as_it_was(torch_one_thread):
    data = load_data("digits")
    space = create_space("cnn", **data.space_kwargs(), stages=2, max_depth=1, widths=((4, 8), (8, 12)),
                         stem_widths=(4,), resolutions=(8,))
    model = space.build(space.sample(0))
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError):
            train_and_evaluate(model, data, TrainConfig(epochs=1, device="cuda", max_train_samples=64))
    res = train_and_evaluate(model, data, TrainConfig(epochs=1, device="cpu", max_train_samples=64))
    assert 0 <= res.accuracy <= 1
    w = next(p for p in model.parameters() if p.dim() == 4)
    assert w.device.type == "cpu" and w.is_contiguous()  # trained channels-last, handed back in the usual layout
