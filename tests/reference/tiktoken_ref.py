#!/usr/bin/env python3
"""Independent token-count reference for ctxpack, built on OpenAI's `tiktoken`.

ctxpack counts tokens with the Rust crate `tiktoken-rs`.  This script uses the
official Python package (`pip install tiktoken`) to produce counts we can check
the Rust side against.

tiktoken normally downloads its vocabulary from a blob-storage URL.  This
script never touches the network: it takes the `.tiktoken` vocabulary files
that the tiktoken-rs crate ships in its `assets/` directory, copies them into a
private cache directory under the names tiktoken expects, points
TIKTOKEN_CACHE_DIR at it, and lets tiktoken load them.  tiktoken itself then
verifies each file against OpenAI's official SHA-256; we also check the hash
ourselves first so that a mismatch fails loudly instead of triggering a
download attempt.

Vocabulary lookup order:
  1. --assets DIR
  2. $CTXPACK_TIKTOKEN_ASSETS
  3. the newest  $CARGO_HOME/registry/src/*/tiktoken-rs-*/assets
     (CARGO_HOME defaults to ~/.cargo)

Usage:
  tiktoken_ref.py [--assets DIR] counts DIR
  tiktoken_ref.py [--assets DIR] check-pack XMLFILE --root DIR [--encoding NAME] [--diff-base BASE]

Only the standard library and `tiktoken` are used.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

try:
    import tiktoken
    import tiktoken.load
    import tiktoken_ext.openai_public as openai_public
except ImportError as exc:  # pragma: no cover - environment problem
    sys.exit(f"tiktoken_ref: cannot import tiktoken ({exc}); run `pip install tiktoken`")


# OpenAI's published SHA-256 of each vocabulary file (these are also the
# `expected_hash` values in tiktoken_ext/openai_public.py; we cross-check the
# two at runtime so a tiktoken upgrade that changes them is noticed).
OFFICIAL_SHA256 = {
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
}

COUNT_ENCODINGS = ("o200k_base", "cl100k_base")

# Files in the top level of a `counts` DIR that are metadata, not corpus.
COUNTS_SKIP_NAMES = {"reference_counts.json", "README.md"}


def die(msg: str, code: int = 2) -> "NoReturn":  # type: ignore[name-defined]
    print(f"tiktoken_ref: error: {msg}", file=sys.stderr)
    sys.exit(code)


# --------------------------------------------------------------------------
# Locating the vocabulary files and loading encodings offline
# --------------------------------------------------------------------------

def _version_key(path: str):
    """Sort key for .../tiktoken-rs-X.Y.Z[-pre]/assets by numeric version."""
    m = re.search(r"tiktoken-rs-(\d+)\.(\d+)\.(\d+)([^/\\]*)", path)
    if not m:
        return ((-1, -1, -1), 0, path)
    nums = tuple(int(g) for g in m.group(1, 2, 3))
    # A release (no suffix) sorts after its pre-releases.
    return (nums, 0 if m.group(4) else 1, path)


def find_assets_dir(cli_value: str | None) -> str:
    if cli_value:
        source = "--assets"
        candidate = cli_value
    elif os.environ.get("CTXPACK_TIKTOKEN_ASSETS"):
        source = "CTXPACK_TIKTOKEN_ASSETS"
        candidate = os.environ["CTXPACK_TIKTOKEN_ASSETS"]
    else:
        cargo_home = os.environ.get("CARGO_HOME") or os.path.join(
            os.path.expanduser("~"), ".cargo"
        )
        pattern = os.path.join(cargo_home, "registry", "src", "*", "tiktoken-rs-*", "assets")
        found = [p for p in glob.glob(pattern) if os.path.isdir(p)]
        if not found:
            die(
                f"no tiktoken-rs assets found (looked for {pattern}); "
                "pass --assets DIR or set CTXPACK_TIKTOKEN_ASSETS"
            )
        found.sort(key=_version_key)
        return found[-1]
    if not os.path.isdir(candidate):
        die(f"{source}: {candidate!r} is not a directory")
    return candidate


def tiktoken_source_for(name: str) -> tuple[str, str]:
    """Ask tiktoken itself which URL and expected hash it uses for `name`.

    We call the encoding constructor from tiktoken_ext.openai_public with its
    `load_tiktoken_bpe` temporarily replaced by a recorder, so nothing is read.
    """
    ctor = getattr(openai_public, name, None)
    if ctor is None:
        die(f"tiktoken has no encoding constructor {name!r}")

    class _Captured(Exception):
        pass

    captured: dict[str, object] = {}

    def recorder(blobpath, expected_hash=None):
        captured["url"] = blobpath
        captured["hash"] = expected_hash
        raise _Captured

    original = openai_public.load_tiktoken_bpe
    openai_public.load_tiktoken_bpe = recorder
    try:
        ctor()
    except _Captured:
        pass
    finally:
        openai_public.load_tiktoken_bpe = original

    url, expected = captured.get("url"), captured.get("hash")
    if not isinstance(url, str) or not isinstance(expected, str):
        die(f"could not determine tiktoken's source URL / expected hash for {name}")
    if expected != OFFICIAL_SHA256[name]:
        die(
            f"installed tiktoken expects sha256 {expected} for {name}, but this script "
            f"pins {OFFICIAL_SHA256[name]}; tiktoken's vocabulary changed - investigate"
        )
    return url, expected


def _offline_read_file(blobpath: str) -> bytes:
    if "://" in blobpath:
        raise RuntimeError(
            f"tiktoken tried to fetch {blobpath} from the network; the offline cache "
            "was missed or failed tiktoken's hash check"
        )
    with open(blobpath, "rb") as f:
        return f.read()


_ENCODINGS: dict[str, "tiktoken.Encoding"] = {}


def load_encodings(names, assets_dir: str) -> dict[str, "tiktoken.Encoding"]:
    """Load encodings offline from `assets_dir`, with tiktoken verifying hashes."""
    wanted = [n for n in names if n not in _ENCODINGS]
    if not wanted:
        return {n: _ENCODINGS[n] for n in names}
    for name in wanted:
        if name not in OFFICIAL_SHA256:
            die(f"unsupported encoding {name!r} (supported: {', '.join(OFFICIAL_SHA256)})")

    with tempfile.TemporaryDirectory(prefix="ctxpack-tiktoken-cache-") as cache_dir:
        for name in wanted:
            url, expected = tiktoken_source_for(name)
            src = os.path.join(assets_dir, f"{name}.tiktoken")
            if not os.path.isfile(src):
                die(f"vocabulary file {src} not found")
            with open(src, "rb") as f:
                data = f.read()
            actual = hashlib.sha256(data).hexdigest()
            if actual != expected:
                die(
                    f"HASH MISMATCH for {src}: sha256 {actual}, "
                    f"OpenAI's official hash for {name} is {expected}"
                )
            # tiktoken keys its cache by sha1 of the *URL*, not of the content.
            cache_key = hashlib.sha1(url.encode()).hexdigest()
            shutil.copyfile(src, os.path.join(cache_dir, cache_key))

        saved_env = {k: os.environ.get(k) for k in ("TIKTOKEN_CACHE_DIR",)}
        saved_read_file = tiktoken.load.read_file
        os.environ["TIKTOKEN_CACHE_DIR"] = cache_dir
        tiktoken.load.read_file = _offline_read_file  # forbid any download
        try:
            for name in wanted:
                try:
                    _ENCODINGS[name] = tiktoken.get_encoding(name)
                except Exception as exc:  # noqa: BLE001 - report and stop
                    die(f"tiktoken failed to load {name} offline: {exc}")
        finally:
            tiktoken.load.read_file = saved_read_file
            for k, v in saved_env.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    return {n: _ENCODINGS[n] for n in names}


def count(enc, text: str) -> int:
    # encode_ordinary: special-token text such as "<|endoftext|>" is ordinary text.
    return len(enc.encode_ordinary(text))


# --------------------------------------------------------------------------
# counts DIR
# --------------------------------------------------------------------------

def iter_regular_files(root: str):
    """Yield (relpath_with_slashes, abspath) for regular files, sorted by relpath."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for fn in filenames:
            full = os.path.join(dirpath, fn)
            st = os.lstat(full)
            if not stat.S_ISREG(st.st_mode):
                continue
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            out.append((rel, full))
    out.sort(key=lambda t: t[0])
    return out


