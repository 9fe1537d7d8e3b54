"""Writes pooling.safetensors: PyTorch's max and average pooling with ceil_mode in float64 on
fixed inputs, with the outputs and the gradients of a weighted sum of the output.

Run with the PyTorch peer's Python:  python make_pooling_fixtures.py
"""
import json

import torch
import torch.nn.functional as F

from safetensors_writer import write_safetensors

torch.manual_seed(20261203)
torch.set_default_dtype(torch.float64)
tensors = {}
metadata = {}


def case(name, kind, shape, kernel, stride, padding=0, dilation=1, count_include_pad=True):
    x = torch.randn(*shape, requires_grad=True)
    if kind == "max2d":
        y = F.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode=True)
    elif kind == "avg2d":
        y = F.avg_pool2d(x, kernel, stride, padding, ceil_mode=True, count_include_pad=count_include_pad)
    elif kind == "max1d":
        y = F.max_pool1d(x, kernel, stride, padding, dilation, ceil_mode=True)
    else:
        y = F.avg_pool1d(x, kernel, stride, padding, ceil_mode=True, count_include_pad=count_include_pad)
    r = torch.randn_like(y)
    (y * r).sum().backward()
    for key, tensor in [("input", x), ("output", y), ("output_weights", r), ("grad_input", x.grad)]:
        tensors[f"{name}.{key}"] = tensor
    metadata[name] = json.dumps(dict(kind=kind, kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                                     count_include_pad=count_include_pad))


case("max_padded", "max2d", (2, 3, 6, 7), 3, 2, padding=1)
case("max_dilated", "max2d", (1, 2, 7, 8), 2, 2, dilation=2)
case("max_last_window_dropped", "max2d", (2, 5, 5), 3, 3, padding=1)
case("avg_padded", "avg2d", (2, 3, 6, 7), 3, 2, padding=1)
case("avg_padded_exclude", "avg2d", (2, 3, 6, 7), 3, 2, padding=1, count_include_pad=False)
case("avg_plain", "avg2d", (1, 2, 5, 5), 2, 2)
case("avg_last_window_dropped", "avg2d", (2, 5, 5), 3, 3, padding=1)
case("max1d", "max1d", (2, 3, 5), 2, 2)
case("avg1d", "avg1d", (2, 3, 6), 3, 2, padding=1)

write_safetensors("pooling.safetensors", tensors, metadata)
