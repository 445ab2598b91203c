"""The ``fastnn`` command: ``fastnn info``, ``fastnn bench``, ``fastnn train`` and
``fastnn recommend`` (also ``python -m fastnn``).

Every known failure of a command (missing or malformed data, a bad checkpoint or
parameter file, an option the library refuses, an output path that cannot be written)
is one line on stderr, ``fastnn COMMAND: what went wrong``, and exit status 2, as
argparse does for a malformed command line; no traceback.
"""
import argparse
import os
import sys

# What the library raises for bad data, files and options: the errors a user can fix.
# Anything else is a bug in fastnn and keeps its traceback.
KNOWN_ERRORS = (ValueError, OSError, RuntimeError)


def _check_output(option, path):
    """An output path's directory must exist (checked before any work is done)."""
    if path:
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            raise FileNotFoundError(f"{option} {path}: the directory {directory} does not exist")


def _info(args):
    import fastnn
    for key, value in fastnn.build_info().items():
        print(f"{key:16} {value}")
    return 0


def _bench(args):
    import fastnn
    from fastnn import bench
    dtypes = ("float32", "float64") if args.dtype == "both" else (args.dtype,)
    _check_output("--json", args.json)
    if args.threads is not None:
        fastnn.set_num_threads(args.threads)
    if args.simd:
        if args.simd not in fastnn.simd_levels():
            raise ValueError(f"--simd {args.simd}: this CPU runs {', '.join(fastnn.simd_levels())}")
        fastnn.set_simd_level(args.simd)
    result = bench.run(threads=args.threads, dtypes=dtypes, with_reference=not args.no_reference,
                       quick=args.quick)
    print(bench.format_table(result))
    if args.json:
        bench.save_json(result, args.json)
        print(f"\nwritten: {args.json}")
    return 0


MODELS = ("simple-convnet", "deep-convnet", "mlp")


def _load_data(args, say=print):
    """MNIST from --data-dir, else from the cache (downloaded there when possible), else the
    10,000-image test set bundled with fastnn.  With only the test set, its images are
    split --train-size / --test-size, and ``say`` prints one line saying so."""
    from fastnn.datasets import mnist as data
    data_dir = args.data_dir or data.default_data_dir()
    bundled = False
    if data.find_file(data_dir, "t10k-images-idx3-ubyte") is None:
        if args.data_dir:
            raise FileNotFoundError(f"no MNIST files in {args.data_dir}")
        try:
            data.download_mnist(data_dir, timeout=10)
        except ConnectionError:
            data_dir, bundled = data.BUNDLED_MNIST_DIR, True
    flatten = args.model == "mlp"
    if not bundled and data.find_file(data_dir, "train-images-idx3-ubyte") is not None:
        return data.load_mnist(data_dir, flatten=flatten)
    split = f"the first {args.train_size} to train, the last {args.test_size} to test"
    if bundled:
        say(f"MNIST is not in {data.default_data_dir()} and could not be downloaded: using "
            f"the MNIST test set bundled with fastnn (10,000 images: {split})")
    else:
        say(f"only the MNIST test set is in {data_dir}: {split}")
    return data.load_mnist(data_dir, flatten=flatten, split=(args.train_size, args.test_size))