def cmd_counts(args) -> int:
    root = args.dir
    if not os.path.isdir(root):
        die(f"{root!r} is not a directory")
    encs = load_encodings(COUNT_ENCODINGS, find_assets_dir(args.assets))
    files = {}
    for rel, full in iter_regular_files(root):
        if "/" not in rel and rel in COUNTS_SKIP_NAMES:
            continue
        with open(full, "rb") as f:
            raw = f.read()
        try:
            # Raw bytes -> str with no newline translation and no BOM stripping.
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            die(f"{rel}: not valid UTF-8 ({exc})")
        files[rel] = {name: count(encs[name], text) for name in COUNT_ENCODINGS}
    json.dump({"files": files}, sys.stdout, indent=2, sort_keys=True, ensure_ascii=True)
    sys.stdout.write("\n")
    return 0


# --------------------------------------------------------------------------
# check-pack XMLFILE --root DIR
# --------------------------------------------------------------------------

def normalize_disk_text(text: str) -> str:
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n").replace("\r", "\n")


def first_diff(a: str, b: str) -> str:
    n = min(len(a), len(b))
    i = next((k for k in range(n) if a[k] != b[k]), n)
    return (
        f"first difference at char {i} (pack len {len(a)}, disk len {len(b)}): "
        f"pack {a[max(0, i - 10):i + 10]!r} vs disk {b[max(0, i - 10):i + 10]!r}"
    )


