"""``fastdl train``: train a network on MNIST, watch it, save it.

The hot loop is the book's three lines and nothing else per step: gather the
batch into a reused buffer, ``grads = net.gradient(xb, tb)``,
``optimizer.update(net.params, grads)``; the running loss is the one the
gradient pass already computed (``net.last_layer.loss``), checked to be finite.

After every epoch ``model.npz`` (see :mod:`fastdl.app.checkpoint`) holds the
network, the optimizer's state, the metrics and NumPy's RNG state, so
``--resume`` continues bit for bit as if the run had never stopped; a Ctrl-C
also saves the batch order and position of the epoch under way.

``--val-split F`` holds out a fraction F of the training samples
(:func:`fastdl.app.loop.validation_split`), evaluates on them after every epoch
instead of on the test set, keeps the epoch of the highest validation accuracy
in ``best.npz`` (a checkpoint like ``model.npz``) and measures that network on
the test set once, at the end.
"""
import inspect
import math
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from ..datasets import NUM_SAMPLES, TITLES, find_dataset, load_mnist
from ..diagnostics import NonFiniteLossError, check_finite_loss
from ..optimizers import OPTIMIZERS
from .checkpoint import BEST_FILE, MODEL_FILE, CheckpointError, checkpoint_path, load_checkpoint, save_checkpoint
from .loop import BatchFeeder, StopRequest, check_run_size, compute_threads, evaluate, validation_split
from .models import (MODELS, build_network, build_optimizer, describe_network, describe_optimizer, eval_chunk,
                     flat_input, hyperparameters, model_name, network_spec)
from .plots import plot_training
from .progress import Progress
from .report import atomic_path, claim_out_dir, write_csv
from .settings import (COMPUTE_DEFAULTS, EXACT_LOSS_HELP, add_compute_options, check_scalars_fit, dropout_ratio,
                       integer, non_negative_float, open_fraction, optimizer_name, optimizer_param, positive_float,
                       positive_int, resolve, weight_init)

CHANCE_ACCURACY = 0.2
"""Test (or validation) accuracy at or below which a run is reported as having learnt nothing (chance is 0.1; twice that
is still far below any network that learnt: the book's first epoch reaches ~0.9)."""
METRICS_FILE = "metrics.csv"
PLOT_FILE = "training.png"
METRIC_FIELDS = ("epoch", "steps", "lr", "train_loss", "train_acc", "test_loss", "test_acc", "seconds", "eval_seconds")
VAL_METRIC_FIELDS = tuple(name.replace("test_", "val_") for name in METRIC_FIELDS)
"""metrics.csv's columns with ``--val-split``: the held-out samples are evaluated every epoch, the test set never."""
INTERRUPTED = 130  # the shell's exit status for SIGINT

TRAIN_DEFAULTS = {
    "model": "mlp", "hidden": [256, 128], "activation": "relu", "init": "relu", "weight_decay": 0.0, "dtype": "float32",
    "batchnorm": False, "dropout": 0.0, "exact_loss": False,
    "optimizer": "adam", "lr": 0.002, "opt_params": {}, "lr_schedule": "cosine",
    "epochs": 5, "batch_size": 100, "sampling": "shuffle", "seed": 0, "train_size": None, "val_split": None,
    "train_eval_size": None, "out": None, "resume": None, "overwrite": False, **COMPUTE_DEFAULTS,
}
"""What ``fastdl train`` does when an option is not given (``--lr`` None means the optimizer's default)."""
MODEL_DEFAULTS = {
    "simple-convnet": {"hidden": [100], "init": 0.01, "lr": 0.002, "epochs": 10, "train_eval_size": 10000},
    "deep-convnet": {"hidden": [50], "lr": 0.001, "epochs": 10, "train_eval_size": 10000},
}
"""What a conv ``--model`` changes in ``TRAIN_DEFAULTS``: the book's hidden_size and weight_init_std, Adam
with the cosine schedule over 10 epochs instead of the book's 20 at a constant 0.001. Measured on MNIST,
seed 0 (README): SimpleConvNet ends at 98.99% from lr 0.001, 99.06% from 0.002; DeepConvNet from the
book's 0.001. The training metrics of each epoch come from the first 10,000 training samples (the book's
train_convnet.py takes 1,000): evaluating all 60,000 took 20% (SimpleConvNet) and 30% (DeepConvNet) of
an epoch, and 10,000 give the accuracy to about 0.1 percentage point."""
NETWORK_OPTIONS = ("model", "hidden", "activation", "init", "weight_decay", "dtype", "batchnorm", "dropout", "exact_loss")
DATA_STREAM_OPTIONS = ("dataset", "train_size", "batch_size", "sampling", "seed")
RESUMED_OPTIONS = (*DATA_STREAM_OPTIONS, "lr_schedule", "train_eval_size")


