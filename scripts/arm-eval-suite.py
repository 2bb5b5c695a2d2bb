#!/usr/bin/env python3
"""Run a peer's ARM template function test vectors through `vnetlab eval`.

Usage:
    scripts/arm-eval-suite.py [--bin PATH] [--verbose] PEER_DIR...

PEER_DIR is a checkout (or `git archive`) of a peer's test sources; the
suite stays out of this repository and its cases are extracted at run time.
Two peer layouts are understood, found by walking each PEER_DIR:

  * aquasecurity/trivy, pkg/iac/scanners/azure/functions/*_test.go (Go
    table tests: the function under test, its arguments and the expected
    value; the arguments become ARM literals, arrays `createArray(...)`,
    maps `createObject(...)`).
  * KingslandConsulting/Kingsland.ArmLinter, src/Kingsland.ArmLinter.Tests/
    ArmExpressionEvaluatorTests*.cs (an ARM expression and the value Azure
    returned for it, or that Azure rejects it).

Only context-free cases count: ones needing a deployment, a resource group,
a copy loop, the clock or provider data are skipped and reported. Known
disagreements between a peer and Azure's documented behaviour are listed in
DISAGREE with the reason and are excluded too.

Expressions go to the binary in batches; `vnetlab eval` prints the values
before the first invalid expression and exits 2, so a failing batch resumes
after the expression that failed. Values compare as JSON, except that
numbers compare by value (Go's `expected any` cannot tell 1 from 1.0, and an
ARM template output of json('1.0') is the number 1) while a bool never
equals a number.

Example (see docs/arm-eval-suite.md):
    git -C trivy archive 0512d6dc pkg/iac/scanners/azure/functions | tar -x -C /tmp/peer
    cargo build --bin vnetlab
    scripts/arm-eval-suite.py --bin target/debug/vnetlab /tmp/peer
"""

import argparse
import json
import os
import re
import subprocess
import sys
from collections import defaultdict

# Functions whose value depends on the deployment, the clock or provider
# data, not on their arguments: the peers fake these with their own stubs.
CONTEXT = {
    "copyIndex": "needs a copy loop",
    "utcNow": "needs the clock",
    "newGuid": "needs randomness",
    "reference": "needs a deployed resource",
    "resourceId": "needs the deployment's subscription and resource group",
    "subscriptionResourceId": "needs the deployment's subscription",
    "resourceGroup": "needs the deployment's resource group",
    "subscription": "needs the deployment's subscription",
    "deployment": "needs the deployment",
    "pickZones": "needs provider data (zones per location)",
}

