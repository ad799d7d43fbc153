"""Command line: ``python -m demos train [--out DIR] [--mnist DIR] [--seed N]``."""
import argparse

from demos import train


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m demos", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train GAPNet on shapes and LeNet on digits/MNIST, save weights")
    p.add_argument("--out", default="outputs", help="directory for the .npz weights (default: outputs)")
    p.add_argument("--mnist", default=None, help="directory with MNIST IDX files (default: use digits)")
    p.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.command == "train":
        train.main(out_dir=args.out, mnist_dir=args.mnist, seed=args.seed)


if __name__ == "__main__":
    main()
