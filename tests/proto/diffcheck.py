"""The verdict of a differential test (test_*_diff.py): the same scripted
steps ran against tern and a reference server (Dovecot, Pigeonhole,
Postfix), each step's answers normalised by the test; every difference
must be one the test lists and explains, with tern's exact answer.

A listed difference counts as seen while tern still gives the listed
answer, whatever the reference says; a listed one tern no longer gives
("gone") fails too, so the list never outlives what it explains."""


def verdict(steps, known, ref="dovecot", same=None):
    """steps: [(label, tern's answer, the reference's answer)], labels
    unique. known: {label: (tern's answer, why)}, or {label: ((answer,
    ...), why)} where tern may answer either way. same(a, b): whether two
    answers agree (default ==). Fails on every difference not listed, on
    a listed one where tern's answer is not a listed one, and on a listed
    one that is gone; prints the listed ones."""
    same = same or (lambda a, b: a == b)
    labels = [label for label, _, _ in steps]
    dup = sorted({label for label in labels if labels.count(label) > 1})
    assert not dup, "step labels must be unique: %s" % dup
    bad, seen = [], set()
    for label, a, b in steps:
        answers = known[label][0] if label in known else ()
        answers = answers if isinstance(answers, tuple) else (answers,)
        listed = a in answers
        if listed:
            seen.add(label)
        if same(a, b):
            continue
        if listed:
            print("known difference %s: %s\n  tern:    %s\n  %-8s %s" % (label, known[label][1], a,
                                                                       ref + ":", b))
            continue
        bad.append("%s:\n  tern:    %s\n  %-8s %s" % (label, a, ref + ":", b))
    gone = [k for k in known if k not in seen]
    assert not bad and not gone, "\n".join(bad) + ("\nlisted but gone: %s" % gone if gone else "")
