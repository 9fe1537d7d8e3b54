"""The PyTorch peer of `luz-bench conv-shapes`: one forward and backward pass (input gradient
included, loss the mean square of the output) of each convolution shape, on a batch of 32,
printed in the same lines as Luz.

    OMP_NUM_THREADS=2 python3 bench/torch_conv_shapes.py
"""
import time

import torch

torch.set_num_threads(2)
torch.manual_seed(0)

# (name, in, out, kernel, stride, padding, dilation, groups, size): as ConvolutionShape.all.
SHAPES = [
    ("1x1", 64, 128, 1, 1, 0, 1, 1, 28),
    ("5x5", 32, 64, 5, 1, 2, 1, 1, 28),
    ("7x7s2", 3, 64, 7, 2, 3, 1, 1, 64),
    ("3x3s2", 64, 128, 3, 2, 1, 1, 1, 28),
    ("3x3d2", 64, 64, 3, 1, 2, 2, 1, 28),
    ("group4", 64, 128, 3, 1, 1, 1, 4, 28),
    ("dw", 128, 128, 3, 1, 1, 1, 128, 28),
    ("dw-s2", 128, 128, 3, 2, 1, 1, 128, 28),
]


def main(steps=10):
    for name, cin, cout, k, stride, padding, dilation, groups, size in SHAPES:
        conv = torch.nn.Conv2d(cin, cout, k, stride=stride, padding=padding, dilation=dilation, groups=groups)
        x = torch.randn(32, cin, size, size, requires_grad=True)
        loss = 0.0

        def step():
            nonlocal loss
            value = conv(x).pow(2).mean()
            value.backward()
            loss = value.item()
            conv.zero_grad(set_to_none=False)
            x.grad = None

        step()
        start = time.perf_counter()
        for _ in range(steps):
            step()
        secs = time.perf_counter() - start
        label = f"cv-{name}"
        print(f"{label:10s} steps={steps:6d} secs={secs:8.3f} us/step={1e6 * secs / steps:10.1f} quality={loss:.4f}",
              flush=True)


if __name__ == "__main__":
    main()
