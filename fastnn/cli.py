"""The ``fastnn`` command: ``fastnn info`` and ``fastnn bench`` (also ``python -m fastnn``)."""
import argparse
import sys


def _info(args):
    import fastnn
    for key, value in fastnn.build_info().items():
        print(f"{key:16} {value}")
    return 0


def _bench(args):
    from fastnn import bench
    dtypes = ("float32", "float64") if args.dtype == "both" else (args.dtype,)
    result = bench.run(threads=args.threads, dtypes=dtypes, with_reference=not args.no_reference)
    print(bench.format_table(result))
    if args.json:
        bench.save_json(result, args.json)
        print(f"\nwritten: {args.json}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="fastnn", description="Fast CPU neural-network layers for NumPy.")
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="how fastnn was built and how it will run")
    info.set_defaults(run=_info)
    bench = sub.add_parser(
        "bench", help="time forward+backward of each kernel against the NumPy reference and "
                      "PyTorch CPU (when installed), beside this machine's measured limits")
    bench.add_argument("--threads", type=int, default=None, help="threads (default: fastnn's default)")
    bench.add_argument("--dtype", choices=("float32", "float64", "both"), default="both")
    bench.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    bench.add_argument("--no-reference", action="store_true",
                       help="skip the (slow) NumPy reference timings")
    bench.set_defaults(run=_bench)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
