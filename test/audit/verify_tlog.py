#!/usr/bin/env python3
"""An independent verifier of C2SP tiled logs, written from the specs alone and sharing no
code with Strongroom: hashlib and the `cryptography` package (Debian python3-cryptography).

  verify_tlog.py verify DIR VKEY   checks the signed checkpoint (c2sp.org/signed-note, Ed25519,
                                   key ID), reads every entry bundle and hash tile
                                   (c2sp.org/tlog-tiles), recomputes the RFC 6962 root and
                                   prints {"size": n, "root": hex}; exits 1 with the reason.
  verify_tlog.py sign NAME         makes an Ed25519 key and prints {"vkey", "note"}: a
                                   checkpoint note signed here, for the other side to open.
  verify_tlog.py cosigned FILE WKEY  checks the witness WKEY's cosignature/v1 on the checkpoint
                                   note in FILE (c2sp.org/tlog-cosignature) and prints
                                   {"time": t}; exits 1 with the reason.
  verify_tlog.py cosign NAME FILE  makes a witness key (type 0x04) and prints {"wkey", "note"}:
                                   the note in FILE with a cosignature made here.
"""
import base64
import hashlib
import json
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

EM_DASH = "\u2014 "


def fail(why):
    print(why, file=sys.stderr)
    sys.exit(1)


def key_id(name, typed_key):
    # signed-note: SHA-256(key name || 0x0A || signature type || public key)[:4]
    return hashlib.sha256(name.encode() + b"\n" + typed_key).digest()[:4]


def parse_key(vkey, signature_type, what):
    # NAME+KEYID+base64(type || 32-byte Ed25519 public key), its ID checked
    name, id_hex, key_b64 = vkey.split("+", 2)
    typed = base64.b64decode(key_b64, validate=True)
    if typed[0] != signature_type or len(typed) != 33:
        fail("not an Ed25519 %s key" % what)
    if key_id(name, typed).hex() != id_hex:
        fail("%s key ID does not match its name and key" % what)
    return name, id_hex, typed


def open_note(raw, vkey):
    name, id_hex, typed = parse_key(vkey, 1, "verifier")
    msg = raw.decode("utf-8")  # strict: invalid UTF-8 raises
    if any(ord(c) < 0x20 and c != "\n" for c in msg):
        fail("control character in note")
    split = msg.rindex("\n\n")
    text, sigs = msg[: split + 1], msg[split + 2 :]
    if not sigs.endswith("\n"):
        fail("note does not end with a newline")
    verified = False
    for line in sigs[:-1].split("\n"):
        if not line.startswith(EM_DASH):
            fail("malformed signature line")
        sig_name, sig_b64 = line[len(EM_DASH) :].split(" ", 1)
        sig = base64.b64decode(sig_b64, validate=True)
        if sig_name != name or sig[:4].hex() != id_hex:
            continue  # unknown keys are ignored
        Ed25519PublicKey.from_public_bytes(typed[1:]).verify(sig[4:], text.encode())
        verified = True
    if not verified:
        fail("no signature by the verifier key")
    return name, text


def tile_n(n):
    # tlog-tiles: 3-digit groups, all but the last prefixed with "x"
    groups = []
    while True:
        groups.insert(0, "%03d" % (n % 1000))
        n //= 1000
        if n == 0:
            break
    return "/".join(["x" + g for g in groups[:-1]] + groups[-1:])


def read(path):
    with open(path, "rb") as f:
        return f.read()


def mth(hashes):
    # RFC 6962 section 2.1 over subtree hashes of one height
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return hashlib.sha256(b"\x01" + mth(hashes[:k]) + mth(hashes[k:])).digest()