def disk_name(shown: str) -> bytes:
    """The raw bytes of a path as ctxpack shows it: `\\xHH` is the byte HH, the rest is UTF-8."""
    out = bytearray()
    i = 0
    while i < len(shown):
        if shown.startswith("\\x", i) and re.fullmatch(r"[0-9A-F]{2}", shown[i + 2:i + 4]):
            out.append(int(shown[i + 2:i + 4], 16))
            i += 4
        else:
            out += shown[i].encode("utf-8")
            i += 1
    return bytes(out)


def parse_int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def cmd_check_pack(args) -> int:
    with open(args.xmlfile, "rb") as f:
        xml_bytes = f.read()
    try:
        xml_text = xml_bytes.decode("utf-8")
    except UnicodeDecodeError as exc:
        die(f"{args.xmlfile}: not valid UTF-8 ({exc})", 1)
    try:
        root = ET.fromstring(xml_bytes)
    except ET.ParseError as exc:
        die(f"{args.xmlfile}: XML parse error: {exc}", 1)

    mismatches: list[str] = []
    if root.tag != "context":
        mismatches.append(f"root element is <{root.tag}>, expected <context>")

    declared = root.get("encoding")
    encoding = args.encoding or declared or "o200k_base"
    if args.encoding and declared and declared != args.encoding:
        mismatches.append(
            f"root encoding attribute is {declared!r} but --encoding {args.encoding!r} was given"
        )
    enc = load_encodings([encoding], find_assets_dir(args.assets))[encoding]

    # (a) whole document
    whole = count(enc, xml_text)
    root_tokens = parse_int(root.get("tokens"))
    if root_tokens is None:
        mismatches.append(f"<context> tokens attribute missing/invalid: {root.get('tokens')!r}")
    elif root_tokens != whole:
        mismatches.append(f"<context tokens={root_tokens}> but the whole file counts {whole}")

    if args.budget is not None and whole > args.budget:
        mismatches.append(f"the document counts {whole} tokens, over the budget of {args.budget}")

    # (b') the plan of a `pack --plan` document: its tokens attribute counts its text
    plan_el = root.find("plan")
    if plan_el is not None:
        plan_tokens = parse_int(plan_el.get("tokens"))
        plan_text = plan_el.text or ""
        if plan_tokens != count(enc, plan_text):
            mismatches.append(
                f"<plan tokens={plan_el.get('tokens')}> but its text counts {count(enc, plan_text)}"
            )

    # (b'') a `pack --diff` document: each patch's and the log's tokens count their text, and the
    # patches together are what `git diff BASE` prints (when nothing was redacted or left out)
    diff_el = root.find("diff")
    if diff_el is not None:
        patch_texts = []
        redacted_patches = 0
        for patch in diff_el.findall("patch"):
            text = patch.text or ""
            if parse_int(patch.get("tokens")) != count(enc, text):
                mismatches.append(
                    f"patch {patch.get('path')}: tokens={patch.get('tokens')} but its text "
                    f"counts {count(enc, text)}"
                )
            redacted_patches += 1 if patch.get("redactions") else 0
            patch_texts.append(text)
        if args.diff_base is not None and redacted_patches == 0:
            expected = subprocess.run(
                ["git", "-C", args.root, "diff", args.diff_base],
                check=True,
                capture_output=True,
            ).stdout.decode("utf-8", "replace")
            listed = subprocess.run(
                ["git", "-C", args.root, "diff", "--name-only", "-z", args.diff_base],
                check=True,
                capture_output=True,
            ).stdout.split(b"\0")
            listed = [p for p in listed if p]
            if len(listed) != len(patch_texts):
                mismatches.append(
                    f"{len(patch_texts)} patches but git diff {args.diff_base} lists "
                    f"{len(listed)} files (raise the budget for this check)"
                )
            elif "".join(patch_texts) != expected:
                mismatches.append(
                    f"the patches differ from git diff {args.diff_base}; "
                    f"{first_diff(''.join(patch_texts), expected)}"
                )
    elif args.diff_base is not None:
        mismatches.append("--diff-base was given but the document has no <diff> element")
    log_el = root.find("log")
    if log_el is not None and parse_int(log_el.get("tokens")) != count(enc, log_el.text or ""):
        mismatches.append(f"<log tokens={log_el.get('tokens')}> but its text counts otherwise")

    files_el = root.find("files")
    file_els = list(files_el.findall("file")) if files_el is not None else []
    omitted_el = root.find("omitted")
    omitted_els = list(omitted_el.findall("file")) if omitted_el is not None else []

    seen: set[str] = set()
    n_full = n_other = n_content_skipped = n_redacted = 0
    for el in file_els:
        path = el.get("path")
        if not path:
            mismatches.append("files/file without a path attribute")
            continue
        if path in seen:
            mismatches.append(f"{path}: listed more than once in <files>")
        seen.add(path)
        if len(el):
            mismatches.append(f"{path}: <file> has child elements; expected text only")
        text = el.text or ""

        # (b) per-file token count, at every fidelity: it counts the text as emitted
        declared_tokens = parse_int(el.get("tokens"))
        got = count(enc, text)
        if declared_tokens is None:
            mismatches.append(f"{path}: tokens attribute missing/invalid: {el.get('tokens')!r}")
        elif declared_tokens != got:
            mismatches.append(f"{path}: tokens={declared_tokens} but its text counts {got}")

        # Only a full view can be compared with the file on disk.
        if el.get("fidelity") != "full":
            n_other += 1
            continue
        n_full += 1

        # (c) content fidelity against the file on disk
        # A path with a secret in it is shown redacted: there is no such name on disk.
        if el.get("lossy") == "true" or el.get("sanitized") == "true" or "[REDACTED:" in path:
            n_content_skipped += 1
            continue
        disk_path = os.path.join(os.fsencode(args.root), *map(disk_name, path.split("/")))
        try:
            with open(disk_path, "rb") as f:
                raw = f.read()
        except OSError as exc:
            mismatches.append(f"{path}: cannot read {disk_path}: {exc}")
            continue
        try:
            disk_text = normalize_disk_text(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            mismatches.append(f"{path}: file on disk is not UTF-8 but not marked lossy ({exc})")
            continue
        redactions = parse_int(el.get("redactions"))
        if redactions:
            # Each [REDACTED:<rule>] marker stands for a secret on disk; everything around the
            # markers must be the file itself.
            markers = re.findall(r"\[REDACTED:[a-z0-9-]+\]", text)
            if len(markers) < redactions:
                mismatches.append(
                    f"{path}: redactions={redactions} but the text has {len(markers)} markers"
                )
            pieces = re.split(r"\[REDACTED:[a-z0-9-]+\]", text)
            pattern = "(?s:.+?)".join(re.escape(piece) for piece in pieces)
            if not re.fullmatch(pattern, disk_text, flags=re.DOTALL):
                mismatches.append(f"{path}: redacted text does not match the file on disk")
            n_redacted += 1
        elif disk_text != text:
            mismatches.append(f"{path}: text differs from disk; {first_diff(text, disk_text)}")

    for el in omitted_els:
        path = el.get("path")
        if not path:
            mismatches.append("omitted/file without a path attribute")
        elif path in seen:
            mismatches.append(f"{path}: appears both in <files> and <omitted>")

    print(f"check-pack: {len(file_els)} files, {len(mismatches)} mismatches")
    print(
        f"  encoding={encoding} document_tokens={whole} full={n_full} "
        f"non_full={n_other} content_check_skipped={n_content_skipped} redacted={n_redacted} "
        f"omitted={len(omitted_els)}",
        file=sys.stderr,
    )
    for m in mismatches[:20]:
        print(f"  MISMATCH {m}")
    if len(mismatches) > 20:
        print(f"  ... and {len(mismatches) - 20} more")
    return 1 if mismatches else 0


# --------------------------------------------------------------------------

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--assets", help="directory holding o200k_base.tiktoken / cl100k_base.tiktoken")
    sub = p.add_subparsers(dest="cmd", required=True)

    pc = sub.add_parser("counts", help="print o200k/cl100k counts for every file under DIR")
    pc.add_argument("dir")
    pc.add_argument("--assets", default=argparse.SUPPRESS)
    pc.set_defaults(func=cmd_counts)

    pk = sub.add_parser("check-pack", help="verify a ctxpack XML output")
    pk.add_argument("xmlfile")
    pk.add_argument("--root", required=True, help="directory the pack was made from")
    pk.add_argument("--encoding", help="encoding to count with (default: the root's attribute)")
    pk.add_argument(
        "--diff-base",
        help="check that the <diff> patches are exactly what `git diff BASE` prints in --root",
    )
    pk.add_argument("--budget", type=int, help="fail if the whole document counts more tokens")
    pk.add_argument("--assets", default=argparse.SUPPRESS)
    pk.set_defaults(func=cmd_check_pack)

    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