# Peer expectations that disagree with Azure's documented behaviour:
# (peer, expression) -> reason. Each was checked against Microsoft's
# template function reference.
T, K = "trivy", "kingsland"
SAYS_NULL = "the peer's recorded Azure response shows the value was null (the output's declared type rejected it)"
STUB = "the peer's stub, not ARM's algorithm"
NOT_STRING = "the reference takes a string; Azure rejects an integer"
ARITY = "the reference takes two arguments; more or fewer is an error"
CMP = "the reference compares two integers or two strings; null or mixed types are an error"
DISAGREE = {
    (T, "array(createObject('hello', 'world'))"): "the reference's example converts an object to a one-element array holding it",
    (T, "base64ToJson('eyJoZWxsbyI6ICJ3b3JsZCJ9')"): "the reference returns the decoded JSON value (an object), not its text",
    (T, "bool('1')"): "the reference: any string but 'true' (in any case) converts to false",
    (T, "concat('to say that ', 3, ' is greater than ', 5, ' would be ', false())"): "ARM writes a bool as text as .NET does: False (string(false()) is 'False')",
    (T, "string(false())"): "ARM writes a bool as text as .NET does: False",
    (T, "concat(createArray(1, 2, 3), 4)"): "Azure rejects an array concatenated with a non-array (recorded by the Kingsland peer)",
    (T, "concat(createArray(1, 2, 3), 4, createArray(5, 6, 7))"): "Azure rejects an array concatenated with a non-array (recorded by the Kingsland peer)",
    (T, "contains('hello, world', 'HELL')"): "the reference: contains is case-sensitive for strings",
    (T, "createObject('foo', 'bar', 'baz')"): "the reference takes key and value pairs; an odd count is an error",
    (T, "empty(createObject('hello', 'world'), 'world')"): "the reference takes one argument",
    (T, "equals(null())"): ARITY,
    (T, "equals(null(), 'test', 1)"): ARITY,
    (T, "equals(null(), null(), createArray('a', 'b', 'c'))"): ARITY,
    (T, "first(createArray())"): "Azure returns null for an empty array (recorded by the Kingsland peer), not ''",
    (T, "last(createArray())"): "Azure returns null for an empty array (recorded by the Kingsland peer), not ''",
    (K, "first(intersection(createArray('aaa'), createArray('bbb')))"): SAYS_NULL,
    (K, "last(intersection(createArray('aaa'), createArray('bbb')))"): SAYS_NULL,
    (T, "greater(null(), 'test')"): CMP,
    (T, "greater(null(), null())"): CMP,
    (T, "greater('test', 1)"): CMP,
    (T, "greaterOrEquals(null(), 'test')"): CMP,
    (T, "greaterOrEquals(null(), null())"): CMP,
    (T, "greaterOrEquals('test', 1)"): CMP,
    (T, "less(null(), 'test')"): CMP,
    (T, "less(null(), null())"): CMP,
    (T, "less('test', 1)"): CMP,
    (T, "lessOrEquals(null(), 'test')"): CMP,
    (T, "lessOrEquals(null(), null())"): CMP,
    (T, "lessOrEquals('test', 1)"): CMP,
    (T, "guid('hello')"): STUB + " (a name-based UUID of the joined arguments)",
    (T, "guid()"): "the reference requires at least one argument",
    (T, "uniqueString('hello')"): STUB + " (a 64-bit hash written in base 32)",
    (T, "uniqueString('hello', 'world')"): STUB + " (a 64-bit hash written in base 32)",
    (K, "indexOf(createArray('aaa'), createArray('bbb'))"): "recorded before ARM's array form of indexOf; the reference now searches the array (-1)",
    (K, "lastIndexOf(createArray('aaa'), createArray('bbb'))"): "recorded before ARM's array form of lastIndexOf; the reference now searches the array (-1)",
    (T, "int('2.3')"): "the reference converts an integer's text; '2.3' is an error, not 0",
    (T, "intersection(null(), null())"): "the reference takes arrays or objects; null is an error",
    (T, "max(createArray())"): "the reference needs at least one integer; an empty array is an error, not 0",
    (T, "min(createArray())"): "the reference needs at least one integer; an empty array is an error, not 0",
    (K, "padLeft(100, 17)"): "no Azure response recorded; the reference documents no width of 16 as a limit",
    (T, "padLeft('1234', 8, '00')"): "the reference pads with a single character; Azure rejects '00' (recorded by the Kingsland peer for 'abc')",
    (T, "substring('hello', 10)"): "the reference: a start index past the end is an error",
    (T, "toLower(10)"): NOT_STRING,
    (T, "toUpper(10)"): NOT_STRING,
    (T, "trim(10)"): NOT_STRING,
    (T, "uri('http://contoso.org/firstpath', 'myscript.sh')"): "the reference: when baseUri has slashes but does not end with one, everything from the last slash on is removed",
}

ERROR = object()  # expected: ARM rejects the expression


class Case:
    def __init__(self, peer, fn, expr, expected, where):
        self.peer, self.fn, self.expr, self.expected, self.where = peer, fn, expr, expected, where


# ---- Go literals (trivy) -------------------------------------------------

GO_TOKEN = re.compile(r'\s+|//[^\n]*|"(?:[^"\\]|\\.)*"|`[^`]*`|-?\d+\.\d+(?:e-?\d+)?|-?\d+|[A-Za-z_][\w.]*|\[\]|[{}()\[\],:]')