def _train(args):
    import os

    import numpy as np

    import fastnn
    from fastnn import distributed, nets
    from fastnn.train import Trainer
    comm = distributed.world()
    leader = comm.rank == 0  # only rank 0 prints, plots and saves
    if leader:
        for option in ("save", "plot", "checkpoint"):
            _check_output(f"--{option}", getattr(args, option))
    if args.checkpoint_every is not None and args.checkpoint_every < 1:
        raise ValueError(f"--checkpoint-every must be >= 1, got {args.checkpoint_every}")
    if args.threads is not None:
        fastnn.set_num_threads(args.threads)
    elif comm.size > 1 and "OMP_NUM_THREADS" not in os.environ:
        fastnn.set_num_threads(distributed.default_threads(comm))
    (x_train, t_train), (x_test, t_test) = _load_data(
        args, say=print if leader else lambda line: None)
    dtype = np.dtype(args.dtype)
    x_train, x_test = x_train.astype(dtype), x_test.astype(dtype)
    common = {"backend": args.backend, "dtype": dtype, "seed": args.seed}
    if args.model == "simple-convnet":  # He initialisation: the textbook's 0.01 learns slower
        network = nets.SimpleConvNet(weight_init_std="he", **common)
    elif args.model == "deep-convnet":
        network = nets.DeepConvNet(**common)
    else:
        network = nets.MultiLayerNet(784, [100, 100], 10, use_batchnorm=True, **common)
    if comm.size > 1:
        network = distributed.DataParallel(network, comm)
    trainer = Trainer(network, x_train, t_train, x_test, t_test, epochs=args.epochs,
                      mini_batch_size=args.batch_size, optimizer=args.optimizer,
                      optimizer_param={"lr": args.lr}, verbose=leader and not args.quiet,
                      progress=leader and not args.quiet, seed=args.seed)
    accuracy = trainer.train(checkpoint=args.checkpoint, checkpoint_every=args.checkpoint_every,
                             resume=args.resume, write_checkpoints=leader)
    if not leader:
        return 0
    if args.save:
        network.save_params(args.save)
        print(f"parameters saved: {args.save}")
    if args.plot:
        trainer.plot(args.plot)
        print(f"curves saved: {args.plot}")
    times = trainer.epoch_times
    per_epoch = sorted(times)[len(times) // 2] if times else 0.0
    ranks = f", {comm.size} ranks" if comm.size > 1 else ""
    print(f"time per epoch: {per_epoch:.2f} s (median of {len(times)}, {args.backend} backend, "
          f"{args.dtype}, {fastnn.get_num_threads()} threads{ranks})")
    print(f"test accuracy: {accuracy:.4f}")
    return 0


def _recommend(args):
    import time

    import numpy as np

    import fastnn
    from fastnn.datasets import movielens
    from fastnn import recommend as rc
    for option in ("save", "plot"):
        _check_output(f"--{option}", getattr(args, option))
    if args.threads is not None:
        fastnn.set_num_threads(args.threads)
    if args.epochs < 0:
        raise ValueError(f"--epochs must be >= 0, got {args.epochs}")
    if args.top < 1:
        raise ValueError(f"--top must be >= 1, got {args.top}")
    data = movielens.load_movielens(args.data_dir, split=args.split)
    if args.user is not None and not 1 <= args.user <= len(data.train):
        raise ValueError(f"--user {args.user}: user ids are 1..{len(data.train)}")
    n_movies = data.train.shape[1]
    common = {"dtype": np.dtype(args.dtype), "seed": args.seed, "backend": args.backend}
    if args.model == "rbm":
        model = rc.RBMRecommender(n_movies, n_hidden=args.hidden, k=args.k,
                                  lr=1.0 if args.lr is None else args.lr,
                                  batch_size=args.batch_size or 100, **common)
        baseline = ("each movie's majority", rc.majority_baseline(data.train, data.test))
    else:
        model = rc.AutoEncoderRecommender(n_movies, lr=0.01 if args.lr is None else args.lr,
                                          batch_size=args.batch_size or 16, **common)
        baseline = ("each movie's mean rating", rc.mean_baseline(data.train, data.test))
    progress = not args.quiet and sys.stderr.isatty()

    def bar(epoch, step, steps):
        filled = 30 * step // steps
        sys.stderr.write(f"\repoch {epoch}/{args.epochs} [{'#' * filled}{'.' * (30 - filled)}] "
                         f"{step}/{steps}")
        sys.stderr.flush()
    history = {"train": [], "test": []}
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        train_loss = model.fit_epoch(
            data.train, on_batch=(lambda i, n, e=epoch: bar(e, i, n)) if progress else None)
        test_loss = model.test_loss(data.train, data.test)
        history["train"].append(train_loss)
        history["test"].append(test_loss)
        if progress:
            sys.stderr.write("\r" + " " * 79 + "\r")
        if not args.quiet:
            print(f"epoch {epoch}/{args.epochs}: train loss {train_loss:.4f}, test loss "
                  f"{test_loss:.4f}, {time.perf_counter() - start:.2f} s", flush=True)
    if not args.quiet:
        print(f"baseline ({baseline[0]}): test loss {baseline[1]:.4f}")
    if args.user is not None:
        titles = data.titles or [f"movie {i + 1}" for i in range(n_movies)]
        print(f"top {args.top} unrated movies for user {args.user}:")
        for rank, (movie, score) in enumerate(rc.recommend(model, data.train, args.user, args.top), 1):
            print(f"{rank:3d}. {titles[movie]} ({score:.3f})")
    if args.save:
        model.save_params(args.save)
        print(f"parameters saved: {args.save}")
    if args.plot:
        _plot_losses(history, args.plot, "mean absolute distance" if args.model == "rbm" else "RMSE")
        print(f"curves saved: {args.plot}")
    print(f"test loss: {history['test'][-1] if history['test'] else model.test_loss(data.train, data.test):.4f}")
    return 0


def _plot_losses(history, path, ylabel):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise RuntimeError("--plot needs matplotlib: pip install matplotlib") from None
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, values in history.items():
        ax.plot(range(1, len(values) + 1), values, marker="o", label=name)
    ax.set(xlabel="epoch", ylabel=ylabel, title="loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


class _Parser(argparse.ArgumentParser):
    """argparse with its errors in one line (``fastnn train: argument --threads: ...``)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def main(argv=None):
    parser = _Parser(prog="fastnn", description="Fast CPU neural-network layers for NumPy.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    info = sub.add_parser("info", help="how fastnn was built and how it will run")
    info.set_defaults(run=_info)
    bench = sub.add_parser(
        "bench", help="time forward+backward of each kernel against the NumPy reference and "
                      "PyTorch CPU (when installed), beside this machine's measured limits")
    bench.add_argument("--threads", type=int, default=None, help="threads (default: fastnn's default)")
    bench.add_argument("--dtype", choices=("float32", "float64", "both"), default="both")
    bench.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    bench.add_argument("--simd", choices=("baseline", "avx2", "avx512"),
                       help="run the matrix kernels at this level (default: the highest the "
                            "CPU supports; see fastnn info)")
    bench.add_argument("--no-reference", action="store_true",
                       help="skip the (slow) NumPy reference timings")
    bench.add_argument("--quick", action="store_true",
                       help="four cases with few repetitions (seconds): a first look")
    bench.set_defaults(run=_bench)
    train = sub.add_parser(
        "train", help="train a network on MNIST and report its test accuracy",
        description="Train a network on MNIST. Ends with the line 'test accuracy: 0.XXXX'.")
    train.add_argument("--model", choices=MODELS, default="simple-convnet")
    train.add_argument("--data-dir", help="directory with the MNIST IDX files (.gz or raw); "
                       "default: $FASTNN_DATA or ~/.cache/fastnn/mnist, downloaded if absent; "
                       "without a network, the MNIST test set bundled with fastnn")
    train.add_argument("--epochs", type=int, default=5)
    train.add_argument("--batch-size", type=int, default=100)
    train.add_argument("--optimizer", default="adam",
                       choices=("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"))
    train.add_argument("--lr", type=float, default=0.001)
    train.add_argument("--backend", choices=("fast", "reference"), default="fast")
    train.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    train.add_argument("--threads", type=int, default=None)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--train-size", type=int, default=8000,
                       help="with only the 10,000-image test set: images to train on")
    train.add_argument("--test-size", type=int, default=2000,
                       help="with only the 10,000-image test set: images to test on")
    train.add_argument("--save", metavar="PATH", help="save the trained parameters (.npz)")
    train.add_argument("--plot", metavar="PATH", help="save loss/accuracy curves (PNG; matplotlib)")
    train.add_argument("--quiet", action="store_true", help="no per-epoch lines or progress bar")
    train.add_argument("--checkpoint", metavar="PATH",
                       help="write a checkpoint here (atomically) after every epoch")
    train.add_argument("--checkpoint-every", type=int, metavar="STEPS",
                       help="with --checkpoint, also every STEPS steps")
    train.add_argument("--resume", metavar="PATH",
                       help="continue from a checkpoint (same final weights as an "
                            "uninterrupted run); the other options must match its run's")
    train.set_defaults(run=_train)
    rec = sub.add_parser(
        "recommend", help="train a MovieLens recommender (RBM or autoencoder)",
        description="Train a recommender on MovieLens 100K ratings. Ends with the line "
                    "'test loss: X.XXXX' (RBM: mean absolute distance of liked/not-liked; "
                    "autoencoder: RMSE of the ratings).")
    rec.add_argument("--model", choices=("rbm", "autoencoder"), default="rbm")
    rec.add_argument("--data-dir", help="directory with the ML-100K files (u.data, u1.base, "
                     "...); default: $FASTNN_MOVIELENS or ~/.cache/fastnn/ml-100k, "
                     "downloaded if absent")
    rec.add_argument("--split", choices=("u1", "u2", "u3", "u4", "u5", "ua", "ub"), default="u1")
    rec.add_argument("--epochs", type=int, default=10)
    rec.add_argument("--batch-size", type=int, default=None,
                     help="users per update (default: 100 for the RBM, 16 for the autoencoder)")
    rec.add_argument("--lr", type=float, default=None,
                     help="learning rate (default: 1.0 for the RBM, 0.01 for the autoencoder)")
    rec.add_argument("--hidden", type=int, default=100, help="RBM hidden units")
    rec.add_argument("--k", type=int, default=1, help="RBM Gibbs steps per update (CD-k)")
    rec.add_argument("--user", type=int, help="list the movies recommended to this user id")
    rec.add_argument("--top", type=int, default=10, help="how many movies --user lists")
    rec.add_argument("--backend", choices=("fast", "reference"), default="fast")
    rec.add_argument("--dtype", choices=("float32", "float64"), default="float64")
    rec.add_argument("--threads", type=int, default=None)
    rec.add_argument("--seed", type=int, default=0)
    rec.add_argument("--save", metavar="PATH", help="save the trained parameters (.npz)")
    rec.add_argument("--plot", metavar="PATH", help="save the loss curves (PNG; matplotlib)")
    rec.add_argument("--quiet", action="store_true", help="no per-epoch lines or progress bar")
    rec.set_defaults(run=_recommend)
    args = parser.parse_args(argv)
    if args.command != "train":
        return _one_line_errors(args)
    return _everywhere(args)


def _one_line_errors(args):
    """Run the command; a known error becomes one line on stderr and exit status 2."""
    try:
        return args.run(args)
    except KNOWN_ERRORS as exc:
        print(f"fastnn {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"fastnn {args.command}: interrupted", file=sys.stderr)
        return 130


def _everywhere(args):
    """Run a command that may run on several MPI ranks: an exception on one rank prints
    its message (a known error) or traceback and ends every rank (MPI_Abort) instead of
    leaving the others waiting."""
    from fastnn import distributed
    comm = distributed.world()
    if comm.size == 1:
        return _one_line_errors(args)
    try:
        return args.run(args)
    except BaseException as exc:  # noqa: BLE001 (any failure must end every rank)
        if isinstance(exc, SystemExit) and not exc.code:
            raise
        known = isinstance(exc, KNOWN_ERRORS)
        if known:
            sys.stderr.write(f"fastnn {args.command}: {exc}\n")
        else:
            import traceback
            traceback.print_exc()
        sys.stderr.write(f"fastnn: rank {comm.rank} of {comm.size} failed; ending every rank\n")
        sys.stderr.flush()
        import time
        time.sleep(0.5)  # let the launcher forward the message before the abort ends it
        comm.Abort(2 if known else 1)


if __name__ == "__main__":
    sys.exit(main())