def option_flag(key):
    return "--" + key.replace("_", "-")


def resolve_settings(options, run=None, model="mlp"):
    """Every setting: given in ``options`` (not None), else from the resumed ``run``, else the default
    (``TRAIN_DEFAULTS`` with the ``MODEL_DEFAULTS`` of ``model``).

    A resumed run keeps its optimizer and hyperparameters unless --optimizer
    names another; --lr and --opt-param override single ones. A newly chosen
    optimizer starts from its own default lr.
    """
    defaults = {**TRAIN_DEFAULTS, **MODEL_DEFAULTS.get(model, {}), "model": model}
    # a checkpoint from before --train-eval-size lacks it: such a run takes the default
    s = resolve(options, defaults, {key: run[key] for key in (*RESUMED_OPTIONS, "optimizer") if key in run}
                if run else None)
    if run and s["optimizer"] == run["optimizer"]:
        s["opt_params"] = {**run["hyperparameters"], **options["opt_params"]}
        s["lr"] = options["lr"] if options["lr"] is not None else run["hyperparameters"]["lr"]
    elif options["optimizer"] is not None and options["lr"] is None:
        s["lr"] = None
    return s


class Training:
    """One ``fastdl train`` run; building it checks every setting without touching the data.

    ``options`` has a key for each of ``TRAIN_DEFAULTS``; None means "not given":
    the value then comes from the resumed run (``resume``) or from ``TRAIN_DEFAULTS``.
    Raises ValueError or TypeError naming the option when a setting is unusable.

    The lr schedule spans ``self.schedule = (start, end)``: the epochs after
    ``start`` up to ``end``. ``--resume`` without ``--epochs`` finishes the saved
    schedule; with ``--epochs N`` it starts a new one of N epochs.
    """

    def __init__(self, options):
        self.rows, self.step_loss, self.epochs_done, run, self.saved = [], np.empty(0), 0, None, None
        self.resumed_at = []
        if options["resume"]:
            given = [option_flag(key) for key in NETWORK_OPTIONS if options[key] is not None]
            if given:
                raise ValueError(f"--resume continues the saved network: drop {', '.join(given)}")
            self.saved = load_checkpoint(options["resume"])
            self.net, self.spec, run, self.step_loss = (self.saved.net, self.saved.spec, self.saved.run,
                                                        self.saved.step_loss)
            self.epochs_done, self.rows = run["epochs_done"], list(self.saved.metrics)
            self.resumed_at = [*run.get("resumed_at", []), int(self.step_loss.size)]
        model = model_name(self.spec) if run else options["model"] or TRAIN_DEFAULTS["model"]
        self.s = s = resolve_settings(options, run, model)
        if run is not None:
            self._check_resumed_split(options, run)
        # the split is drawn from the seed the run started with: a resume with another --seed keeps it
        s["val_split"], self.val_seed = (run.get("val_split"), run.get("val_seed")) if run else (
            options["val_split"], s["seed"])
        self.best = run.get("best") if run else None
        self.held = "val" if s["val_split"] else "test"
        self._check(s)
        check_scalars_fit({"weight_decay": s["weight_decay"]}, s["dtype"])
        self.schedule = self._schedule(options["epochs"], run)
        if not s["resume"]:
            np.random.seed(s["seed"])
            self.spec = network_spec(s["hidden"], s["activation"], s["init"], s["weight_decay"], s["dtype"],
                                     s["batchnorm"], s["dropout"], s["exact_loss"], model=s["model"])
            self.net = build_network(self.spec)
        self.optimizer = build_optimizer(s["optimizer"], s["lr"], s["opt_params"])
        self._check_fits_dtype(self.optimizer, self.net.params.flat.dtype)
        self.base_lr = self.optimizer.lr
        self.same_optimizer = run is not None and s["optimizer"] == run["optimizer"]
        if self.same_optimizer:
            try:
                self.optimizer.load_state_dict(self.saved.optimizer_state)
            except (KeyError, ValueError) as exc:
                raise CheckpointError(f"{s['resume']}: the saved {run['optimizer']} state is unusable: {exc}") from None
        self.exact_resume = run is not None and self.saved.rng_state is not None and all(
            s[key] == run[key] for key in DATA_STREAM_OPTIONS)
        if s["resume"] and not s["out"] and Path(s["resume"]).is_file():
            # continuing in the file's directory would replace the run's later epochs (best.npz is older)
            raise ValueError(f"--resume {s['resume']} is a file: give its directory to continue that run there, "
                             f"or --out DIR to continue from this checkpoint in another directory")
        self.out = Path(s["out"] or s["resume"] or time.strftime("runs/train-%Y%m%d-%H%M%S"))
        self.dtype = self.net.params.flat.dtype

    def _schedule(self, epochs, run):
        """``(start, end)`` of this run's lr schedule; ``epochs`` is --epochs (None: not given)."""
        if run is None:
            return 0, self.s["epochs"]
        if epochs is not None:
            return self.epochs_done, self.epochs_done + epochs
        start, end = run.get("schedule", (0, self.epochs_done))
        if self.epochs_done >= end:
            raise ValueError(f"--resume {self.s['resume']}: the run has finished its {end} epochs; "
                             f"give --epochs N to train N more")
        return start, end

    @staticmethod
    def _check_fits_dtype(optimizer, dtype):
        """ValueError for a hyperparameter the compute dtype cannot hold (``--lr 1e200`` in float32 is inf)."""
        largest = float(np.finfo(dtype).max)
        for name, value in hyperparameters(optimizer).items():
            if abs(value) > largest:
                flag = "--lr" if name == "lr" else f"--opt-param {name}"
                raise ValueError(f"{flag} {value:g} does not fit {dtype} (largest {largest:.3g}): "
                                 f"use a smaller value or --dtype float64")

    @staticmethod
    def _check_resumed_split(options, run):
        """ValueError when the resume would change which samples are held out: the best epoch so far was
        chosen on them, and a sample trained on cannot become a validation sample."""
        saved = run.get("val_split")
        if options["val_split"] is not None and options["val_split"] != saved:
            raise ValueError("--resume keeps the run's validation split: drop --val-split" if saved else
                             "--val-split is given when a run starts: the saved run trained on all its samples")
        if saved is not None:
            changed = [option_flag(key) for key in ("dataset", "train_size")
                       if options[key] is not None and options[key] != run[key]]
            if changed:
                raise ValueError(f"--resume keeps the run's validation split ({saved:g} of its training "
                                 f"samples held out): drop {', '.join(changed)}")

    @staticmethod
    def _check(s):
        check_run_size(s["train_size"], s["batch_size"], s["threads"], NUM_SAMPLES["train"], s["val_split"])
        accepted = inspect.signature(OPTIMIZERS[s["optimizer"]]).parameters
        unknown = [name for name in s["opt_params"] if name not in accepted]
        if unknown:
            raise ValueError(f"--opt-param {unknown[0]}: {s['optimizer']} takes {', '.join(accepted)}")

    def run(self):
        """Train, evaluating and saving after every epoch; returns the exit status."""
        s = self.s
        find_dataset(s["dataset"], s["data_dir"])  # missing data is reported before anything is printed or created
        resuming_here = bool(s["resume"]) and Path(s["resume"]).resolve() == self.out.resolve()
        with claim_out_dir(self.out, resuming_here or s["overwrite"],
                           "give --resume to continue it or --overwrite to replace it") as out:
            if s["overwrite"] and not resuming_here:
                for name in (METRICS_FILE, PLOT_FILE, MODEL_FILE, BEST_FILE):
                    (out / name).unlink(missing_ok=True)
            if self.best is not None and not resuming_here:
                self._bring_best(out)
            return self._run(out)

    def _bring_best(self, out):
        """A run resumed into another directory takes its best epoch so far along: the ``best.npz``
        beside the resumed checkpoint (or that checkpoint itself) is copied into ``out``."""
        source = checkpoint_path(self.s["resume"])
        source = source if source.name == BEST_FILE else source.parent / BEST_FILE
        if not source.is_file():
            print(f"fastdl: warning: {source} is missing: the best epoch so far ({self.best['epoch']}) is not "
                  f"at hand, the best of the epochs to come is kept", file=sys.stderr)
            self.best = None
            return
        with atomic_path(out / BEST_FILE) as tmp:
            shutil.copyfile(source, tmp)

    def _run(self, out):
        s = self.s
        self._print_plan()
        (x, t), (x_test, t_test) = load_mnist(flatten=flat_input(self.spec), data_dir=s["data_dir"],
                                              dataset=s["dataset"])
        if s["train_size"]:
            x, t = x[:s["train_size"]], t[:s["train_size"]]
        held_out = (x_test, t_test)
        if s["val_split"]:
            fit, val = validation_split(x.shape[0], s["val_split"], self.val_seed)
            held_out, (x, t) = (x[val], t[val]), (x[fit], t[fit])
            print(f"data: {TITLES[s['dataset']]}, {x.shape[0]:,} training / {val.size:,} validation (--val-split "
                  f"{s['val_split']:g}, seed {self.val_seed}) / {x_test.shape[0]:,} test samples")
        else:
            print(f"data: {TITLES[s['dataset']]}, {x.shape[0]:,} training / {x_test.shape[0]:,} test samples")
        self.fit_size = x.shape[0]
        self.train_eval = min(s["train_eval_size"] or x.shape[0], x.shape[0])
        if self.train_eval < x.shape[0]:
            print(f"evaluation: training metrics on the first {self.train_eval:,} of the {x.shape[0]:,} training "
                  f"samples (--train-eval-size), {self.held} metrics on all {held_out[0].shape[0]:,}")
        feeder = BatchFeeder(x, t, s["batch_size"], self.dtype, s["sampling"])
        order, first_step = self._continue_data_stream()
        progress = Progress(sys.stdout, feeder.steps, s["batch_size"])
        self.steps_per_epoch, self.first_new_row = feeder.steps, len(self.rows)
        status = 0
        with compute_threads(s["threads"], s["blas_threads"]), StopRequest() as stop:
            for epoch in range(self.epochs_done + 1, self.schedule[1] + 1):
                self.optimizer.lr = self.lr_at(epoch)
                order = feeder.epoch_order() if order is None else order
                try:
                    steps_done, seconds = self._train_epoch(feeder, progress, epoch, order, first_step, stop)
                except NonFiniteLossError as exc:
                    status = 1
                    kept = (f"{out / MODEL_FILE} keeps the network after epoch {self.epochs_done}"
                            if (out / MODEL_FILE).exists() else "no epoch had finished: no model.npz was written")
                    print(f"fastdl: stopped: {exc}\n{kept}", file=sys.stderr)
                    break
                if steps_done == feeder.steps:
                    self._end_epoch(epoch, seconds, (x, t), held_out, progress, out)
                    order, first_step = None, 0
                if stop.requested:
                    status = INTERRUPTED
                    if steps_done < feeder.steps:
                        loss, acc = evaluate(self.net, *held_out, eval_chunk(self.spec))
                        self._save(out / MODEL_FILE, (loss, acc), order, steps_done)
                        print(f"interrupted during epoch {epoch} after {steps_done}/{feeder.steps} steps; saved "
                              f"the network as it is now: {self.held} accuracy {acc:.4f}, {self.held} loss "
                              f"{loss:.4f}; --resume {self.out} continues from there")
                    break
        self._summary(out, (x_test, t_test))
        return status

    def _continue_data_stream(self):
        """Set NumPy's RNG for the epochs to come; ``(order, first_step)`` of an epoch to finish, else ``(None, 0)``.

        A new run goes on from its seed (the network's weights were drawn from it).
        A resumed run with the same data settings restores the saved RNG state and
        the interrupted epoch's batch order, so it takes the very steps it would
        have taken; changed data settings start the next epoch from
        ``seed([seed, epochs_done])``.
        """
        if self.saved is None:
            return None, 0
        if not self.exact_resume:
            np.random.seed([self.s["seed"], self.epochs_done])
            return None, 0
        np.random.set_state(self.saved.rng_state)
        step = self.saved.run.get("step_in_epoch", 0)
        return (self.saved.epoch_order, step) if step else (None, 0)

    def lr_at(self, epoch):
        """The lr of epoch ``epoch`` (from 1): constant, or cosine from lr towards 0 over the schedule.

        The cosine schedule anneals the noise of the last epochs away: over
        seeds 0-4 the default network ends at 98.2-98.4% on MNIST, against
        97.4-98.0% at a constant lr of 0.001.
        """
        if self.s["lr_schedule"] == "constant":
            return self.base_lr
        start, end = self.schedule
        return self.base_lr * 0.5 * (1.0 + math.cos(math.pi * (epoch - 1 - start) / (end - start)))

    def _print_plan(self):
        s = self.s
        start, end = self.schedule
        params = self.net.params.flat.size
        print(f"network: {describe_network(self.spec)}: {params:,} parameters")
        print(f"optimizer: {describe_optimizer(self.optimizer)}")
        if s["lr_schedule"] == "cosine":
            print(f"lr schedule: cosine, from {self.lr_at(start + 1):g} to {self.lr_at(end):g} "
                  f"over epochs {start + 1}-{end}")
        order = "reshuffled every epoch" if s["sampling"] == "shuffle" else "drawn with replacement (book)"
        resuming = ""
        if s["resume"]:
            step = self.saved.run.get("step_in_epoch", 0) if self.exact_resume else 0
            where = f" and {step} steps of epoch {self.epochs_done + 1}" if step else ""
            state = "the saved optimizer state" if self.same_optimizer else f"a fresh {s['optimizer']} state"
            stream = ("the saved RNG and batch order" if self.exact_resume
                      else "a new data stream (data settings changed)")
            resuming = f"resuming {s['resume']} after epoch {self.epochs_done}{where} with {state} and {stream}, "
        print(f"training: {resuming}{end - self.epochs_done} epochs, batch {s['batch_size']}, {order}, "
              f"seed {s['seed']}")
        print(f"threads: Numba {s['threads']}, BLAS {s['blas_threads']}")
        print(f"output: {self.out}")

    def _train_epoch(self, feeder, progress, epoch, order, first_step, stop):
        """Steps ``first_step``... of the epoch, until its end or a Ctrl-C; returns ``(steps done, seconds)``.

        Each step's loss is appended to ``self.step_loss``, also when a
        non-finite loss ends the epoch with :class:`NonFiniteLossError`.
        """
        net, optimizer = self.net, self.optimizer
        losses = np.empty(feeder.steps)
        report_every = progress.start(epoch, self.schedule[1], first_step)
        steps_before = self.step_loss.size - first_step
        start = time.perf_counter()
        step = first_step
        try:
            while step < feeder.steps and not stop.requested:
                xb, tb = feeder.gather(order, step)
                grads = net.gradient(xb, tb)
                optimizer.update(net.params, grads)
                losses[step] = net.last_layer.loss
                step += 1
                check_finite_loss(losses[step - 1], steps_before + step, optimizer, xb)
                if step % report_every == 0:
                    progress.advance(step, losses)
        finally:
            seconds = time.perf_counter() - start
            progress.close()
            self.step_loss = np.concatenate([self.step_loss, losses[first_step:step]])
        return step, seconds

    def _end_epoch(self, epoch, seconds, train, held_out, progress, out):
        """Evaluate on the first ``train_eval`` training samples and all the held-out ones (validation or
        test), write metrics.csv, ``best.npz`` when the validation accuracy is the best so far, then ``model.npz``.

        ``best.npz`` is written first: a run killed between the two resumes from the
        previous ``model.npz``, whose record of the best epoch still matches its file.
        """
        start = time.perf_counter()
        train_loss, train_acc = evaluate(self.net, *(a[:self.train_eval] for a in train), eval_chunk(self.spec))
        loss, acc = evaluate(self.net, *held_out, eval_chunk(self.spec))
        row = {"epoch": epoch, "steps": self.step_loss.size, "lr": self.optimizer.lr,
               "train_loss": train_loss, "train_acc": train_acc, f"{self.held}_loss": loss,
               f"{self.held}_acc": acc, "seconds": seconds, "eval_seconds": time.perf_counter() - start}
        self.rows.append(row)
        self.epochs_done = epoch
        progress.report(row)
        write_csv(out / METRICS_FILE, self.rows, VAL_METRIC_FIELDS if self.s["val_split"] else METRIC_FIELDS)
        if self.s["val_split"] and (self.best is None or (acc, -loss) > (self.best["val_acc"], -self.best["val_loss"])):
            self.best = {"epoch": epoch, "val_acc": acc, "val_loss": loss}
            self._save(out / BEST_FILE, (loss, acc))
        self._save(out / MODEL_FILE, (loss, acc))

    def _save(self, path, held_metrics, order=None, step_in_epoch=0):
        """A checkpoint at ``path`` after ``epochs_done`` epochs and ``step_in_epoch`` steps of the next
        (batch ``order``); ``held_metrics`` is ``(loss, accuracy)`` on the validation or test samples."""
        s = self.s
        held = {"test_loss": None, "test_acc": None, "val_loss": held_metrics[0], "val_acc": held_metrics[1]} \
            if s["val_split"] else {"test_loss": held_metrics[0], "test_acc": held_metrics[1]}
        run = {"dataset": s["dataset"], "train_size": s["train_size"], "optimizer": s["optimizer"],
               "hyperparameters": {**hyperparameters(self.optimizer), "lr": self.base_lr},
               "lr_schedule": s["lr_schedule"], "schedule": list(self.schedule), "batch_size": s["batch_size"],
               "sampling": s["sampling"], "seed": s["seed"], "train_eval_size": s["train_eval_size"],
               "epochs_done": self.epochs_done,
               "step_in_epoch": step_in_epoch, "interrupted": step_in_epoch > 0, "resumed_at": self.resumed_at,
               **held}
        if s["val_split"]:
            run.update(val_split=s["val_split"], val_seed=self.val_seed, best=self.best)
        save_checkpoint(path, self.net, self.spec, run, self.step_loss, self.rows, self.optimizer,
                        order if step_in_epoch else None)

    def _summary(self, out, test):
        """The run's figure and closing lines; with ``--val-split`` the test accuracy of ``best.npz``."""
        if self.step_loss.size:
            s = self.s
            settings = ", ".join(f"{name}={value:g}" for name, value in
                                 {**hyperparameters(self.optimizer), "lr": self.base_lr}.items())
            title = (f"{describe_network(self.spec)}\n{type(self.optimizer).__name__}({settings}), "
                     f"{s['lr_schedule']} lr schedule, batch {s['batch_size']}, seed {s['seed']}"
                     + (f", val split {s['val_split']:g}" if s["val_split"] else ""))
            plot_training(out / PLOT_FILE, self.step_loss, self.rows, title, self.resumed_at, self.best,
                          self.train_eval if self.train_eval < self.fit_size else None)
        new_rows = self.rows[self.first_new_row:]
        if new_rows:
            train_s = float(np.median([row["seconds"] for row in new_rows]))
            eval_s = float(np.median([row["eval_seconds"] for row in new_rows]))
            rate = self.s["batch_size"] * self.steps_per_epoch / train_s
            first = new_rows[0]["seconds"]
            warmup = f"; the first took {first:.2f} s with Numba's compile/cache load" if first > 1.5 * train_s else ""
            last = self.rows[-1]
            print(f"time per epoch (median): {train_s:.2f} s training ({rate:,.0f} samples/s) "
                  f"+ {eval_s:.2f} s evaluation{warmup}")
            print(f"last full epoch {last['epoch']}: {self.held} accuracy {last[self.held + '_acc']:.4f}, "
                  f"{self.held} loss {last[self.held + '_loss']:.4f}")
        if self.best is not None:
            self._report_best(out, test)
        written = [name for name in (METRICS_FILE, PLOT_FILE, MODEL_FILE, BEST_FILE) if (out / name).exists()]
        print(f"saved: {', '.join(str(out / name) for name in written)}")
        for warning in self._warnings():
            print(f"fastdl: warning: {warning}", file=sys.stderr)

    def _report_best(self, out, test):
        """Measure the network kept in ``best.npz`` (checked against the schema on load) on the test set."""
        best = self.best
        try:
            saved = load_checkpoint(out / BEST_FILE)
        except CheckpointError as exc:
            print(f"fastdl: warning: the best epoch ({best['epoch']}) cannot be measured: {exc}", file=sys.stderr)
            return
        if saved.run["epochs_done"] != best["epoch"]:
            print(f"fastdl: warning: {out / BEST_FILE} holds epoch {saved.run['epochs_done']}, not the best epoch "
                  f"{best['epoch']} the run recorded", file=sys.stderr)
            return
        loss, acc = evaluate(saved.net, *test, eval_chunk(saved.spec))
        print(f"best epoch {best['epoch']} (validation accuracy {best['val_acc']:.4f}, loss {best['val_loss']:.4f}), "
              f"kept in {out / BEST_FILE}: test accuracy {acc:.4f}, test loss {loss:.4f}")

    def _warnings(self):
        """What a learner should hear about a run that exits normally yet learnt nothing."""
        warnings = []
        last_acc = self.rows[-1][self.held + "_acc"] if self.rows else None
        if last_acc is not None and last_acc <= CHANCE_ACCURACY:
            warnings.append(f"{self.held} accuracy {last_acc:.4f} is chance level for 10 classes: the "
                            f"network learnt nothing; try a smaller --lr (this run: {self.base_lr:g})")
        window = self.step_loss.size // 10
        if window >= 5:
            first, last = float(np.mean(self.step_loss[:window])), float(np.mean(self.step_loss[-window:]))
            if not last < 0.99 * first:
                warnings.append(f"the training loss stopped falling: {first:.4f} over the first {window} steps, "
                                f"{last:.4f} over the last {window}; try another --lr (this run: {self.base_lr:g})")
        return warnings


