"""The PyTorch peer of `luz-bench ops`' layout lines: the same operations on the same shapes,
printed in the same format, so that one shell command can alternate the two.

    OMP_NUM_THREADS=2 python3 bench/torch_ops.py
"""
import time

import torch

torch.set_num_threads(2)


def microseconds(repeats, body):
    body()
    start = time.perf_counter()
    for _ in range(repeats):
        body()
    return 1e6 * (time.perf_counter() - start) / repeats


def main():
    g = torch.Generator().manual_seed(0)
    image = torch.randn(128, 64, 24, 24, generator=g)
    left = torch.randn(1024, 256, generator=g)
    right = torch.randn(1024, 256, generator=g)
    with torch.no_grad():
        lines = [
            ("permute", image.shape, microseconds(50, lambda: image.permute(0, 2, 3, 1))),
            ("permute+sum", image.shape, microseconds(20, lambda: image.permute(0, 2, 3, 1).sum(dim=3))),
            ("transpose@mm", left.shape, microseconds(20, lambda: left.t().matmul(right))),
            ("slice ::2", image.shape, microseconds(50, lambda: image[:, :, :, ::2])),
            ("slice ::2+mul", image.shape, microseconds(20, lambda: image[:, :, :, ::2] * 2)),
        ]
    for name, shape, us in lines:
        print(f"ops        {name:14s} {str(list(shape)):18s} {us:10.1f} us", flush=True)


if __name__ == "__main__":
    main()
