"""Writes transposed_convolution.safetensors: PyTorch's conv_transpose1d and conv_transpose2d in
float64 on fixed inputs, with their outputs and the gradients of a weighted sum of the output.

Run with the PyTorch peer's Python:  python make_transposed_convolution_fixtures.py
Each case's tensors are stored as "<case>.<name>"; the metadata holds each case's options.
"""
import json

import torch
import torch.nn.functional as F

from safetensors_writer import write_safetensors

torch.manual_seed(20261202)
torch.set_default_dtype(torch.float64)
tensors = {}
metadata = {}


def case(name, dims, channels, out_channels, size, kernel, batch=2, bias=True, stride=1, padding=0,
         output_padding=0, dilation=1, groups=1):
    shape = ([batch] if batch else []) + [channels] + [size] * dims
    x = torch.randn(*shape, requires_grad=True)
    w = torch.randn(channels, out_channels // groups, *([kernel] * dims), requires_grad=True)
    b = torch.randn(out_channels, requires_grad=True) if bias else None
    function = F.conv_transpose2d if dims == 2 else F.conv_transpose1d
    y = function(x, w, b, stride=stride, padding=padding, output_padding=output_padding,
                 groups=groups, dilation=dilation)
    r = torch.randn_like(y)
    (y * r).sum().backward()
    for key, tensor in [("input", x), ("weight", w), ("output", y), ("output_weights", r),
                        ("grad_input", x.grad), ("grad_weight", w.grad)]:
        tensors[f"{name}.{key}"] = tensor
    if b is not None:
        tensors[f"{name}.bias"] = b
        tensors[f"{name}.grad_bias"] = b.grad
    metadata[name] = json.dumps(dict(dims=dims, stride=stride, padding=padding, output_padding=output_padding,
                                     dilation=dilation, groups=groups))


case("plain2d", 2, 3, 4, 5, 3)
case("decoder2d", 2, 4, 3, 6, 3, stride=2, padding=1, output_padding=1)
case("groups2d", 2, 4, 6, 5, 2, stride=3, padding=1, groups=2, bias=False)
case("dilated2d", 2, 2, 3, 4, 3, stride=1, padding=2, output_padding=1, dilation=2)
case("unbatched2d", 2, 3, 2, 4, 4, batch=0, stride=2, padding=1)
case("plain1d", 1, 3, 5, 7, 3)
case("strided1d", 1, 4, 2, 6, 4, stride=3, padding=2, output_padding=2, groups=2)
case("unbatched1d", 1, 2, 3, 5, 2, batch=0, stride=2, dilation=3, bias=False)

write_safetensors("transposed_convolution.safetensors", tensors, metadata)
