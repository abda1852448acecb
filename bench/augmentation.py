"""Image transforms side by side: OpenCV and Pillow here, Trainbook through the `augmentation`
bench binary, in one script, on 1000 random 224x224 RGB images in memory (best of 10 passes,
images per second).

    bench/.venv/bin/python bench/augmentation.py [--images 1000] [--passes 10]
"""
import argparse
import json
import os
import platform
import subprocess
import time
from pathlib import Path

import cv2
import numpy as np
import PIL
from PIL import Image


def best_rate(images, passes, op):
    best = float("inf")
    for _ in range(passes):
        start = time.perf_counter()
        for image in images:
            op(image)
        best = min(best, time.perf_counter() - start)
    return len(images) / best


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--passes", type=int, default=10)
    args = parser.parse_args()
    target = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/trainbook/target"))
    rust = json.loads(subprocess.run(
        [str(target / "release" / "augmentation"), "--images", str(args.images), "--passes", str(args.passes)],
        check=True, capture_output=True, text=True).stdout)

    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, size=(224, 224, 3), dtype=np.uint8) for _ in range(args.images)]
    pils = [Image.fromarray(a) for a in arrays]
    m15 = cv2.getRotationMatrix2D((111.5, 111.5), 15, 1.0)
    opencv = {
        "rotate90": lambda a: cv2.rotate(a, cv2.ROTATE_90_COUNTERCLOCKWISE),
        "hflip": lambda a: cv2.flip(a, 1),
        "center_crop_200": lambda a: a[12:212, 12:212].copy(),
        "rotate15_bilinear": lambda a: cv2.warpAffine(a, m15, (224, 224), flags=cv2.INTER_LINEAR),
        "resize_112_bilinear": lambda a: cv2.resize(a, (112, 112), interpolation=cv2.INTER_AREA),
        "gaussian_blur_5": lambda a: cv2.GaussianBlur(a, (5, 5), 1.0),
        "brightness": lambda a: cv2.convertScaleAbs(a, alpha=1.2),
    }
    from PIL import ImageEnhance, ImageFilter
    pillow = {
        "rotate90": lambda im: im.transpose(Image.Transpose.ROTATE_90),
        "hflip": lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        "center_crop_200": lambda im: im.crop((12, 12, 212, 212)).load(),
        "rotate15_bilinear": lambda im: im.rotate(15, resample=Image.Resampling.BILINEAR),
        "resize_112_bilinear": lambda im: im.resize((112, 112), Image.Resampling.BILINEAR),
        "gaussian_blur_5": lambda im: im.filter(ImageFilter.GaussianBlur(1.0)),
        "brightness": lambda im: ImageEnhance.Brightness(im).enhance(1.2),
    }
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; OpenCV {cv2.__version__} "
          f"({cv2.getNumThreads()} threads), Pillow {PIL.__version__}; Trainbook rayon threads {rust['threads']}")
    print(f"{args.images} random 224x224x3 images, best of {args.passes} passes, images/s")
    print(f"| transform | OpenCV | Pillow | Trainbook, one at a time | Trainbook, batch | one at a time / OpenCV |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in opencv:
        cv = best_rate(arrays, args.passes, opencv[name])
        pl = best_rate(pils, args.passes, pillow[name])
        ours = rust[name]
        print(f"| {name} | {cv:,.0f} | {pl:,.0f} | {ours['single']:,.0f} | {ours['batch']:,.0f} | {ours['single'] / cv:.2f} |")


if __name__ == "__main__":
    main()