def add_parser(commands):
    """The ``train`` subcommand of ``commands`` (an argparse subparsers object)."""
    d = TRAIN_DEFAULTS
    p = commands.add_parser("train", help="train a network on MNIST",
                            description="Train a MultiLayerNet, the book's SimpleConvNet (ch07) or DeepConvNet "
                                        "(ch08) on MNIST, evaluating after every epoch; writes "
                                        "metrics.csv, training.png and model.npz (and best.npz with --val-split) "
                                        "into --out.")
    net = p.add_argument_group("network")
    net.add_argument("--model", choices=MODELS,
                     help="mlp: MultiLayerNet(Extend) of --hidden sizes; simple-convnet: the book's ch07 "
                          "SimpleConvNet; deep-convnet: its ch08 DeepConvNet (default: mlp)")
    simple, deep = MODEL_DEFAULTS["simple-convnet"], MODEL_DEFAULTS["deep-convnet"]
    net.add_argument("--hidden", type=positive_int, nargs="+", metavar="N",
                     help=f"hidden layer sizes (default: {' '.join(map(str, d['hidden']))}); a conv net takes "
                          f"one, its hidden_size (default: {simple['hidden'][0]} simple-convnet, "
                          f"{deep['hidden'][0]} deep-convnet)")
    net.add_argument("--activation", choices=("relu", "sigmoid"), help=f"default: {d['activation']}")
    net.add_argument("--init", type=weight_init, metavar="STD",
                     help="weight_init_std: relu/he, sigmoid/xavier or a number (default: relu; simple-convnet "
                          f"takes a number, default {simple['init']}; deep-convnet is He-initialised)")
    net.add_argument("--weight-decay", type=non_negative_float, metavar="LAMBDA",
                     help="L2 weight decay lambda of the loss (default: 0)")
    net.add_argument("--batchnorm", action="store_true", default=None,
                     help="batch normalisation after every hidden Affine (MultiLayerNetExtend)")
    net.add_argument("--dropout", type=dropout_ratio, metavar="RATIO",
                     help="dropout after every hidden activation with this ratio (MultiLayerNetExtend)")
    net.add_argument("--exact-loss", action="store_true", default=None, help=EXACT_LOSS_HELP)
    opt = p.add_argument_group("optimizer")
    opt.add_argument("--optimizer", type=optimizer_name, choices=list(OPTIMIZERS), help=f"default: {d['optimizer']}")
    opt.add_argument("--lr", type=positive_float,
                     help=f"learning rate (default for {d['optimizer']}: {d['lr']}, {simple['lr']} simple-convnet, "
                          f"{deep['lr']} deep-convnet; else the optimizer's default)")
    opt.add_argument("--opt-param", type=optimizer_param, action="append", metavar="NAME=VALUE",
                     help="another optimizer argument, e.g. momentum=0.95 or beta2=0.99 (repeatable)")
    opt.add_argument("--lr-schedule", choices=("cosine", "constant"),
                     help="cosine: lr follows a half cosine to ~0 over the epochs; constant: the book's "
                          f"(default: {d['lr_schedule']})")
    run = p.add_argument_group("run")
    run.add_argument("--epochs", type=positive_int,
                     help=f"default: {d['epochs']} ({simple['epochs']} simple-convnet, {deep['epochs']} deep-convnet)")
    run.add_argument("--batch-size", type=positive_int, help=f"default: {d['batch_size']}")
    run.add_argument("--sampling", choices=("shuffle", "replace"),
                     help="shuffle: a new permutation every epoch (default); replace: the book's "
                          "np.random.choice per batch")
    run.add_argument("--seed", type=integer, help=f"NumPy seed for weights and batches (default: {d['seed']})")
    run.add_argument("--train-size", type=positive_int, metavar="N",
                     help="train on the first N training samples only (default: all 60,000)")
    run.add_argument("--train-eval-size", type=positive_int, metavar="N",
                     help="after each epoch, measure the training loss and accuracy on the first N training samples "
                          "(default: all for mlp, 10000 for the conv nets, whose evaluation of all 60,000 takes "
                          "20-30%% of an epoch); the test or validation samples are always evaluated whole")
    run.add_argument("--val-split", type=open_fraction, metavar="FRACTION",
                     help="hold out this fraction of the training samples (random, from --seed), evaluate on it "
                          "every epoch instead of the test set, keep the best epoch in best.npz and report its "
                          "test accuracy at the end (default: off)")
    run.add_argument("--out", metavar="DIR", help="output directory (default: runs/train-<date>-<time>, "
                                                  "or the --resume directory)")
    run.add_argument("--overwrite", action="store_true", default=None,
                     help="replace the run already in --out (refused without it, or --resume)")
    run.add_argument("--resume", metavar="DIR",
                     help="continue the run saved in DIR where it stopped (network, optimizer state, RNG, batch "
                          "order): bit for bit as if never stopped; without --epochs it finishes the saved run")
    add_compute_options(p)
    p.set_defaults(run=run_command, parser=p)


def run_command(args):
    """``fastdl train`` with the parsed ``args``; returns the exit status."""
    options = {key: getattr(args, key, None) for key in TRAIN_DEFAULTS}
    options["opt_params"] = dict(args.opt_param or ())
    try:
        training = Training(options)
    except (ValueError, TypeError) as exc:
        args.parser.error(str(exc))
    return training.run()
