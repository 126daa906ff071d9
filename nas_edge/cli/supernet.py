"""``nas-edge supernet train``: train (or resume) a weight-sharing supernet of a search space on a dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from nas_edge.cli._common import err_console, fail

app = typer.Typer(help="Weight-sharing supernets: train once, then score any architecture of the space from "
                       "inherited weights.", no_args_is_help=True)


@app.command("train")
def train(
    space: Annotated[str, typer.Option(help="search space: cnn or transformer")] = "cnn",
    data: Annotated[str, typer.Option(help="digits, listops, a .npz file (x_train, y_train, x_val, y_val) or "
                                      "package.module:function")] = "digits",
    epochs: Annotated[int, typer.Option(help="training epochs")] = 30,
    out: Annotated[Path, typer.Option(help="checkpoint to write (an unfinished one of the same training is "
                                      "resumed)")] = Path("supernet.pt"),
    batch_size: Annotated[int, typer.Option(help="batch size (split across processes under torchrun)")] = 64,
    lr: Annotated[float, typer.Option(help="peak learning rate (one-cycle AdamW)")] = 4e-3,
    sandwich: Annotated[int, typer.Option(help="random subnets per step, besides the largest and the "
                                          "smallest")] = 2,
    distill: Annotated[bool, typer.Option(help="in-place distillation: subnets learn the largest one's "
                                          "predictions")] = True,
    max_train_samples: Annotated[int | None, typer.Option(help="train on the first N samples only")] = None,
    seed: Annotated[int, typer.Option(help="initialisation, batch order and subnet draws")] = 0,
    hwa: Annotated[bool, typer.Option("--hwa", help="inject the profile's device noise into training forwards "
                                      "(hardware-aware)")] = False,
    hardware: Annotated[str, typer.Option(help="IMC profile of --hwa: built-in name or YAML file")]
    = "neurosim-rram-22nm",
    device: Annotated[str, typer.Option(help="auto (CUDA when available), cpu, cuda, cuda:N or mps")] = "auto",
    threads: Annotated[int | None, typer.Option(help="torch intra-op threads (default: torch's)")] = None,
    checkpoint_every: Annotated[float, typer.Option(help="seconds between checkpoints within an epoch")] = 60.0,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
) -> None:
    """Train a supernet whose subnets are exactly the space's architectures (sandwich rule, in-place
    distillation); a killed run resumes from its last checkpoint when the same command is run again."""
    from nas_edge.analog.config import AnalogConfigError, HWAConfig
    from nas_edge.evaluate.data import DataError, load_data
    from nas_edge.hardware import ProfileError
    from nas_edge.spaces import SpaceError, create_space, get_space_class
    from nas_edge.supernet import SupernetConfig, SupernetError

    try:
        from nas_edge.evaluate.device import DeviceError, resolve_device

        resolve_device(device)
        if get_space_class(space).kind != "network":
            raise SpaceError(f"{space!r} is not a network space")
        dataset = load_data(data, seed=seed)
        net_space = create_space(space, **dataset.space_kwargs())
        config = SupernetConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, sandwich=sandwich,
                                distill=distill, max_train_samples=max_train_samples,
                                hwa=HWAConfig() if hwa else None, hardware=hardware if hwa else None,
                                device=device, threads=threads, checkpoint_seconds=checkpoint_every)
        if hwa:
            from nas_edge.analog.config import AnalogConfig

            AnalogConfig.from_profile(hardware)  # refuse a profile that cannot be simulated before training
    except (DeviceError, DataError, SpaceError, SupernetError, AnalogConfigError, ProfileError) as exc:
        fail(str(exc))
    _train(net_space, dataset, config, out, progress)


def _train(space: Any, data: Any, config: Any, out: Path, show: bool) -> None:
    import os

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from nas_edge.evaluate.device import DeviceError
    from nas_edge.supernet import SupernetError, train_supernet

    main = int(os.environ.get("RANK", "0")) == 0
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[loss]}"), TimeElapsedColumn(), console=err_console,
                   disable=not (show and main), transient=True)
    tasks: dict[str, Any] = {}

    def on_event(e: Any) -> None:
        if e.kind == "start":
            if e.epoch or e.step:
                err_console.print(f"resuming {out} at epoch {e.epoch + 1}, step {e.step}", highlight=False)
            tasks["epochs"] = bar.add_task("epochs", total=e.epochs, completed=e.epoch, loss="")
            tasks["steps"] = bar.add_task("steps", total=e.steps, completed=e.step, loss="")
        elif e.kind == "step":
            bar.update(tasks["steps"], completed=e.step, loss=f"loss {e.loss:.4f}")
        else:
            bar.update(tasks["epochs"], completed=e.epoch + 1)
            bar.update(tasks["steps"], completed=0)
            err_console.print(f"epoch {e.epoch + 1}/{e.epochs}: mean loss {e.loss:.4f}; checkpoint {out}",
                              highlight=False)

    try:
        with bar:
            result = train_supernet(space, data, config, out=out, progress=on_event)
    except (SupernetError, DeviceError) as exc:
        fail(str(exc))
    if main:
        state = "already trained" if result.already_finished else "trained"
        typer.echo(f"{out}: {space.name} supernet {state}, {result.epochs} epochs, {result.seconds:.1f} s")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="supernet")
