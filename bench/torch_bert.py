"""The PyTorch peer of `luz-bench bert`: transformers' BertModel on all-MiniLM-L6-v2 (the folder
in LUZ_MINILM_DIR, default /tmp/luz-minilm/model), the same work in the same output format:
the forward pass on 32 sequences of 128 random tokens without gradients, and one fine-tuning
step (BertForSequenceClassification with two classes, AdamW lr 2e-5, every weight trained) on
16 × 128.

    pip install torch transformers
    OMP_NUM_THREADS=2 python3 bench/torch_bert.py
"""
import os
import time

import torch
from transformers import BertForSequenceClassification, BertModel

torch.set_num_threads(2)


def report(name, steps, seconds, quality):
    print(f"{name:10s} steps={steps:6d} secs={seconds:8.3f} us/step={1e6 * seconds / steps:10.1f} quality={quality:.4f}",
          flush=True)


def main(forward_steps=5, training_steps=5):
    folder = os.environ.get("LUZ_MINILM_DIR", "/tmp/luz-minilm/model")
    g = torch.Generator().manual_seed(0)
    encoder = BertModel.from_pretrained(folder).eval()
    ids = torch.randint(1000, 30000, (32, 128), generator=g)
    mask = torch.ones(32, 128, dtype=torch.int64)
    with torch.no_grad():
        encoder(input_ids=ids, attention_mask=mask)
        start = time.perf_counter()
        for _ in range(forward_steps):
            checksum = encoder(input_ids=ids, attention_mask=mask).last_hidden_state.mean().item()
        report("bert-fwd", forward_steps, time.perf_counter() - start, checksum)

    model = BertForSequenceClassification.from_pretrained(folder, num_labels=2).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5)
    batch = torch.randint(1000, 30000, (16, 128), generator=g)
    batch_mask = torch.ones(16, 128, dtype=torch.int64)
    labels = torch.randint(0, 2, (16,), generator=g)

    def step():
        loss = torch.nn.functional.cross_entropy(model(input_ids=batch, attention_mask=batch_mask).logits, labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        return loss.item()

    step()
    start = time.perf_counter()
    for _ in range(training_steps):
        loss = step()
    report("bert-step", training_steps, time.perf_counter() - start, loss)


if __name__ == "__main__":
    main()
