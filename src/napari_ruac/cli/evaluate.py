"""``napari-ruac evaluate``: the command-line face of :func:`napari_ruac.evaluation.run_evaluation`
(a tqdm bar over the image files)."""

from __future__ import annotations

import argparse
import sys

from ..core.objects import MODES as OBJECT_MODES
from ..evaluation.gt_prompts import PROMPT_KINDS
from ..evaluation.runner import EVALUATION_MODEL, EvaluationSettings, run_evaluation

HELP = "compare uncertainty methods on labelled datasets (tables + plots)"
DEFAULTS = EvaluationSettings()  # the CLI's defaults are the API's


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("data", nargs="+", help="dataset folders, each with images/ and masks/ (or imagesTr/ + labelsTr/)")
    parser.add_argument(
        "--methods", default=",".join(DEFAULTS.methods),
        help="comma-separated methods (ruac, ruac-hyp, ruac-mc, sam2, tta, prompt, laplace, varnet; add +refine for fusion)",
    )  # fmt: skip
    parser.add_argument("--model", default=EVALUATION_MODEL, help="registry name, SAM2 .pt, or napari-ruac checkpoint")
    parser.add_argument("--out", default="evaluation", help="output folder (a rerun with the same folder resumes)")
    parser.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    parser.add_argument("--random-weights", action="store_true", help="random SAM2 weights (testing without downloads)")
    parser.add_argument("--image-size", type=int, default=None, help="model input size (only with --random-weights)")
    parser.add_argument("--prompt", choices=PROMPT_KINDS, default=DEFAULTS.prompt, help="prompt derived from each object")
    parser.add_argument("--points", type=int, default=DEFAULTS.points, help="clicks per object for point prompts")
    parser.add_argument("--box-margin", type=float, default=DEFAULTS.box_margin, help="px added to each side of the tight box")
    parser.add_argument("--min-area", type=int, default=DEFAULTS.min_area, help="drop objects of at most this many pixels")
    parser.add_argument("--objects", choices=OBJECT_MODES, default=DEFAULTS.object_mode)
    parser.add_argument("--seed", type=int, default=DEFAULTS.seed)
    parser.add_argument("--num-samples", type=int, default=DEFAULTS.num_samples, help="samples of tta/prompt/laplace/ruac-mc")
    parser.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size)
    parser.add_argument("--tta-set", choices=("train", "hue", "hue-only", "identity"), default="train")
    parser.add_argument("--laplace-mode", choices=("sample", "probit"), default="sample")
    parser.add_argument("--laplace-fit", type=int, default=DEFAULTS.laplace_fit, help="fit Laplace on the first N images of each dataset")
    parser.add_argument("--laplace-posterior", default=DEFAULTS.laplace_posterior, help="a Laplace posterior file (save_laplace)")
    parser.add_argument("--ct", choices=("auto", "always", "never"), default=DEFAULTS.ct, help="CT normalisation of volumes")
    parser.add_argument("--reference", default=DEFAULTS.reference, help="method the Wilcoxon tests compare against")
    parser.add_argument(
        "--band", type=float, default=DEFAULTS.band,
        help="px around the true boundary that interior AUROC/Pearson and the review coverage leave out",
    )  # fmt: skip
    return parser


def settings_from_args(args: argparse.Namespace) -> EvaluationSettings:
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    return EvaluationSettings(
        methods=methods,
        prompt=args.prompt,
        points=args.points,
        box_margin=args.box_margin,
        min_area=args.min_area,
        object_mode=args.objects,
        seed=args.seed,
        num_samples=args.num_samples,
        batch_size=args.batch_size,
        laplace_fit=args.laplace_fit,
        laplace_posterior=args.laplace_posterior,
        ct=args.ct,
        reference=args.reference,
        band=args.band,
        method_options={"tta_set": args.tta_set, "laplace_mode": args.laplace_mode},
    )


def run(args: argparse.Namespace) -> int:
    """Run the evaluation with a progress bar; returns the exit code."""
    from tqdm import tqdm

    from ..core.progress import Progress
    from ..evaluation.events import DatasetDone, EvaluationDone, EvaluationStarted, ImageDone
    from .common import progress_bar

    events = run_evaluation(
        args.data,
        model=args.model,
        out=args.out,
        device=args.device,
        pretrained=not args.random_weights,
        image_size=args.image_size,
        settings=settings_from_args(args),
    )
    bar = None
    try:
        for event in events:
            if isinstance(event, EvaluationStarted):
                bar = progress_bar(total=event.total, unit="file", desc="evaluate")
            elif isinstance(event, ImageDone) and bar is not None:
                bar.set_postfix_str(f"{event.image} ({event.computed} new, {event.skipped} done)")
            elif isinstance(event, Progress) and bar is not None:
                bar.update(event.done - bar.n)
            elif isinstance(event, DatasetDone):
                tqdm.write(f"{event.dataset}: {event.rows} rows; summary in {event.files[1]}")
            elif isinstance(event, EvaluationDone):
                tqdm.write(f"all results in {event.out}")
    except KeyboardInterrupt:
        print("\nstopped; rerun the same command to resume.", file=sys.stderr)
        return 130
    except (ValueError, RuntimeError, OSError) as error:  # our errors say what to do; no traceback
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        if bar is not None:
            bar.close()
    return 0

