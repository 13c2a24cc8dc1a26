"""``fastdl compare init``: the book's ``ch06/weight_init_compare.py`` (std 0.01, Xavier, He)."""
from ...optimizers import SGD
from ..report import prepare_out_dir
from ..settings import COMPUTE_DEFAULTS, NETWORK_DEFAULTS, add_network_options, add_run_options
from .common import load_training_data, network_note, new_network, race_and_report

HELP = "weight init std 0.01 vs Xavier vs He, SGD (the book's weight_init_compare)"
DEFAULTS = {"iters": 2000, "batch_size": 128, "lr": None, "seed": 0, "train_size": None, "activation": "relu",
            **NETWORK_DEFAULTS, **COMPUTE_DEFAULTS}
LR_BY_ACTIVATION = {"relu": 0.01, "sigmoid": 0.5}
"""The lr when --lr is not given: the book's 0.01 with ReLU. With sigmoid, 0.01 leaves all three curves flat
at 2.30 for 2000 iterations; at 0.5 Xavier reaches 0.87 and He 0.93 test accuracy while std 0.01 stays at
chance (seed 0, measured by ``fastdl compare init --activation sigmoid --lr 0.5``), the book's point."""
INIT_STDS = {"std=0.01": 0.01, "Xavier": "sigmoid", "He": "relu"}


def add_arguments(parser):
    add_run_options(parser, DEFAULTS, lr_help=", ".join(f"{lr} with {name}" for name, lr in LR_BY_ACTIVATION.items()))
    parser.add_argument("--activation", choices=("relu", "sigmoid"), help=f"default: {DEFAULTS['activation']}")
    add_network_options(parser)


def run(args):
    """The book's weight-initialisation comparison: std 0.01, Xavier and He on 784-[100]*4-10, one SGD(lr=0.01)."""
    out = prepare_out_dir(args.out)
    if args.lr is None:
        args.lr = LR_BY_ACTIVATION[args.activation]
    print(f"compare init: std 0.01 / Xavier / He on 784-100-100-100-100-10 ({args.activation}{network_note(args)}), "
          f"SGD(lr={args.lr:g}), {args.dtype}, {args.iters} iterations of batch {args.batch_size}, seed {args.seed}")
    (x, t), test = load_training_data(args)
    nets = {name: new_network(args, [100] * 4, args.seed, init=std, activation=args.activation)
            for name, std in INIT_STDS.items()}
    optimizer = SGD(lr=args.lr)  # stateless: the book shares one among the networks
    optimizers = dict.fromkeys(nets, optimizer)
    race_and_report(args, out, "init", nets, optimizers, (x, t), test,
                    f"weight init, {args.activation}, {args.iters} iterations (smoothed)", ylim=(0, 2.5))
    return 0
