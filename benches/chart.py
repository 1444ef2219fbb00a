#!/usr/bin/env python3
"""Turns the output of `compare` (or benches/compare.sh) into an SVG bar chart.

Reads `OP IMPL OPS_PER_S` lines (others are ignored) from the file given, or stdin, and writes an
SVG with one panel per operation (keygen, encrypt, decrypt), one horizontal bar per
implementation, longest first, labelled with its ops/s and its ratio to jwcrypto. Standard
library only.

    python3 benches/chart.py compare-output.txt > benches/compare.svg
"""

import sys
from html import escape

OPS = ("keygen", "encrypt", "decrypt")
# Ours in blue, the ceiling in dark grey, the others in light grey: the comparison people make.
COLOURS = {"ours": "#1f6fb2", "ours-hazmat": "#6aa6d8", "aws-lc-rs": "#555555"}
OTHER = "#b8b8b8"
REFERENCE = "jwcrypto"

WIDTH = 760
LABEL_W = 120
BAR_H = 18
GAP = 6
PANEL_GAP = 34


def parse(lines):
    results = {}
    for line in lines:
        words = line.split()
        if len(words) != 3 or words[0] not in OPS or words[1] == "ratio":
            continue
        try:
            results.setdefault(words[0], {})[words[1]] = float(words[2])
        except ValueError:
            continue
    return results


def svg(results):
    parts = []
    y = 20
    bar_room = WIDTH - LABEL_W - 150
    for op in OPS:
        rates = results.get(op)
        if not rates:
            continue
        top = max(rates.values())
        reference = rates.get(REFERENCE)
        parts.append(f'<text x="0" y="{y}" font-weight="bold">{escape(op)} '
                     f'(operations per second, same run)</text>')
        y += 10
        for name, rate in sorted(rates.items(), key=lambda item: -item[1]):
            width = max(1, round(bar_room * rate / top))
            colour = COLOURS.get(name, OTHER)
            ratio = f" ({rate / reference:.2f}× {REFERENCE})" if reference and name != REFERENCE else ""
            parts.append(f'<text x="{LABEL_W - 6}" y="{y + BAR_H - 5}" text-anchor="end">'
                         f'{escape(name)}</text>')
            parts.append(f'<rect x="{LABEL_W}" y="{y}" width="{width}" height="{BAR_H}" '
                         f'fill="{colour}"><title>{escape(name)}: {rate:.0f} ops/s</title></rect>')
            parts.append(f'<text x="{LABEL_W + width + 6}" y="{y + BAR_H - 5}">'
                         f'{rate:,.0f}{escape(ratio)}</text>')
            y += BAR_H + GAP
        y += PANEL_GAP
    height = y
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12" '
            f'role="img" aria-label="Same-run comparison of JWE implementations">\n'
            f'<rect width="100%" height="100%" fill="white"/>\n'
            + "\n".join(parts) + "\n</svg>\n")


def main():
    source = open(sys.argv[1], encoding="utf-8") if len(sys.argv) > 1 else sys.stdin
    results = parse(source)
    if not results:
        print("no `OP IMPL OPS_PER_S` lines in the input", file=sys.stderr)
        return 1
    sys.stdout.write(svg(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