class Unsupported(Exception):
    pass


def go_tokens(text):
    out, i = [], 0
    while i < len(text):
        m = GO_TOKEN.match(text, i)
        if not m:
            out.append(text[i])
            i += 1
            continue
        t = m.group(0)
        i = m.end()
        if not t.strip() or t.startswith("//"):
            continue
        out.append(t)
    return out


class GoParser:
    def __init__(self, toks, i=0):
        self.t, self.i = toks, i

    def peek(self, k=0):
        return self.t[self.i + k] if self.i + k < len(self.t) else None

    def take(self, want=None):
        t = self.peek()
        if want is not None and t != want:
            raise Unsupported(f"expected {want!r}, found {t!r}")
        self.i += 1
        return t

    def type_(self):
        # []T, map[K]V, any, interface{}, struct{...} skipped as a name
        t = self.take()
        if t == "[]":
            return "[]" + self.type_()
        if t == "map":
            self.take("[")
            k = self.type_()
            self.take("]")
            return f"map[{k}]" + self.type_()
        if t == "interface":
            self.take("{")
            self.take("}")
            return "any"
        return t

    def value(self):
        t = self.peek()
        if t is None:
            raise Unsupported("end of input")
        if t.startswith('"'):
            self.take()
            return json.loads(t, strict=False)
        if t.startswith("`"):
            self.take()
            return t[1:-1]
        if re.fullmatch(r"-?\d+", t):
            self.take()
            return int(t)
        if re.fullmatch(r"-?\d+\.\d+(?:e-?\d+)?", t):
            self.take()
            return float(t)
        if t in ("true", "false"):
            self.take()
            return t == "true"
        if t == "nil":
            self.take()
            return None
        if t == "make":
            self.take()
            self.take("(")
            ty = self.type_()
            self.take(")")
            return {} if ty.startswith("map") else []
        if t in ("[]", "map"):
            ty = self.type_()
            if self.peek() == "(":  # a conversion: []any(nil) is an empty slice
                self.take("(")
                v = self.value()
                self.take(")")
                return ([] if ty.startswith("[]") else {}) if v is None else v
            return self.composite(ty)
        if t == "{":  # elided element type inside a composite
            return self.composite("")
        if re.fullmatch(r"(int|int64|float64|string)", t) and self.peek(1) == "(":
            self.take()
            self.take("(")
            v = self.value()
            self.take(")")
            return v
        raise Unsupported(f"Go value {t!r}")

    def composite(self, ty):
        self.take("{")
        is_map = ty.startswith("map")
        out = {} if is_map else []
        while self.peek() != "}":
            if is_map:
                k = self.value()
                self.take(":")
                out[k] = self.value()
            else:
                out.append(self.value())
            if self.peek() == ",":
                self.take()
        self.take("}")
        return out

    def skip_block(self):
        depth = 0
        while True:
            t = self.take()
            if t is None:
                raise Unsupported("unbalanced")
            if t == "{":
                depth += 1
            elif t == "}":
                depth -= 1
                if depth == 0:
                    return


def go_name_to_arm(name):
    special = {"JSON": "json", "UTCNow": "utcNow", "SubString": "substring", "SubscriptionResourceID": "subscriptionResourceId", "ResourceID": "resourceId"}
    return special.get(name, name[:1].lower() + name[1:])


def arm_literal(v):
    """An ARM expression whose value is the JSON value v."""
    if v is None:
        return "null()"
    if isinstance(v, bool):
        return "true()" if v else "false()"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return f"json('{v!r}')"
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    if isinstance(v, list):
        return "createArray(" + ", ".join(arm_literal(x) for x in v) + ")"
    if isinstance(v, dict):
        return "createObject(" + ", ".join(f"{arm_literal(k)}, {arm_literal(x)}" for k, x in v.items()) + ")"
    raise Unsupported(type(v).__name__)


