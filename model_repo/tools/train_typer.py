"""Train the type model (TypeModel) on CPU and write its checkpoint and data card figures.

    .venv/bin/python model_repo/tools/train_typer.py --site .venv-typer/lib/python3.11/site-packages

(`make train-typer` makes that environment from typer_packages.txt and runs this.) Writes the
`.nemo` checkpoint (default `model_repo/typer/1/typer.nemo`) and `model_repo/typer/data_card.json`:
sources with versions and declared licences, corpus sizes, held-out top-1/top-3 by slot kind against
the most-common-type baseline, and the training time. Deterministic for a given corpus and seed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections import Counter
from email.parser import HeaderParser
from pathlib import Path
from typing import Any

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import typer_corpus as corpus  # noqa: E402

from portalis_worker.model.typer import TypeModel, typer_config  # noqa: E402
from portalis_worker.model.typer_features import batch_ids  # noqa: E402

REPO = HERE.parent.parent
MIN_COUNT = 5
"""A type becomes a label when it occurs at least this often in train."""
K = 3


def typeshed_dir() -> Path:
    import mypy

    return Path(mypy.__file__).parent / "typeshed"


def pinned(requirements: Path) -> dict[str, str]:
    out = {}
    for line in requirements.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            out[name.lower().replace("_", "-")] = version
    return out


def distributions(site: Path, wanted: dict[str, str]) -> list[dict[str, Any]]:
    """Name, version, declared licence and import packages of each pinned distribution in `site`."""
    out = []
    for info in sorted(site.glob("*.dist-info")):
        meta = HeaderParser().parsestr((info / "METADATA").read_text(encoding="utf-8", errors="replace"))
        name = str(meta.get("Name", "")).lower().replace("_", "-")
        if name not in wanted:
            continue
        licence = meta.get("License-Expression") or next(
            (
                c.split("::")[-1].strip()
                for c in meta.get_all("Classifier") or []
                if c.startswith("License ::")
            ),
            (meta.get("License") or "unknown").splitlines()[0][:60],
        )
        top = info / "top_level.txt"
        packages = top.read_text().split() if top.exists() else []
        if not packages:
            record = (info / "RECORD").read_text().splitlines() if (info / "RECORD").exists() else []
            packages = sorted(
                {
                    r.split("/", 1)[0]
                    for r in record
                    if "/" in r
                    and not r.split("/", 1)[0].endswith((".dist-info", ".data"))
                    and not r.startswith("..")
                }
            )
        out.append({"name": name, "version": meta.get("Version"), "licence": licence, "packages": packages})
    return out


def train(model: TypeModel, texts: list[str], labels: list[int], epochs: int, seed: int) -> None:
    torch.manual_seed(seed)
    rng = random.Random(seed)
    order = list(range(len(texts)))
    optim = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()
    for epoch in range(epochs):
        rng.shuffle(order)
        total = 0.0
        for start in range(0, len(order), 256):
            batch = order[start : start + 256]
            ids = torch.tensor(batch_ids([texts[i] for i in batch]), dtype=torch.long)
            target = torch.tensor([labels[i] for i in batch], dtype=torch.long)
            optim.zero_grad()
            loss = loss_fn(model(ids), target)
            loss.backward()
            optim.step()
            total += float(loss) * len(batch)
        print(f"epoch {epoch + 1}/{epochs}: loss {total / len(order):.3f}", flush=True)
    model.eval()


def evaluate(
    model: TypeModel, test: list[corpus.Example], baseline: dict[str, list[str]]
) -> dict[str, object]:
    """Top-1/top-3 by kind on every held-out example (labels the model lacks count as misses)."""
    predictions = []
    for start in range(0, len(test), 512):
        predictions += model.predict([ex.text for ex in test[start : start + 512]], K)
    out: dict[str, object] = {}
    for kind in ("param", "return", "all"):
        rows = [(ex, p) for ex, p in zip(test, predictions, strict=True) if kind in ("all", ex.kind)]
        if not rows:
            continue
        n = len(rows)
        common = baseline["param" if kind == "all" else kind]
        out[kind] = {
            "examples": n,
            "top1": round(sum(p[0][0] == ex.label for ex, p in rows) / n, 4),
            "top3": round(sum(ex.label in [label for label, _ in p[:K]] for ex, p in rows) / n, 4),
            "baseline_top1": round(sum(ex.label == common[0] for ex, _ in rows) / n, 4),
            "baseline_top3": round(sum(ex.label in common[:K] for ex, _ in rows) / n, 4),
            "baseline": common[:K],
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, required=True, help="site-packages of the training environment")
    parser.add_argument("--packages", type=Path, default=HERE / "typer_packages.txt")
    parser.add_argument("--typeshed", type=Path, default=None, help="default: the one mypy ships")
    parser.add_argument("--out", type=Path, default=REPO / "model_repo" / "typer" / "1" / "typer.nemo")
    parser.add_argument("--card", type=Path, default=REPO / "model_repo" / "typer" / "data_card.json")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    started = time.monotonic()

    typeshed = args.typeshed or typeshed_dir()
    dists = distributions(args.site, pinned(args.packages))
    roots = [
        (name, root)
        for name, root in corpus.package_roots(args.site)
        if any(name in d["packages"] for d in dists)
    ]
    stubs = corpus.collect(corpus.typeshed_roots(typeshed))
    code = corpus.collect(roots)
    train_set, test_set = corpus.split(stubs + code)
    counts = Counter(ex.label for ex in train_set)
    label_names = sorted(label for label, n in counts.items() if n >= MIN_COUNT)
    index = {label: i for i, label in enumerate(label_names)}
    trainable = [ex for ex in train_set if ex.label in index]
    print(f"{len(stubs)} stub and {len(code)} code slots; {len(label_names)} labels")
    print(f"train {len(trainable)}, test {len(test_set)}")

    model = TypeModel(typer_config(label_names))
    train(model, [ex.text for ex in trainable], [index[ex.label] for ex in trainable], args.epochs, args.seed)
    trained_s = time.monotonic() - started
    baseline = {
        kind: [label for label, _ in Counter(ex.label for ex in trainable if ex.kind == kind).most_common(K)]
        for kind in ("param", "return")
    }
    accuracy = evaluate(model, test_set, baseline)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    model.save_to(str(args.out))
    card = {
        "command": "make train-typer",
        "sources": {
            "typeshed": {
                "path": "mypy/typeshed/stdlib (ships with mypy)",
                "licence": "Apache-2.0 (typeshed)",
                "slots": len(stubs),
            },
            "packages": dists,
            "package_slots": len(code),
        },
        "excluded": "HumanEval, MultiPL-E (licence; they are the test)",
        "split": f"by package: {corpus.TEST_SHARE}% of packages held out (stable hash of the name)",
        "sizes": {
            "train": len(trainable),
            "test": len(test_set),
            "train_packages": len({ex.package for ex in trainable}),
            "test_packages": len({ex.package for ex in test_set}),
            "labels": len(label_names),
        },
        "test_packages": sorted({ex.package for ex in test_set}),
        "labels": label_names,
        "accuracy": accuracy,
        "epochs": args.epochs,
        "seed": args.seed,
        "checkpoint_bytes": args.out.stat().st_size,
        "train_seconds": round(trained_s, 1),
        "threads": torch.get_num_threads(),
    }
    args.card.write_text(json.dumps(card, indent=2) + "\n")
    print(json.dumps(card["accuracy"], indent=2))
    print(f"checkpoint {args.out} ({card['checkpoint_bytes']} bytes), trained in {trained_s:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
