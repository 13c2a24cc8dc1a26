"""``fastdl evaluate``: reload a network saved by ``fastdl train`` and measure its accuracy again."""
from ..datasets import load_mnist
from .checkpoint import CheckpointError, load_checkpoint
from .loop import evaluate, validation_split
from .models import describe_network, eval_chunk, flat_input


def add_parser(commands):
    """The ``evaluate`` subcommand of ``commands`` (an argparse subparsers object)."""
    p = commands.add_parser("evaluate", help="reload a saved run and measure its accuracy again",
                            description="Rebuild the network saved by `fastdl train` and evaluate it.")
    p.add_argument("path", metavar="DIR", help="a `fastdl train --out` directory, or its model.npz")
    p.add_argument("--train", action="store_true",
                   help="also evaluate on the training samples (and the held-out ones of a --val-split run)")
    p.add_argument("--data-dir", metavar="DIR", help="directory with the IDX .gz files (default: $FASTDL_DATA)")
    p.set_defaults(run=run_command, parser=p)


def run_command(args):
    """``fastdl evaluate`` with the parsed ``args``; returns the exit status."""
    try:
        return evaluate_saved(args.path, args.data_dir, args.train)
    except CheckpointError as exc:
        args.parser.error(str(exc))


def evaluate_saved(path, data_dir=None, include_train=False):
    """``fastdl evaluate``: reload a saved run and measure it again; returns the exit status."""
    saved = load_checkpoint(path)
    net, spec, run = saved.net, saved.spec, saved.run
    partly = " and part of the next (interrupted)" if run["interrupted"] else ""
    print(f"network: {describe_network(spec)}, trained {run['epochs_done']} epochs{partly} with {run['optimizer']}")
    (x, t), (x_test, t_test) = load_mnist(flatten=flat_input(spec), data_dir=data_dir, dataset=run["dataset"])
    if include_train:
        if run["train_size"]:
            x, t = x[:run["train_size"]], t[:run["train_size"]]
        parts = {"train": (x, t)}
        if run["val_split"]:
            fit, val = validation_split(x.shape[0], run["val_split"], run["val_seed"])
            parts = {"train": (x[fit], t[fit]), "validation": (x[val], t[val])}
        for name, (xs, ts) in parts.items():
            loss, acc = evaluate(net, xs, ts, eval_chunk(spec))
            print(f"{name}: accuracy {acc:.4f}, loss {loss:.4f} ({xs.shape[0]:,} samples)")
    loss, acc = evaluate(net, x_test, t_test, eval_chunk(spec))
    recorded = (f"recorded at save: accuracy {run['test_acc']:.4f}" if run["test_acc"] is not None else
                f"recorded at save: validation accuracy {run['val_acc']:.4f} (--val-split {run['val_split']:g})")
    print(f"test: accuracy {acc:.4f}, loss {loss:.4f} ({x_test.shape[0]:,} samples); {recorded}")
    return 0
