"""Writes recurrent.safetensors: PyTorch's RNN, LSTM and GRU layers and cells in float64 on
fixed inputs, with their weights under torch's names, outputs, final states and gradients.

Run with the PyTorch peer's Python (torch only; the safetensors file is written by hand):
    python make_recurrent_fixtures.py
Each case's tensors are stored as "<case>.<name>"; the metadata holds each case's options.
"""
import json

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from safetensors_writer import write_safetensors

torch.manual_seed(20261202)
torch.set_default_dtype(torch.float64)
tensors = {}
metadata = {}


def put(case, name, tensor):
    tensors[f"{case}.{name}"] = tensor.detach().contiguous()


def layer_case(case, kind, inputs=3, hidden=4, layers=1, bias=True, batch_first=False,
               bidirectional=False, proj=0, lengths=None, batch=3, steps=5, with_state=True, **extra):
    options = dict(input_size=inputs, hidden_size=hidden, num_layers=layers, bias=bias,
                   batch_first=batch_first, bidirectional=bidirectional)
    if kind == "lstm":
        module = nn.LSTM(proj_size=proj, **options)
    elif kind == "gru":
        module = nn.GRU(**options)
    else:
        module = nn.RNN(nonlinearity=kind, **options)
    directions = 2 if bidirectional else 1
    out_size = proj if proj > 0 else hidden
    shape = (batch, steps, inputs) if batch_first else (steps, batch, inputs)
    x = torch.randn(*shape, requires_grad=True)
    h0 = torch.randn(layers * directions, batch, out_size, requires_grad=True) if with_state else None
    c0 = torch.randn(layers * directions, batch, hidden, requires_grad=True) if with_state and kind == "lstm" else None
    state = (h0, c0) if kind == "lstm" else h0
    if lengths is not None:
        packed = pack_padded_sequence(x, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False)
        out, final = module(packed, state) if with_state else module(packed)
        out, _ = pad_packed_sequence(out, batch_first=batch_first, total_length=steps)
    else:
        out, final = module(x, state) if with_state else module(x)
    hn, cn = final if kind == "lstm" else (final, None)
    # A loss that weighs every output and final state differently.
    r_out = torch.randn_like(out)
    r_h = torch.randn_like(hn)
    loss = (out * r_out).sum() + (hn * r_h).sum()
    if cn is not None:
        r_c = torch.randn_like(cn)
        loss = loss + (cn * r_c).sum()
        put(case, "weights_c", r_c)
    loss.backward()
    put(case, "weights_output", r_out)
    put(case, "weights_h", r_h)
    put(case, "input", x)
    put(case, "output", out)
    put(case, "h_n", hn)
    put(case, "grad.input", x.grad)
    if with_state:
        put(case, "h_0", h0)
        put(case, "grad.h_0", h0.grad)
    if cn is not None:
        put(case, "c_n", cn)
        if with_state:
            put(case, "c_0", c0)
            put(case, "grad.c_0", c0.grad)
    for name, parameter in module.named_parameters():
        put(case, "param." + name, parameter)
        put(case, "grad." + name, parameter.grad)
    metadata[case] = json.dumps(dict(kind=kind, inputs=inputs, hidden=hidden, layers=layers, bias=bias,
                                     batch_first=batch_first, bidirectional=bidirectional, proj=proj,
                                     lengths=lengths, with_state=with_state))


def cell_case(case, kind, inputs=3, hidden=4, batch=2, bias=True):
    if kind == "lstm":
        module = nn.LSTMCell(inputs, hidden, bias=bias)
    elif kind == "gru":
        module = nn.GRUCell(inputs, hidden, bias=bias)
    else:
        module = nn.RNNCell(inputs, hidden, bias=bias, nonlinearity=kind)
    x = torch.randn(batch, inputs, requires_grad=True)
    h = torch.randn(batch, hidden, requires_grad=True)
    if kind == "lstm":
        c = torch.randn(batch, hidden, requires_grad=True)
        h1, c1 = module(x, (h, c))
        put(case, "c_0", c)
        put(case, "c_1", c1)
    else:
        h1 = module(x, h)
    put(case, "input", x)
    put(case, "h_0", h)
    put(case, "h_1", h1)
    for name, parameter in module.named_parameters():
        put(case, "param." + name, parameter)
    metadata[case] = json.dumps(dict(kind=kind, inputs=inputs, hidden=hidden, bias=bias))


layer_case("rnn_tanh", "tanh", layers=2, bidirectional=True)
layer_case("rnn_relu", "relu", bias=False, batch_first=True, with_state=False)
layer_case("rnn_lengths", "tanh", bidirectional=True, lengths=[5, 2, 4])
layer_case("lstm", "lstm", layers=2, bidirectional=True)
layer_case("lstm_lengths", "lstm", layers=2, bidirectional=True, lengths=[3, 5, 1], batch_first=True)
layer_case("lstm_proj", "lstm", hidden=5, proj=3, layers=2, bidirectional=True, lengths=[4, 5, 2])
layer_case("gru", "gru", layers=2, batch_first=True)
layer_case("gru_lengths", "gru", layers=2, bidirectional=True, lengths=[2, 5, 3], with_state=False)
cell_case("cell_rnn", "tanh")
cell_case("cell_rnn_relu", "relu", bias=False)
cell_case("cell_lstm", "lstm")
cell_case("cell_gru", "gru")

write_safetensors("recurrent.safetensors", tensors, metadata)
