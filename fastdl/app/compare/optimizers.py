"""``fastdl compare optimizers``: the book's ``ch06/optimizer_compare_mnist.py`` with every registered optimizer."""
from ...optimizers import OPTIMIZERS
from ..report import prepare_out_dir
from ..settings import COMPUTE_DEFAULTS, NETWORK_DEFAULTS, add_network_options, add_optimizer_names, add_run_options
from .common import load_training_data, network_note, new_network, race_and_report

HELP = "every optimizer on MNIST, same weights and batches (the book's optimizer_compare_mnist)"
DEFAULTS = {"iters": 2000, "batch_size": 128, "seed": 0, "train_size": None, "optimizers": None, **NETWORK_DEFAULTS,
            **COMPUTE_DEFAULTS}


def add_arguments(parser):
    add_run_options(parser, DEFAULTS)
    add_optimizer_names(parser, DEFAULTS["optimizers"])
    add_network_options(parser)


def run(args):
    """Each optimizer trains its own MultiLayerNet(784, [100]*4, 10) from the same weights on the same batches."""
    out = prepare_out_dir(args.out)
    names = args.optimizers or list(OPTIMIZERS)
    print(f"compare optimizers: {len(names)} x 784-100-100-100-100-10 (relu, He{network_note(args)}), "
          f"{args.dtype}, {args.iters} iterations of batch {args.batch_size}, seed {args.seed}")
    (x, t), test = load_training_data(args)
    nets = {name: new_network(args, [100] * 4, args.seed) for name in names}
    optimizers = {name: OPTIMIZERS[name]() for name in names}
    race_and_report(args, out, "optimizers", nets, optimizers, (x, t), test,
                    f"MNIST, {args.iters} iterations, batch {args.batch_size} (smoothed)")
    return 0
