#!/usr/bin/env python3
"""Builds the embedded test firmware, boots it on QEMU's mps2-an386 (Cortex-M4), and checks its
figures against budgets.txt. Exits non-zero if the build, the run or any budget fails.

Flash and static RAM come from the ELF (parsed here; Python's standard library only). Peak stack
and executed instructions come from the firmware's own output (see src/main.rs).

    python3 tests/embedded/run.py                     # build, run, check the budgets
    python3 tests/embedded/run.py --extra-algorithms  # also report what that feature costs
    python3 tests/embedded/run.py --matrix            # also measure p384's fiat backend and
                                                      # the hazmat scalar multiplication
"""

import argparse
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET = "thumbv7em-none-eabihf"
ELF = HERE / "target" / TARGET / "release" / "alliancepay-embedded"
BUDGETS = HERE / "budgets.txt"
QEMU = [
    "qemu-system-arm", "-machine", "mps2-an386", "-cpu", "cortex-m4", "-nographic",
    "-semihosting-config", "enable=on,target=native",
    # Virtual time advances 1 ns per instruction, so SysTick counts instructions.
    "-icount", "shift=0",
    "-kernel",
]

# Crates whose statics belong to the test harness and its runtime, not to the library under test.
# Every other static in RAM is charged to the library (its RustCrypto dependencies included), and
# so is any static whose crate cannot be told from its symbol name.
FIRMWARE_CRATES = {
    "alliancepay_embedded", "cortex_m", "cortex_m_rt", "cortex_m_semihosting",
    "critical_section", "core", "compiler_builtins",
}

SHT_NOBITS = 8
SHF_ALLOC = 0x2
RAM_START, RAM_END = 0x2000_0000, 0x2040_0000  # memory.x


# p384's field and scalar arithmetic backend: "bigint" (crypto-bigint, p384's default) or "fiat"
# (fiat-crypto, formally verified). `cargo --config` appends to the target's rustflags array, so
# the linker script and compact back-ends of .cargo/config.toml stay.
FIAT = 'target.thumbv7em-none-eabihf.rustflags=["--cfg", "p384_backend=\\"fiat\\""]'


