#!/usr/bin/env python3
"""Lists a crate's public API from its rustdoc JSON, one item per line, sorted: the snapshot
format of api/*.txt (see api/README.md; .ci/public-api drives this).

    python3 .ci/public-api.py target/public-api/doc/CRATE.json

Every item reachable from the crate root by a public path is printed under that path, with its
signature: modules, structs and their public fields, enums and their variants, functions and
methods, constants, statics, type aliases, traits and their items, macros, re-exports of other
crates' items, and the trait impls of our types. Left out, because they follow from the items
and would only add noise: auto-trait impls (Send, Sync, Unpin, ...) and blanket impls
(`impl<T> From<T> for T`, ...). Private and `#[doc(hidden)]` items are not in the JSON at all.
Types are named by their last segment for our own items and by their full path for other
crates' items, so that refactoring an import never changes the snapshot.
"""

import json
import sys

# The rustdoc JSON format this script reads (rustdoc-types' FORMAT_VERSION). A nightly that
# changes it fails loudly here rather than printing a silently different snapshot.
FORMAT_VERSIONS = {57}


class Api:
    def __init__(self, doc):
        self.index = doc["index"]
        self.paths = doc["paths"]
        self.crate = self.index[str(doc["root"])]["name"]
        self.lines = set()

    # ---- types -------------------------------------------------------------------------------

    def name_of(self, path):
        """A path to a type or trait: our own items by name, other crates' by full path."""
        summary = self.paths.get(str(path["id"]))
        if summary is None:
            name = path["path"].split("::")[-1]
        elif summary["crate_id"] == 0:
            name = summary["path"][-1]
        else:
            name = "::".join(summary["path"])
        return name + self.args(path.get("args"))

    def args(self, args):
        if not args:
            return ""
        if "angle_bracketed" in args:
            ab = args["angle_bracketed"]
            parts = [self.arg(a) for a in ab["args"]]
            parts += [self.constraint(c) for c in ab["constraints"]]
            return "<" + ", ".join(parts) + ">" if parts else ""
        if "parenthesized" in args:
            p = args["parenthesized"]
            out = "(" + ", ".join(self.ty(t) for t in p["inputs"]) + ")"
            return out + (" -> " + self.ty(p["output"]) if p.get("output") else "")
        return "<" + json.dumps(args, sort_keys=True) + ">"

    def arg(self, a):
        if a == "infer":
            return "_"
        if "lifetime" in a:
            return a["lifetime"]
        if "type" in a:
            return self.ty(a["type"])
        if "const" in a:
            return a["const"]["expr"]
        return json.dumps(a, sort_keys=True)

    def constraint(self, c):
        name = c["name"] + self.args(c.get("args"))
        binding = c["binding"]
        if "equality" in binding:
            term = binding["equality"]
            value = self.ty(term["type"]) if "type" in term else term["constant"]["expr"]
            return f"{name} = {value}"
        return f"{name}: {self.bounds(binding['constraint'])}"

    def ty(self, t):
        if t is None:
            return "()"
        if isinstance(t, str):
            return "_" if t == "infer" else t
        (kind, v), = t.items()
        if kind == "resolved_path":
            return self.name_of(v)
        if kind in ("primitive", "generic"):
            return v
        if kind == "borrowed_ref":
            lifetime = v["lifetime"] + " " if v["lifetime"] else ""
            return "&" + lifetime + ("mut " if v["is_mutable"] else "") + self.ty(v["type"])
        if kind == "raw_pointer":
            return ("*mut " if v["is_mutable"] else "*const ") + self.ty(v["type"])
        if kind == "slice":
            return "[" + self.ty(v) + "]"
        if kind == "array":
            return "[" + self.ty(v["type"]) + "; " + v["len"] + "]"
        if kind == "tuple":
            inner = ", ".join(self.ty(x) for x in v)
            return "(" + inner + ("," if len(v) == 1 else "") + ")"
        if kind == "impl_trait":
            return "impl " + self.bounds(v)
        if kind == "dyn_trait":
            traits = [self.poly(p) for p in v["traits"]]
            if v.get("lifetime"):
                traits.append(v["lifetime"])
            return "dyn " + " + ".join(traits)
        if kind == "qualified_path":
            base = self.ty(v["self_type"])
            if v.get("trait"):
                base = f"<{base} as {self.name_of(v['trait'])}>"
            return base + "::" + v["name"] + self.args(v.get("args"))
        if kind == "function_pointer":
            sig = v["sig"]
            inputs = ", ".join(self.ty(x[1]) for x in sig["inputs"])
            out = " -> " + self.ty(sig["output"]) if sig["output"] else ""
            return f"fn({inputs}){out}"
        return json.dumps(t, sort_keys=True)

    def poly(self, p):
        hrtb = self.params(p.get("generic_params", []))
        return (f"for{hrtb} " if hrtb else "") + self.name_of(p["trait"])

    def bounds(self, bounds):
        out = []
        for b in bounds:
            if "trait_bound" in b:
                tb = b["trait_bound"]
                prefix = {"none": "", "maybe": "?", "maybe_const": "~const "}[tb["modifier"]]
                out.append(prefix + self.poly(tb))
            elif "outlives" in b:
                out.append(b["outlives"])
            elif "use" in b:
                out.append("use<" + ", ".join(str(x) for x in b["use"]) + ">")
            else:
                out.append(json.dumps(b, sort_keys=True))
        return " + ".join(out)

    # ---- generics ----------------------------------------------------------------------------

    def params(self, params):
        out = []
        for p in params:
            kind = p["kind"]
            if "lifetime" in kind:
                outlives = kind["lifetime"]["outlives"]
                out.append(p["name"] + (": " + " + ".join(outlives) if outlives else ""))
            elif "type" in kind:
                if kind["type"]["is_synthetic"]:
                    continue  # an `impl Trait` argument, shown in the signature instead
                bounds = self.bounds(kind["type"]["bounds"])
                default = kind["type"]["default"]
                out.append(
                    p["name"]
                    + (": " + bounds if bounds else "")
                    + (" = " + self.ty(default) if default else "")
                )
            elif "const" in kind:
                default = kind["const"]["default"]
                out.append(
                    f"const {p['name']}: {self.ty(kind['const']['type'])}"
                    + (" = " + default if default else "")
                )
        return "<" + ", ".join(out) + ">" if out else ""

    def where(self, generics):
        preds = []
        for w in generics["where_predicates"]:
            if "bound_predicate" in w:
                bp = w["bound_predicate"]
                hrtb = self.params(bp["generic_params"])
                preds.append(
                    (f"for{hrtb} " if hrtb else "")
                    + self.ty(bp["type"])
                    + ": "
                    + self.bounds(bp["bounds"])
                )
            elif "lifetime_predicate" in w:
                lp = w["lifetime_predicate"]
                preds.append(lp["lifetime"] + ": " + " + ".join(lp["outlives"]))
            elif "eq_predicate" in w:
                ep = w["eq_predicate"]
                rhs = ep["rhs"]
                rhs = self.ty(rhs["type"]) if "type" in rhs else rhs["constant"]["expr"]
                preds.append(self.ty(ep["lhs"]) + " = " + rhs)
        return " where " + ", ".join(preds) if preds else ""

    # ---- items -------------------------------------------------------------------------------

    @staticmethod
    def attrs(item):
        shown = []
        for a in item["attrs"]:
            if a == "non_exhaustive":
                shown.append("#[non_exhaustive]")
            elif isinstance(a, dict) and "repr" in a:
                shown.append("#[repr(" + json.dumps(a["repr"], sort_keys=True) + ")]")
        if item.get("deprecation"):
            shown.append("#[deprecated]")
        return " ".join(shown) + " " if shown else ""

    def fn(self, path, item):
        f = item["inner"]["function"]
        header = f["header"]
        prefix = "".join(
            word + " "
            for word, on in (
                ("const", header["is_const"]),
                ("async", header["is_async"]),
                ("unsafe", header["is_unsafe"]),
            )
            if on
        )
        inputs = []
        for name, t in f["sig"]["inputs"]:
            if name == "self":
                rendered = self.ty(t)
                inputs.append(
                    {"Self": "self", "&Self": "&self", "&mut Self": "&mut self"}.get(
                        rendered, "self: " + rendered
                    )
                )
            else:
                inputs.append(f"{name}: {self.ty(t)}")
        out = f["sig"]["output"]
        ret = " -> " + self.ty(out) if out is not None else ""
        return (
            f"{self.attrs(item)}pub {prefix}fn {path}{self.params(f['generics']['params'])}"
            f"({', '.join(inputs)}){ret}{self.where(f['generics'])}"
        )

    def add(self, path, line, rank=0):
        """One line, filed under `path`: its declaration first (rank 0), then its impls."""
        self.lines.add((path, rank, line))

    def item(self, path, item_id, seen):
        if item_id in seen:
            return
        item = self.index.get(str(item_id))
        if item is None:
            return
        seen = seen | {item_id}
        inner = item["inner"]
        (kind, v), = inner.items()
        attrs = self.attrs(item)
        if kind == "module":
            self.add(path, f"{attrs}pub mod {path}")
            for child in v["items"]:
                self.child(path, child, seen)
        elif kind == "use":
            target = self.index.get(str(v["id"])) if v["id"] is not None else None
            if v["is_glob"]:
                if target and "module" in target["inner"]:
                    for child in target["inner"]["module"]["items"]:
                        self.child(path.rsplit("::", 1)[0], child, seen)
                else:
                    self.add(path, f"pub use {v['source']}::*")
            elif target is not None and target["crate_id"] == 0:
                self.item(path, v["id"], seen)
            else:
                summary = self.paths.get(str(v["id"])) if v["id"] is not None else None
                source = "::".join(summary["path"]) if summary else v["source"]
                self.add(path, f"pub use {path} = {source}")
        elif kind == "struct":
            generics = self.params(v["generics"]["params"]) + self.where(v["generics"])
            sk = v["kind"]
            if sk == "unit":
                self.add(path, f"{attrs}pub struct {path}{generics};")
            elif "tuple" in sk:
                fields = [
                    "pub " + self.ty(self.index[str(f)]["inner"]["struct_field"])
                    if f is not None
                    else "_"
                    for f in sk["tuple"]
                ]
                self.add(path, f"{attrs}pub struct {path}{generics}({', '.join(fields)})")
            else:
                self.add(path, f"{attrs}pub struct {path}{generics}")
                for f in sk["plain"]["fields"]:
                    field = self.index[str(f)]
                    ft = self.ty(field["inner"]["struct_field"])
                    self.add(f"{path}::{field['name']}", f"pub {path}::{field['name']}: {ft}")
            self.impls(path, v["impls"], seen)
        elif kind == "enum":
            generics = self.params(v["generics"]["params"]) + self.where(v["generics"])
            self.add(path, f"{attrs}pub enum {path}{generics}")
            for var_id in v["variants"]:
                self.variant(path, self.index[str(var_id)])
            self.impls(path, v["impls"], seen)
        elif kind == "union":
            generics = self.params(v["generics"]["params"]) + self.where(v["generics"])
            self.add(path, f"{attrs}pub union {path}{generics}")
            for f in v["fields"]:
                field = self.index[str(f)]
                ft = self.ty(field["inner"]["struct_field"])
                self.add(f"{path}::{field['name']}", f"pub {path}::{field['name']}: {ft}")
            self.impls(path, v["impls"], seen)
        elif kind == "function":
            self.add(path, self.fn(path, item))
        elif kind == "constant":
            self.add(path, f"{attrs}pub const {path}: {self.ty(v['type'])}")
        elif kind == "static":
            mutable = "mut " if v["is_mutable"] else ""
            self.add(path, f"{attrs}pub static {mutable}{path}: {self.ty(v['type'])}")
        elif kind == "type_alias":
            generics = self.params(v["generics"]["params"]) + self.where(v["generics"])
            self.add(path, f"{attrs}pub type {path}{generics} = {self.ty(v['type'])}")
        elif kind == "trait":
            generics = self.params(v["generics"]["params"])
            supertraits = ": " + self.bounds(v["bounds"]) if v["bounds"] else ""
            flags = ("unsafe " if v["is_unsafe"] else "") + ("auto " if v["is_auto"] else "")
            self.add(
                path,
                f"{attrs}pub {flags}trait {path}{generics}{supertraits}{self.where(v['generics'])}",
            )
            for member in v["items"]:
                self.assoc(path, self.index[str(member)])
            for impl_id in v["implementations"]:
                impl = self.index.get(str(impl_id))
                if impl and impl["crate_id"] == 0:
                    self.impl_line(path, impl)
        elif kind in ("macro", "proc_macro"):
            self.add(path, f"pub macro {path}!")
        elif kind == "trait_alias":
            self.add(path, f"pub trait {path} = {self.bounds(v['params'])}")
        else:
            self.add(path, f"pub {kind} {path}")

    def child(self, parent, child_id, seen):
        child = self.index.get(str(child_id))
        if child is None or child["visibility"] != "public":
            return
        if "use" in child["inner"]:
            use = child["inner"]["use"]
            self.item(f"{parent}::{use['name']}", child_id, seen)
        elif child["name"] is not None:
            self.item(f"{parent}::{child['name']}", child_id, seen)

    def variant(self, enum_path, var):
        path = f"{enum_path}::{var['name']}"
        kind = var["inner"]["variant"]["kind"]
        attrs = self.attrs(var)
        if kind == "plain":
            self.add(path, f"{attrs}pub {path}")
        elif "tuple" in kind:
            fields = [
                self.ty(self.index[str(f)]["inner"]["struct_field"]) if f is not None else "_"
                for f in kind["tuple"]
            ]
            self.add(path, f"{attrs}pub {path}({', '.join(fields)})")
        else:
            self.add(path, f"{attrs}pub {path}")
            for f in kind["struct"]["fields"]:
                field = self.index[str(f)]
                ft = self.ty(field["inner"]["struct_field"])
                self.add(f"{path}::{field['name']}", f"pub {path}::{field['name']}: {ft}")

    def impls(self, path, impl_ids, seen):
        for impl_id in impl_ids:
            impl = self.index.get(str(impl_id))
            if impl is None:
                continue
            v = impl["inner"]["impl"]
            if v["is_synthetic"] or v["blanket_impl"] is not None:
                continue
            if v["trait"] is None:
                for member in v["items"]:
                    m = self.index[str(member)]
                    if m["visibility"] == "public":
                        self.assoc(path, m)
            else:
                self.impl_line(path, impl)

    def impl_line(self, path, impl):
        v = impl["inner"]["impl"]
        negative = "!" if v["is_negative"] else ""
        unsafe = "unsafe " if v["is_unsafe"] else ""
        self.add(
            path,
            f"{unsafe}impl{self.params(v['generics']['params'])} {negative}"
            f"{self.name_of(v['trait'])} for {self.ty(v['for'])}{self.where(v['generics'])}",
            rank=1,
        )

    def assoc(self, owner, m):
        path = f"{owner}::{m['name']}"
        (kind, v), = m["inner"].items()
        if kind == "function":
            self.add(path, self.fn(path, m))
        elif kind == "assoc_const":
            self.add(path, f"{self.attrs(m)}pub const {path}: {self.ty(v['type'])}")
        elif kind == "assoc_type":
            bounds = ": " + self.bounds(v["bounds"]) if v["bounds"] else ""
            value = " = " + self.ty(v["type"]) if v.get("type") else ""
            self.add(path, f"pub type {path}{bounds}{value}")
        else:
            self.add(path, f"pub {kind} {path}")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(sys.argv[1], encoding="utf-8") as f:
        doc = json.load(f)
    if doc["format_version"] not in FORMAT_VERSIONS:
        sys.exit(
            f"error: rustdoc JSON format {doc['format_version']}; this script reads "
            f"{sorted(FORMAT_VERSIONS)}. Check the new format's changes and extend it."
        )
    api = Api(doc)
    root = api.index[str(doc["root"])]
    api.add(api.crate, f"pub mod {api.crate}")
    for child in root["inner"]["module"]["items"]:
        api.child(api.crate, child, frozenset([doc["root"]]))
    for _, _, line in sorted(api.lines):
        print(line)


if __name__ == "__main__":
    main()