def trivy_cases(path, skipped):
    text = open(path, encoding="utf-8").read()
    rel = os.path.basename(path)
    # One Test_ function per table: its table and the call under test.
    for m in re.finditer(r"\nfunc (Test_\w+)\(t \*testing\.T\) \{", text):
        end = text.find("\nfunc ", m.end())
        body = text[m.end(): end if end >= 0 else len(text)]
        call = re.search(r"(\w+)\(tt\.(args|input)\.\.\.\)", body)
        if not call:
            skipped["not a table of function calls"] += 1
            continue
        fn = go_name_to_arm(call.group(1))
        field = call.group(2)
        toks = go_tokens(body)
        try:
            p = GoParser(toks, toks.index("struct"))
            p.take("struct")
            p.skip_block()
            p.take("{")
        except (ValueError, Unsupported):
            skipped["not a table of function calls"] += 1
            continue
        while p.peek() == "{":
            start = p.i
            entry, ok = {}, True
            try:
                p.take("{")
                while p.peek() != "}":
                    key = p.take()
                    p.take(":")
                    entry[key] = p.value()
                    if p.peek() == ",":
                        p.take()
                p.take("}")
            except Unsupported:
                ok = False
                p.i = start
                p.skip_block()
            if p.peek() == ",":
                p.take()
            where = f"{rel}: {entry.get('name', '?')}"
            if not ok or field not in entry or "expected" not in entry:
                skipped["a value that is not a JSON literal"] += 1
                continue
            if fn in CONTEXT:
                skipped[f"{fn}: {CONTEXT[fn]}"] += 1
                continue
            try:
                expr = f"{fn}(" + ", ".join(arm_literal(a) for a in entry[field]) + ")"
            except Unsupported:
                skipped["a value that is not a JSON literal"] += 1
                continue
            yield Case("trivy", fn, expr, entry["expected"], where)


# ---- C# literals (Kingsland.ArmLinter) -----------------------------------

CS_STRING = r'(?:\$?"(?:[^"\\]|\\.)*"(?:\s*\+\s*"(?:[^"\\]|\\.)*")*)'


def cs_string(s):
    if s.startswith("$") and "{" in s:
        raise Unsupported("interpolated string")
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"', s)
    return "".join(json.loads('"' + p + '"') for p in parts)


def cs_value(s):
    s = s.strip()
    if s.startswith('"') or s.startswith('$"'):
        return cs_string(s)
    if re.fullmatch(r"-?\d+", s):
        return int(s)
    if s in ("true", "false"):
        return s == "true"
    if s == "null":
        return None
    if re.fullmatch(r"Array\.Empty<\w+>\(\)", s):
        return []
    m = re.fullmatch(r"new \w+\[\]\s*\{(.*)\}", s, re.S)
    if m:
        inner = m.group(1).strip()
        items = re.findall(r'"(?:[^"\\]|\\.)*"|[^,]+', inner) if inner else []
        return [cs_value(x) for x in items if x.strip()]
    raise Unsupported(f"C# value {s!r}")


def kingsland_cases(path, skipped):
    lines = [ln for ln in open(path, encoding="utf-8-sig").read().splitlines() if not ln.strip().startswith("//")]
    text = "\n".join(lines)
    rel = os.path.basename(path)
    for m in re.finditer(r"AssertEvaluatorTest(Throws)?\(\s*(" + CS_STRING + r")\s*,\s*(.*?)\);", text, re.S):
        # The peer's own [Ignore]d tests are ones it has not settled.
        head = text[: m.start()]
        if "[Ignore" in head[head.rfind("[Test]"):]:
            skipped["ignored by the peer ([Ignore])"] += 1
            continue
        try:
            expr = cs_string(m.group(2))
            if m.group(1):
                expected = ERROR
            else:
                expected = cs_value(m.group(3))
        except Unsupported:
            skipped["a value that is not a JSON literal"] += 1
            continue
        fn = re.match(r"\s*(\w+)", expr)
        fn = fn.group(1) if fn else "?"
        if fn in CONTEXT:
            skipped[f"{fn}: {CONTEXT[fn]}"] += 1
            continue
        yield Case("kingsland", fn, expr, expected, rel)


