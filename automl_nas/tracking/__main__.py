"""`python -m automl_nas.tracking promote NAME VERSION [--alias A] [--tracking-uri URI]`."""

from __future__ import annotations

import argparse
import sys

from automl_nas.tracking._registry import promote


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m automl_nas.tracking")
    verbs = parser.add_subparsers(dest="verb", required=True)
    p = verbs.add_parser("promote", help="point an alias of a registered model at a version")
    p.add_argument("name", help="registered model name")
    p.add_argument("version", help="model version to promote")
    p.add_argument("--alias", default="champion")
    p.add_argument("--tracking-uri", default=None, help="default: MLflow's own")
    args = parser.parse_args(argv)
    try:
        version = promote(args.name, args.version, alias=args.alias, tracking_uri=args.tracking_uri)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"models:/{args.name}@{args.alias} -> version {version.version} (run {version.run_id})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
