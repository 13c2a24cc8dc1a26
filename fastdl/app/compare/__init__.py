"""``fastdl compare EXPERIMENT``: the book's and the articles' experiments, one module each.

Each module has its ``HELP`` line, its ``DEFAULTS``, ``add_arguments(parser)``
and ``run(args)``, which writes the experiment's figure and numbers into ``--out``.
"""
from ...datasets import find_dataset
from ..report import claim_out_dir
from ..settings import resolve_args
from . import batchnorm, init, lr, optimizers, overfit, paths

EXPERIMENTS = {"optimizers": optimizers, "paths": paths, "lr": lr, "init": init, "batchnorm": batchnorm,
               "overfit": overfit}


def add_parser(commands):
    """The ``compare`` subcommand of ``commands`` (an argparse subparsers object), one subcommand per experiment."""
    p = commands.add_parser("compare", help="the book's and the articles' experiments, each writing its figure",
                            description="Run one experiment; it writes its figure and numbers into --out.")
    experiments = p.add_subparsers(title="experiments", required=True, metavar="EXPERIMENT")
    for name, module in EXPERIMENTS.items():
        e = experiments.add_parser(name, help=module.HELP, description=module.HELP)
        e.add_argument("--out", metavar="DIR", help=f"output directory (default: runs/compare-{name})")
        e.add_argument("--overwrite", action="store_true",
                       help="replace the results already in --out (refused without it)")
        module.add_arguments(e)
        e.set_defaults(run=run_command, experiment=module, defaults={"out": f"runs/compare-{name}", **module.DEFAULTS},
                       parser=e)


def run_command(args):
    """Resolve the experiment's settings (checking the run's sizes) and run it; returns the exit status."""
    args = resolve_args(args, args.defaults)
    if "dataset" in args.defaults:
        find_dataset(args.dataset, args.data_dir)  # missing data is reported before the output directory exists
    with claim_out_dir(args.out, args.overwrite):
        return args.experiment.run(args)