def build(features, backend="bigint"):
    env = dict(os.environ)
    # A RUSTFLAGS from the caller would replace .cargo/config.toml's flags, dropping the linker
    # script and the compact back-ends. The build must be the one the budgets describe.
    for name in ("RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS"):
        env.pop(name, None)
    cmd = ["cargo", "build", "--release", "--locked"]
    if features:
        cmd += ["--features", features]
    if backend == "fiat":
        cmd += ["--config", FIAT]
    print("$ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=HERE, env=env, check=True)


def read_elf(path):
    """Returns (sections, symbols) of a 32-bit little-endian ELF."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 1 or data[5] != 1:
        raise SystemExit(f"{path}: not a 32-bit little-endian ELF")
    shoff, = struct.unpack_from("<I", data, 0x20)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x2E)
    raw = []
    for i in range(shnum):
        raw.append(struct.unpack_from("<IIIIIIIIII", data, shoff + i * shentsize))
    names_at = raw[shstrndx][4]

    def cstr(at):
        return data[at:data.index(b"\0", at)].decode()

    sections = []
    for (name, kind, flags, addr, offset, size, link, _info, _align, entsize) in raw:
        sections.append({"name": cstr(names_at + name), "type": kind, "flags": flags,
                         "addr": addr, "offset": offset, "size": size, "link": link,
                         "entsize": entsize})
    symbols = []
    for sec in sections:
        if sec["type"] != 2:  # SHT_SYMTAB
            continue
        strtab = sections[sec["link"]]["offset"]
        for at in range(sec["offset"], sec["offset"] + sec["size"], sec["entsize"]):
            name, value, size, _info, _other, shndx = struct.unpack_from("<IIIBBH", data, at)
            symbols.append({"name": cstr(strtab + name), "value": value, "size": size,
                            "shndx": shndx})
    return sections, symbols


def crate_of(symbol):
    """The crate of a Rust symbol, else None (then it is charged to the library, so a name this
    cannot read makes the check fail rather than pass by mistake).

    Our crates use rustc's legacy mangling (`_ZN` + length-prefixed path); the precompiled `core`
    and `compiler_builtins` use v0 (`_R`), whose first crate root is `C`, an optional
    `s<disambiguator>_`, then the length-prefixed crate name."""
    match = re.match(r"_ZN(\d+)", symbol) or re.match(r"_R\w*?C(?:s\w*?_)?(\d+)", symbol)
    if not match:
        return None
    return symbol[match.end():match.end() + int(match.group(1))]


def measure_elf(path):
    sections, symbols = read_elf(path)
    alloc = [s for s in sections if s["flags"] & SHF_ALLOC and s["size"]]
    # Flash holds every allocated section with contents: code, constants, the vector table and
    # the initial image of .data (copied to RAM at reset).
    flash = sum(s["size"] for s in alloc if s["type"] != SHT_NOBITS)
    ram_sections = {i for i, s in enumerate(sections)
                    if s["flags"] & SHF_ALLOC and RAM_START <= s["addr"] < RAM_END}
    ram = sum(sections[i]["size"] for i in ram_sections)
    statics = {"firmware": [], "library": []}
    for sym in symbols:
        if sym["shndx"] in ram_sections and sym["size"]:
            owner = "firmware" if crate_of(sym["name"]) in FIRMWARE_CRATES else "library"
            statics[owner].append(sym)
    return {
        "sections": {s["name"]: s["size"] for s in alloc},
        "flash": flash,
        "ram": ram,
        "statics": statics,
    }


def run_qemu(timeout):
    cmd = QEMU + [str(ELF)]
    print("$ " + " ".join(cmd), flush=True)
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as hung:
        print(hung.stdout or "", end="")
        raise SystemExit(f"FAIL: QEMU did not finish within {timeout} s")
    print(done.stdout, end="")
    print(done.stderr, end="", file=sys.stderr)
    figures = {}
    for line in done.stdout.splitlines():
        match = re.match(r"measure (\w+) stack_bytes=(\d+) instructions=(\d+)$", line.strip())
        if match:
            figures[f"{match[1]}_stack_bytes"] = int(match[2])
            figures[f"{match[1]}_instructions"] = int(match[3])
    ok = done.returncode == 0 and "result ok" in done.stdout.splitlines()
    return ok, done.returncode, figures


def read_budgets():
    budgets = {}
    for number, line in enumerate(BUDGETS.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, value = line.split()
        if name in budgets:
            raise SystemExit(f"{BUDGETS}:{number}: {name} given twice")
        budgets[name] = int(value)
    return budgets


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extra-algorithms", action="store_true",
                        help="also build with the extra-algorithms feature and report its flash "
                             "cost (informational, not budgeted)")
    parser.add_argument("--matrix", action="store_true",
                        help="also measure the bank-only firmware with p384's fiat backend and "
                             "with hazmat-scalar-mul, each combination (informational)")
    parser.add_argument("--timeout", type=int, default=120, help="seconds QEMU may run")
    args = parser.parse_args()
    # Keep our lines in order with cargo's and QEMU's when the output is a pipe (CI logs).
    sys.stdout.reconfigure(line_buffering=True)

    build(None)
    elf = measure_elf(ELF)
    print("\nsections in memory: " + ", ".join(f"{n} {s}" for n, s in elf["sections"].items()))
    for owner in ("firmware", "library"):
        listed = elf["statics"][owner]
        print(f"static RAM of the {owner}: {sum(s['size'] for s in listed)} bytes"
              + "".join(f"\n    {s['size']:6} {s['name']}" for s in listed))

    ok, returncode, figures = run_qemu(args.timeout)
    failures = []
    if not ok:
        failures.append(f"the firmware did not finish with `result ok` (exit status {returncode})")

    figures["flash_bytes"] = elf["flash"]
    figures["ram_bytes"] = elf["ram"]
    figures["library_static_ram_bytes"] = sum(s["size"] for s in elf["statics"]["library"])

    budgets = read_budgets()
    print(f"\n{'figure':28} {'measured':>12} {'budget':>12}")
    for name, value in sorted(figures.items()):
        budget = budgets.get(name)
        verdict = ""
        if budget is not None:
            verdict = "ok" if value <= budget else "OVER BUDGET"
            if value > budget:
                failures.append(f"{name} = {value} exceeds its budget of {budget}")
        print(f"{name:28} {value:>12} {'' if budget is None else budget:>12}  {verdict}")
    for name in sorted(set(budgets) - set(figures)):
        failures.append(f"{name} has a budget but was not measured")

    if args.extra_algorithms:
        build("extra-algorithms")
        extra = measure_elf(ELF)
        extra_ok, _, _ = run_qemu(args.timeout)
        if not extra_ok:
            failures.append("the firmware with extra-algorithms did not finish with `result ok`")
        print(f"\nextra-algorithms: flash {extra['flash']} bytes, "
              f"{extra['flash'] - elf['flash']:+} against the bank-only build")
        # Leave the bank-only firmware in place, the one the budgets describe.
        build(None)

    if args.matrix:
        rows = []
        for features, backend in ((None, "bigint"), (None, "fiat"),
                                  ("hazmat", "bigint"), ("hazmat", "fiat")):
            build(features, backend)
            measured = measure_elf(ELF)
            variant_ok, _, variant = run_qemu(args.timeout)
            name = f"{features or 'default'}, {backend}"
            if not variant_ok:
                failures.append(f"the firmware ({name}) did not finish with `result ok`")
            rows.append((name, measured["flash"],
                         sum(s["size"] for s in measured["statics"]["library"]),
                         variant.get("encrypt_stack_bytes"), variant.get("decrypt_stack_bytes"),
                         variant.get("encrypt_instructions"), variant.get("decrypt_instructions")))
        print("\nmatrix (bank-only firmware):")
        print(f"{'build':18} {'flash':>8} {'lib RAM':>8} {'enc stack':>10} {'dec stack':>10} "
              f"{'enc instr':>12} {'dec instr':>12}")
        for row in rows:
            print(f"{row[0]:18} {row[1]:>8} {row[2]:>8} {row[3]!s:>10} {row[4]!s:>10} "
                  f"{row[5]!s:>12} {row[6]!s:>12}")
        build(None)

    if failures:
        print("\nFAIL:\n  " + "\n  ".join(failures))
        return 1
    print("\nall budgets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
