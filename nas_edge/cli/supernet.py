"""``nas-edge supernet train``: train (or resume) a weight-sharing supernet of a search space on a dataset."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from nas_edge.cli._common import DEVICE_HELP, App, err_console, printable

app = App(help="Weight-sharing supernets: train once, then score any architecture of the space from inherited "
               "weights.", no_args_is_help=True)


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
    distill: Annotated[bool, typer.Option(help="in-place distillation: subnets also learn the largest one's "
                                          "predictions")] = True,
    warmup: Annotated[float, typer.Option(help="fraction of the epochs that train the largest subnet alone "
                                          "first")] = 0.25,
    max_train_samples: Annotated[int | None, typer.Option(help="train on the first N samples only")] = None,
    seed: Annotated[int, typer.Option(help="initialisation, batch order and subnet draws")] = 0,
    hwa: Annotated[bool, typer.Option("--hwa", help="inject the profile's device noise into training forwards "
                                      "(hardware-aware)")] = False,
    hardware: Annotated[str, typer.Option(help="IMC profile of --hwa: built-in name or YAML file")]
    = "neurosim-rram-22nm",
    device: Annotated[str, typer.Option(help=DEVICE_HELP)] = "auto",
    threads: Annotated[int | None, typer.Option(help="torch intra-op threads (default: torch's)")] = None,
    checkpoint_every: Annotated[float, typer.Option(help="seconds between checkpoints within an epoch")] = 60.0,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
) -> None:
    """Train a supernet whose subnets are exactly the space's architectures (sandwich rule, in-place
    distillation); a killed run resumes from its last checkpoint when the same command is run again."""
    from nas_edge.analog.config import AnalogConfig, HWAConfig
    from nas_edge.evaluate.data import load_data
    from nas_edge.evaluate.device import resolve_device
    from nas_edge.spaces import SpaceError, create_space, get_space_class
    from nas_edge.supernet import SupernetConfig, train_supernet

    resolve_device(device)
    if get_space_class(space).kind != "network":
        raise SpaceError(f"{space!r} is not a network space")
    dataset = load_data(data, seed=seed)
    net_space = create_space(space, **dataset.space_kwargs())
    config = SupernetConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, sandwich=sandwich,
                            distill=distill, warmup=warmup, max_train_samples=max_train_samples,
                            hwa=HWAConfig() if hwa else None, hardware=hardware if hwa else None, device=device,
                            threads=threads, checkpoint_seconds=checkpoint_every)
    if hwa:
        AnalogConfig.from_profile(hardware)  # refuse a profile that cannot be simulated before training
    main = int(os.environ.get("RANK", "0")) == 0  # under torchrun, one process reports
    with _Bar(out, show=progress and main) as bar:
        result = train_supernet(net_space, dataset, config, out=out, progress=bar.on_event)
    if main:
        state = "already trained" if result.already_finished else "trained"
        typer.echo(f"{printable(out)}: {net_space.name} supernet {state}, {result.epochs} epochs, "
                   f"{result.seconds:.1f} s")


class _Bar:
    """Epoch and step bars on stderr, and a line per epoch (also without a terminal)."""

    def __init__(self, out: Path, *, show: bool) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.out, self.show = out, show
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[loss]}"), TimeElapsedColumn(), console=err_console,
                            disable=not show, transient=True)
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> _Bar:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bar.__exit__(*exc)

    def on_event(self, e: Any) -> None:
        if e.kind == "start":
            if e.epoch or e.step:
                err_console.print(f"resuming {self.out} at epoch {e.epoch + 1}, step {e.step}", highlight=False)
            self.tasks["epochs"] = self.bar.add_task("epochs", total=e.epochs, completed=e.epoch, loss="")
            self.tasks["steps"] = self.bar.add_task("steps", total=e.steps, completed=e.step, loss="")
        elif e.kind == "step":
            self.bar.update(self.tasks["steps"], completed=e.step, loss=f"loss {e.loss:.4f}")
        else:
            self.bar.update(self.tasks["epochs"], completed=e.epoch + 1)
            self.bar.update(self.tasks["steps"], completed=0)
            err_console.print(f"epoch {e.epoch + 1}/{e.epochs}: mean loss {e.loss:.4f}; checkpoint {self.out}",
                              highlight=False)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="supernet")
