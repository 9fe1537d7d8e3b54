"""The PyTorch peer of `luz-bench long-attention`: one forward and backward pass of
nn.MultiheadAttention(128, 8, batch_first=True) self-attention on 8 sequences of 128, 256, 512
and 1 024 tokens (need_weights=False, so PyTorch takes scaled_dot_product_attention's fused CPU
kernel), the loss the mean square of the output; the same lines as Luz prints.

    OMP_NUM_THREADS=2 python3 bench/torch_long_attention.py
"""
import resource
import time

import torch

torch.set_num_threads(2)
torch.manual_seed(0)


def main():
    for length in (128, 256, 512, 1024):
        attention = torch.nn.MultiheadAttention(128, 8, batch_first=True)
        x = torch.randn(8, length, 128, requires_grad=True)
        loss = 0.0

        def step():
            nonlocal loss
            out, _ = attention(x, x, x, need_weights=False)
            value = out.pow(2).mean()
            value.backward()
            loss = value.item()
            attention.zero_grad(set_to_none=False)
            x.grad = None

        step()
        steps = max(3, 4096 // length)
        start = time.perf_counter()
        for _ in range(steps):
            step()
        secs = time.perf_counter() - start
        name = f"lattn{length}"
        print(f"{name:10s} steps={steps:6d} secs={secs:8.3f} us/step={1e6 * secs / steps:10.1f} quality={loss:.4f}",
              flush=True)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"lattn{length:<5d} peak-rss-mb={peak:.0f}", flush=True)


if __name__ == "__main__":
    main()