def level_files(directory, kind, count):
    """The files (full, then the partial one) holding `count` items at a level, with widths."""
    out = []
    for n in range((count + 255) // 256):
        width = min(256, count - n * 256)
        suffix = "" if width == 256 else ".p/%d" % width
        out.append(("%s/tile/%s/%s%s" % (directory, kind, tile_n(n), suffix), width))
    return out


def verify(directory, vkey):
    name, text = open_note(read(directory + "/checkpoint"), vkey)
    origin, size, root_b64 = text.split("\n")[:3]
    if origin != name:
        fail("origin is not the key name")
    size, root = int(size), base64.b64decode(root_b64, validate=True)
    leaves = []
    for path, width in level_files(directory, "entries", size):
        data, at, count = read(path), 0, 0
        while at < len(data):
            length = int.from_bytes(data[at : at + 2], "big")
            entry = data[at + 2 : at + 2 + length]
            if len(entry) != length:
                fail("truncated entry in " + path)
            leaves.append(hashlib.sha256(b"\x00" + entry).digest())
            at, count = at + 2 + length, count + 1
        if count != width:
            fail("%s holds %d entries, not %d" % (path, count, width))
    row, level = leaves, 0
    while len(row) > 0:
        stored = b"".join(read(p) for p, _ in level_files(directory, str(level), len(row)))
        if stored != b"".join(row):
            fail("level %d tiles do not match the entries" % level)
        row = [mth(row[i : i + 256]) for i in range(0, len(row) - 255, 256)]
        level += 1
    computed = mth(leaves) if leaves else hashlib.sha256(b"").digest()
    if computed != root:
        fail("root mismatch")
    print(json.dumps({"size": size, "root": root.hex()}))


def sign(name):
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    typed = b"\x01" + public
    kid = key_id(name, typed)
    vkey = "%s+%s+%s" % (name, kid.hex(), base64.b64encode(typed).decode())
    root = mth([hashlib.sha256(b"\x00" + b"hello").digest()])
    text = "%s\n1\n%s\n" % (name, base64.b64encode(root).decode())
    sig = base64.b64encode(kid + private.sign(text.encode())).decode()
    print(json.dumps({"vkey": vkey, "note": "%s\n%s%s %s\n" % (text, EM_DASH, name, sig)}))


def cosigned_message(text, time):
    # tlog-cosignature: "cosignature/v1", "time T", then the checkpoint body
    return ("cosignature/v1\ntime %d\n" % time).encode() + text.encode()


def cosigned(path, wkey):
    name, id_hex, typed = parse_key(wkey, 4, "cosigner (witness)")
    msg = read(path).decode("utf-8")
    split = msg.rindex("\n\n")
    text, sigs = msg[: split + 1], msg[split + 2 :]
    found = None
    for line in sigs[:-1].split("\n"):
        sig_name, sig_b64 = line[len(EM_DASH) :].split(" ", 1)
        sig = base64.b64decode(sig_b64, validate=True)
        if sig_name != name or sig[:4].hex() != id_hex:
            continue
        if len(sig) != 4 + 8 + 64:
            fail("a cosignature is a key ID, a timestamp and a signature")
        time = int.from_bytes(sig[4:12], "big")
        Ed25519PublicKey.from_public_bytes(typed[1:]).verify(sig[12:], cosigned_message(text, time))
        found = time
    if found is None:
        fail("no cosignature by the witness key")
    print(json.dumps({"time": found}))


def cosign(name, path):
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    typed = b"\x04" + public
    kid = key_id(name, typed)
    wkey = "%s+%s+%s" % (name, kid.hex(), base64.b64encode(typed).decode())
    note = read(path).decode("utf-8")
    text = note[: note.rindex("\n\n") + 1]
    time = 1700000000
    sig = private.sign(cosigned_message(text, time))
    line = base64.b64encode(kid + time.to_bytes(8, "big") + sig).decode()
    print(json.dumps({"wkey": wkey, "note": "%s%s%s %s\n" % (note, EM_DASH, name, line)}))


if __name__ == "__main__":
    try:
        if sys.argv[1] == "verify":
            verify(sys.argv[2], sys.argv[3])
        elif sys.argv[1] == "cosigned":
            cosigned(sys.argv[2], sys.argv[3])
        elif sys.argv[1] == "cosign":
            cosign(sys.argv[2], sys.argv[3])
        else:
            sign(sys.argv[2])
    except Exception as e:  # a bad signature, a missing file, bad base64: all a failed check
        fail("%s: %s" % (type(e).__name__, e))
