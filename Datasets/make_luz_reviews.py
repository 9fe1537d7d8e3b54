# Writes Datasets/luz-reviews.csv (python3 Datasets/make_luz_reviews.py > Datasets/luz-reviews.csv): short review sentences of our own, two classes
# (1 = the writer is pleased, 0 = not). Every adjective appears in both classes: the class is
# carried by negation and by contrast ("expected ..., but"), not by single words.
import csv, random, sys
random.seed(7)
subjects = ["the soup", "the hotel room", "the ending of the film", "the new phone's battery", "the train ride",
            "the museum tour", "the bread", "the customer service", "the concert", "the rental car",
            "the coffee", "the hiking trail", "the science fiction novel", "the laptop keyboard", "the guided walk",
            "the pizza", "the plumber's work", "the board game", "the yoga class", "the garden centre",
            "the theatre seats", "the delivery", "the wireless headphones", "the curry", "the swimming pool",
            "the camping tent", "the cooking lesson", "the bicycle repair", "the podcast episode", "the ice cream",
            "the airport lounge", "the language app", "the bakery's cake", "the ferry crossing", "the hair cut",
            "the winter coat"]
pairs = [("good", "bad"), ("pleasant", "unpleasant"), ("excellent", "awful"), ("reliable", "unreliable"),
         ("comfortable", "uncomfortable"), ("worth the money", "a waste of money"), ("fresh", "stale"),
         ("friendly", "rude"), ("quick", "slow"), ("clean", "dirty"), ("well made", "badly made"),
         ("enjoyable", "dull")]
forms = [
    ("{s} was {p}.", 1), ("{s} was not {p}.", 0),
    ("{s} was {n}.", 0), ("{s} was not {n} at all.", 1),
    ("I expected {s} to be {n}, but it was {p}.", 1), ("I expected {s} to be {p}, but it was {n}.", 0),
    ("Nobody could say {s} was {n}.", 1), ("Honestly, {s} was far from {p}.", 0),
]
rows = []
for number, s in enumerate(subjects):
    chosen = random.sample(pairs, len(forms))
    for (text, label), (p, n) in zip(forms, chosen):
        sentence = text.format(s=s, p=p, n=n)
        rows.append((sentence[0].upper() + sentence[1:], label, number))
writer = csv.writer(sys.stdout, lineterminator="\n")
writer.writerow(["text", "label", "subject"])
for row in rows:
    writer.writerow(row)