def collect(dirs):
    cases, skipped = [], defaultdict(int)
    for d in dirs:
        for root, _, files in os.walk(d):
            for f in sorted(files):
                p = os.path.join(root, f)
                if f.endswith("_test.go") and "azure" in root and root.endswith("functions"):
                    cases.extend(trivy_cases(p, skipped))
                elif f.startswith("ArmExpressionEvaluatorTests") and f.endswith(".cs"):
                    cases.extend(kingsland_cases(p, skipped))
    # The same expression in two places is one case.
    seen, unique = set(), []
    for c in cases:
        if (c.peer, c.expr) not in seen:
            seen.add((c.peer, c.expr))
            unique.append(c)
    return unique, skipped


# ---- running and comparing -----------------------------------------------


def run(binary, exprs, batch=50):
    """Each expression's value, or ERROR; an invalid one ends a batch."""
    out, i = [], 0
    while i < len(exprs):
        chunk = exprs[i: i + batch]
        r = subprocess.run([binary, "eval", "--", *chunk], capture_output=True, text=True, timeout=120)
        got = [json.loads(ln) for ln in r.stdout.splitlines() if ln.strip()]
        out.extend(got)
        i += len(got)
        if r.returncode != 0:
            if len(got) >= len(chunk):
                raise SystemExit(f"vnetlab eval exited {r.returncode} after all values: {r.stderr}")
            out.append(ERROR)
            i += 1
    return out


def same(a, b):
    if a is ERROR or b is ERROR:
        return a is b
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def show(v):
    return "error" if v is ERROR else json.dumps(v)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "debug", "vnetlab"))
    ap.add_argument("--verbose", action="store_true", help="print every case")
    ap.add_argument("peer_dirs", nargs="+")
    a = ap.parse_args()
    cases, skipped = collect(a.peer_dirs)
    excluded = [c for c in cases if (c.peer, c.expr) in DISAGREE]
    cases = [c for c in cases if (c.peer, c.expr) not in DISAGREE]
    if not cases:
        raise SystemExit("no cases found under " + " ".join(a.peer_dirs))
    values = run(a.bin, [c.expr for c in cases])
    failures = defaultdict(list)
    for c, v in zip(cases, values):
        ok = same(c.expected, v)
        if not ok:
            failures[c.fn].append((c, v))
        if a.verbose:
            print(f"{'ok  ' if ok else 'FAIL'} {c.expr} = {show(v)}")
    passed = len(cases) - sum(len(v) for v in failures.values())
    per_peer = defaultdict(lambda: [0, 0])
    for c, v in zip(cases, values):
        per_peer[c.peer][0] += same(c.expected, v)
        per_peer[c.peer][1] += 1
    print(f"skipped: {sum(skipped.values())}")
    for why, n in sorted(skipped.items()):
        print(f"  {n:4}  {why}")
    print(f"excluded (peer disagrees with Azure's documentation): {len(excluded)}")
    for c in excluded:
        print(f"  {c.expr}: {DISAGREE[(c.peer, c.expr)]}")
    for peer, (p, n) in sorted(per_peer.items()):
        print(f"{peer}: {p}/{n}")
    print(f"total {len(cases)}, passed {passed}, {100.0 * passed / len(cases):.1f}%")
    with_excluded = len(cases) + len(excluded)
    print(f"(counting the excluded cases as failures: {passed}/{with_excluded}, {100.0 * passed / with_excluded:.1f}%)")
    for fn in sorted(failures):
        print(f"{fn}: {len(failures[fn])} failing")
        for c, v in failures[fn]:
            print(f"    {c.expr}\n        expected {show(c.expected)}, got {show(v)}  [{c.peer} {c.where}]")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
