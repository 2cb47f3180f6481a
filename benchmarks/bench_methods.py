"""Cost of each uncertainty method against ``ruac`` on one 1024² image (SAM2.1-tiny, random
weights), all measured in the same run: interleaved rounds after warm-up, medians, and ratios
as medians of same-round ratios (robust to a machine whose load drifts).

Two columns: *predict* (image embedding cached: what a user pays per prompt) and *end to end*
(encoding the image + predict). Goal: ruac ≥ 10× cheaper than tta-16, ≥ 5× than laplace-16.

    python benchmarks/bench_methods.py [--device cpu] [--repeats 7] [--slow-repeats 2]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from napari_ruac import ImagePredictor, load_model
from napari_ruac.core.boxes import tight_box
from napari_ruac.uq.laplace import fit_laplace
from napari_ruac.models.extra_heads import VarianceHead


def scene(size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A bright disc on a noisy background, and its mask."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    mask = (yy - 0.45 * size) ** 2 + (xx - 0.55 * size) ** 2 <= (0.18 * size) ** 2
    image = 0.2 + 0.55 * mask + rng.normal(0, 0.05, mask.shape)
    return (np.clip(image, 0, 1) * 255).astype(np.uint8), mask


def seconds(run, sync) -> float:
    start = time.perf_counter()
    run()
    sync()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--image-size", type=int, default=1024)
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=7, help="rounds for the cheap (decoder-only) methods")
    parser.add_argument("--slow-repeats", type=int, default=2, help="rounds that also time tta and the encoder")
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    model = load_model("sam2.1_hiera_tiny", device=args.device, pretrained=False, image_size=args.image_size)
    device = model.device
    sync = (lambda: torch.cuda.synchronize()) if device.type == "cuda" else (lambda: None)
    image, mask = scene(args.image_size)
    box = tight_box(mask)
    posterior = fit_laplace(model, [image], [mask])
    varnet = VarianceHead().to(device).eval()
    n = args.samples
    methods = {
        "ruac": dict(method="ruac"),
        "ruac-hyp": dict(method="ruac-hyp"),
        "sam2": dict(method="sam2"),
        f"ruac-mc-{n}": dict(method="ruac-mc", num_samples=n),
        f"laplace-{n}": dict(method="laplace", num_samples=n, batch_size=n, laplace_posterior=posterior),
        "laplace-probit": dict(method="laplace", laplace_mode="probit", laplace_posterior=posterior),
        "varnet": dict(method="varnet", varnet=varnet),
        f"prompt-{n}": dict(method="prompt", num_samples=n),
        f"tta-{n}": dict(method="tta", num_samples=n, batch_size=8),
    }
    predictor = ImagePredictor(model)
    predictor.set_image(image)

    def encode():
        predictor.cache = type(predictor.cache)()  # a fresh cache: really encode
        predictor.set_image(image)

    slow = {f"tta-{n}"}
    times: dict[str, list[float]] = {name: [] for name in methods}
    ratios: dict[str, list[float]] = {name: [] for name in methods}
    encode_times: list[float] = []
    with torch.inference_mode():
        encode()  # warm-up: every code path once (tta with one sample)
        for name, options in methods.items():
            predictor.predict(box=box, **{**options, **({"num_samples": 1} if name in slow else {})})
        for round_index in range(args.repeats):  # interleaved rounds: load drift hits every method alike
            if round_index < args.slow_repeats:
                encode_times.append(seconds(encode, sync))
            for name, options in methods.items():
                if name in slow and round_index >= args.slow_repeats:
                    continue
                times[name].append(seconds(lambda o=options: predictor.predict(box=box, **o), sync))
            for name in methods:
                if len(times[name]) == round_index + 1:
                    ratios[name].append(times[name][-1] / times["ruac"][-1])
    encode_s = statistics.median(encode_times)
    predict_s = {name: statistics.median(t) for name, t in times.items()}
    ratio = {name: statistics.median(r) for name, r in ratios.items()}

    base_predict, base_total = predict_s["ruac"], predict_s["ruac"] + encode_s
    print(f"SAM2.1-tiny, random weights, {args.image_size}² input, device {device}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; {args.repeats} interleaved rounds (tta/encoder: {args.slow_repeats}) "
          "after warm-up; medians, ratios = median of same-round ratios")  # fmt: skip
    print(f"image encoder (set_image): {encode_s * 1e3:.1f} ms")
    print("| method | predict ms | × ruac | end-to-end ms | × ruac |")
    print("|---|---:|---:|---:|---:|")
    for name, value in predict_s.items():
        total = value + encode_s
        print(f"| {name} | {value * 1e3:.1f} | {ratio[name]:.2f} | {total * 1e3:.1f} | {total / base_total:.2f} |")
    for name, goal in ((f"tta-{n}", 10.0), (f"laplace-{n}", 5.0)):
        p, e = ratio[name], (predict_s[name] + encode_s) / base_total
        verdict = lambda r: "met" if r >= goal else "NOT met"  # noqa: E731
        print(f"goal ruac ≥ {goal:g}× cheaper than {name}: predict {p:.1f}× ({verdict(p)}), end to end {e:.2f}× ({verdict(e)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
