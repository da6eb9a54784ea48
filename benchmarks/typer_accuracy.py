"""The type model's held-out accuracy (top-1, top-3 by slot kind) against the most-common baseline.

Run from the repository root after `make train-typer` (which makes the training environment):

    .venv/bin/python benchmarks/typer_accuracy.py [--site .venv-typer/lib/python3.11/site-packages]
    .venv/bin/python benchmarks/typer_accuracy.py --smoke [--out FILE]

It rebuilds the corpus exactly as training did (model_repo/tools/typer_corpus.py: typeshed stubs and
the pinned packages, split by package), restores the committed checkpoint
(model_repo/typer/1/typer.nemo) and scores every held-out slot: top-1 and top-3, by kind (param,
return) and overall, beside a baseline that always answers the train split's most common types.
Held-out types the model has no label for count as misses. `--smoke` uses the typeshed stubs only
and the first 300 held-out slots. Results: `results/typer_accuracy.json`.
"""

from __future__ import annotations

import argparse
import sys
import sysconfig
from collections import Counter
from pathlib import Path

from reporting import add_arguments, record, write

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "model_repo" / "tools"))

import train_typer  # noqa: E402
import typer_corpus as corpus  # noqa: E402

NAME = "typer_accuracy"
SMOKE_EXAMPLES = 300
CHECKPOINT = REPO / "model_repo" / "typer" / "1" / "typer.nemo"


def default_site() -> Path | None:
    venv = REPO / ".venv-typer"
    if not venv.is_dir():
        return None
    purelib = sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})["purelib"]
    return Path(purelib)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=None, help="the training environment's site-packages")
    add_arguments(parser, NAME)
    args = parser.parse_args(argv)
    import torch

    from portalis_worker.model.typer import TypeModel

    torch.set_num_threads(2)
    roots = corpus.typeshed_roots(train_typer.typeshed_dir())
    if not args.smoke:
        site = args.site or default_site()
        if site is None:
            parser.error("no training environment: run `make train-typer` or pass --site")
        dists = train_typer.distributions(site, train_typer.pinned(train_typer.HERE / "typer_packages.txt"))
        roots += [(n, r) for n, r in corpus.package_roots(site) if any(n in d["packages"] for d in dists)]
    train_set, test_set = corpus.split(corpus.collect(roots))
    if args.smoke:
        test_set = test_set[:SMOKE_EXAMPLES]
    model = TypeModel.restore_from(str(CHECKPOINT), map_location=torch.device("cpu"))
    baseline = {
        kind: [label for label, _ in Counter(ex.label for ex in train_set if ex.kind == kind).most_common(3)]
        for kind in ("param", "return")
    }
    accuracy = train_typer.evaluate(model, test_set, baseline)
    packages = len({ex.package for ex in test_set})
    print(f"## typer accuracy: {len(test_set)} held-out slots from {packages} held-out packages\n")
    print("| kind | slots | top-1 | top-3 | most-common top-1 | most-common top-3 |")
    print("| --- | --- | --- | --- | --- | --- |")
    records = []
    for kind, figures in accuracy.items():
        assert isinstance(figures, dict)
        print(
            f"| {kind} | {figures['examples']} | {figures['top1']:.1%} | {figures['top3']:.1%} "
            f"| {figures['baseline_top1']:.1%} | {figures['baseline_top3']:.1%} |"
        )
        common = ", ".join(figures["baseline"])
        for k in ("top1", "top3"):
            records.append(
                record(
                    f"typer_{kind}_{k}_pct",
                    100.0 * figures[k],
                    "%",
                    f"most-common baseline ({common}) {100.0 * figures['baseline_' + k]:.1f}% on the same "
                    f"{figures['examples']} held-out slots",
                )
            )
    write(NAME, records, args.out, args.smoke)
    return 0


if __name__ == "__main__":
    sys.exit(main())
