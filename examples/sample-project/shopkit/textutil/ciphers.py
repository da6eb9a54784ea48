"""Toy ciphers and encodings (for test fixtures, not for security)."""

from typing import Dict, List


def caesar(text: str, shift: int) -> str:
    out = ""
    for ch in text:
        if "a" <= ch <= "z":
            out += chr((ord(ch) - ord("a") + shift) % 26 + ord("a"))
        elif "A" <= ch <= "Z":
            out += chr((ord(ch) - ord("A") + shift) % 26 + ord("A"))
        else:
            out += ch
    return out


def vigenere(text: str, key: str, decrypt: bool) -> str:
    if not key.isalpha():
        raise ValueError("key must be letters")
    shifts = [ord(k) - ord("a") for k in key.lower()]
    out = ""
    j = 0
    for ch in text:
        if "a" <= ch.lower() <= "z":
            base = ord("a") if ch.islower() else ord("A")
            s = shifts[j % len(shifts)]
            if decrypt:
                s = -s
            out += chr((ord(ch) - base + s) % 26 + base)
            j += 1
        else:
            out += ch
    return out


def run_length_encode(text: str) -> str:
    """`aaabcc` -> `3a1b2c`."""
    if not text:
        return ""
    out = ""
    count = 1
    for i in range(1, len(text) + 1):
        if i < len(text) and text[i] == text[i - 1]:
            count += 1
        else:
            out += str(count) + text[i - 1]
            count = 1
    return out


def run_length_decode(encoded: str) -> str:
    out = ""
    digits = ""
    for ch in encoded:
        if ch.isdigit():
            digits += ch
        else:
            out += ch * int(digits if digits else "1")
            digits = ""
    return out


def letter_frequencies(text: str) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for ch in text.lower():
        if "a" <= ch <= "z":
            counts[ch] = counts.get(ch, 0) + 1
    return counts


def to_base(n: int, base: int) -> str:
    """Non-negative n in bases 2..36."""
    if not 2 <= base <= 36:
        raise ValueError("base out of range")
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    if n == 0:
        return "0"
    out: List[str] = []
    while n > 0:
        out.append(digits[n % base])
        n //= base
    return "".join(reversed(out))


def luhn_valid(number: str) -> bool:
    """The Luhn check used by card numbers; spaces are ignored."""
    digits = [int(ch) for ch in number if ch != " "]
    if len(digits) < 2:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0
