"""Write a tiny randomly initialised translator checkpoint (.nemo) for tests and local runs.

    python model_repo/tools/make_tiny_checkpoint.py model_repo/translator/1/translator.nemo

Real loading code, small data: no weights are downloaded. Sizes default to 2+2 layers, d_model 64.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from portalis_worker.model.checkpoints import make_tiny_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="the .nemo file to write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2, help="encoder and decoder layers each")
    parser.add_argument("--eos-bias", type=float, default=0.0, help="raise the EOS logit (shorter outputs)")
    args = parser.parse_args()
    path = make_tiny_checkpoint(
        args.output,
        seed=args.seed,
        eos_bias=args.eos_bias,
        d_model=args.d_model,
        enc_layers=args.layers,
        dec_layers=args.layers,
    )
    print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
